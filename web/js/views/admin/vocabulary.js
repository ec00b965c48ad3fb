// Vocabulary terms: seed 002's four vocabularies (anatomical area, modality, task type, tag)
// that datasets are described and searched by. Listing is open to researchers; adding is the admin's.

import { h, replace, humanize } from "../../dom.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, latestOnly, pageHead, statusPill } from "./common.js";

const KINDS = ["ANATOMICAL_AREA", "MODALITY", "TASK_TYPE", "TAG"];

export function mountVocabulary(root, ctx) {
  const api = ctx.api;
  const kind = h("select", { "aria-label": "Vocabulary" }, h("option", { value: "", text: "Every vocabulary" }), KINDS.map((k) => h("option", { value: k, text: humanize(k) })));
  kind.addEventListener("change", () => load());
  const list = h("div", {}, h("div", { class: "empty", text: "Loading…" }));
  const form = h("form", { class: "filters", dataset: { testid: "new-term" } },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "New term in" }),
      h("select", { name: "kind", required: true }, KINDS.map((k) => h("option", { value: k, text: humanize(k) })))),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Code" }), h("input", { name: "code", required: true, maxlength: 50, placeholder: "lower_snake_case" })),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Name" }), h("input", { name: "name", required: true, maxlength: 100 })),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Description" }), h("input", { name: "description", maxlength: 2000 })),
    h("button", { class: "btn btn-primary", type: "submit", text: "Add term" }));
  form.addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const created = await api.post("/vocabulary-terms", {
      body: { kind: data.kind, code: data.code.trim(), name: data.name.trim(), description: data.description.trim() || null },
    });
    notify(`${created.name} added to ${humanize(created.kind)}`, "success");
    form.reset();
    await load();
  }, "Add term"));
  root.append(
    pageHead("Vocabulary", "The terms datasets are described and searched by (seed 002).", kind),
    form,
    list,
  );

  const begin = latestOnly();
  const load = guarded(async () => {
    const fresh = begin();
    const terms = await api.get("/vocabulary-terms", { query: { kind: kind.value } });
    if (!fresh()) return;
    replace(list, dataTable(
      [
        { label: "Vocabulary", render: (t) => humanize(t.kind) },
        { label: "Code", render: (t) => h("code", { text: t.code }) },
        { label: "Name", className: "cell-name", render: (t) => h("span", { class: "long-name", title: t.name, text: t.name }) },
        { label: "Description", className: "cell-name", render: (t) => h("span", { class: "long-name muted", title: t.description || "", text: t.description || "—" }) },
        { label: "State", render: (t) => statusPill(t.is_active ? "SUCCESS" : "ARCHIVED", t.is_active ? "active" : "retired") },
      ],
      terms,
      { empty: "No term in this vocabulary yet.", label: "Vocabulary terms" },
    ));
  }, "Vocabulary");

  load();
  return {};
}
