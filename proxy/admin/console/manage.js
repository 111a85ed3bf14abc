// The management panels' shared part (vip.js, delegation.js): the API calls, what
// the signed-in user may do (GET /me) with each delegation's settings, and the
// refusals shown next to a form.
//
// console.js says when a user signs in ("console:start"), signs out
// ("console:stop") or answers an invitation ("console:changed"); this file then
// reads GET /me and each delegation and hands the panels one model
// ("manage:loaded"), which they draw at once. A panel that changed something calls
// reload() and, once it resolves, moves the focus: the panels are drawn again by then.
"use strict";

const Manage = (() => {
  const session = { token: null, user: null, names: {} };

  // One API call: {ok, status, data} or {ok: false, problems: [text, ...]}. A 422
  // names each problem as "path: what is wrong", a 403 says why in one sentence.
  async function request(method, path, body) {
    const init = { method, headers: { Authorization: `Bearer ${session.token}` } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let answer;
    try {
      answer = await fetch(`../${path}`, init);
    } catch (error) {
      return { ok: false, status: 0, problems: ["The proxy cannot be reached."] };
    }
    const data = await answer.json().catch(() => ({}));
    if (answer.ok) return { ok: true, status: answer.status, data };
    return { ok: false, status: answer.status,
             problems: [].concat(data.detail || `Refused (${answer.status}).`) };
  }

  async function reload() {
    if (!session.token) return;
    const me = await request("GET", "me");
    if (!me.ok) return;
    const delegations = await Promise.all(me.data.delegations.map(async (entry) => {
      const read = await request("GET", `delegations/${encodeURIComponent(entry.delegator)}`);
      return { ...entry, settings: read.ok ? read.data : {} };
    }));
    document.dispatchEvent(new CustomEvent("manage:loaded", {
      detail: { user: session.user, names: session.names, delegations } }));
  }

  // An element with properties (textContent, never innerHTML) and children.
  function element(tag, properties = {}, ...children) {
    const made = Object.assign(document.createElement(tag), properties);
    made.append(...children.filter((child) => child !== null));
    return made;
  }

  // A label and its control, tied by a fresh id so a screen reader names the control.
  let fields = 0;
  function field(text, control) {
    control.id = `manage-field-${++fields}`;
    return element("div", { className: "field" },
                   element("label", { htmlFor: control.id, textContent: text }), control);
  }

  function showProblems(list, problems) {
    list.replaceChildren(...problems.map((text) => element("li", { textContent: text })));
    if (problems.length) list.focus();
  }

  function problemList() {
    return element("ul", { className: "problems error", tabIndex: -1 });
  }

  // Said politely once the panels are drawn again, and focused, so a keyboard or
  // screen-reader user knows the action worked and goes on from there.
  function done(status, text) {
    status.textContent = text;
    status.focus();
  }

  function name(user) {
    return session.names[user] || user;
  }

  function spelled(word) {
    return word.replaceAll("_", " ");
  }

  document.addEventListener("console:start", (event) => {
    Object.assign(session, event.detail);
    reload();
  });
  document.addEventListener("console:changed", reload);
  document.addEventListener("console:stop", () => {
    session.token = null;
    document.dispatchEvent(new CustomEvent("manage:stopped"));
  });

  return { request, reload, element, field, showProblems, problemList, done, name, spelled };
})();
