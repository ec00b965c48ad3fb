// Corrections: what the learning loop is for. Per batch, in the order the batches were
// pre-annotated, how far annotators moved the model's keypoints in their first submission and how
// many they left untouched, each point marked with the model version that pre-annotated the batch;
// then the same figures per model version (GET /metrics/corrections; docs/web.md, docs/metrics.md).

import { h, replace, fmtDate, fmtDateTime, fmtNumber, fmtPercent } from "../../dom.js";
import { legend, lineChart } from "../../charts.js";
import { guarded } from "../../ui/notices.js";
import { USER_COLOURS, dataTable, latestOnly, pageHead } from "./common.js";

const percent = (v) => `${Math.round(v * 100)} %`;
const modelLabel = (row) => [row.model_name, row.model_version].filter(Boolean).join(" ") || "unknown model";

export function mountCorrections(root, ctx) {
  const api = ctx.api;
  const schema = h("select", { "aria-label": "Keypoint schema", dataset: { testid: "corrections-schema" } },
    h("option", { value: "", text: "All schemas" }));
  schema.addEventListener("change", () => load());
  const body = h("div", { class: "muted", text: "Loading…" });
  root.append(
    pageHead("Corrections", "How much of each model's pre-annotation annotators had to correct: their first submission against the model's keypoints.",
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Schema" }), schema)),
    body,
  );

  const fillSchemas = guarded(async () => {
    const schemas = await api.all("/schemas", {}, 200);
    for (const s of schemas) schema.append(h("option", { value: String(s.id), text: `${s.name} v${s.version}` }));
  }, "Schemas");

  const begin = latestOnly();
  const load = guarded(async () => {
    const fresh = begin();
    const query = schema.value ? { schema_id: schema.value } : {};
    const [batches, models] = await Promise.all([
      api.get("/metrics/corrections", { query: { ...query, group_by: "batch" } }),
      api.get("/metrics/corrections", { query: { ...query, group_by: "model" } }),
    ]);
    if (!fresh()) return;
    replace(body, ...render(batches.items, models.items, batches.untouched_tolerance_px));
  }, "Corrections");

  fillSchemas();
  load();
  return {};
}

function render(batches, models, tolerance) {
  if (!batches.length) {
    return [h("div", { class: "card chart-empty", dataset: { testid: "corrections-empty" }, text: "No corrected batches yet: the figures appear once annotators submit images of a pre-annotated batch." })];
  }
  // One colour per model version, in the order the models first pre-annotated a batch.
  const colours = new Map(models.map((m, i) => [modelLabel(m), USER_COLOURS[i % USER_COLOURS.length]]));
  const dates = batches.map((b) => b.preannotated_at);
  const marks = new Map(batches.map((b) => [b.preannotated_at, { label: modelLabel(b), color: colours.get(modelLabel(b)) }]));
  const series = (name, color, pick) => [{ name, color, values: new Map(batches.map((b) => [b.preannotated_at, pick(b)])) }];
  const distance = series("Mean correction", "#8b9cad", (b) => b.mean_correction_px);
  const untouched = series("Untouched keypoints", "#8b9cad", (b) => b.untouched_share);
  const modelLegend = legend(models.map((m) => ({ name: modelLabel(m), color: colours.get(modelLabel(m)) })));
  const latest = batches[batches.length - 1];
  const card = (title, subtitle, chart, key) => h("section", { class: "card", dataset: { chart: key } }, h("h2", {}, title, h("span", { class: "muted", text: subtitle })), chart);
  return [
    h("div", { class: "kpis" },
      kpi(latest.mean_correction_px === null ? "—" : `${fmtNumber(latest.mean_correction_px, 1)} px`, `mean correction, latest batch (${latest.batch_name})`),
      kpi(fmtPercent(latest.untouched_share, 0), `keypoints left untouched (within ${tolerance} px), latest batch`),
      kpi(fmtPercent(latest.first_pass_acceptance, 0), "first verification approved as submitted, latest batch"),
      kpi(latest.annotation_seconds_per_image === null ? "—" : `${fmtNumber(latest.annotation_seconds_per_image, 0)} s`, "annotation time per image, latest batch")),
    h("div", { class: "cards cards-2" },
      card("Mean correction per batch", "pixels the first submission moved the model's keypoints, batches in the order they were pre-annotated",
        h("div", {}, lineChart(distance, dates, { title: "Mean correction in pixels per batch over time, each point marked with the model that pre-annotated it", format: (v) => v.toFixed(1), marks }), modelLegend), "distance"),
      card("Untouched keypoints per batch", `share of the model's keypoints left within ${tolerance} px`,
        h("div", {}, lineChart(untouched, dates, { title: "Share of untouched keypoints per batch over time, each point marked with the model that pre-annotated it", yMax: 1, format: percent, marks }), modelLegend.cloneNode(true)), "untouched")),
    h("section", { class: "card", style: { marginTop: "1rem" }, dataset: { testid: "corrections-models" } },
      h("h2", {}, "Per model version", h("span", { class: "muted", text: "every batch the model pre-annotated, together" })),
      dataTable([
        { label: "Model", render: (m) => h("span", {}, h("i", { class: "swatch", style: { background: colours.get(modelLabel(m)) } }), modelLabel(m)) },
        { label: "First batch", render: (m) => fmtDate(m.preannotated_at) },
        ...figureColumns(),
      ], models, { label: "Correction figures per model version" })),
    h("section", { class: "card", style: { marginTop: "1rem" }, dataset: { testid: "corrections-batches" } },
      h("h2", {}, "Per batch", h("span", { class: "muted", text: "which model pre-annotated which batch" })),
      dataTable([
        { label: "Batch", render: (b) => h("a", { href: `#/admin/batches/${b.batch_id}`, text: b.batch_name }) },
        { label: "Model", render: (b) => modelLabel(b) },
        { label: "Pre-annotated", render: (b) => fmtDateTime(b.preannotated_at) },
        ...figureColumns().filter((c) => c.label !== "Batches"),
      ], batches, { label: "Correction figures per batch" })),
  ];
}

function figureColumns() {
  return [
    { label: "Batches", num: true, render: (r) => String(r.batches) },
    { label: "Images", num: true, render: (r) => String(r.images) },
    { label: "Keypoints", num: true, render: (r) => String(r.keypoints) },
    { label: "Mean correction (px)", num: true, render: (r) => fmtNumber(r.mean_correction_px, 2) },
    { label: "Untouched", num: true, render: (r) => fmtPercent(r.untouched_share, 1) },
    { label: "First-pass acceptance", num: true, render: (r) => fmtPercent(r.first_pass_acceptance, 0) },
    { label: "Seconds per image", num: true, render: (r) => fmtNumber(r.annotation_seconds_per_image, 0) },
  ];
}

function kpi(value, label) {
  return h("div", { class: "kpi" }, h("b", { text: value }), h("span", { text: label }));
}
