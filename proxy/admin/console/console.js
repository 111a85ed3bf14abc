// The assistant console: signs in with the management API's POST /login and shows
// the user's lines live from GET /events/lines (server-sent events).
//
// The stream is read with fetch() rather than EventSource because EventSource
// cannot send the Authorization header, and a token in the URL would end up in
// logs. The framing is the HTML Living Standard's ("Server-sent events",
// "Interpreting an event stream"). Everything shown is set with textContent: a
// caller's display name comes from a SIP header anyone can write.
"use strict";

const TOKEN_KEY = "vipproxy.console.token";
const USER_KEY = "vipproxy.console.user";
const RETRY_MS = [500, 1000, 2000, 5000];

const $ = (id) => document.getElementById(id);
const state = { token: null, user: null, names: {}, lines: new Map(), abort: null,
                retries: 0 };

function headers() {
  return { Authorization: `Bearer ${state.token}` };
}

// The other panels (history.js, explain.js) follow the page through these events:
// "console:start" (signed in, names known), "console:stop", and "console:line"
// ({line, before, now}: a line's state as the stream told it).
function announce(name, detail) {
  document.dispatchEvent(new CustomEvent(name, { detail }));
}

// Offer the watched lines in `select`, one option each ("number · owner"), after
// its options without a value ("All lines"), keeping what was chosen.
function offerLines(select) {
  const numbers = [...state.lines.keys()].sort();
  if (select.dataset.lines === numbers.join()) return;
  select.dataset.lines = numbers.join();
  const chosen = select.value;
  select.replaceChildren(...[...select.options].filter((option) => !option.value),
                         ...numbers.map((number) => {
    const option = document.createElement("option");
    const owner = state.lines.get(number).owner;
    option.value = number;
    option.textContent = `${number} · ${state.names[owner] || owner}`;
    return option;
  }));
  if (numbers.includes(chosen)) select.value = chosen;
}

async function signIn(event) {
  event.preventDefault();
  const username = $("username").value;
  const password = $("password").value;
  $("sign-in-error").textContent = "";
  let answer;
  try {
    answer = await fetch("../login", {
      method: "POST",
      headers: { Authorization: "Basic " + btoa(unescape(encodeURIComponent(
        `${username}:${password}`))) },
    });
  } catch (error) {
    $("sign-in-error").textContent = "The proxy cannot be reached.";
    return;
  }
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    $("sign-in-error").textContent = body.detail || `Sign-in refused (${answer.status}).`;
    return;
  }
  $("password").value = "";
  sessionStorage.setItem(TOKEN_KEY, body.token);
  sessionStorage.setItem(USER_KEY, body.user);
  start(body.token, body.user);
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  if (state.abort) state.abort.abort();
  state.token = null;
  state.lines.clear();
  $("lines").replaceChildren();
  $("who").hidden = true;
  $("lines-panel").hidden = true;
  $("invitations-panel").hidden = true;
  $("sign-in").hidden = false;
  document.dispatchEvent(new CustomEvent("console:stop"));
  $("username").focus();
  announce("console:stop");
}

async function start(token, user) {
  state.token = token;
  state.user = user;
  $("sign-in").hidden = true;
  $("who").hidden = false;
  $("lines-panel").hidden = false;
  $("user-name").textContent = user;
  const users = await fetch("../users", { headers: headers() }).catch(() => null);
  if (users && users.status === 401) return signOut();
  if (users && users.ok) {
    for (const entry of await users.json()) state.names[entry.id] = entry.name || entry.id;
    $("user-name").textContent = state.names[user] || user;
  }
  announce("console:start");
  showInvitations();
  follow();
  // The management panels (manage.js) start from here.
  document.dispatchEvent(new CustomEvent("console:start",
                                         { detail: { token, user, names: state.names } }));
}

// Invitations to serve as someone's delegate: the pending ones with accept and
// decline, the answered ones as they stand. Accepting needs no reload: the line
// stream is sent the delegator's lines as soon as the proxy applies it.
async function showInvitations() {
  const answer = await fetch("../invitations", { headers: headers() }).catch(() => null);
  if (!answer || !answer.ok) return;
  const invitations = await answer.json();
  $("invitations-panel").hidden = invitations.length === 0;
  $("invitations").replaceChildren(...invitations.map((invitation) => {
    const item = document.createElement("li");
    item.className = "invitation";
    item.dataset.delegator = invitation.delegator;
    item.dataset.status = invitation.status;
    const text = document.createElement("p");
    const from = state.names[invitation.delegator] || invitation.delegator;
    const privileges = invitation.privileges.join(", ").replaceAll("_", " ");
    text.textContent = invitation.status === "pending"
      ? `${from} invites you as a delegate (${privileges}).`
      : `${from}'s delegate (${privileges}): ${invitation.status}.`;
    item.append(text);
    if (invitation.status === "pending") {
      for (const [verb, label] of [["accept", "Accept"], ["decline", "Decline"]]) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = label;
        button.setAttribute("aria-label", `${label} ${from}'s invitation`);
        button.addEventListener("click", () => answerInvitation(invitation.delegator, verb));
        item.append(button);
      }
    }
    return item;
  }));
}

