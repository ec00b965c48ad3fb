// Models and evaluation (researchers: verifiers and admins; promotion: admins). Three pages:
// #/models (the registry), #/models/<id>?dataset=&split= (a model's metrics and its promotion
// through the AP gate) and #/models/jobs?job=<id> (inference and training jobs, followed by
// polling; the job id is in the URL, so a reload keeps following it).

import { h, replace, fmtDateTime, fmtNumber } from "../../dom.js";
import { horizontalBars, legend, pairedBars } from "../../charts.js";
import { go } from "../../router.js";
import { ApiError } from "../../api.js";
import { notify } from "../../ui/notices.js";
import { dataTable, pageHead, statusPill } from "../admin/common.js";

const POLL_MS = 1500;
const RUNNING = new Set(["QUEUED", "PENDING", "STARTING", "RUNNING"]);
// The figures the gate compares first, then the COCO-comparable ones (person-box OKS area).
const FIGURES = [
  { type: "AP", label: "AP" },
  { type: "AP50", label: "AP50" },
  { type: "AP75", label: "AP75" },
  { type: "COCO_AP", label: "COCO-comparable AP" },
];

export function mountModels(root, ctx, route) {
  const sub = route.parts[1] || "";
  const el = h("div", { class: "models-view admin-main", dataset: { view: "models" } });
  root.append(el);
  const state = { alive: true, timers: [] };
  const later = (fn, ms) => state.timers.push(setTimeout(() => state.alive && fn(), ms));
  const tabs = h("nav", { class: "models-tabs row", "aria-label": "Models" },
    tab("#/models", "Registry", sub === "" || /^\d+$/.test(sub)),
    tab("#/models/jobs", "Jobs", sub === "jobs"));
  const body = h("div", { class: "models-body" });
  el.append(tabs, body);
  const page = sub === "jobs" ? jobsPage : /^\d+$/.test(sub) ? modelPage : registryPage;
  const loading = h("p", { class: "muted", role: "status", text: "Loading…" });
  el.insertBefore(loading, body);
  page(body, ctx, route, later)
    .catch((error) => showProblem(body, error))
    .finally(() => loading.remove());
  return {
    unmount() {
      state.alive = false;
      state.timers.forEach(clearTimeout);
      el.remove();
    },
  };
}

function tab(href, label, active) {
  return h("a", { href, class: ["nav-link", active ? "active" : null], "aria-current": active ? "page" : null, text: label });
}

/** A problem+json answer shown where the person is looking, with its detail. */
function problemText(error) {
  if (error instanceof ApiError) {
    const fields = error.fieldErrors.map((e) => `${e.location}: ${e.message}`).join("; ");
    return `${error.title}: ${fields || error.problem?.detail || ""}`;
  }
  return error?.message || String(error);
}

function showProblem(where, error) {
  where.append(h("p", { class: "problem", role: "alert", text: problemText(error) }));
}

/** A labelled control: the label names it alone (a wrapping label would read the options too). */
function field(label, control) {
  return h("div", { class: "field" }, h("label", { class: "field-label", for: control.id, text: label }), control);
}

function modelName(model) {
  return `${model.model_name} ${model.version}`;
}

function isDefault(model) {
  return model.deployment_status === "PRODUCTION";
}

// ------------------------------------------------------------------ the registry

// The model's own figures over every pipeline chunk and inference job it ran (docs/data-model.md):
// share of images with a pose, mean confidence of the chosen person's box, time per image.
function runFigures(m) {
  if (m.success_rate == null && m.avg_processing_time_ms == null) return h("span", { class: "muted", text: "no runs yet" });
  const parts = [];
  if (m.success_rate != null) parts.push(`${fmtNumber(Number(m.success_rate) * 100, 0)} % posed`);
  if (m.avg_confidence_score != null) parts.push(`confidence ${fmtNumber(Number(m.avg_confidence_score), 2)}`);
  if (m.avg_processing_time_ms != null) parts.push(`${fmtNumber(m.avg_processing_time_ms, 0)} ms/image`);
  return h("span", { class: "run-figures", title: "share of images with a pose · mean person-box confidence · model time per image", text: parts.join(" · ") });
}

