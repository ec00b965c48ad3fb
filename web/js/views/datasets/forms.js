// Form pieces shared by the dataset and collection forms: vocabulary selects and the image filters.

import { h } from "../../dom.js";

/** The active vocabulary terms, by kind. */
export async function vocabularies(api) {
  const terms = await api.get("/vocabulary-terms");
  const list = Array.isArray(terms) ? terms : terms.items || [];
  const byKind = new Map();
  for (const t of list.filter((t) => t.is_active !== false)) {
    if (!byKind.has(t.kind)) byKind.set(t.kind, []);
    byKind.get(t.kind).push(t);
  }
  return byKind;
}

export function termSelect(vocab, kind, name, label) {
  const terms = vocab?.get(kind) || [];
  return h("label", { class: "field" }, h("span", { class: "field-label", text: label }),
    h("select", { name }, h("option", { value: "", text: "Any" }), terms.map((t) => h("option", { value: t.code, title: t.description || t.name, text: t.name }))));
}

const field = (label, control) => h("label", { class: "field" }, h("span", { class: "field-label", text: label }), control);

/** Institution, age band (months), minimum quality, difficulty, batches, include_unusable. */
export function imageFilterFields() {
  return [
    h("div", { class: "form-grid" },
      field("Institutions (comma-separated)", h("input", { name: "f_institutions", maxlength: 1000, placeholder: "Site A, Site B" })),
      field("Age from (months)", h("input", { name: "f_age_min", type: "number", min: 0, max: 60, step: 0.5 })),
      field("Age to (months)", h("input", { name: "f_age_max", type: "number", min: 0, max: 60, step: 0.5 })),
      field("Minimum image quality (1–10)", h("input", { name: "f_min_quality", type: "number", min: 1, max: 10, step: 0.5 })),
      field("Batch ids (comma-separated)", h("input", { name: "f_batch_ids", maxlength: 500, placeholder: "12, 14" }))),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "f_include_unusable" }),
      " Include images a verifier judged unusable for research (left out by default)"),
  ];
}

const csv = (text) => text.split(",").map((x) => x.trim()).filter(Boolean);

export function readImageFilters(root) {
  const get = (name) => root.querySelector(`[name="${name}"]`);
  const number = (name) => (get(name).value === "" ? null : Number(get(name).value));
  const institutions = csv(get("f_institutions").value);
  const batches = csv(get("f_batch_ids").value).map(Number);
  return {
    institutions: institutions.length ? institutions : null,
    batch_ids: batches.length ? batches : null,
    age_months_min: number("f_age_min"),
    age_months_max: number("f_age_max"),
    min_quality: number("f_min_quality"),
    include_unusable: get("f_include_unusable").checked,
  };
}
