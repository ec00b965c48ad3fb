// The append-only audit log: who did what to which record, filtered, newest first.

import { h, replace, fmtDateTime, humanize } from "../../dom.js";
import { guarded, notifyError } from "../../ui/notices.js";
import { dataTable, latestOnly, pageHead, pager, statusPill } from "./common.js";

const CATEGORIES = ["USER_MANAGEMENT", "IMAGE_PROCESSING", "ANNOTATION", "VERIFICATION", "SYSTEM"];
const RESOURCES = ["User", "KeypointSchema", "MLModelConfig", "ImageBatch", "Image", "Annotation", "BatchAssignment", "PerformanceMetrics"];

export function mountAudit(root, ctx) {
  const api = ctx.api;
  const names = new Map();
  let items = [];
  let cursor = null;
  let query = {};
  const input = (name, attrs = {}) => h("input", { name, ...attrs });
  const select = (name, label, values) => h("select", { name }, h("option", { value: "", text: label }), values.map((v) => h("option", { value: v, text: humanize(v) })));
  const userSelect = h("select", { name: "user_id" }, h("option", { value: "", text: "Anyone" }));
  const fields = [
    ["Who", userSelect],
    ["Action", input("action", { placeholder: "e.g. USER_APPROVED", maxlength: 100 })],
    ["Category", select("category", "All categories", CATEGORIES)],
    ["Outcome", select("status", "Any outcome", ["SUCCESS", "FAILED", "PARTIAL"])],
    ["Record type", select("resource_type", "Any record", RESOURCES)],
    ["Record id", input("resource_id", { type: "number", min: 1 })],
    ["Since", input("since", { type: "datetime-local" })],
    ["Until", input("until", { type: "datetime-local" })],
  ];
  const form = h("form", { class: "filters", "aria-label": "Audit filters" },
    fields.map(([label, control]) => h("label", { class: "field" }, h("span", { class: "field-label", text: label }), control)),
    h("button", { class: "btn btn-primary", type: "submit", text: "Apply" }),
    h("button", { class: "btn btn-ghost", type: "reset", text: "Clear" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    for (const key of ["since", "until"]) if (values[key]) values[key] = new Date(values[key]).toISOString();
    query = values;
    load(true);
  });
  form.addEventListener("reset", () => setTimeout(() => form.requestSubmit(), 0));
  const list = h("div", {});
  const more = h("div", {});
  root.append(pageHead("Audit log", "Every change and every refused attempt, append-only."), form, list, more);

  const begin = latestOnly();
  const load = guarded(async (reset = true) => {
    const fresh = begin();
    if (reset) {
      items = [];
      cursor = null;
    }
    const page = await api.get("/audit-logs", { query: { ...query, cursor, limit: 50 } });
    if (!fresh()) return;
    items.push(...page.items);
    cursor = page.next_cursor;
    draw();
    replace(more, cursor ? pager(async () => { await load(false); return Boolean(cursor); }) : null);
  }, "Audit log");

  function draw() {
    replace(list, dataTable(
      [
        { label: "When", render: (e) => h("span", { style: { whiteSpace: "nowrap" }, text: fmtDateTime(e.created_at) }) },
        { label: "Who", render: (e) => (e.user_id ? names.get(e.user_id) || `#${e.user_id}` : "system") },
        { label: "Action", render: (e) => h("code", { text: e.action }) },
        { label: "Record", render: (e) => `${e.resource_type} #${e.resource_id}${e.resource_name ? ` · ${e.resource_name}` : ""}` },
        { label: "Outcome", render: (e) => h("div", {}, statusPill(e.status), e.http_status ? h("span", { class: "muted", text: ` ${e.http_status}` }) : null) },
        { label: "Details", render: details },
      ],
      items,
      { empty: "No entry matches these filters.", label: "Audit log" },
    ));
  }

  function details(e) {
    const parts = [
      e.change_summary ? h("div", { text: e.change_summary }) : null,
      e.error_message ? h("div", { class: "flag", text: e.error_message }) : null,
      e.warning_messages && e.warning_messages.length
        ? h("ul", { class: "audit-warnings", "aria-label": "Warnings" }, e.warning_messages.map((w) => h("li", { text: w })))
        : null,
    ];
    const extra = { old_values: e.old_values, new_values: e.new_values, endpoint: e.api_endpoint && `${e.request_method} ${e.api_endpoint}`, ip: e.ip_address, request_id: e.request_id, duration_ms: e.action_duration_ms };
    const shown = Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== null && v !== undefined));
    parts.push(h("details", { class: "audit-details" }, h("summary", { text: "more" }), h("pre", { class: "json", text: JSON.stringify(shown, null, 2) })));
    return h("div", {}, parts);
  }

  api
    .all("/users", {}, 600)
    .then((users) => {
      for (const u of users) {
        names.set(u.id, u.username);
        userSelect.append(h("option", { value: String(u.id), text: u.username }));
      }
    })
    .catch((error) => notifyError(error, "Users"))
    .finally(() => load(true));
  return {};
}