async function registryPage(body, ctx) {
  body.append(pageHead("Models", "Every registered model, its deployment status; the default of each schema is marked."));
  const models = await ctx.api.all("/models");
  body.append(dataTable(
    [
      { label: "Model", render: (m) => h("a", { href: `#/models/${m.id}`, class: "truncate", title: modelName(m), text: modelName(m) }) },
      { label: "Status", render: (m) => statusPill(m.deployment_status) },
      { label: "Default", render: (m) => (isDefault(m) ? h("span", { class: "default-mark", text: "★ default" }) : "") },
      { label: "Schema", num: true, render: (m) => String(m.keypoint_schema_id) },
      { label: "Framework", render: (m) => m.framework || "" },
      { label: "Runs", render: runFigures },
      { label: "Registered", render: (m) => fmtDateTime(m.created_at) },
    ],
    models,
    { empty: "No model is registered yet.", label: "Models", rowAttrs: (m) => ({ dataset: { modelId: m.id } }) },
  ));
}

// ------------------------------------------------------------------ one model

async function modelPage(body, ctx, route) {
  const modelId = Number(route.parts[1]);
  const [model, metrics, datasets] = await Promise.all([
    ctx.api.get(`/models/${modelId}`),
    ctx.api.all(`/models/${modelId}/metrics`),
    ctx.api.all("/datasets"),
  ]);
  const datasetName = new Map(datasets.map((d) => [d.id, d.name]));
  body.append(pageHead(modelName(model), model.description || model.model_path,
    statusPill(model.deployment_status), isDefault(model) ? h("span", { class: "default-mark", text: "★ default" }) : null));

  // Metrics: one row per dataset and split, the latest evaluation's figures.
  const latest = new Map();
  for (const m of metrics) {
    const key = `${m.dataset_id}|${m.split}`;
    const prev = latest.get(key);
    if (!prev || m.inference_job_id > prev.job) latest.set(key, { job: m.inference_job_id, dataset: m.dataset_id, split: m.split, at: m.evaluation_timestamp });
  }
  const evaluations = [...latest.values()].map((e) => {
    const mine = metrics.filter((m) => m.inference_job_id === e.job);
    const overall = Object.fromEntries(mine.filter((m) => m.class_name === null).map((m) => [m.metric_type, m.metric_value]));
    return { ...e, overall, perKeypoint: mine.filter((m) => m.metric_type === "PCK" && m.class_name !== null), oks: keypointFigures(mine, "OKS") };
  });
  const chosen = { dataset: Number(route.query.get("dataset")) || evaluations[0]?.dataset || datasets[0]?.id || null, split: route.query.get("split") || evaluations[0]?.split || "test" };

  const metricsCard = h("section", { class: "card", "aria-label": "Metrics per dataset" }, h("h2", { text: "Metrics per dataset" }));
  metricsCard.append(dataTable(
    [
      { label: "Dataset", render: (e) => h("span", { class: "truncate", text: datasetName.get(e.dataset) || `dataset ${e.dataset}` }) },
      { label: "Split", render: (e) => e.split },
      ...FIGURES.map((f) => ({ label: f.label, num: true, render: (e) => (e.overall[f.type] === undefined ? "–" : fmtNumber(e.overall[f.type], 3)) })),
      { label: "Evaluated", render: (e) => fmtDateTime(e.at) },
      { label: "Per keypoint", render: (e) => h("a", { href: `#/models/${modelId}?dataset=${e.dataset}&split=${e.split}`, "aria-label": `Per keypoint on ${datasetName.get(e.dataset) || e.dataset}, ${e.split}`, text: "Show" }) },
    ],
    evaluations,
    { empty: "No evaluation yet: start one under Jobs.", label: "Metrics", rowAttrs: (e) => ({ dataset: { dataset: e.dataset, split: e.split } }) },
  ));
  metricsCard.append(h("p", { class: "muted small", text: "AP, AP50 and AP75 use the schema's sigmas with OKS over the keypoint box (what the gate compares); the COCO-comparable AP uses the person box, as COCO does." }));
  const shown = evaluations.find((e) => e.dataset === chosen.dataset && e.split === chosen.split) || evaluations[0];
  if (shown) {
    metricsCard.append(await oksChart(ctx, model, shown, datasetName.get(shown.dataset) || `dataset ${shown.dataset}`));
    const bars = shown.perKeypoint.map((m) => ({ label: m.class_name, value: m.metric_value, color: "#5fd4c4", text: fmtNumber(m.metric_value, 2) }));
    metricsCard.append(h("h3", { text: `Per keypoint (PCK) on ${datasetName.get(shown.dataset) || shown.dataset}, ${shown.split}` }),
      horizontalBars(bars, { title: "Per-keypoint accuracy (PCK)", max: 1 }));
  }
  // The promotion first: its verdict is what an admin opens this page for.
  body.append(promotionCard(ctx, model, datasets, chosen), metricsCard);
}

