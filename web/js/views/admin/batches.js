// Batches: where each one is in the pipeline and the human loop, and assigning them.

import { h, replace, fmtDateTime, humanize, fmtPercent, accuracyText } from "../../dom.js";
import { confirmDialog, openDialog } from "../../ui/dialog.js";
import { guarded, notify } from "../../ui/notices.js";
import { IMAGE_STATUS_COLOURS, dataTable, latestOnly, pageHead, pager, statusPill } from "./common.js";
import { mountBatchImages, preannotationPhase, restartPipelineButton } from "./batch-images.js";

const ORDER = ["APPROVED", "REJECTED", "UNDER_REVIEW", "SUBMITTED", "REQUIRES_REVISION", "ANNOTATED", "IN_PROGRESS", "ASSIGNED", "YOLO_PROCESSED", "UPLOADED"];

export function progressBar(detail) {
  const counts = new Map((detail.images_by_status || []).map((s) => [s.status, s.count]));
  const total = Math.max(1, detail.total_images, [...counts.values()].reduce((a, b) => a + b, 0));
  const present = ORDER.filter((s) => counts.get(s));
  const done = (counts.get("APPROVED") || 0) + (counts.get("REJECTED") || 0);
  return h("div", { class: "batch-progress", dataset: { batch: String(detail.id) } },
    h("div", { class: "progress", role: "img", "aria-label": present.map((s) => `${counts.get(s)} ${humanize(s)}`).join(", ") || "no images yet" },
      present.map((s) => h("span", { title: `${humanize(s)}: ${counts.get(s)}`, style: { width: `${(100 * counts.get(s)) / total}%`, background: IMAGE_STATUS_COLOURS[s] } }))),
    h("div", { class: "legend" },
      h("span", {}, h("strong", { text: fmtPercent(done / total) }), " final"),
      present.map((s) => h("span", {}, h("i", { style: { background: IMAGE_STATUS_COLOURS[s] } }), `${counts.get(s)} ${humanize(s)}`))));
}

