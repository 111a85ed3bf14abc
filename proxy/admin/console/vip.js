// The VIP contacts panel: per delegation the user takes part in (their own, and
// each they serve as an accepted delegate), the contacts with their numbers, and
// for a user who may change them (the delegator, a delegate with
// manage_vip_contacts, not when the administrator locked the delegation) a form to
// add or edit one and a button to remove one. Anyone else sees why not (GET /me's
// reason) instead of the controls. A number is typed one a line, a label after a
// comma: "+1 415 555 0142, mobile".
"use strict";

(() => {
  const { element, field, name, request, reload, showProblems, problemList, done } = Manage;

  function contactName(contact) {
    const person = [contact.first_name, contact.last_name].filter(Boolean).join(" ");
    return person || contact.company || contact.numbers.map(numberOf).join(", ");
  }

  function numberOf(entry) {
    return typeof entry === "string" ? entry : entry.number;
  }

  function numberText(entry) {
    return typeof entry === "string" || !entry.label ? numberOf(entry)
      : `${entry.number} (${entry.label})`;
  }

  function numbersTyped(text) {
    return text.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
      const comma = line.indexOf(",");
      if (comma < 0) return line;
      return { number: line.slice(0, comma).trim(), label: line.slice(comma + 1).trim() };
    });
  }

  function numbersShown(numbers) {
    return numbers.map((entry) => typeof entry === "string" || !entry.label ? numberOf(entry)
      : `${entry.number}, ${entry.label}`).join("\n");
  }

  function block(entry, status, own) {
    const delegator = entry.delegator;
    const may = entry.manage_vip_contacts;
    const contacts = entry.settings.vip_contacts || [];
    const path = `delegations/${encodeURIComponent(delegator)}/vip_contacts`;
    const title = own ? "Your VIP contacts" : `${name(delegator)}'s VIP contacts`;
    const section = element("section", { className: "vip-block" },
                            element("h3", { textContent: title }));
    section.dataset.delegator = delegator;
    section.dataset.allowed = String(may.allowed);
    if (!may.allowed) {
      section.append(element("p", { className: "reason",
                                    textContent: `You cannot change these: ${may.reason}` }));
    }
    const list = element("ul", { className: "vip-contacts" });
    list.replaceChildren(...contacts.map((contact, index) => {
      const item = element("li", { className: "vip-contact" },
                           element("strong", { textContent: contactName(contact) }));
      for (const detail of [contact.company, contact.email]) {
        if (detail) item.append(element("span", { className: "detail", textContent: detail }));
      }
      item.append(element("span", { className: "numbers",
                                     textContent: contact.numbers.map(numberText).join(" · ") }));
      if (may.allowed) {
        const label = contactName(contact);
        item.append(
          element("button", { type: "button", textContent: "Edit", ariaLabel: `Edit ${label}`,
                              onclick: () => edit(index, contact) }),
          element("button", { type: "button", textContent: "Remove",
                              ariaLabel: `Remove ${label}`,
                              onclick: () => remove(index, label) }));
      }
      return item;
    }));
    if (!contacts.length) list.append(element("li", { className: "empty",
                                                      textContent: "No VIP contacts." }));
    section.append(list);
    if (!may.allowed) return section;

    const inputs = {
      first_name: element("input", { autocomplete: "off" }),
      last_name: element("input", { autocomplete: "off" }),
      company: element("input", { autocomplete: "off" }),
      email: element("input", { type: "email", autocomplete: "off" }),
      numbers: element("textarea", { rows: 2, required: true }),
    };
    const problems = problemList();
    problems.setAttribute("role", "alert");
    const submit = element("button", { type: "submit", textContent: "Add contact" });
    const cancel = element("button", { type: "button", textContent: "Cancel", hidden: true });
    const form = element("form", { className: "vip-form" },
      field("First name", inputs.first_name), field("Last name", inputs.last_name),
      field("Company", inputs.company), field("E-mail", inputs.email),
      field("Numbers (one a line; a label after a comma)", inputs.numbers),
      element("div", { className: "actions" }, submit, cancel), problems);
    let editing = null; // the index of the contact the form replaces

    function edit(index, contact) {
      editing = index;
      for (const key of ["first_name", "last_name", "company", "email"]) {
        inputs[key].value = contact[key] || "";
      }
      inputs.numbers.value = numbersShown(contact.numbers);
      submit.textContent = "Save contact";
      cancel.hidden = false;
      inputs.first_name.focus();
    }

    cancel.addEventListener("click", () => {
      editing = null;
      form.reset();
      submit.textContent = "Add contact";
      cancel.hidden = true;
      inputs.first_name.focus();
    });

    async function remove(index, label) {
      const answer = await request("DELETE", `${path}/${index}`);
      if (!answer.ok) return showProblems(problems, answer.problems);
      await reload();
      done(status, `${label} removed from ${name(delegator)}'s VIP contacts.`);
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const contact = { numbers: numbersTyped(inputs.numbers.value) };
      for (const key of ["first_name", "last_name", "company", "email"]) {
        const value = inputs[key].value.trim();
        if (value) contact[key] = value;
      }
      const answer = editing === null ? await request("POST", path, contact)
        : await request("PUT", `${path}/${editing}`, contact);
      if (!answer.ok) return showProblems(problems, answer.problems);
      await reload();
      done(status, `${contactName(contact)} ${editing === null ? "added to" : "saved in"}`
                   + ` ${name(delegator)}'s VIP contacts.`);
    });
    section.append(form);
    return section;
  }

  document.addEventListener("manage:loaded", (event) => {
    const { user, delegations } = event.detail;
    const panel = document.getElementById("vip-panel");
    const status = document.getElementById("vip-status");
    panel.hidden = false;
    document.getElementById("vip-blocks").replaceChildren(
      ...delegations.map((entry) => block(entry, status, entry.delegator === user)));
  });
  document.addEventListener("manage:stopped", () => {
    document.getElementById("vip-panel").hidden = true;
    document.getElementById("vip-blocks").replaceChildren();
    document.getElementById("vip-status").textContent = "";
  });
})();