/** Keypoint → value of one per-keypoint figure of an evaluation's rows, in the schema's order. */
function keypointFigures(rows, type) {
  const order = (m) => m.metadata?.keypoint_id ?? 0;
  return rows.filter((m) => m.metric_type === type && m.class_name !== null)
    .sort((a, b) => order(a) - order(b))
    .map((m) => ({ name: m.class_name, value: m.metric_value }));
}

// Each keypoint's mean OKS term: what the learning loop's gate compares keypoint by keypoint
// (no keypoint may fall by more than ε), so it is drawn beside the default's on the same split.
async function oksChart(ctx, model, shown, datasetLabel) {
  const figure = h("div", { class: "oks-chart", dataset: { chart: "oks", testid: "oks-chart" } });
  const oks = shown.oks;
  if (!oks.length) {
    figure.append(h("p", { class: "muted", text: "This evaluation stored no per-keypoint OKS (it ran before they were measured)." }));
    return figure;
  }
  let incumbent = null;
  if (!isDefault(model)) {
    const defaults = await ctx.api.all("/models", { status: "PRODUCTION", schema_id: model.keypoint_schema_id });
    incumbent = defaults.find((m) => m.id !== model.id) || null;
  }
  let theirs = new Map();
  if (incumbent) {
    const rows = await ctx.api.all(`/models/${incumbent.id}/metrics`, { dataset_id: shown.dataset, split: shown.split, metric_type: "OKS" });
    const job = Math.max(-1, ...rows.map((m) => m.inference_job_id ?? -1));
    theirs = new Map(keypointFigures(rows.filter((m) => m.inference_job_id === job), "OKS").map((k) => [k.name, k.value]));
  }
  const series = [{ name: modelName(model), color: "#5fd4c4" }];
  if (theirs.size) series.push({ name: `${modelName(incumbent)} (default)`, color: "#c9a0ff" });
  const rows = oks.map((k) => ({ label: k.name, values: theirs.size ? [k.value, theirs.get(k.name) ?? null] : [k.value] }));
  const title = `Per-keypoint OKS on ${datasetLabel}, ${shown.split}`;
  figure.append(
    h("h3", { text: title }),
    h("p", { class: "muted small", text: theirs.size
      ? "Each keypoint's mean OKS term (1 is exact), beside the default model's on the same split: the learning loop's gate refuses a candidate that loses more than ε on any keypoint."
      : "Each keypoint's mean OKS term (1 is exact) with the schema's sigmas." }),
    legend(series),
    pairedBars(rows, series, { title, max: 1, format: (v) => fmtNumber(v, 2) }),
  );
  return figure;
}