export function mountBatches(root, ctx, route) {
  const batchId = Number(route?.parts?.[2]);
  if (batchId > 0) return mountBatchImages(root, ctx, batchId);
  const api = ctx.api;
  let items = [];
  let cursor = null;
  const details = new Map();
  const status = h("select", { "aria-label": "Batch status" }, h("option", { value: "", text: "All statuses" }),
    ["UPLOADED", "YOLO_PROCESSING", "YOLO_COMPLETED", "READY_FOR_ANNOTATION", "ASSIGNED", "IN_PROGRESS", "COMPLETED", "ARCHIVED"].map((s) => h("option", { value: s, text: humanize(s) })));
  status.addEventListener("change", () => load(true));
  const list = h("div", {});
  const more = h("div", {});
  root.append(
    pageHead("Batches", "Pipeline progress, the state of every image, and who works on what.",
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Status" }), status),
      h("button", { class: "btn", type: "button", text: "Refresh", onclick: () => load(true) }),
      h("a", { class: "btn", href: "#/admin/upload", text: "Upload a batch…" }),
      h("button", { class: "btn btn-primary", type: "button", title: "Every ready batch, highest priority first, to annotators with spare capacity", text: "Auto-assign all ready", onclick: guarded(autoAll, "Auto-assign") })),
    list,
    more,
  );

  const begin = latestOnly();
  const load = guarded(async (reset = true) => {
    const fresh = begin();
    if (reset) {
      items = [];
      cursor = null;
    }
    const page = await api.get("/batches", { query: { status: status.value, cursor, limit: 25 } });
    if (!fresh()) return;
    items.push(...page.items);
    cursor = page.next_cursor;
    await Promise.all(page.items.map(async (b) => details.set(b.id, await api.get(`/batches/${b.id}`))));
    if (!fresh()) return;
    draw();
    replace(more, cursor ? pager(async () => { await load(false); return Boolean(cursor); }) : null);
  }, "Batches");

  function draw() {
    replace(list, dataTable(
      [
        { label: "Batch", className: "cell-name", render: (b) => h("div", {}, h("strong", { class: "long-name", title: b.batch_name, text: b.batch_name }), h("div", { class: "muted", text: `#${b.id} · uploaded ${fmtDateTime(b.uploaded_at)}` })) },
        { label: "Status", render: (b) => statusPill(b.status) },
        { label: "Priority", num: true, render: (b) => String(b.processing_priority) },
        { label: "Images", num: true, render: (b) => String(b.total_images) },
        { label: "Progress", render: (b) => progressBar(details.get(b.id) || b) },
        { label: "Pre-annotation", render: (b) => h("div", { dataset: { pipeline: String(b.id) } }, pipeline(details.get(b.id) || b)) },
        {
          label: "",
          render: (b) => h("div", { class: "actions" },
            h("a", { class: "btn btn-small", href: `#/admin/batches/${b.id}`, dataset: { images: String(b.id) }, text: "Images" }),
            b.status !== "ARCHIVED"
              ? h("button", { class: "btn btn-small", type: "button", dataset: { editBatch: String(b.id) }, text: "Edit…", onclick: guarded(() => edit(b), "Edit batch") })
              : null,
            b.status === "READY_FOR_ANNOTATION"
              ? h("button", { class: "btn btn-primary btn-small", type: "button", dataset: { assign: String(b.id) }, text: "Assign…", onclick: guarded(() => assign(b), "Assign") })
              : h("button", { class: "btn btn-small", type: "button", text: "Assignments", onclick: guarded(() => showAssignments(b), "Assignments") }),
            h("button", { class: "btn btn-small", type: "button", dataset: { uploadReport: String(b.id) }, text: "Files", title: "Every uploaded file: registered, or rejected and why", onclick: guarded(() => showUploads(b), "Upload report") }),
            ARCHIVABLE.includes(b.status)
              ? h("button", { class: "btn btn-small btn-danger", type: "button", dataset: { archive: String(b.id) }, text: "Archive…", onclick: guarded(() => archive(b), "Archive") })
              : null),
        },
      ],
      items,
      { empty: "No batch yet. Upload one here (Upload a batch), with the CLI or the API.", label: "Batches" },
    ));
  }

  function pipeline(b) {
    const run = b.pipeline_run;
    const bits = [];
    // The run stays RUNNING through the human loop (the state machine waits for the batch to be
    // assigned, annotated and verified), so its status alone would read "running" for weeks.
    // Pre-annotation itself is over once the batch has left YOLO processing.
    const phase = preannotationPhase(b.status, run?.status);
    if (phase) bits.push(statusPill(phase.status, phase.text));
    if (run) bits.push(h("div", { class: "muted", text: `attempt ${run.attempt}${run.failed_step ? ` · failed at ${run.failed_step}` : ""}${phase?.waiting ? " · the run waits for people" : ""}` }));
    if (b.yolo_model_version) bits.push(h("div", { class: "muted", text: `${b.yolo_model_version} · confidence ${b.avg_yolo_confidence ?? "—"}${b.failed_yolo_count ? ` · ${b.failed_yolo_count} failed` : ""}` }));
    const restart = restartPipelineButton(api, b, () => load(true));
    if (restart) bits.push(restart);
    return bits.length ? h("div", {}, bits) : h("span", { class: "muted", text: "—" });
  }

  async function archive(batch) {
    const sure = await confirmDialog("Archive", `Archive ${batch.batch_name}? It leaves the lists of work; its images, annotations and audit stay.`, "Archive", "danger");
    if (!sure) return;
    await api.post(`/batches/${batch.id}/archive`);
    notify(`${batch.batch_name} archived`, "success");
    await load(true);
  }

  async function showUploads(batch) {
    const report = await api.get(`/batches/${batch.id}/uploads`);
    const rejected = report.files.filter((f) => f.state === "rejected");
    await openDialog({
      title: `Files of ${batch.batch_name}`,
      className: "dialog-wide",
      body: h("div", { class: "stack", dataset: { testid: "upload-report" } },
        h("p", { text: `${report.registered} registered · ${report.rejected} rejected · ${report.expected} expected` }),
        dataTable(
          [
            { label: "File", className: "cell-name", render: (f) => h("span", { class: "long-name", title: f.filename, text: f.filename }) },
            { label: "State", render: (f) => statusPill(f.state === "rejected" ? "REJECTED" : "SUCCESS", f.state) },
            { label: "Why", render: (f) => f.reason || (f.duplicate_of ? `near-duplicate of image #${f.duplicate_of}` : "—") },
            { label: "Image", num: true, render: (f) => (f.image_id ? `#${f.image_id}` : "—") },
          ],
          [...rejected, ...report.files.filter((f) => f.state !== "rejected")],
          { empty: "No file has arrived yet.", label: "Uploaded files" },
        )),
    });
  }

  async function assign(batch) {
    const annotators = await api.all("/users", { role: "ANNOTATOR", is_approved: true, is_active: true });
    const open = await api.all("/assignments", { status: "IN_PROGRESS" }, 1000).catch(() => []);
    const busy = new Map();
    for (const a of open) busy.set(a.annotator_id, (busy.get(a.annotator_id) || 0) + 1);
    const minDate = new Date(Date.now() + 3600e3).toISOString().slice(0, 16);
    const body = h("div", { class: "stack" },
      h("p", { class: "muted", text: `${batch.batch_name}: ${batch.total_images} images.` }),
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Annotator" }),
        h("select", { name: "annotator_id", required: true },
          h("option", { value: "", text: annotators.length ? "Choose someone…" : "No approved annotator" }),
          annotators.map((u) => h("option", { value: String(u.id), text: `${u.username} — accuracy ${accuracyText(u)} · ${busy.get(u.id) || 0}/${u.max_concurrent_batches} in progress${u.annotation_specialty ? ` · ${u.annotation_specialty}` : ""}` })))),
      h("div", { class: "form-grid" },
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Priority (1–10)" }), h("input", { name: "priority", type: "number", min: 1, max: 10, value: String(batch.processing_priority) })),
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Due" }), h("input", { name: "due_date", type: "datetime-local", min: minDate }))),
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Instructions" }), h("textarea", { name: "special_instructions", rows: 2, maxlength: 5000 })));
    const answer = await openDialog({
      title: "Assign the batch",
      body,
      actions: [
        { label: "Cancel", value: null },
        { label: "Let Cradle choose", value: "auto" },
        { label: "Assign", kind: "primary", submit: true },
      ],
    });
    if (!answer) return;
    if (answer === "auto") {
      const { assignment } = await api.post(`/batches/${batch.id}/auto-assign`);
      if (assignment) notify(`Assigned to annotator #${assignment.annotator_id}`, "success", annotatorName(annotators, assignment.annotator_id));
      else notify("Nobody has spare capacity", "warning", "Raise someone's maximum of concurrent batches, or approve more annotators.");
    } else {
      const payload = { annotator_id: Number(answer.annotator_id), priority: Number(answer.priority) || 5 };
      if (answer.due_date) payload.due_date = new Date(answer.due_date).toISOString();
      if (answer.special_instructions.trim()) payload.special_instructions = answer.special_instructions.trim();
      await api.post(`/batches/${batch.id}/assignments`, { body: payload });
      notify(`${batch.batch_name} assigned`, "success", annotatorName(annotators, payload.annotator_id));
    }
    await load(true);
  }

  async function edit(batch) {
    const local = (iso) => (iso ? new Date(new Date(iso).getTime() - new Date().getTimezoneOffset() * 60e3).toISOString().slice(0, 16) : "");
    const body = h("div", { class: "stack" },
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Name" }), h("input", { name: "batch_name", required: true, maxlength: 255, value: batch.batch_name })),
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Description" }), h("textarea", { name: "description", rows: 2, maxlength: 5000, text: batch.description || "" })),
      h("div", { class: "form-grid" },
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Priority (1–10, 10 first)" }), h("input", { name: "processing_priority", type: "number", min: 1, max: 10, required: true, value: String(batch.processing_priority) })),
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Due" }), h("input", { name: "due_date", type: "datetime-local", value: local(batch.due_date) }))),
      h("p", { class: "muted", text: "Priority orders pre-annotation, auto-assignment and the review queue. New assignments of the batch are due when the batch is." }));
    const answer = await openDialog({
      title: `Edit ${batch.batch_name}`,
      body,
      actions: [{ label: "Cancel", value: null }, { label: "Save", kind: "primary", submit: true }],
    });
    if (!answer) return;
    const wanted = {
      batch_name: answer.batch_name.trim(),
      description: answer.description.trim() || null,
      processing_priority: Number(answer.processing_priority),
      due_date: answer.due_date ? new Date(answer.due_date).toISOString() : null,
    };
    const changed = Object.fromEntries(Object.entries(wanted).filter(([key, value]) => {
      if (key === "due_date") return (value ? Date.parse(value) : null) !== (batch.due_date ? Date.parse(batch.due_date) : null);
      return value !== (batch[key] ?? null);
    }));
    if (!Object.keys(changed).length) return notify("Nothing changed", "info");
    await api.patch(`/batches/${batch.id}`, { body: changed });
    notify(`${wanted.batch_name} saved`, "success");
    await load(true);
  }

  async function autoAll() {
    const result = await api.post("/auto-assignments");
    const pooled = result.from_pool?.length ? ` · ${result.from_pool.length} from the pool` : "";
    notify(`${result.assigned.length} batch${result.assigned.length === 1 ? "" : "es"} assigned${pooled}`, result.assigned.length || pooled ? "success" : "info",
      result.waiting_batches.length ? `Still waiting for capacity: ${result.waiting_batches.map((id) => `#${id}`).join(", ")}` : "");
    await load(true);
  }

  async function showAssignments(batch) {
    const [rows, people] = await Promise.all([api.all("/assignments", { batch_id: batch.id }), api.all("/users", { role: "ANNOTATOR" })]);
    const open = (a) => OPEN_ASSIGNMENT.includes(a.status);
    const handOver = (a, how) => guarded(async (event) => {
      const outer = event.target.closest("dialog");
      const done = how === "unassign" ? await unassign(a, people) : await reassign(a, people);
      if (done) {
        outer?.close();
        await load(true);
      }
    }, how === "unassign" ? "Unassign" : "Reassign");
    await openDialog({
      title: `Assignments of ${batch.batch_name}`,
      className: "dialog-wide",
      body: dataTable(
        [
          { label: "#", render: (a) => String(a.id) },
          { label: "Annotator", render: (a) => (a.in_pool ? h("span", { class: "muted", text: "the pool" }) : annotatorName(people, a.annotator_id)) },
          { label: "Type", render: (a) => humanize(a.assignment_type) },
          { label: "Status", render: (a) => statusPill(a.status, a.is_paused ? "paused" : null) },
          { label: "Done", num: true, render: (a) => `${a.images_completed}/${a.images_total}` },
          { label: "Time", num: true, render: (a) => `${a.total_time_spent_minutes} min` },
          { label: "Assigned", render: (a) => fmtDateTime(a.assigned_at) },
          {
            label: "",
            render: (a) => (open(a)
              ? h("div", { class: "actions" },
                h("button", { class: "btn btn-small", type: "button", dataset: { reassign: String(a.id) }, text: "Reassign…", onclick: handOver(a, "reassign") }),
                a.in_pool ? null : h("button", { class: "btn btn-small", type: "button", dataset: { unassign: String(a.id) }, text: "Unassign", onclick: handOver(a, "unassign") }))
              : ""),
          },
        ],
        rows,
        { empty: "No assignment yet." },
      ),
    });
  }

  async function unassign(assignment, people) {
    const sure = await confirmDialog(
      "Unassign",
      `Take assignment #${assignment.id} from ${annotatorName(people, assignment.annotator_id)}? The images still to do, with their drafts, go to the pool until you reassign them or auto-assign.`,
      "Unassign", "danger");
    if (!sure) return false;
    const moved = await api.post(`/assignments/${assignment.id}/unassign`);
    notify(`Assignment #${assignment.id} is in the pool`, "success", `${moved.images_moved} image(s), ${moved.drafts_kept} draft(s) kept`);
    return true;
  }

  async function reassign(assignment, people) {
    const candidates = people.filter((u) => u.is_active && u.is_approved && u.id !== assignment.annotator_id);
    const answer = await openDialog({
      title: `Reassign assignment #${assignment.id}`,
      body: h("div", { class: "stack" },
        h("p", { class: "muted", text: "The images still to do go to the new annotator with their drafts; work already handed in stays with its author." }),
        h("label", { class: "field" }, h("span", { class: "field-label", text: "New annotator" }),
          h("select", { name: "annotator_id", required: true },
            h("option", { value: "", text: candidates.length ? "Choose someone…" : "No other approved annotator" }),
            candidates.map((u) => h("option", { value: String(u.id), text: u.username }))))),
      actions: [{ label: "Cancel", value: null }, { label: "Reassign", kind: "primary", submit: true }],
    });
    if (!answer) return false;
    const moved = await api.post(`/assignments/${assignment.id}/reassign`, { body: { annotator_id: Number(answer.annotator_id) } });
    notify(`Reassigned to ${annotatorName(people, moved.annotator_id)}`, "success", `${moved.images_moved} image(s), ${moved.drafts_kept} draft(s) kept`);
    return true;
  }

  load(true);
  return {};
}

const ARCHIVABLE = ["UPLOADED", "READY_FOR_ANNOTATION", "COMPLETED"];  // domain/transitions.py: who may go to ARCHIVED

const OPEN_ASSIGNMENT = ["ASSIGNED", "ACKNOWLEDGED", "IN_PROGRESS", "OVERDUE"];

function annotatorName(people, id) {
  return people.find((u) => u.id === id)?.username || `user #${id}`;
}
