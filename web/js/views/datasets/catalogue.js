// The catalogue: every dataset, searched by free text and filtered by the vocabularies' terms;
// "New dataset" makes one of verified images with seeded splits.

import { h, replace, fmtDate, humanize } from "../../dom.js";
import { go } from "../../router.js";
import { openDialog } from "../../ui/dialog.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, latestOnly, pageHead, pager, statusPill } from "../admin/common.js";
import { imageFilterFields, readImageFilters, termSelect, vocabularies } from "./forms.js";

export function mountCatalogue(root, ctx) {
  const api = ctx.api;
  let items = [];
  let cursor = null;
  let query = {};
  const form = h("form", { class: "filters", role: "search", "aria-label": "Catalogue filters" },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Search" }), h("input", { name: "text", type: "search", placeholder: "name, description, source, term", maxlength: 200 })));
  const terms = h("span", { style: { display: "contents" } });
  form.append(terms,
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Origin" }),
      h("select", { name: "origin" }, h("option", { value: "", text: "Any origin" }), ["CURATED", "IMPORTED"].map((o) => h("option", { value: o, text: humanize(o) })))),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Schema" }), h("select", { name: "schema_id" }, h("option", { value: "", text: "Any schema" }))),
    h("button", { class: "btn btn-primary", type: "submit", text: "Search" }),
    h("button", { class: "btn btn-ghost", type: "reset", text: "Clear" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    query = Object.fromEntries(new FormData(form).entries());
    load(true);
  });
  form.addEventListener("reset", () => setTimeout(() => form.requestSubmit(), 0));
  const list = h("div", { "aria-live": "polite" }, h("div", { class: "muted", text: "Loading…" }));
  const more = h("div", {});
  root.append(
    pageHead("Datasets", "Fixed sets of verified images with their train / validation / test splits.",
      h("button", { class: "btn btn-primary", type: "button", text: "New dataset…", onclick: guarded(create, "New dataset") })),
    form, list, more);

  let schemas = [];
  let vocab = null;
  const setup = guarded(async () => {
    [schemas, vocab] = await Promise.all([api.all("/schemas", { active: true }), vocabularies(api)]);
    replace(terms,
      termSelect(vocab, "ANATOMICAL_AREA", "anatomical_area", "Anatomical area"),
      termSelect(vocab, "MODALITY", "modality", "Modality"),
      termSelect(vocab, "TASK_TYPE", "task_type", "Task"),
      termSelect(vocab, "TAG", "tag", "Tag"));
    form.elements.schema_id.append(...schemas.map((s) => h("option", { value: String(s.id), text: s.name })));
  }, "Catalogue terms");

  const begin = latestOnly();
  const load = guarded(async (reset = true) => {
    const fresh = begin();
    if (reset) {
      items = [];
      cursor = null;
    }
    const page = await api.get("/datasets", { query: { ...query, cursor, limit: 25 } });
    if (!fresh()) return;
    items.push(...page.items);
    cursor = page.next_cursor;
    draw();
    replace(more, cursor ? pager(async () => { await load(false); return Boolean(cursor); }) : null);
  }, "Catalogue");

  function draw() {
    const schemaName = (id) => schemas.find((s) => s.id === id)?.name || `#${id}`;
    replace(list, dataTable(
      [
        { label: "Dataset", className: "cell-wrap", render: (d) => h("div", {},
          h("a", { href: `#/datasets/${d.id}`, dataset: { dataset: String(d.id) } }, h("strong", { class: "truncate", title: d.name, text: d.name })),
          d.description ? h("div", { class: "muted clamp-2", title: d.description, text: d.description }) : null) },
        { label: "Origin", render: (d) => statusPill(d.origin) },
        { label: "Schema", render: (d) => schemaName(d.keypoint_schema_id) },
        { label: "Terms", className: "cell-wrap", render: (d) => termBadges(d.catalogue) },
        { label: "Images", num: true, render: (d) => String(d.num_images) },
        { label: "Train / val / test", num: true, render: (d) => `${d.train_count} / ${d.validation_count} / ${d.test_count}` },
        { label: "Made", render: (d) => fmtDate(d.created_at) },
      ],
      items,
      { empty: "No dataset matches. Clear the filters, or make one with “New dataset”.", label: "Datasets" },
    ));
  }

  async function create() {
    if (!vocab) await setup();
    const body = h("div", { class: "stack" },
      h("div", { class: "form-grid" },
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Name" }), h("input", { name: "name", required: true, maxlength: 255 })),
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Keypoint schema" }),
          h("select", { name: "keypoint_schema_id", required: true }, schemas.map((s) => h("option", { value: String(s.id), text: s.name })))),
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Seed" }), h("input", { name: "seed", type: "number", value: "0", min: 0 }))),
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Description" }), h("textarea", { name: "description", rows: 2, maxlength: 5000 })),
      h("div", { class: "form-grid" },
        ["train", "validation", "test"].map((split, i) => h("label", { class: "field" }, h("span", { class: "field-label", text: `${split} fraction` }),
          h("input", { name: `fraction_${split}`, type: "number", min: 0, max: 1, step: 0.05, value: String([0.7, 0.15, 0.15][i]) }))),
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Keep one infant in one split, grouped by" }),
          h("select", { name: "group_by" }, h("option", { value: "subject", text: "infant (pseudonym)" }), h("option", { value: "batch", text: "batch (session)" })))),
      h("fieldset", { class: "stack" }, h("legend", { text: "Which verified images" }), imageFilterFields()),
      h("fieldset", { class: "form-grid" }, h("legend", { text: "Catalogue terms" }),
        termSelect(vocab, "ANATOMICAL_AREA", "anatomical_area", "Anatomical area"),
        termSelect(vocab, "MODALITY", "modality", "Modality"),
        termSelect(vocab, "TASK_TYPE", "task_type", "Task"),
        termSelect(vocab, "TAG", "tag", "Tag")));
    const answer = await openDialog({
      title: "New dataset",
      body,
      className: "dialog-wide",
      actions: [{ label: "Cancel", value: null }, { label: "Make the dataset", kind: "primary", submit: true }],
    });
    if (!answer) return;
    const value = (name) => body.querySelector(`[name="${name}"]`).value;
    const list = (name) => (value(name) ? [value(name)] : []);
    const made = await api.post("/datasets", {
      body: {
        name: value("name"),
        keypoint_schema_id: Number(value("keypoint_schema_id")),
        description: value("description") || null,
        seed: Number(value("seed") || 0),
        group_by: value("group_by"),
        fractions: { train: Number(value("fraction_train")), validation: Number(value("fraction_validation")), test: Number(value("fraction_test")) },
        filters: readImageFilters(body),
        catalogue: { anatomical_area: value("anatomical_area") || null, modalities: list("modality"), task_types: list("task_type"), tags: list("tag") },
      },
    });
    notify(`Dataset “${made.name}” made: ${made.num_images} images`, "success");
    go(`/datasets/${made.id}`);
  }

  setup();
  load();
  return {};
}

export function termBadges(catalogue) {
  if (!catalogue) return h("span", { class: "muted", text: "—" });
  const codes = [catalogue.anatomical_area, ...(catalogue.modalities || []), ...(catalogue.task_types || []), ...(catalogue.tags || [])].filter(Boolean);
  if (!codes.length) return h("span", { class: "muted", text: "—" });
  return h("div", { class: "tags" }, codes.map((c) => h("span", { class: "tag", text: c })));
}