function promotionCard(ctx, model, datasets, chosen) {
  const card = h("section", { class: "card promotion", "aria-label": "Promotion" }, h("h2", { text: "Promotion to default (PRODUCTION)" }));
  const sameSchema = datasets.filter((d) => d.keypoint_schema_id === model.keypoint_schema_id);
  if (!sameSchema.length) {
    card.append(h("p", { class: "muted", text: "No dataset of this model's schema to gate on yet." }));
    return card;
  }
  const dataset = h("select", { id: "gate-dataset" }, sameSchema.map((d) => h("option", { value: d.id, text: d.name, selected: d.id === chosen.dataset })));
  const split = h("select", { id: "gate-split" }, ["test", "validation", "train"].map((s) => h("option", { value: s, text: s, selected: s === chosen.split })));
  const verdict = h("div", { class: "gate-verdict", "aria-live": "polite" });
  const actions = h("div", { class: "row gap" });
  const isAdmin = ctx.me.role === "ADMIN";

  const check = async () => {
    replace(verdict, h("span", { class: "muted", text: "Checking the gate…" }));
    replace(actions);
    let result;
    try {
      result = await ctx.api.get(`/models/${model.id}/promotion-check`, { query: { dataset_id: dataset.value, split: split.value } });
    } catch (error) {
      replace(verdict, h("p", { class: "problem", role: "alert", text: problemText(error) }));
      return;
    }
    const ev = result.evidence;
    replace(verdict,
      h("p", { class: ["gate", result.allowed ? "gate-pass" : "gate-fail"], dataset: { testid: "gate-verdict" } },
        h("strong", { text: result.allowed ? "The gate passes." : "The gate refuses." }), " ",
        result.reason || `AP ${fmtNumber(ev.candidate_ap, 4)}${ev.incumbent_id ? ` beats the default (model ${ev.incumbent_id}) at ${fmtNumber(ev.incumbent_ap, 4)}` : " (no default yet to beat)"}.`));
    if (!isAdmin) return;
    if (model.deployment_status === "DEVELOPMENT") {
      actions.append(h("button", { class: "btn", type: "button", text: "Move to TESTING", onclick: () => act(() => ctx.api.post(`/models/${model.id}/promotions`, { body: { target: "TESTING" } }), "Moved to TESTING") }));
    }
    actions.append(h("button", {
      class: "btn btn-primary", type: "button", text: "Promote to default", disabled: !result.allowed,
      onclick: () => act(() => ctx.api.post(`/models/${model.id}/default`, { body: { gate: { dataset_id: Number(dataset.value), split: split.value } } }), "Promoted: now the default"),
    }));
  };
  const act = async (call, done) => {
    actions.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      await call();
      notify(done, "success");
      go(`/models/${model.id}?dataset=${dataset.value}&split=${split.value}`);
    } catch (error) {
      replace(verdict, h("p", { class: "problem", role: "alert", text: problemText(error) }));
      actions.querySelectorAll("button").forEach((b) => (b.disabled = false));
    }
  };
  dataset.addEventListener("change", check);
  split.addEventListener("change", check);
  card.append(
    h("div", { class: "row gap filters" },
      field("Gate dataset", dataset),
      field("Split", split)),
    verdict, actions,
  );
  check();
  return card;
}

// ------------------------------------------------------------------ jobs

