// "Why did this call go there": a caller's number and one of the user's lines, sent
// to GET /explain, which answers with the decision the proxy would take now and its
// explanation (the text `vipproxy explain` prints).
//
// It uses console.js's `headers`, `$` and `offerLines` and follows its "console:start",
// "console:stop" and "console:line" events. The answer is set with textContent.
"use strict";

async function explainCall(event) {
  event.preventDefault();
  $("explain-error").textContent = "";
  $("explain-answer").textContent = "";
  const query = new URLSearchParams({ from: $("explain-caller").value.trim(),
                                      to: $("explain-line").value });
  const answer = await fetch(`../explain?${query}`, { headers: headers() }).catch(() => null);
  const body = answer ? await answer.json().catch(() => ({})) : {};
  if (!answer || !answer.ok) {
    $("explain-error").textContent = [].concat(body.detail || "The proxy cannot be reached.")
      .join(" ");
    return;
  }
  $("explain-result").textContent = body.routed
    ? `Routed by the ${body.policy.replaceAll("_", " ")} policy.`
    : "Not routed.";
  $("explain-answer").textContent = body.explanation;
  $("explain-result").focus();
}

document.addEventListener("DOMContentLoaded", () => {
  $("explain-form").addEventListener("submit", explainCall);
});

document.addEventListener("console:start", () => {
  $("explain-panel").hidden = false;
});

document.addEventListener("console:stop", () => {
  delete $("explain-line").dataset.lines;
  $("explain-result").textContent = "";
  $("explain-answer").textContent = "";
  $("explain-panel").hidden = true;
});

// The lines one may ask about are the lines the stream shows.
document.addEventListener("console:line", () => offerLines($("explain-line")));
