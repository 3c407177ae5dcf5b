// The first screen: the guest's display name. It is kept in memory only; nothing
// is stored, so closing the tab leaves nothing behind.

import { checkText, MAX_NAME_CHARS } from "../../core/index.js";
import { h } from "./dom.js";

export function namePrompt(sessionId: string, initial: string, onName: (name: string) => void): HTMLElement {
  const input = h("input", {
    id: "name-input",
    attrs: {
      type: "text",
      name: "name",
      autocomplete: "nickname",
      maxlength: MAX_NAME_CHARS,
      required: true,
      spellcheck: "false",
      "aria-describedby": "name-hint name-error",
    },
  });
  input.value = initial;
  const error = h("p", { id: "name-error", className: "field-error", attrs: { role: "alert" } });
  const form = h(
    "form",
    {
      id: "name-form",
      className: "card prompt",
      attrs: { novalidate: true, "aria-labelledby": "prompt-title" },
      on: {
        submit: (event) => {
          event.preventDefault();
          const checked = checkText(input.value, "your name");
          if (!checked.ok) {
            error.textContent = input.value.trim() === "" ? "Enter the name the others will see." : checked.problem;
            input.setAttribute("aria-invalid", "true");
            input.focus();
            return;
          }
          onName(checked.text);
        },
      },
    },
    [
      h("h1", { id: "prompt-title", text: "Join a live coding session" }),
      h("p", {
        className: "lead",
        text: "You have been invited to code together. Everything you see and type is end-to-end encrypted: the server relays it without being able to read it.",
      }),
      h("label", { attrs: { for: "name-input" }, text: "Your name" }),
      input,
      h("p", { id: "name-hint", className: "hint", text: "Shown to the host and the other participants." }),
      error,
      h("button", { id: "join-button", className: "button primary", text: "Join", attrs: { type: "submit" } }),
      h("p", { className: "session-line" }, ["Session ", h("code", { text: sessionId })]),
    ],
  );
  return h("main", { className: "screen centred" }, [form]);
}
