// The console's history panel: the shared history of the lines the user watches,
// newest first (GET /history?order=newest), a page at a time, filtered by line and
// by outcome, each call with its routing decision in words (decision_text, built by
// the proxy). It reads again when a watched line goes idle: a call just ended.
//
// It uses console.js's `state`, `headers`, `$`, `offerLines` and `vipBadge`
// (classic scripts share their top-level names, so this file's start with
// "history") and follows its "console:start", "console:stop" and "console:line"
// events. Every value from the proxy is set with textContent.
"use strict";

const HISTORY_PAGE_SIZE = 10;
// The record of a call that just ended is written behind (the store's queue): read
// again a little later, and once more if it was not there yet.
const HISTORY_AFTER_CALL_MS = [300, 1500];

// The page shown (from `offset`), how many calls there are, the reads still to come.
const historyPage = { offset: 0, total: 0, timers: [] };

function historyQuery() {
  const query = new URLSearchParams({ order: "newest", offset: historyPage.offset,
                                      limit: HISTORY_PAGE_SIZE });
  if ($("history-line").value) query.set("line", $("history-line").value);
  if ($("history-outcome").value) query.set("outcome", $("history-outcome").value);
  return query;
}

async function showHistory() {
  const answer = await fetch(`../history?${historyQuery()}`, { headers: headers() })
    .catch(() => null);
  if (!answer || !answer.ok) {
    const body = answer ? await answer.json().catch(() => ({})) : {};
    $("history-status").textContent = [].concat(body.detail || "The history cannot be read.")
      .join(" ");
    return;
  }
  const page = await answer.json();
  historyPage.total = page.total;
  $("history").replaceChildren(...page.items.map(historyItem));
  const last = Math.min(page.offset + page.items.length, page.total);
  $("history-status").textContent = page.total === 0 ? "No calls."
    : `Calls ${page.offset + 1} to ${last} of ${page.total}, newest first.`;
  $("history-newer").disabled = page.offset === 0;
  $("history-older").disabled = last >= page.total;
}

function historyItem(call) {
  const item = document.createElement("li");
  item.className = `call ${call.outcome}`;
  item.dataset.callId = call.call_id;
  item.dataset.line = call.line;
  item.dataset.outcome = call.outcome;
  item.dataset.answeredBy = call.answered_by || "";
  const title = document.createElement("h3");
  const when = new Date(call.started * 1000).toLocaleString();
  title.textContent = call.direction === "outgoing"
    ? `${when} · ${call.line} → ${call.callee || "?"}`
    : `${when} · ${call.caller || "unknown caller"} → ${call.line}`;
  const outcome = document.createElement("p");
  outcome.className = "outcome";
  outcome.textContent = historyOutcome(call);
  const decision = document.createElement("p");
  decision.className = "decision";
  decision.textContent = call.decision_text;
  item.append(title, outcome, decision);
  if (call.vip) title.prepend(vipBadge(), " ");
  return item;
}

function historyName(user) {
  return user ? state.names[user] || user : "";
}

function historyOutcome(call) {
  const parts = [call.outcome === "failed" ? `failed (${call.status})` : call.outcome];
  if (call.answered_by) parts.push(`answered by ${historyName(call.answered_by)}`);
  if (call.made_by) parts.push(`made by ${historyName(call.made_by)}`);
  if (call.answered !== null) parts.push(historyDuration(call.duration));
  return parts.join(" · ");
}

function historyDuration(seconds) {
  const whole = Math.round(seconds);
  const minutes = Math.floor(whole / 60);
  return `${minutes}:${String(whole % 60).padStart(2, "0")}`;
}

function historyFromStart() {
  historyPage.offset = 0;
  showHistory();
}

function historyAfterCall() {
  historyPage.timers.forEach(clearTimeout);
  const before = historyPage.total;
  historyPage.timers = HISTORY_AFTER_CALL_MS.map((delay, index) => setTimeout(() => {
    if (index === 0 || historyPage.total === before) showHistory();
  }, delay));
}

document.addEventListener("DOMContentLoaded", () => {
  $("history-filter").addEventListener("change", historyFromStart);
  $("history-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    historyFromStart();
  });
  $("history-newer").addEventListener("click", () => historyTurn(-HISTORY_PAGE_SIZE));
  $("history-older").addEventListener("click", () => historyTurn(HISTORY_PAGE_SIZE));
});

// A page newer or older. A button that has no page left is disabled, which takes
// the keyboard's focus away: it goes to the other one.
async function historyTurn(by) {
  historyPage.offset = Math.max(0, historyPage.offset + by);
  await showHistory();
  const [pressed, other] = by < 0 ? ["history-newer", "history-older"]
    : ["history-older", "history-newer"];
  if ($(pressed).disabled && !$(other).disabled) $(other).focus();
}

document.addEventListener("console:start", () => {
  $("history-panel").hidden = false;
  historyFromStart();
});

document.addEventListener("console:stop", () => {
  historyPage.timers.forEach(clearTimeout);
  delete $("history-line").dataset.lines;
  $("history").replaceChildren();
  $("history-panel").hidden = true;
});

document.addEventListener("console:line", (event) => {
  offerLines($("history-line"));
  const { before, now } = event.detail;
  // A call ended: the first page (where it lands) is read again.
  if (before && before !== "idle" && now === "idle" && historyPage.offset === 0) {
    historyAfterCall();
  }
});
