// The catalogue: every dataset, searched by free text and filtered by the vocabularies' terms and
// by what it holds (an institution's images, an age band, a minimum image quality, how far its
// images are verified). The filters live in the URL hash (#/datasets?institution=Site+A&…), so a
// reload or a shared link shows the same list. "New dataset" makes one of verified images.

import { h, replace, fmtDate, humanize } from "../../dom.js";
import { go } from "../../router.js";
import { openDialog } from "../../ui/dialog.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, latestOnly, pageHead, pager, statusPill } from "../admin/common.js";
import { imageFilterFields, readImageFilters, termSelect, vocabularies } from "./forms.js";

// The bands of the dataset page's age chart (datasets.statistics.AGE_BANDS), as the API names them.
export const AGE_BANDS = ["0-1", "1-2", "2-3", "3-4", "4-6", "6-9", "9-12", "12-18", "18-24", "24+"];
const VERIFICATION = [
  { value: "VERIFIED", text: "All images verified" },
  { value: "PARTLY_VERIFIED", text: "Partly verified" },
  { value: "UNVERIFIED", text: "Not verified yet" },
];
// Every filter the hash may carry, in the order of the form.
const FILTERS = ["text", "anatomical_area", "modality", "task_type", "tag", "institution", "age_band", "min_quality", "verification", "origin", "schema_id"];

const field = (label, control) => h("label", { class: "field" }, h("span", { class: "field-label", text: label }), control);
const bandLabel = (code) => (code.endsWith("+") ? `${code.slice(0, -1)} months and older` : `${code.replace("-", "–")} months`);

/** The filters named in the route's query, without empty or unknown ones. */
export function filtersOf(params) {
  return Object.fromEntries(FILTERS.filter((k) => params.get(k)).map((k) => [k, params.get(k)]));
}

function keepInHash(query) {
  const path = location.hash.replace(/^#/, "").split("?")[0] || "/datasets";
  const text = new URLSearchParams(query).toString();
  history.replaceState(null, "", `#${path}${text ? `?${text}` : ""}`);
}

export function mountCatalogue(root, ctx, route) {
  const api = ctx.api;
  let items = [];
  let cursor = null;
  let query = filtersOf(route?.query || new URLSearchParams());
  const form = h("form", { class: "filters", role: "search", "aria-label": "Catalogue filters" },
    field("Search", h("input", { name: "text", type: "search", placeholder: "name, description, source, term", maxlength: 200 })));
  const terms = h("span", { style: { display: "contents" } });
  form.append(terms,
    field("Institution", h("input", { name: "institution", type: "search", maxlength: 100, placeholder: "exact name, e.g. Site A" })),
    field("Age band", h("select", { name: "age_band" }, h("option", { value: "", text: "Any age" }), AGE_BANDS.map((b) => h("option", { value: b, text: bandLabel(b) })))),
    field("Minimum image quality", h("input", { name: "min_quality", type: "number", min: 1, max: 10, step: 0.5, placeholder: "1–10" })),
    field("Verification", h("select", { name: "verification" }, h("option", { value: "", text: "Any state" }), VERIFICATION.map((v) => h("option", v)))),
    field("Origin", h("select", { name: "origin" }, h("option", { value: "", text: "Any origin" }), ["CURATED", "IMPORTED"].map((o) => h("option", { value: o, text: humanize(o) })))),
    field("Schema", h("select", { name: "schema_id" }, h("option", { value: "", text: "Any schema" }))),
    h("button", { class: "btn btn-primary", type: "submit", text: "Search" }),
    h("button", { class: "btn btn-ghost", type: "reset", text: "Clear" }));
  // The hash's filters shown in the form: the static controls now, the term and schema selects
  // once their options are loaded (setup).
  // Only the given controls: by the time the options arrive the person may have typed elsewhere.
  const showQuery = (names) => {
    for (const name of names) {
      const control = form.elements[name];
      if (control) control.value = query[name] || "";
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    query = Object.fromEntries([...new FormData(form).entries()].filter(([, v]) => String(v).trim() !== ""));
    keepInHash(query);
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
    showQuery(["anatomical_area", "modality", "task_type", "tag", "schema_id"]);
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
        { label: "Verified", render: verificationPill },
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

  showQuery(FILTERS);
  setup();
  load();
  return {};
}

const PILL = { VERIFIED: "status-good", PARTLY_VERIFIED: "status-wait", UNVERIFIED: "status-info" };

/** How far a dataset's images are verified now: "all verified" or "4 of 6 verified". */
export function verificationPill(d) {
  const text = d.verification === "VERIFIED" ? "all verified" : `${d.verified_images} of ${d.num_images} verified`;
  return h("span", { class: ["status-pill", PILL[d.verification] || "status-info"], dataset: { verification: d.verification }, text });
}

export function termBadges(catalogue) {
  if (!catalogue) return h("span", { class: "muted", text: "—" });
  const codes = [catalogue.anatomical_area, ...(catalogue.modalities || []), ...(catalogue.task_types || []), ...(catalogue.tags || [])].filter(Boolean);
  if (!codes.length) return h("span", { class: "muted", text: "—" });
  return h("div", { class: "tags" }, codes.map((c) => h("span", { class: "tag", text: c })));
}