async function jobsPage(body, ctx, route, later) {
  const followed = Number(route.query.get("job")) || null;
  const kind = route.query.get("kind") === "training" ? "training" : "inference";
  body.append(pageHead("Jobs", "Evaluations and inference runs, training runs: progress and logs."));
  const [models, datasets] = await Promise.all([ctx.api.all("/models"), ctx.api.all("/datasets")]);
  body.append(startForm(ctx, models, datasets), trainingForm(ctx, models, datasets));
  const detail = h("section", { class: "card job-detail", "aria-label": "Followed job" });
  const lists = h("div", { class: "job-lists" });
  body.append(detail, lists);
  const modelName_ = new Map(models.map((m) => [m.id, modelName(m)]));

  const drawLists = async () => {
    const [inference, training] = await Promise.all([
      ctx.api.get("/inference-jobs", { query: { limit: 50 } }),
      ctx.api.get("/training-jobs", { query: { limit: 50 } }),
    ]);
    const jobLink = (k) => (j) => h("a", { href: `#/models/jobs?kind=${k}&job=${j.id}`, text: `#${j.id}` });
    replace(lists,
      h("section", { class: "card", "aria-label": "Inference jobs" }, h("h2", { text: "Inference and evaluation" }), dataTable(
        [
          { label: "Job", render: jobLink("inference") },
          { label: "Model", render: (j) => h("span", { class: "truncate", text: modelName_.get(j.model_id) || `model ${j.model_id}` }) },
          { label: "Over", render: (j) => (j.dataset_id ? `dataset ${j.dataset_id} (${j.split})` : `${j.target_image_count ?? "?"} images`) },
          { label: "Status", render: (j) => statusPill(j.status) },
          { label: "Progress", num: true, render: (j) => `${j.progress_percentage ?? 0} %` },
        ], inference.items, { empty: "No inference job yet.", label: "Inference jobs" })),
      h("section", { class: "card", "aria-label": "Training jobs" }, h("h2", { text: "Training" }), dataTable(
        [
          { label: "Job", render: jobLink("training") },
          { label: "Base model", render: (j) => h("span", { class: "truncate", text: modelName_.get(j.base_model_id) || `model ${j.base_model_id}` }) },
          { label: "Dataset", num: true, render: (j) => String(j.dataset_id) },
          { label: "Status", render: (j) => statusPill(j.status) },
          { label: "Progress", num: true, render: (j) => `${j.progress_percentage ?? 0} %` },
        ], training.items, { empty: "No training job yet.", label: "Training jobs" })));
  };

  const follow = async () => {
    if (!followed) {
      replace(detail, h("p", { class: "muted", text: "Choose a job to follow it." }));
      return;
    }
    let job;
    try {
      job = await ctx.api.get(`/${kind}-jobs/${followed}`);
    } catch (error) {
      replace(detail, h("p", { class: "problem", role: "alert", text: problemText(error) }));
      return;
    }
    const pct = Math.max(0, Math.min(100, job.progress_percentage ?? 0));
    const evaluation = job.results?.evaluation;
    replace(detail,
      h("h2", {}, `${kind === "training" ? "Training" : "Inference"} job #${job.id} `, statusPill(job.status)),
      h("div", { class: "progress", role: "progressbar", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100, "aria-label": "Progress" },
        h("span", { style: { width: `${pct}%`, background: "var(--accent, #5fd4c4)" } })),
      h("p", { class: "muted", text: `${pct} % · started ${job.start_time ? fmtDateTime(job.start_time) : "not yet"}${job.end_time ? ` · ended ${fmtDateTime(job.end_time)}` : ""}` }),
      job.error_message ? h("p", { class: "problem", role: "alert", text: job.error_message }) : null,
      kind === "training" ? trainingSummary(job, modelName_) : null,
      evaluation ? h("p", { text: `AP ${fmtNumber(evaluation.ap, 3)} · PCK ${fmtNumber(evaluation.pck, 3)} · mean error ${fmtNumber(evaluation.mean_error_px, 1)} px` }) : null,
      kind === "inference" && job.status === "COMPLETED" && ctx.me.role === "ADMIN" ? reviewBatchButton(ctx, job) : null,
      h("details", { open: true }, h("summary", { text: "Logs" }), h("pre", { class: "job-logs", text: job.execution_logs || "No log lines yet." })),
    );
    if (RUNNING.has(job.status)) later(() => Promise.all([follow(), drawLists()]).catch(() => {}), POLL_MS);
  };
  await Promise.all([drawLists(), follow()]);
}

function startForm(ctx, models, datasets) {
  const model = h("select", { id: "job-model" }, models.map((m) => h("option", { value: m.id, text: modelName(m) })));
  const dataset = h("select", { id: "job-dataset" }, datasets.map((d) => h("option", { value: d.id, text: d.name })));
  const split = h("select", { id: "job-split" }, ["test", "validation", "train"].map((s) => h("option", { value: s, text: s })));
  const problem = h("div");
  const start = h("button", {
    class: "btn btn-primary", type: "submit", text: "Start evaluation", disabled: !models.length || !datasets.length,
  });
  const form = h("form", { class: "card row gap filters", "aria-label": "Start an inference job" },
    h("h2", { class: "form-title", text: "Evaluate a model on a dataset split" }),
    field("Model", model),
    field("Dataset", dataset),
    field("Split", split),
    start, problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    start.disabled = true;
    replace(problem);
    try {
      const job = await ctx.api.post("/inference-jobs", { body: { model_id: Number(model.value), evaluation: { dataset_id: Number(dataset.value), split: split.value } } });
      go(`/models/jobs?kind=inference&job=${job.id}`);
    } catch (error) {
      problem.append(h("p", { class: "problem", role: "alert", text: problemText(error) }));
      start.disabled = false;
    }
  });
  return form;
}

