// Keyboard shortcuts: each view registers its own; "?" lists the current ones.
// Keys typed into a form field never trigger a shortcut (except those marked `inFields`).

import { h, isTyping } from "../dom.js";
import { openDialog } from "./dialog.js";

const GLOBAL = [{ keys: "?", label: "Show the keyboard shortcuts" }];
let current = { title: "", groups: [] };
let handler = null;

/**
 * use(title, groups, onKey): groups = [{name, items: [{keys, label}]}] for the panel; onKey(event)
 * returns true when it handled the key. Returns a function that removes them.
 */
export function useShortcuts(title, groups, onKey) {
  current = { title, groups };
  handler = onKey;
  return () => {
    if (handler === onKey) {
      handler = null;
      current = { title: "", groups: [] };
    }
  };
}

export function installShortcuts() {
  window.addEventListener("keydown", (event) => {
    if (document.querySelector("dialog[open]")) return;
    if (event.key === "?" && !isTyping(event)) {
      event.preventDefault();
      showShortcuts();
      return;
    }
    if (handler && handler(event)) event.preventDefault();
  });
}

export function showShortcuts() {
  const groups = [...current.groups, { name: "Everywhere", items: GLOBAL }];
  const body = h(
    "div",
    { class: "shortcut-panel" },
    groups.map((group) =>
      h(
        "section",
        {},
        h("h3", { text: group.name }),
        h(
          "dl",
          { class: "shortcut-list" },
          group.items.map((item) => [
            h("dt", {}, item.keys.split(" / ").map((k, i) => [i ? " / " : null, h("kbd", { text: k })])),
            h("dd", { text: item.label }),
          ]),
        ),
      ),
    ),
  );
  return openDialog({
    title: current.title ? `Keyboard shortcuts — ${current.title}` : "Keyboard shortcuts",
    body,
    className: "dialog-wide",
  });
}
