// The delegation panel, for the delegator: their delegates with privileges and
// status (pending until the delegate accepts), a form to invite one (or change the
// privileges of one already there), a button to remove one, and the policies: VIP
// delegation on or off, how VIP callers and the others ring, the ring timeout.
// A policy the delegation cannot choose now (no accepted delegate who answers
// calls, no mailbox) is offered disabled, with GET /me's reason under the list.
// When the administrator locked the delegation every control is disabled and the
// reason is said first.
"use strict";

(() => {
  const { element, field, name, request, reload, showProblems, problemList, done,
          spelled } = Manage;
  const PRIVILEGES = ["answer_calls", "place_calls", "pickup_held_calls",
                      "manage_vip_contacts"];
  const POLICY_KEYS = [["vip_callers", "VIP callers"], ["other_callers", "Other callers"]];

  function delegatesList(entry, allowed, status, problems) {
    const delegator = entry.delegator;
    const delegates = Object.entries(entry.settings.delegates || {});
    const list = element("ul", { className: "delegates" });
    list.replaceChildren(...delegates.map(([user, delegate]) => {
      const privileges = delegate.privileges.map(spelled).join(", ") || "no privileges";
      const item = element("li", { className: "delegate" },
                           element("strong", { textContent: name(user) }),
                           element("span", { className: "detail", textContent: privileges }),
                           element("span", { className: `status ${delegate.status}`,
                                             textContent: delegate.status }));
      item.dataset.user = user;
      item.dataset.status = delegate.status;
      item.append(element("button", {
        type: "button", textContent: "Remove", disabled: !allowed,
        ariaLabel: `Remove ${name(user)} as a delegate`,
        onclick: async () => {
          const answer = await request(
            "DELETE", `delegations/${encodeURIComponent(delegator)}/delegates/`
                      + encodeURIComponent(user));
          if (!answer.ok) return showProblems(problems, answer.problems);
          await reload();
          done(status, `${name(user)} removed as a delegate.`);
        } }));
      return item;
    }));
    if (!delegates.length) list.append(element("li", { className: "empty",
                                                       textContent: "No delegates yet." }));
    return list;
  }

  function inviteForm(entry, allowed, status, user, names) {
    const delegator = entry.delegator;
    const problems = problemList();
    problems.setAttribute("role", "alert");
    // Those not yet delegates first; choosing a delegate changes their privileges.
    const delegates = entry.settings.delegates || {};
    const others = Object.keys(names).filter((id) => id !== user);
    const who = element("select", { required: true, disabled: !allowed });
    who.append(...[...others.filter((id) => !(id in delegates)),
                   ...others.filter((id) => id in delegates)].map((id) => element("option", {
      value: id, textContent: id in delegates ? `${name(id)} (change privileges)` : name(id) })));
    const boxes = PRIVILEGES.map((privilege) => {
      const box = element("input", { type: "checkbox", value: privilege, disabled: !allowed,
                                     checked: privilege === "answer_calls" });
      box.id = `invite-${privilege}`;
      return element("div", { className: "check" }, box,
                     element("label", { htmlFor: box.id, textContent: spelled(privilege) }));
    });
    const form = element("form", { className: "invite-form" },
      element("h3", { textContent: "Invite a delegate" }),
      field("User", who),
      element("fieldset", { disabled: !allowed },
              element("legend", { textContent: "Privileges" }), ...boxes),
      element("div", { className: "actions" },
              element("button", { type: "submit", textContent: "Invite",
                                  disabled: !allowed })),
      problems);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const privileges = [...form.querySelectorAll("input[type=checkbox]:checked")].map(
        (box) => box.value);
      const invited = who.value;
      const answer = await request(
        "PUT", `delegations/${encodeURIComponent(delegator)}/delegates/`
               + encodeURIComponent(invited), { privileges });
      if (!answer.ok) return showProblems(problems, answer.problems);
      await reload();
      done(status, `${name(invited)} invited (${privileges.map(spelled).join(", ")
        || "no privileges"}); they are a delegate once they accept.`);
    });
    return { form, problems };
  }

  function policiesForm(entry, allowed, status) {
    const delegator = entry.delegator;
    const settings = entry.settings;
    const current = settings.vip_delegation || { enabled: false };
    const problems = problemList();
    problems.setAttribute("role", "alert");
    const enabled = element("input", { type: "checkbox", checked: Boolean(current.enabled),
                                       disabled: !allowed });
    enabled.id = "vip-delegation-enabled";
    const selects = {};
    const form = element("form", { className: "policies-form" },
      element("h3", { textContent: "Policies" }),
      element("div", { className: "check" }, enabled,
              element("label", { htmlFor: enabled.id,
                                 textContent: "VIP delegation on (off: everyone rings together)" })));
    for (const [key, label] of POLICY_KEYS) {
      const choices = entry.policy_choices[key];
      const select = element("select", { name: key, disabled: !allowed });
      select.append(...choices.map((choice) => element("option", {
        value: choice.policy, disabled: !choice.allowed,
        textContent: spelled(choice.policy) + (choice.allowed ? "" : " (not available)"),
      })));
      const chosen = current[key] || choices.find((choice) => choice.allowed).policy;
      select.value = chosen;
      selects[key] = select;
      const reasons = element("ul", { className: "reasons" },
        ...choices.filter((choice) => !choice.allowed).map(
          (choice) => element("li", { textContent: choice.reason })));
      reasons.id = `${key}-reasons`;
      select.setAttribute("aria-describedby", reasons.id);
      form.append(field(label, select), reasons);
    }
    const timeout = element("input", { value: String(settings.ring_timeout ?? ""),
                                       disabled: !allowed, placeholder: "20s" });
    form.append(field("Ring timeout (each stage: 20s, 500ms, 2m)", timeout),
                element("div", { className: "actions" },
                        element("button", { type: "submit", textContent: "Save policies",
                                             disabled: !allowed })),
                problems);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { vip_delegation: { enabled: enabled.checked,
                                       vip_callers: selects.vip_callers.value,
                                       other_callers: selects.other_callers.value } };
      if (timeout.value.trim()) body.ring_timeout = timeout.value.trim();
      const answer = await request("PATCH", `delegations/${encodeURIComponent(delegator)}`,
                                   body);
      if (!answer.ok) return showProblems(problems, answer.problems);
      await reload();
      done(status, "Policies saved; the next call follows them.");
    });
    return form;
  }

  document.addEventListener("manage:loaded", (event) => {
    const { user, names, delegations } = event.detail;
    const entry = delegations.find((found) => found.delegator === user
                                               && found.role === "delegator");
    const panel = document.getElementById("delegation-panel");
    panel.hidden = !entry;
    if (!entry) return;
    const status = document.getElementById("delegation-status");
    const allowed = entry.manage_delegation.allowed;
    const invite = inviteForm(entry, allowed, status, user, names);
    const body = document.getElementById("delegation-body");
    body.dataset.allowed = String(allowed);
    const reason = `You cannot change your delegation: ${entry.manage_delegation.reason}`;
    body.replaceChildren(
      ...(allowed ? [] : [element("p", { className: "reason", textContent: reason })]),
      element("h3", { textContent: "Delegates" }),
      delegatesList(entry, allowed, status, invite.problems),
      invite.form,
      policiesForm(entry, allowed, status));
  });
  document.addEventListener("manage:stopped", () => {
    document.getElementById("delegation-panel").hidden = true;
    document.getElementById("delegation-body").replaceChildren();
    document.getElementById("delegation-status").textContent = "";
  });
})();
