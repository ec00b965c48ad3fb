// The side panel's list of keypoints: one row per schema keypoint, its colour, name and state.
// Views add their own columns with `extra(def)` and refresh rows with `update()`.

import { h } from "../dom.js";
import { VISIBILITY_NAMES } from "./model.js";

const VIS_LETTER = { 2: "V", 1: "O", 0: "A" };

export class KeypointList {
  constructor(schema, { onSelect, extra = null, label = "Keypoints" }) {
    this.schema = schema;
    this.rows = new Map();
    // A listbox's options may hold no controls (axe: nested-interactive). Rows with a view's own
    // controls (the verifier's score and flag) make a plain list, the chosen row aria-current.
    this.plain = Boolean(extra);
    this.el = h("ul", { class: "kp-list", role: this.plain ? null : "listbox", "aria-label": label });
    for (const def of schema.keypoints) {
      const parts = {
        disp: h("span", { class: "disp" }),
        note: h("span", { class: "note-mark", title: "has a note", text: "✎", hidden: true }),
        flag: h("span", { class: "flag", title: "problematic", text: "⚑", hidden: true }),
        vis: h("span", { class: "vis-tag" }),
      };
      const extraNode = extra ? extra(def) : null;
      const meta = h("span", { class: "kp-meta" }, parts.disp, parts.note, parts.flag, extraNode, parts.vis);
      const row = h(
        "li",
        {
          class: "kp-row",
          role: this.plain ? null : "option",
          "aria-selected": this.plain ? null : "false",
          dataset: { id: String(def.id), name: def.name, selected: "false" },
          onclick: (event) => {
            if (event.target.closest("input, button, select")) return;
            onSelect(def.id);
          },
        },
        h("span", { class: "dot", style: { background: def.color } }),
        h("span", { class: "kp-name", title: def.name }, `${def.index + 1}. ${def.name.replaceAll("_", " ")}`, this.schema.required.has(def.id) ? h("span", { class: "req", title: "required", text: " *" }) : null),
        meta,
      );
      this.rows.set(def.id, { row, parts });
      this.el.append(row);
    }
  }

  /** state(id) → {selected, visible, note, problem, major, metaText} */
  update(state) {
    for (const def of this.schema.keypoints) {
      const { row, parts } = this.rows.get(def.id);
      const s = state(def.id);
      row.dataset.selected = s.selected ? "true" : "false";
      if (this.plain) {
        if (s.selected) row.setAttribute("aria-current", "true");
        else row.removeAttribute("aria-current");
      } else row.setAttribute("aria-selected", s.selected ? "true" : "false");
      row.dataset.visible = String(s.visible);
      row.classList.toggle("problem", Boolean(s.problem));
      row.classList.toggle("major", Boolean(s.major));
      parts.disp.textContent = s.metaText || "";
      parts.note.hidden = !s.note;
      parts.flag.hidden = !s.problem;
      parts.vis.dataset.v = String(s.visible);
      parts.vis.title = VISIBILITY_NAMES[s.visible];
      parts.vis.textContent = VIS_LETTER[s.visible];
    }
  }

  scrollTo(id) {
    this.rows.get(id)?.row.scrollIntoView({ block: "nearest" });
  }
}
