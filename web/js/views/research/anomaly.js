// Anomaly screening (#/research/anomaly): the age-band models in force with their thresholds and
// validation figures, batch screening with a sortable list (?batch=<id> keeps it over a reload),
// and one analysis (#/research/anomaly/<id>): its score against the band's distribution, the
// joints that made it unusual drawn on the skeleton, and the nearest verified poses (pgvector).

import { h, replace, fmtDateTime, fmtNumber, fmtPercent } from "../../dom.js";
import { histogram, horizontalBars } from "../../charts.js";
import { guarded, notify } from "../../ui/notices.js";
import { schemaModel } from "../../keypoints/model.js";
import { dataTable, pageHead, statusPill } from "../admin/common.js";
import { shareColour, skeletonSvg } from "./skeleton.js";

export function mountAnomaly(root, ctx, route) {
  const id = route.parts[2];
  if (id) return mountAnalysis(root, ctx, Number(id));
  return mountOverview(root, ctx, route);
}

function notice(text) {
  return h("p", { class: "notice-body muted research-notice", dataset: { testid: "research-notice" }, text });
}

function mountOverview(root, ctx, route) {
  const api = ctx.api;
  const bands = h("div", { dataset: { testid: "bands" } }, h("div", { class: "empty", text: "Loading the age-band models…" }));
  const results = h("div", { dataset: { testid: "screening" } });
  const summary = h("div", {});
  const batchInput = h("input", { type: "number", min: 1, id: "screen-batch", value: route.query.get("batch") || "", required: true });
  let rows = [];
  let sort = { key: "anomaly_score", desc: true };

  root.append(
    pageHead("Anomaly screening", "Per age band: the model in force, its threshold and validation figures. Screen a batch of verified poses and open one to see why it scored as it did."),
    h("h2", { text: "Age-band models" }),
    bands,
    h("h2", { text: "Screen a batch" }),
    h("form", {
      class: "row gap filters",
      onsubmit: (event) => {
        event.preventDefault();
        screen();
      },
    },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Batch id" }), batchInput),
    h("button", { class: "btn btn-primary", type: "submit", text: "Screen batch" }),
    h("button", { class: "btn", type: "button", text: "Show screened", onclick: () => showBatch(Number(batchInput.value)) })),
    summary,
    results,
  );

  const loadBands = guarded(async () => {
    const models = await api.get("/anomaly/models");
    replace(bands,
      models.length ? notice(models[0].notice) : null,
      dataTable(
        [
          { label: "Age band", render: (m) => m.label },
          { label: "Months", render: (m) => `${fmtNumber(m.age_min_months, 1)}–${fmtNumber(m.age_max_months, 1)}` },
          { label: "Model", render: (m) => h("span", { class: "cell-wrap", text: `${m.model_type} · ${m.embedding_model} ${m.embedding_version}` }) },
          { label: "Training poses", num: true, render: (m) => String(m.sample_count) },
          { label: "Threshold", num: true, render: (m) => (m.threshold == null ? "—" : `${fmtNumber(m.threshold, 2)} (p${fmtNumber(m.threshold_percentile, 0)})`) },
          { label: "Sample support", num: true, render: (m) => fmtPercent(m.sample_confidence) },
          { label: "Scores?", render: (m) => (m.refusal ? h("span", { class: "cell-wrap", dataset: { refusal: m.label } }, statusPill("FAILED", "refuses"), " ", m.refusal) : statusPill("SUCCESS", "scores")) },
          { label: "Trained", render: (m) => fmtDateTime(m.created_at) },
        ],
        models,
        { empty: "No age-band model is in force yet: an administrator trains them (POST /anomaly/training-jobs).", label: "Age-band models", rowAttrs: (m) => ({ dataset: { band: m.label } }) },
      ));
  }, "Age-band models");

  const screen = guarded(async () => {
    const batchId = Number(batchInput.value);
    if (!batchId) return;
    replace(summary, h("div", { class: "empty", text: `Screening batch #${batchId}…` }));
    const out = await api.post("/anomaly/batch-analyses", { body: { batch_id: batchId } });
    replace(summary, h("div", { class: "kpis", dataset: { testid: "screen-summary" } },
      kpi("Verified poses", out.verified_poses), kpi("Newly analysed", out.analysed), kpi("Unchanged", out.unchanged),
      kpi("Atypical", out.anomalies), kpi("Refused", out.refused.length)),
    out.refused.length ? dataTable(
      [{ label: "Image", render: (r) => `#${r.image_id}` }, { label: "Why it was not scored", render: (r) => h("span", { class: "cell-wrap", text: r.reason }) }],
      out.refused, { label: "Refused poses" }) : null);
    notify(`Batch #${batchId} screened: ${out.anomalies} atypical of ${out.verified_poses}.`, "success");
    await showBatch(batchId);
  }, "Screen batch");

  const showBatch = guarded(async (batchId) => {
    if (!batchId) return;
    if (route.query.get("batch") !== String(batchId)) history.replaceState(null, "", `#/research/anomaly?batch=${batchId}`);
    replace(results, h("div", { class: "empty", text: "Loading the batch's analyses…" }));
    rows = await api.all("/anomaly/analyses", { batch_id: batchId });
    draw();
  }, "Screened poses");

  const COLUMNS = [
    { key: "image_id", label: "Image", render: (a) => `#${a.image_id}` },
    { key: "age_band", label: "Band", render: (a) => a.age_band },
    { key: "age_months", label: "Age (months)", num: true, render: (a) => fmtNumber(a.age_months, 1) },
    { key: "anomaly_score", label: "Score", num: true, render: (a) => fmtNumber(a.anomaly_score, 2) },
    { key: "normalized_score", label: "Rank in band", num: true, render: (a) => fmtPercent(a.normalized_score) },
    { key: "is_anomaly", label: "Verdict", render: (a) => statusPill(a.is_anomaly ? "FAILED" : "SUCCESS", a.is_anomaly ? "atypical" : "typical") },
    { key: "top_joints", label: "Joints that stand out", render: (a) => h("span", { class: "cell-wrap", text: a.top_joints.join(", ") }) },
    { key: "confidence", label: "Confidence", num: true, render: (a) => fmtPercent(a.confidence) },
  ];

  function draw() {
    const value = (a) => (Array.isArray(a[sort.key]) ? a[sort.key].join(",") : a[sort.key]);
    const sorted = [...rows].sort((a, b) => {
      const x = value(a);
      const y = value(b);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return sort.desc ? -order : order;
    });
    const table = dataTable(
      [...COLUMNS, { label: "", render: (a) => h("a", { class: "btn btn-small", href: `#/research/anomaly/${a.id}`, text: "Explain" }) }],
      sorted,
      { empty: "No analysis of this batch yet: screen it.", label: "Screened poses", rowAttrs: (a) => ({ dataset: { analysis: String(a.id) } }) },
    );
    // Column headings sort the list (click again to reverse).
    table.querySelectorAll("th").forEach((th, i) => {
      const column = COLUMNS[i];
      if (!column) return;
      const active = sort.key === column.key;
      th.setAttribute("aria-sort", active ? (sort.desc ? "descending" : "ascending") : "none");
      const button = h("button", { class: "btn-ghost sort-button", type: "button", dataset: { sort: column.key }, text: `${column.label}${active ? (sort.desc ? " ↓" : " ↑") : ""}`,
        onclick: () => {
          sort = { key: column.key, desc: active ? !sort.desc : true };
          draw();
        } });
      th.replaceChildren(button);
    });
    replace(results, table);
  }

  loadBands();
  if (route.query.get("batch")) showBatch(Number(route.query.get("batch")));
  return { unmount() {} };
}

