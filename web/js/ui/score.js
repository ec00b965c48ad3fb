// A score picker: a row of buttons 1…N acting as one radio group (arrow keys move, click picks).

import { h } from "../dom.js";

export function scorePicker({ label, name, min = 1, max = 10, value = null, required = false, onChange }) {
  let current = value;
  const buttons = [];
  const group = h("div", {
    class: "score",
    role: "radiogroup",
    "aria-label": label,
    "aria-required": required ? "true" : null,
    dataset: { name },
  });
  const set = (v, focus = false) => {
    current = v;
    for (const b of buttons) {
      const on = Number(b.dataset.value) === v;
      b.setAttribute("aria-checked", on ? "true" : "false");
      b.tabIndex = on || (v === null && Number(b.dataset.value) === min) ? 0 : -1;
      if (on && focus) b.focus();
    }
    group.classList.toggle("score-missing", required && v === null);
    onChange?.(v);
  };
  for (let v = min; v <= max; v += 1) {
    const b = h("button", {
      type: "button",
      role: "radio",
      class: "score-option",
      text: String(v),
      dataset: { value: String(v) },
      onclick: () => set(current === v && !required ? null : v),
    });
    buttons.push(b);
    group.append(b);
  }
  group.addEventListener("keydown", (event) => {
    if (!["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(event.key)) return;
    event.preventDefault();
    event.stopPropagation();
    const step = event.key === "ArrowLeft" || event.key === "ArrowDown" ? -1 : 1;
    set(Math.min(max, Math.max(min, (current ?? min - step) + step)), true);
  });
  set(value);
  const wrapper = h(
    "div",
    { class: "field score-field" },
    h("span", { class: "field-label" }, label, required ? h("span", { class: "req", "aria-hidden": "true", text: " *" }) : null),
    group,
  );
  return {
    el: wrapper,
    get value() {
      return current;
    },
    set value(v) {
      set(v);
    },
  };
}
