// A batch's images and what was said about each (#/admin/batches/<id>): the infant's age, sex,
// session and pseudonym, the acquisition date and the institution, corrected here by an admin
// (PATCH /images/{id}; every correction is audited with the old and new values). When the batch's
// pipeline failed, the admin restarts it here (POST /batches/{id}/pipeline/restart).

import { h, replace, humanize } from "../../dom.js";
import { confirmDialog, openDialog } from "../../ui/dialog.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, pageHead, statusPill } from "./common.js";

const SEXES = ["female", "male", "unknown"];
// workflow/quality_checks.py: once an annotation is in, an image's gold is scored and stays.
const GOLD_LOCKED = ["SUBMITTED", "UNDER_REVIEW", "APPROVED", "REJECTED"];

const PREANNOTATING = ["UPLOADED", "YOLO_PROCESSING"];

/** What a batch's pre-annotation reads as: {status, text, waiting} or null before any run. */
export function preannotationPhase(batchStatus, runStatus) {
  if (!runStatus) return null;
  if (runStatus === "FAILED" || runStatus === "TIMED_OUT" || runStatus === "ABORTED") return { status: runStatus, text: null, waiting: false };
  if (PREANNOTATING.includes(batchStatus)) return { status: runStatus, text: null, waiting: false };
  return { status: "SUCCEEDED", text: "Finished", waiting: runStatus === "RUNNING" || runStatus === "REQUESTED" };
}

/** The "Restart pipeline" button of a batch whose latest run failed (null otherwise). */
export function restartPipelineButton(api, batch, after) {
  const run = batch.pipeline_run;
  if (!run || run.status !== "FAILED" || batch.status === "ARCHIVED") return null;
  return h("button", {
    class: "btn btn-small btn-primary", type: "button", dataset: { restartPipeline: String(batch.id) }, text: "Restart pipeline",
    title: "Start a new run: it pre-annotates the images still without a result",
    onclick: guarded(async () => {
      const sure = await confirmDialog("Restart pipeline",
        `Run ${run.attempt} of ${batch.batch_name} failed${run.failed_step ? ` at ${run.failed_step}` : ""}. Start run ${run.attempt + 1}? Images already pre-annotated are not run again.`,
        "Restart pipeline");
      if (!sure) return;
      const detail = await api.post(`/batches/${batch.id}/pipeline/restart`);
      notify(`Pipeline of ${batch.batch_name} restarted (run ${detail.pipeline_run.attempt})`, "success");
      await after();
    }, "Restart pipeline"),
  });
}

