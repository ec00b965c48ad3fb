// Vocabulary terms: seed 002's four vocabularies (anatomical area, modality, task type, tag)
// that datasets are described and searched by. Listing is open to researchers; adding, relabelling
// and retiring (PATCH /vocabulary-terms/{id}, audited) are the admin's. A retired term stays on the
// datasets it describes but describes no new one; its vocabulary and code never change.

import { h, replace, humanize } from "../../dom.js";
import { confirmDialog, openDialog } from "../../ui/dialog.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, latestOnly, pageHead, statusPill } from "./common.js";

const KINDS = ["ANATOMICAL_AREA", "MODALITY", "TASK_TYPE", "TAG"];

export function mountVocabulary(root, ctx) {
  const api = ctx.api;
  const isAdmin = ctx.me.role === "ADMIN";
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
        { label: "", render: (t) => (isAdmin ? actions(t) : "") },
      ],
      terms,
      { empty: "No term in this vocabulary yet.", label: "Vocabulary terms", rowAttrs: (t) => ({ dataset: { term: t.code } }) },
    ));
  }, "Vocabulary");

  function actions(term) {
    if (!term.is_active) {
      return h("button", { class: "btn btn-small", type: "button", dataset: { restore: term.code }, text: "Bring back", "aria-label": `Bring back ${term.name}`,
        onclick: guarded(() => change(term, { is_active: true }, `${term.name} is active again`), "Bring back term") });
    }
    return h("div", { class: "row gap" },
      h("button", { class: "btn btn-small", type: "button", dataset: { edit: term.code }, text: "Edit…", "aria-label": `Edit ${term.name}`,
        onclick: guarded(() => edit(term), "Edit term") }),
      h("button", { class: "btn btn-small btn-danger", type: "button", dataset: { retire: term.code }, text: "Retire…", "aria-label": `Retire ${term.name}`,
        onclick: guarded(() => retire(term), "Retire term") }));
  }

  async function edit(term) {
    const field = (label, input) => h("label", { class: "field" }, h("span", { class: "field-label", text: label }), input);
    const answer = await openDialog({
      title: `Edit ${humanize(term.kind)} term ${term.code}`,
      body: h("div", { class: "stack" },
        h("p", { class: "muted", text: "The code stays: datasets and searches name the term by it." }),
        field("Name", h("input", { name: "name", required: true, maxlength: 100, value: term.name })),
        field("Description", h("textarea", { name: "description", maxlength: 2000, rows: 3, text: term.description || "" }))),
      actions: [{ label: "Cancel", value: null }, { label: "Save term", kind: "primary", submit: true }],
    });
    if (!answer) return;
    const body = {};
    if (answer.name.trim() !== term.name) body.name = answer.name.trim();
    const description = answer.description.trim() || null;
    if (description !== (term.description || null)) body.description = description;
    if (!Object.keys(body).length) return notify("Nothing changed", "info");
    await change(term, body, `${body.name || term.name} saved`);
  }

  async function retire(term) {
    const ok = await confirmDialog(`Retire ${term.name}?`,
      "Datasets described with it keep it; no new dataset can use it. You can bring it back later.", "Retire term", "danger");
    if (ok) await change(term, { is_active: false }, `${term.name} retired`);
  }

  async function change(term, body, message) {
    await api.patch(`/vocabulary-terms/${term.id}`, { body });
    notify(message, "success");
    await load();
  }

  load();
  return {};
}