async function answerInvitation(delegator, verb) {
  $("invitations-error").textContent = "";
  const answer = await fetch(`../invitations/${encodeURIComponent(delegator)}/${verb}`,
                             { method: "POST", headers: headers() }).catch(() => null);
  if (!answer || !answer.ok) {
    const body = answer ? await answer.json().catch(() => ({})) : {};
    $("invitations-error").textContent = [].concat(body.detail || "The proxy cannot be reached.")
      .join(" ");
  }
  showInvitations();
  document.dispatchEvent(new CustomEvent("console:changed"));
}

// Read the stream until it ends, then connect again after a pause that grows.
async function follow() {
  const controller = new AbortController();
  state.abort = controller;
  try {
    const answer = await fetch("../events/lines", { headers: headers(),
                                                    signal: controller.signal });
    if (answer.status === 401) return signOut();
    if (!answer.ok) throw new Error(`the stream was refused (${answer.status})`);
    showStatus("Live");
    state.retries = 0;
    await readEvents(answer.body, received);
  } catch (error) {
    if (controller.signal.aborted) return;
  }
  if (controller.signal.aborted) return;
  const wait = RETRY_MS[Math.min(state.retries++, RETRY_MS.length - 1)];
  showStatus(`Connection lost; trying again in ${wait / 1000} s`);
  setTimeout(follow, wait);
}

async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // a comment: the keep-alive
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = text;
        if (field === "data") data.push(text);
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

function received(name, data) {
  const before = new Map([...state.lines].map(([number, line]) => [number, line.state]));
  if (name === "snapshot") {
    state.lines.clear();
    for (const line of data.lines) state.lines.set(line.line, line);
  } else if (name === "line") {
    state.lines.set(data.line, data);
  }
  render();
  for (const [number, line] of state.lines) {
    announce("console:line", { line: number, before: before.get(number), now: line.state });
  }
}

function showStatus(text) {
  $("stream-status").textContent = text;
}

function person(party) {
  if (!party) return "";
  if (party.user) return state.names[party.user] || party.user;
  return party.display || number(party.identity);
}

function number(uri) {
  const match = /^(?:sips?:|tel:)?([^@;>]+)/.exec(uri || "");
  return match ? match[1] : uri;
}

// The VIP contact the proxy matched the caller with (the routing decision's, not a
// guess from the caller's number), if any.
function vipOf(line) {
  const dialog = line.dialogs.find((each) => each.state !== "terminated" && each.vip);
  return dialog ? dialog.vip : null;
}

function vipBadge() {
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = "VIP";
  return badge;
}

function describe(line) {
  const live = line.dialogs.filter((dialog) => dialog.state !== "terminated");
  const confirmed = live.filter((dialog) => dialog.state === "confirmed");
  if (line.state === "ringing") {
    const caller = person(live[0] && live[0].remote);
    const rung = [...new Set(live.map((dialog) => person(dialog.local)))].join(", ");
    const vip = vipOf(line);
    return [vip ? `VIP caller: ${vip}` : `From ${caller}`, `Ringing ${rung}`];
  }
  if (line.state === "in_use") {
    const dialog = confirmed[0];
    return [`In use by ${person(dialog.local)}`, `With ${person(dialog.remote)}`];
  }
  if (line.state === "held") {
    const dialog = confirmed[0];
    const holder = dialog.held_by === "local" ? person(dialog.local) : person(dialog.remote);
    const since = new Date(dialog.held_at * 1000).toLocaleTimeString();
    return [`Held by ${holder} since ${since}`, `With ${person(dialog.remote)}`];
  }
  return [];
}

function render() {
  const items = [...state.lines.values()].sort((a, b) =>
    a.owner.localeCompare(b.owner) || a.line.localeCompare(b.line));
  $("lines").replaceChildren(...items.map((line) => {
    const item = document.createElement("li");
    const vip = vipOf(line);
    item.className = `line ${line.state}${vip ? " vip" : ""}`;
    item.dataset.line = line.line;
    item.dataset.state = line.state;
    const title = document.createElement("h3");
    title.textContent = `${line.line} · ${state.names[line.owner] || line.owner}`;
    const status = document.createElement("span");
    status.className = "state";
    status.textContent = line.state.replace("_", " ");
    item.append(title, status);
    if (vip) item.append(" ", vipBadge());
    for (const text of describe(line)) {
      const detail = document.createElement("p");
      detail.className = "detail";
      detail.textContent = text;
      item.append(detail);
    }
    return item;
  }));
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) start(token, sessionStorage.getItem(USER_KEY));
  else $("username").focus();
});
