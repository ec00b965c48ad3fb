// Retraining (issue 23, docs/learning-loop.md): per keypoint schema, the learning loop's policy
// (trigger, base model, training within its bounds, the held-out split, the gate δ and ε),
// "Run now", the runs with their step and verdict, and rollback to the previous default model.

import { h, replace, fmtDateTime, fmtNumber } from "../../dom.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, latestOnly, pageHead, statusPill } from "./common.js";

// [name, label, min, max, step, hint]: the bounds the API enforces (422 beyond them).
const NUMBERS = [
  ["every_n_verified", "Every N newly verified images", 1, 100000, 1, "empty: no count trigger"],
  ["schedule_hours", "At most every … hours", 1, 8760, 1, "empty: no schedule"],
  ["epochs", "Epochs", 1, 300, 1, ""],
  ["imgsz", "Image size (px)", 32, 1280, 32, "a multiple of 32"],
  ["batch", "Batch", 1, 64, 1, ""],
  ["lr0", "Learning rate", 0.000001, 0.1, "any", ""],
  ["holdout_fraction", "Held out for the gate", 0.05, 0.5, 0.01, "grouped by infant, never trained on"],
  ["min_ap_gain", "δ: minimum AP gain", -1, 1, 0.01, "−1 accepts any evaluated candidate"],
  ["max_keypoint_oks_drop", "ε: largest OKS drop per keypoint", 0, 1, 0.01, ""],
];
const OPTIONAL = new Set(["every_n_verified", "schedule_hours"]);

export function mountRetraining(root, ctx) {
  const api = ctx.api;
  const schemaPick = h("select", { "aria-label": "Keypoint schema", dataset: { testid: "loop-schema" } });
  const policyBox = h("div", {}, h("div", { class: "empty", text: "Loading…" }));
  const runsBox = h("div", {}, h("div", { class: "empty", text: "Loading…" }));
  const runNow = h("button", { class: "btn btn-primary", type: "button", text: "Run now", dataset: { testid: "loop-run-now" } });
  const rollback = h("button", { class: "btn", type: "button", text: "Roll back the default model", dataset: { testid: "loop-rollback" } });
  root.append(
    pageHead("Retraining", "The learning loop: verified images retrain the model, the gate decides, the next batch starts from the winner.", schemaPick, runNow, rollback),
    h("h2", { text: "Policy" }),
    policyBox,
    h("h2", { text: "Runs" }),
    runsBox,
  );

  const schemaId = () => Number(schemaPick.value);

  const showPolicy = (policy, models) => {
    const field = ([name, label, min, max, step, hint]) => h("label", { class: "field" },
      h("span", { class: "field-label", text: label }),
      h("input", { name, type: "number", min, max, step, required: !OPTIONAL.has(name), value: policy[name] ?? "" }),
      hint ? h("span", { class: "muted", text: hint }) : null);
    const base = h("select", { name: "base_model_id" },
      h("option", { value: "", text: "The schema's current default model" }),
      models.map((m) => h("option", { value: String(m.id), text: `${m.model_name} ${m.version} (${m.deployment_status})`, selected: m.id === policy.base_model_id })));
    const enabled = h("input", { name: "enabled", type: "checkbox", checked: policy.enabled });
    const form = h("form", { class: "filters", dataset: { testid: "loop-policy" } },
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Enabled" }), enabled),
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Base model" }), base),
      NUMBERS.map(field),
      h("button", { class: "btn btn-primary", type: "submit", text: "Save policy" }));
    form.addEventListener("submit", guarded(async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const body = { enabled: enabled.checked, base_model_id: data.get("base_model_id") ? Number(data.get("base_model_id")) : null };
      for (const [name] of NUMBERS) {
        const text = String(data.get(name) ?? "").trim();
        body[name] = text === "" ? null : Number(text);
      }
      await api.put(`/schemas/${schemaId()}/learning-loop`, { body });
      notify("Retraining policy saved", "success");
      await load();
    }, "Save policy"));
    const facts = h("p", { class: "muted", dataset: { testid: "loop-facts" },
      text: `${fmtNumber(policy.verified_since_last_run)} verified since the last run` +
        (policy.updated_at ? ` · last changed ${fmtDateTime(policy.updated_at)}` : " · never set (defaults, disabled)") });
    replace(policyBox, facts, form);
  };

  const showRuns = (runs) => replace(runsBox, dataTable(
    [
      { label: "Run", num: true, render: (r) => String(r.id) },
      { label: "Trigger", render: (r) => r.trigger.toLowerCase() },
      { label: "Status", render: (r) => statusPill(r.status === "PROMOTED" ? "SUCCESS" : r.status === "REFUSED" ? "PARTIAL" : r.status, r.status.toLowerCase()) },
      { label: "Step", render: (r) => r.step },
      { label: "Candidate AP", num: true, render: (r) => r.candidate_ap == null ? "—" : fmtNumber(r.candidate_ap, 3) },
      { label: "Default AP", num: true, render: (r) => r.incumbent_ap == null ? "—" : fmtNumber(r.incumbent_ap, 3) },
      { label: "Verdict", className: "cell-name", render: (r) => h("span", { class: "long-name", title: r.verdict || r.error || "", text: r.verdict || r.error || "—" }) },
      { label: "Started", render: (r) => fmtDateTime(r.started_at) },
    ],
    runs,
    { empty: "No run yet.", label: "Learning-loop runs", rowAttrs: (r) => ({ dataset: { run: String(r.id), status: r.status } }) },
  ));

  const begin = latestOnly();
  const load = guarded(async () => {
    const fresh = begin();
    const id = schemaId();
    const [policy, runs, models] = await Promise.all([
      api.get(`/schemas/${id}/learning-loop`),
      api.get("/learning-loop/runs", { query: { schema_id: id, limit: 50 } }),
      api.get("/models", { query: { schema_id: id, limit: 200 } }),
    ]);
    if (!fresh()) return;
    showPolicy(policy, models.items);
    showRuns(runs.items);
  }, "Retraining");

  runNow.addEventListener("click", guarded(async () => {
    const run = await api.post(`/schemas/${schemaId()}/learning-loop/runs`);
    notify(`Run ${run.id} started`, "success");
    await load();
  }, "Run now"));
  rollback.addEventListener("click", guarded(async () => {
    if (!window.confirm("Make the model the current default replaced the default again?")) return;
    const model = await api.post(`/schemas/${schemaId()}/learning-loop/rollback`, { body: { reason: null } });
    notify(`${model.model_name} ${model.version} is the default again`, "success");
    await load();
  }, "Roll back"));
  schemaPick.addEventListener("change", () => load());

  guarded(async () => {
    const schemas = await api.get("/schemas", { query: { active: true, limit: 200 } });
    replace(schemaPick, schemas.items.map((s) => h("option", { value: String(s.id), text: `${s.name} ${s.version}` })));
    if (!schemas.items.length) {
      replace(policyBox, h("div", { class: "empty", text: "No keypoint schema yet." }));
      replace(runsBox);
      return;
    }
    await load();
  }, "Retraining")();
  return {};
}