// What a fine-tune is given (domain.jobs.TrainingHyperparameters); the rest keeps Ultralytics'
// defaults. A few epochs at a small size is a smoke run on the CPU; a real one wants the GPU task.
const TRAINING_FIELDS = [
  { key: "epochs", label: "Epochs", value: 50, min: 1, max: 1000 },
  { key: "imgsz", label: "Image size (px)", value: 640, min: 32, max: 2048, step: 32 },
  { key: "batch", label: "Batch", value: 16, min: 1, max: 512 },
];

function trainingForm(ctx, models, datasets) {
  const base = h("select", { id: "training-base" }, models.map((m) => h("option", { value: m.id, text: modelName(m), selected: isDefault(m) })));
  const dataset = h("select", { id: "training-dataset" }, datasets.map((d) => h("option", { value: d.id, text: d.name })));
  const numbers = TRAINING_FIELDS.map((f) => h("input", { id: `training-${f.key}`, type: "number", required: true, value: f.value, min: f.min, max: f.max, step: f.step || 1, class: "number-input" }));
  const version = h("input", { id: "training-version", type: "text", maxlength: 20, placeholder: "job-<id>" });
  const problem = h("div");
  const start = h("button", { class: "btn btn-primary", type: "submit", text: "Start training", disabled: !models.length || !datasets.length });
  const form = h("form", { class: "card row gap filters", "aria-label": "Start a training job" },
    h("h2", { class: "form-title", text: "Fine-tune a model on a dataset (a new DEVELOPMENT model)" }),
    field("Base model", base),
    field("Training dataset", dataset),
    ...TRAINING_FIELDS.map((f, i) => field(f.label, numbers[i])),
    field("New version (optional)", version),
    start, problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    start.disabled = true;
    replace(problem);
    const hyperparameters = Object.fromEntries(TRAINING_FIELDS.map((f, i) => [f.key, Number(numbers[i].value)]));
    const body = { base_model_id: Number(base.value), dataset_id: Number(dataset.value), hyperparameters };
    if (version.value.trim()) body.result_model_version = version.value.trim();
    try {
      const job = await ctx.api.post("/training-jobs", { body });
      go(`/models/jobs?kind=training&job=${job.id}`);
    } catch (error) {
      problem.append(h("p", { class: "problem", role: "alert", text: problemText(error) }));
      start.disabled = false;
    }
  });
  return form;
}

/** A training job's inputs, and the model it registered once it finished. */
function trainingSummary(job, modelNames) {
  const hp = job.hyperparameters || {};
  const given = ["epochs", "imgsz", "batch"].filter((k) => hp[k] != null).map((k) => `${k} ${hp[k]}`).join(" · ");
  return h("div", { class: "training-summary" },
    h("p", { text: `From ${modelNames.get(job.base_model_id) || `model ${job.base_model_id}`} on dataset ${job.dataset_id} (export ${job.export_id}); ${given}.` }),
    job.result_model_id
      ? h("p", { class: "success" }, "Registered as ", h("a", { href: `#/models/${job.result_model_id}`, text: `${job.result_model_name} ${job.result_model_version}` }), " (development): evaluate it, then promote it through the gate.")
      : h("p", { class: "muted", text: `Will be registered as ${job.result_model_name} ${job.result_model_version}.` }));
}

function reviewBatchLink(batchId) {
  return h("a", { href: `#/admin/batches/${batchId}`, text: `review batch ${batchId}` });
}

function reviewBatchButton(ctx, job) {
  const out = h("div", { class: "row gap", dataset: { testid: "review-batch" } });
  const made = job.results?.review_batch_id;
  if (made != null) {
    out.append(h("p", {}, "Its predictions are in ", reviewBatchLink(made), "."));
    return out;
  }
  const button = h("button", {
    class: "btn", type: "button", text: "Turn predictions into a review batch",
    onclick: async () => {
      button.disabled = true;
      try {
        const created = await ctx.api.post(`/inference-jobs/${job.id}/review-batch`, { body: {} });
        replace(out, h("p", { class: "success" }, "Created ", reviewBatchLink(created.batch_id), `: ${created.pre_annotated} of ${created.images} images pre-annotated by the model, ready for annotation.`));
      } catch (error) {
        out.append(h("p", { class: "problem", role: "alert", text: problemText(error) }));
        button.disabled = false;
      }
    },
  });
  out.append(button);
  return out;
}
