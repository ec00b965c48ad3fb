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
  placeNotices(region);
}

// Where the notices may sit, in order of preference. A fixed corner always covers something on
// some screen (the workbench's Submit bottom right, a table's row actions, a page's header
// buttons), so each new notice takes the first place that covers no control.
const PLACES = [
  { right: "1rem", bottom: "1rem" },
  { left: "1rem", bottom: "1rem" },
  { left: "50%", bottom: "1rem", transform: "translateX(-50%)" },
  { right: "1rem", top: "calc(var(--topbar) + 1rem)" },
  { left: "50%", top: "calc(var(--topbar) + 1rem)", transform: "translateX(-50%)" },
];
const CONTROLS = "button, a[href], input, select, textarea, [role=button], [role=radio], [tabindex]:not([tabindex='-1'])";

export function placeNotices(region = document.getElementById("notices")) {
  if (!region || !region.children.length) return;
  const controls = [...document.querySelectorAll(CONTROLS)]
    .filter((el) => !region.contains(el))
    .map((el) => el.getBoundingClientRect())
    .filter((r) => r.width > 0 && r.height > 0);
  let best = null;
  for (const place of PLACES) {
    Object.assign(region.style, { left: "", right: "", top: "", bottom: "", transform: "" }, place);
    const box = region.getBoundingClientRect();
    const covered = controls.filter((r) => r.left < box.right && r.right > box.left && r.top < box.bottom && r.bottom > box.top).length;
    if (best === null || covered < best.covered) best = { place, covered };
    if (covered === 0) return;
  }
  Object.assign(region.style, { left: "", right: "", top: "", bottom: "", transform: "" }, best.place);
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
