// Short notices in the corner (an aria-live region): what just happened, and what went wrong.

import { h } from "../dom.js";
import { ApiError } from "../api.js";

const KINDS = { info: 4000, success: 3000, warning: 7000, error: 9000 };

export function notify(message, kind = "info", detail = null) {
  const region = document.getElementById("notices");
  if (!region) return;
  const close = h("button", { class: "notice-close", "aria-label": "Dismiss", text: "×" });
  const notice = h(
    "div",
    { class: ["notice", `notice-${kind}`], role: kind === "error" ? "alert" : null },
    h("div", { class: "notice-body" }, h("strong", { text: message }), detail ? h("div", { text: detail }) : null),
    close,
  );
  const remove = () => notice.remove();
  close.addEventListener("click", remove);
  region.append(notice);
  setTimeout(remove, KINDS[kind] || 4000);
  while (region.children.length > 4) region.firstElementChild.remove();
}

/** Show an error from anywhere: API problems with their detail, anything else plainly. */
export function notifyError(error, context = "") {
  if (error instanceof ApiError) {
    const fields = error.fieldErrors.map((e) => `${e.location}: ${e.message}`).join("; ");
    notify(context ? `${context}: ${error.title}` : error.title, "error", fields || error.problem.detail || "");
  } else {
    notify(context || "Something went wrong", "error", error?.message || String(error));
  }
}

/** Wrap an async event handler so that a failure is shown, never left unhandled. */
export function guarded(fn, context = "") {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (error) {
      notifyError(error, context);
      return undefined;
    }
  };
}
