// Pieces every admin page uses: its heading, a data table, status pills, a "load more" pager.

import { h, humanize } from "../../dom.js";

export function pageHead(title, subtitle, ...actions) {
  return h("div", { class: "admin-head" },
    h("div", {}, h("h1", { text: title }), subtitle ? h("p", { class: "muted", text: subtitle }) : null),
    h("div", { class: "spacer" }),
    ...actions);
}

/** columns: [{label, render(row) → node|string, num, className}] */
export function dataTable(columns, rows, { empty = "Nothing here.", rowAttrs = null, label = null } = {}) {
  if (!rows.length) return h("div", { class: "table-wrap" }, h("div", { class: "empty", text: empty }));
  return h("div", { class: "table-wrap" },
    h("table", { class: "data", "aria-label": label },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null, scope: "col", text: c.label })))),
      h("tbody", {}, rows.map((row) => h("tr", rowAttrs ? rowAttrs(row) : {},
        columns.map((c) => h("td", { class: [c.num ? "num" : null, c.className] }, c.render(row))))))));
}

const GOOD = new Set(["APPROVED", "COMPLETED", "SUCCESS", "READY_FOR_ANNOTATION", "SUCCEEDED", "READY"]);
const BAD = new Set(["REJECTED", "FAILED", "OVERDUE", "TIMED_OUT", "ABORTED"]);
const WAIT = new Set(["AWAITING_UPLOAD", "REQUIRES_REVISION", "PARTIAL", "UPLOADED", "ASSIGNED", "YOLO_PROCESSING", "RUNNING", "PENDING", "REQUESTED"]);

export function statusPill(status, text = null) {
  const kind = GOOD.has(status) ? "status-good" : BAD.has(status) ? "status-bad" : WAIT.has(status) ? "status-wait" : "status-info";
  return h("span", { class: ["status-pill", kind], dataset: { status }, text: text || humanize(status) });
}

/**
 * For a loader that may be called again before its answer is back (a filter applied while the
 * page's first load is in flight): `const fresh = begin()` at the start of each call, and after
 * each await `if (!fresh()) return;`, so an older answer never overwrites a newer one.
 */
export function latestOnly() {
  let calls = 0;
  return () => {
    const mine = ++calls;
    return () => mine === calls;
  };
}

/** A "Load more" button that calls `more()` and hides itself when it returns false. */
export function pager(more) {
  const button = h("button", {
    class: "btn",
    type: "button",
    text: "Load more",
    onclick: async () => {
      button.disabled = true;
      try {
        button.hidden = !(await more());
      } finally {
        button.disabled = false;
      }
    },
  });
  return h("div", { class: "row", style: { justifyContent: "center", marginTop: ".75rem" } }, button);
}

export const USER_COLOURS = ["#5fd4c4", "#ffb86b", "#8fb4ff", "#f47fa0", "#b4e06b", "#c9a0ff", "#ffd86b", "#6be0ff", "#ff8f6b", "#9be8b0"];

export const IMAGE_STATUS_COLOURS = {
  UPLOADED: "#3a4b5c",
  YOLO_PROCESSED: "#4a5d70",
  ASSIGNED: "#6b7f94",
  IN_PROGRESS: "#3fbfae",
  ANNOTATED: "#2f9d8f",
  SUBMITTED: "#6aa8ff",
  UNDER_REVIEW: "#8f7bff",
  REQUIRES_REVISION: "#f0b44c",
  APPROVED: "#4cc38a",
  REJECTED: "#ef6461",
};