export function mountBatchImages(root, ctx, batchId) {
  const api = ctx.api;
  let images = [];
  const list = h("div", {});
  const title = h("span", { text: `Batch #${batchId}` });
  const run = h("div", { class: "row gap", dataset: { testid: "batch-pipeline" } });
  root.append(
    pageHead("Images and their metadata", "Infant, acquisition date and institution of each image; correct them where they are wrong.",
      h("a", { class: "btn", href: "#/admin/batches", text: "Back to batches" }),
      h("button", { class: "btn", type: "button", text: "Refresh", onclick: () => load() })),
    h("h3", { class: "long-name" }, title),
    run,
    list,
  );

  const load = guarded(async () => {
    const [batch, found] = await Promise.all([api.get(`/batches/${batchId}`), api.all(`/batches/${batchId}/images`)]);
    title.textContent = `${batch.batch_name} (#${batch.id})`;
    const last = batch.pipeline_run;
    // As in the batches list: the run stays RUNNING through the human loop, but pre-annotation
    // is finished once the batch has left YOLO processing.
    const phase = preannotationPhase(batch.status, last?.status);
    replace(run, last
      ? [statusPill(phase.status, `Pipeline run ${last.attempt}: ${phase.text ? phase.text.toLowerCase() : humanize(last.status)}`),
        phase.waiting ? h("span", { class: "muted", text: "pre-annotation is over; the run waits for people" }) : null,
        last.failed_step ? h("span", { class: "muted long-name", title: last.error || "", text: `failed at ${last.failed_step}${last.error ? ` (${last.error})` : ""}` }) : null,
        restartPipelineButton(api, batch, () => load())]
      : []);
    images = found;
    draw();
  }, "Images");

  function draw() {
    const infant = (i, key) => (i.infant_metadata && i.infant_metadata[key] != null ? String(i.infant_metadata[key]) : "—");
    replace(list, dataTable(
      [
        { label: "#", render: (i) => String(i.id) },
        { label: "File", render: (i) => i.original_filename },
        { label: "Status", render: (i) => statusPill(i.status) },
        { label: "Age (months)", num: true, render: (i) => infant(i, "age_months") },
        { label: "Sex", render: (i) => infant(i, "sex") },
        { label: "Session", render: (i) => infant(i, "session_type") },
        { label: "Pseudonym", render: (i) => infant(i, "subject_id") },
        { label: "Acquired", render: (i) => i.acquisition_date || "—" },
        { label: "Institution", render: (i) => i.source_institution || "—" },
        { label: "Quality check", render: (i) => goldToggle(i) },
        {
          label: "",
          render: (i) => h("button", { class: "btn btn-small", type: "button", dataset: { correct: String(i.id) }, text: "Correct…", onclick: guarded(() => correct(i), "Correct metadata") }),
        },
      ],
      images,
      { empty: "No image registered in this batch yet.", label: "Images", rowAttrs: (i) => ({ dataset: { image: String(i.id) } }) },
    ));
  }

  // A quality check (gold image): the annotator never knows; their work on it is scored by OKS
  // against the gold keypoints. Marking takes the image's pre-annotation as the gold, which the
  // admin has checked in the viewer first; unmarking is refused once the image's annotation is in.
  function goldToggle(image) {
    const locked = GOLD_LOCKED.includes(image.status);
    return h("button", {
      class: ["btn", "btn-small", image.quality_check ? "btn-primary" : null], type: "button",
      "aria-pressed": image.quality_check ? "true" : "false", dataset: { gold: String(image.id) },
      "aria-label": `Quality check: ${image.original_filename}`,
      disabled: locked,
      title: locked ? "Its annotation is in: a quality check stays as it was" : "A gold image scores its annotator's accuracy",
      text: image.quality_check ? "Gold" : "Not gold",
      onclick: guarded(() => toggleGold(image), "Quality check"),
    });
  }

  async function toggleGold(image) {
    const url = `/batches/${batchId}/images/${image.id}/gold`;
    if (image.quality_check) {
      await api.del(url);
      notify(`Image #${image.id} is no quality check any more`, "success");
      return load();
    }
    const detail = await api.get(`/images/${image.id}`);
    if (!detail.yolo_keypoints) {
      notify(`Image #${image.id} has no pre-annotation to take as its gold keypoints`, "error");
      return;
    }
    const sure = await confirmDialog("Mark as quality check",
      `The pre-annotation's keypoints of ${image.original_filename} become its gold: check them first. The annotator is not told.`, "Mark as gold");
    if (!sure) return;
    const gold = await api.put(url, { body: { keypoints: detail.yolo_keypoints } });
    notify(`Image #${image.id} is a quality check (${gold.keypoints} keypoints)`, "success");
    await load();
  }

  async function correct(image) {
    const m = image.infant_metadata || {};
    const today = new Date().toISOString().slice(0, 10);
    const field = (label, input) => h("label", { class: "field" }, h("span", { class: "field-label", text: label }), input);
    const body = h("div", { class: "stack" },
      h("p", { class: "muted", text: `${image.original_filename} (image #${image.id}, ${humanize(image.status)}). An empty field is cleared.` }),
      h("div", { class: "form-grid" },
        field("Age (months)", h("input", { name: "age_months", type: "number", min: 0, max: 240, step: "0.1", value: m.age_months ?? "" })),
        field("Sex", h("select", { name: "sex" }, h("option", { value: "", text: "—" }), SEXES.map((s) => h("option", { value: s, text: s, selected: m.sex === s })))),
        field("Session type", h("input", { name: "session_type", maxlength: 50, value: m.session_type ?? "" })),
        field("Pseudonym", h("input", { name: "subject_id", maxlength: 40, value: m.subject_id ?? "", title: "like CP-017: letters, digits, - or _, with a digit; never a name or record number" })),
        field("Acquisition date", h("input", { name: "acquisition_date", type: "date", min: "1990-01-01", max: today, value: image.acquisition_date ?? "" })),
        field("Institution", h("input", { name: "source_institution", maxlength: 100, value: image.source_institution ?? "" }))));
    const answer = await openDialog({
      title: "Correct the image's metadata",
      body,
      actions: [{ label: "Cancel", value: null }, { label: "Save", kind: "primary", submit: true }],
    });
    if (!answer) return;
    const text = (v) => (v && v.trim() ? v.trim() : null);
    const payload = {
      infant_metadata: {
        age_months: answer.age_months === "" ? null : Number(answer.age_months),
        sex: text(answer.sex),
        session_type: text(answer.session_type),
        subject_id: text(answer.subject_id),
      },
      acquisition_date: text(answer.acquisition_date),
      source_institution: text(answer.source_institution),
    };
    await api.patch(`/images/${image.id}`, { body: payload });
    notify(`Metadata of image #${image.id} corrected`, "success");
    await load();
  }

  load();
  return {};
}
