// Modal dialogs on the native <dialog> element: focus is trapped and Escape closes, for free.

import { h } from "../dom.js";

/**
 * openDialog({title, body, actions}) → Promise of the chosen action's value (null on Escape).
 * `body` is a node; `actions` is [{label, value, kind, submit}] (submit: runs the form's
 * validation first and resolves with the FormData's values).
 */
export function openDialog({ title, body, actions = [{ label: "Close", value: null }], className = "" }) {
  return new Promise((resolve) => {
    const form = h("form", { method: "dialog", class: "dialog-form", novalidate: false });
    const footer = h("footer", { class: "dialog-actions" });
    const dialog = h(
      "dialog",
      { class: ["dialog", className], "aria-labelledby": "dialog-title" },
      form,
    );
    form.append(h("h2", { id: "dialog-title", text: title }), body, footer);
    let result = null;
    for (const action of actions) {
      const button = h("button", {
        type: action.submit ? "submit" : "button",
        class: ["btn", action.kind ? `btn-${action.kind}` : null],
        text: action.label,
        dataset: { action: action.label },
      });
      if (!action.submit) {
        button.addEventListener("click", () => {
          result = action.value ?? null;
          dialog.close();
        });
      }
      footer.append(button);
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      result = Object.fromEntries(new FormData(form).entries());
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector("input, select, textarea");
    (first || footer.lastElementChild)?.focus();
  });
}

export async function confirmDialog(title, message, confirmLabel = "Confirm", kind = "primary") {
  const value = await openDialog({
    title,
    body: h("p", { text: message }),
    actions: [
      { label: "Cancel", value: false },
      { label: confirmLabel, value: true, kind },
    ],
  });
  return value === true;
}