function kpi(label, value) {
  return h("div", { class: "kpi" }, h("span", { class: "muted", text: label }), h("b", { text: String(value) }));
}

function mountAnalysis(root, ctx, analysisId) {
  const api = ctx.api;
  const body = h("div", { class: "stack" }, h("div", { class: "empty", text: "Loading the analysis…" }));
  root.append(
    pageHead(`Analysis #${analysisId}`, "Why this verified pose scored as it did against its age band.",
      h("a", { class: "btn", href: "#/research/anomaly", text: "Back to screening" })),
    body,
  );

  const load = guarded(async () => {
    const a = await api.get(`/anomaly/analyses/${analysisId}`);
    const [models, band, pose] = await Promise.all([
      api.get("/anomaly/models", { query: { active: false } }),
      api.all("/anomaly/analyses", { model_id: a.age_group_model_id, current: false }),
      api.get(`/anomaly/poses/${a.annotation_id}`),
    ]);
    const model = models.find((m) => m.id === a.age_group_model_id);
    const schema = schemaModel(await api.get(`/schemas/${model ? model.keypoint_schema_id : pose.keypoint_schema_id}`));
    const weights = new Map(a.joint_importances.map((j) => [j.joint, j.share]));
    const ranked = [...a.joint_importances].sort((x, y) => y.share - x.share);

    replace(body,
      notice(a.notice),
      h("div", { class: "kpis", dataset: { testid: "analysis-figures" } },
        kpi("Verdict", a.is_anomaly ? "atypical" : "typical"),
        kpi("Score", fmtNumber(a.anomaly_score, 2)),
        kpi("Threshold", fmtNumber(a.threshold, 2)),
        kpi("Rank in band", fmtPercent(a.normalized_score)),
        kpi("Age band", a.age_band),
        kpi("Confidence", fmtPercent(a.confidence))),
      h("p", { class: "cell-wrap", dataset: { testid: "explanation" }, text: a.explanation }),
      h("div", { class: "cards cards-2 research-grid" },
        h("section", { class: "card" },
          h("h3", { text: "The score against the band" }),
          histogram(band.map((x) => x.anomaly_score), [
            { value: a.threshold, label: "threshold", color: "#f0b44c" },
            { value: a.anomaly_score, label: "this pose", color: "#ef6461" },
          ], { title: `Scores of the ${band.length} screened poses of band ${a.age_band}` }),
          h("p", { class: "muted", text: `${band.length} screened poses in band ${a.age_band}; the dashed line is this pose.` })),
        h("section", { class: "card", dataset: { testid: "joints" } },
          h("h3", { text: "Which joints made it unusual" }),
          h("div", { class: "pose-pair" },
            skeletonSvg(schema, pose, weights, { label: `Skeleton of image #${a.image_id}, joints sized and coloured by their share of the score`, className: "pose-svg pose-large" }),
            a.overlay_url ? h("img", { class: "report-overlay", src: a.overlay_url, alt: `The anomaly overlay of image #${a.image_id}`, dataset: { testid: "anomaly-overlay" } }) : null),
          horizontalBars(ranked.slice(0, 8).map((j) => ({ label: j.joint, value: j.share, color: shareColour(j.share), text: fmtPercent(j.share) })), { title: "Share of the score per joint", max: 1 }))),
      h("section", { class: "card", dataset: { testid: "neighbours" } },
        h("h3", { text: "Nearest verified poses" }),
        h("div", { class: "empty", text: "Looking for similar poses…" })),
    );
    loadNeighbours(a, schema, body.querySelector("[data-testid=neighbours]"));
  }, "Analysis");

  const loadNeighbours = guarded(async (a, schema, section) => {
    const similar = await api.get(`/anomaly/similar-poses/${a.annotation_id}`, { query: { limit: 7 } });
    const others = similar.neighbours.filter((n) => n.annotation_id !== a.annotation_id).slice(0, 6);
    const figures = await Promise.all(others.map(async (n) => {
      const pose = await api.get(`/anomaly/poses/${n.annotation_id}`);
      return h("figure", { class: "neighbour", dataset: { neighbour: String(n.annotation_id) } },
        skeletonSvg(schema, pose, null, { label: `Verified pose of image #${n.image_id}` }),
        h("figcaption", { class: "muted", text: `image #${n.image_id} · distance ${fmtNumber(n.distance, 2)}${n.age_months == null ? "" : ` · ${fmtNumber(n.age_months, 1)} months`}` }));
    }));
    replace(section, h("h3", { text: "Nearest verified poses" }),
      h("p", { class: "muted", text: `The ${others.length} stored verified poses closest to this one (${similar.embedding_model} ${similar.embedding_version}, ${similar.dimension} dimensions).` }),
      figures.length ? h("div", { class: "neighbours" }, figures) : h("div", { class: "empty", text: "No other verified pose is stored yet." }));
  }, "Similar poses");

  load();
  return { unmount() {} };
}

