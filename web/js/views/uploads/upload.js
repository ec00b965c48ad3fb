// Uploads in the browser (admin): create a batch with its image metadata, drop a folder, and watch
// each file go straight to S3 through its presigned form, a few at a time, with retries; the URL
// holds the batch id and localStorage what was sent, so a reload picks up where it left off.

import { h, replace, humanize } from "../../dom.js";
import { ApiError } from "../../api.js";
import { notify, notifyError } from "../../ui/notices.js";
import { pageHead, statusPill } from "../admin/common.js";
import { readMetadataCsv, checkValues } from "./metadata-csv.js";
import { PARALLEL, TransferError, UploadMemory, imageType, pool, postWithRetry, sha256, sleep } from "./transfer.js";

const MAX_BYTES = 50 * 1024 * 1024; // the API's default upload limit; the form's max_bytes rules
const CHUNK = 500; // files per request for forms (the API takes up to 1000)
const POLL_MS = 1000;
const REGISTRATION_WAIT_MS = 90e3;

const STATE_TEXT = {
  ready: "ready",
  hashing: "reading",
  waiting: "waiting",
  uploading: "uploading",
  retrying: "retrying",
  sent: "sent, registering…",
  registered: "registered",
  rejected: "rejected",
  skipped: "not sent",
  failed: "failed",
};

export function mountUpload(root, ctx, route) {
  const api = ctx.api;
  let batchId = Number(route?.parts?.[2]) || null;
  let batch = null;
  let files = []; // {file, name, size, sha, metadata, state, reason, progress, slot, row}
  let csv = null; // {byName, problems}
  let running = false;
  let gone = false;
  const controller = new AbortController();

  const errorBox = h("div", { class: "form-error", role: "alert", hidden: true, dataset: { testid: "upload-error" } });
  const summary = h("div", { class: "upload-summary", dataset: { testid: "upload-summary" } });
  const table = h("div", { class: "upload-files" });
  const actions = h("div", { class: "row upload-actions" });
  const folderInput = h("input", { type: "file", multiple: true, webkitdirectory: true, class: "visually-hidden", id: "upload-folder", "aria-label": "Folder of images" });
  const filesInput = h("input", { type: "file", multiple: true, accept: "image/jpeg,image/png", class: "visually-hidden", id: "upload-files", "aria-label": "Images" });
  const csvInput = h("input", { type: "file", accept: ".csv,text/csv", id: "upload-csv", "aria-describedby": "upload-csv-columns" });
  const csvReport = h("div", { class: "csv-report", dataset: { testid: "csv-report" } });
  folderInput.addEventListener("change", () => choose(Array.from(folderInput.files)));
  filesInput.addEventListener("change", () => choose(Array.from(filesInput.files)));
  csvInput.addEventListener("change", () => readCsv(csvInput.files[0]));

  const drop = h("div", { class: "dropzone", tabindex: 0, role: "group", "aria-label": "Drop a folder of images here", dataset: { testid: "dropzone" } },
    h("strong", { text: "Drop a folder of images here" }),
    h("span", { class: "muted", text: "JPEG or PNG, up to 50 MB each" }),
    h("div", { class: "row", style: { gap: ".5rem" } },
      h("label", { class: "btn", for: "upload-folder", text: "Choose a folder…" }),
      h("label", { class: "btn", for: "upload-files", text: "Choose files…" })),
    folderInput, filesInput);
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    choose(await droppedFiles(event.dataTransfer));
  });

  const form = h("form", { class: "stack upload-form", dataset: { testid: "batch-form" }, onsubmit: (event) => { event.preventDefault(); start(); } });
  const body = h("div", { class: "stack" });
  root.append(body);
  // While files are on their way, leaving the page would cut them off: ask first.
  const beforeUnload = (event) => {
    if (running) event.preventDefault();
  };
  window.addEventListener("beforeunload", beforeUnload);

  if (batchId) openBatch();
  else drawCreate();

  // ------------------------------------------------------------------ the create form

  async function drawCreate() {
    const schemas = await api.all("/schemas", {}, 400).catch((error) => {
      notifyError(error, "Schemas");
      return [];
    });
    if (gone) return;
    const field = (label, input, hint = null) => h("label", { class: "field" }, h("span", { class: "field-label", text: label }), input, hint ? h("span", { class: "muted small", text: hint }) : null);
    replace(form,
      h("div", { class: "form-grid upload-grid" },
        field("Batch name", h("input", { name: "batch_name", required: true, maxlength: 255 })),
        field("Schema", h("select", { name: "keypoint_schema_id" },
          schemas.filter((s) => s.is_active !== false).map((s) => h("option", { value: String(s.id), text: `${s.name}${s.version ? ` v${s.version}` : ""}`, selected: s.name === "infant-pose-17" })))),
        field("Priority (1–10, 10 first)", h("input", { name: "processing_priority", type: "number", min: 1, max: 10, value: "5", required: true }))),
      field("Description", h("textarea", { name: "description", rows: 2, maxlength: 5000 })),
      h("fieldset", { class: "upload-defaults" },
        h("legend", { text: "Every image of the batch (a CSV row's own values win)" }),
        h("div", { class: "form-grid" },
          field("Infant age (months)", h("input", { name: "age_months", type: "number", min: 0, max: 240, step: "0.1" })),
          field("Sex", h("select", { name: "sex" }, h("option", { value: "", text: "—" }), ["female", "male", "unknown"].map((s) => h("option", { value: s, text: s })))),
          field("Session", h("input", { name: "session_type", maxlength: 50, placeholder: "clinic, home…" })),
          field("Pseudonym", h("input", { name: "pseudonym", maxlength: 40, placeholder: "CP-017" })),
          field("Acquisition date", h("input", { name: "acquisition_date", type: "date", min: "1990-01-01" })),
          field("Institution", h("input", { name: "source_institution", maxlength: 100 })))),
      csvField(),
      csvReport,
      drop,
      errorBox,
      table,
      actions);
    replace(body, pageHead("Upload a batch", "Create a batch, drop its folder, and watch each image arrive.", resumeLinks()), form);
    drawActions();
  }

  function csvField() {
    return h("div", { class: "field" },
      h("label", { class: "field-label", for: "upload-csv", text: "Per-image metadata (CSV, optional)" }), csvInput,
      h("span", { class: "muted small", id: "upload-csv-columns", text: "Columns: filename, age_months, sex, session_type, pseudonym, acquisition_date, source_institution" }));
  }

  function resumeLinks() {
    const ids = UploadMemory.batches();
    if (!ids.length) return null;
    return h("div", { class: "muted", dataset: { testid: "unfinished" } }, "Unfinished: ",
      ids.map((id, i) => [i ? ", " : "", h("a", { href: `#/admin/upload/${id}`, text: `batch #${id}` })]));
  }

  // ------------------------------------------------------------------ a batch being uploaded

  async function openBatch() {
    replace(body, pageHead("Upload a batch", "Loading…"), h("div", { class: "empty", text: "Loading the batch…" }));
    try {
      batch = await api.get(`/batches/${batchId}`);
    } catch (error) {
      replace(body, pageHead("Upload a batch", null), h("div", { class: "empty", role: "alert", text: error instanceof ApiError ? error.problem.detail || error.title : String(error) }));
      return;
    }
    if (gone) return;
    const report = await loadReport();
    replace(form,
      h("p", { class: "muted", text: uploadsOpen(batch)
        ? "To send the files that are still missing, choose the same folder again: files already registered are skipped."
        : `Uploads are closed: ${batch.pipeline_run ? `pre-annotation is ${humanize(batch.pipeline_run.status)}` : `the batch is ${humanize(batch.status)}`}.` }),
      uploadsOpen(batch) ? [csvField(), csvReport, drop] : null,
      errorBox, table, actions);
    replace(body, pageHead(batch.batch_name, `Batch #${batch.id}`, statusPill(batch.status)), summary, form);
    if (report) {
      const memory = new UploadMemory(batchId);
      files = report.files.map((f) => ({ name: f.filename, size: null, state: f.state, reason: reasonOf(f), slot: f.slot, progress: 1 }));
      for (const [name, known] of Object.entries(memory.state.files)) {
        if (files.some((f) => f.name === name)) continue;
        if (known.sent) files.push({ name, size: known.size, state: "sent", slot: known.slot, progress: 1 });
        else if (known.rejected) files.push({ name, size: known.size, state: "rejected", reason: known.rejected, progress: 1 });
      }
      drawTable();
      drawSummary(report);
      if (files.some((f) => f.state === "sent")) follow();
    }
    drawActions();
  }

  async function loadReport() {
    try {
      return await api.get(`/batches/${batchId}/uploads`);
    } catch (error) {
      notifyError(error, "Upload report");
      return null;
    }
  }

  // ------------------------------------------------------------------ choosing files

  async function choose(chosen) {
    if (running) return;
    const seen = new Map();
    const previous = new Map(files.map((f) => [f.name, f]));
    const byName = (a, b) => a.name.localeCompare(b.name, undefined, { numeric: true });
    files = chosen.filter((file) => !file.name.startsWith(".")).sort(byName).map((file) => {
      const name = file.name;
      const entry = { file, name, size: file.size, state: "ready", reason: null, progress: 0 };
      const known = previous.get(name);
      // Registered, rejected, or sent and still registering: never sent twice.
      if (known && ["registered", "rejected", "sent"].includes(known.state)) Object.assign(entry, { state: known.state, reason: known.reason, slot: known.slot, progress: 1 });
      else if (!imageType(name)) Object.assign(entry, { state: "skipped", reason: "not a JPEG or PNG image" });
      else if (file.size === 0) Object.assign(entry, { state: "skipped", reason: "the file is empty" });
      else if (file.size > MAX_BYTES) Object.assign(entry, { state: "skipped", reason: `larger than the upload limit (${Math.round(MAX_BYTES / 1048576)} MB)` });
      else if (seen.has(name)) Object.assign(entry, { state: "skipped", reason: `${name} is in the folder twice` });
      seen.set(name, true);
      return entry;
    });
    // Files registered earlier that were not chosen again stay listed.
    for (const f of previous.values()) if (!files.some((x) => x.name === f.name) && ["registered", "rejected", "sent"].includes(f.state)) files.push(f);
    applyCsv();
    drawTable();
    drawActions();
    // Hash what will be sent: duplicates in the folder are found here, the batch's by the API.
    const hashes = new Map();
    for (const f of files.filter((x) => x.state === "ready")) {
      f.state = "hashing";
      drawRow(f);
      f.sha = await sha256(f.file);
      if (gone) return;
      const twin = hashes.get(f.sha);
      Object.assign(f, twin ? { state: "skipped", reason: `the same file as ${twin}` } : { state: "ready" });
      if (!twin) hashes.set(f.sha, f.name);
      drawRow(f);
    }
    drawActions();
  }

  async function readCsv(file) {
    csv = file ? readMetadataCsv(await file.text()) : null;
    applyCsv();
    drawTable();
    drawActions();
  }

  function applyCsv() {
    replace(csvReport);
    if (!csv) return;
    if (csv.problems.length) {
      replace(csvReport, h("div", { class: "form-error", role: "alert" },
        h("strong", { text: `The CSV has ${csv.problems.length} problem${csv.problems.length === 1 ? "" : "s"}; fix them and choose it again.` }),
        h("ul", {}, csv.problems.slice(0, 50).map((p) => h("li", { text: `row ${p.row}${p.column ? `, ${p.column}` : ""}: ${p.message}` })))));
      return;
    }
    const named = files.filter((f) => csv.byName.has(f.name)).length;
    replace(csvReport, h("p", { class: "muted", text: `Metadata for ${csv.byName.size} file${csv.byName.size === 1 ? "" : "s"}${files.length ? `; ${named} of them in the folder` : ""}.` }));
  }

  function defaults() {
    if (!form.elements.namedItem("batch_name")) return { metadata: {}, problems: [] };
    const value = (name) => form.elements.namedItem(name)?.value || "";
    return checkValues(Object.fromEntries(["age_months", "sex", "session_type", "pseudonym", "acquisition_date", "source_institution"].map((k) => [k, value(k)])));
  }

  // ------------------------------------------------------------------ sending

  async function start() {
    hideError();
    if (running) return;
    if (csv?.problems.length) return showError("The metadata CSV has problems", csv.problems.map((p) => `row ${p.row}, ${p.column}: ${p.message}`));
    const toSend = files.filter((f) => f.state === "ready" || f.state === "failed");
    if (!toSend.length) return showError("Nothing to send", ["Choose a folder with JPEG or PNG images first."]);
    running = true;
    drawActions();
    try {
      const memory = batchId ? new UploadMemory(batchId) : null;
      if (!batchId) {
        const checked = defaults();
        if (checked.problems.length) return showError("The batch's metadata has problems", checked.problems.map((p) => `${p.column}: ${p.message}`));
        await createBatch(toSend, checked.metadata);
      }
      const mem = memory || new UploadMemory(batchId);
      for (const f of toSend) Object.assign(f, { state: "waiting", progress: 0, reason: null });
      drawTable();
      await pool(toSend, PARALLEL, (f) => send(f, mem));
    } catch (error) {
      if (!gone) showProblem(error);
    } finally {
      running = false;
      if (!gone) {
        drawActions();
        follow();
      }
    }
  }

  async function createBatch(toSend, imageDefaults) {
    const value = (name) => form.elements.namedItem(name).value;
    const [first, ...rest] = chunks(toSend, CHUNK);
    const created = await api.post("/batches", {
      body: {
        batch_name: value("batch_name").trim(),
        description: value("description").trim() || null,
        keypoint_schema_id: Number(value("keypoint_schema_id")) || null,
        processing_priority: Number(value("processing_priority")),
        image_defaults: Object.keys(imageDefaults).length ? imageDefaults : null,
        uploads: { files: first.map(entryOf) },
      },
    });
    batch = created.batch;
    batchId = batch.id;
    const memory = new UploadMemory(batchId);
    memory.save(); // the batch is unfinished from now on, even before a file is sent
    // The URL names the batch from now on (a reload resumes it) without remounting this view.
    history.replaceState(null, "", `#/admin/upload/${batchId}`);
    keepForms(memory, first, created.uploads);
    // Every form now: the batch then expects every file, so the pipeline does not start early.
    for (const part of rest) keepForms(memory, part, await api.post(`/batches/${batchId}/uploads`, { body: { files: part.map(entryOf) } }));
    replace(body.firstElementChild, ...pageHead(batch.batch_name, `Batch #${batch.id}`, statusPill(batch.status)).childNodes);
    body.insertBefore(summary, form);
    for (const el of Array.from(form.children)) if (![errorBox, table, actions].includes(el)) el.remove();
  }

  function keepForms(memory, part, forms) {
    part.forEach((f, i) => {
      const issued = forms[i];
      f.form = issued;
      f.slot = slotOf(issued.key);
      memory.remember(f.name, { sha256: f.sha, size: f.size, slot: f.slot, form: issued, sent: false });
    });
  }

  function entryOf(f) {
    const own = csv?.byName.get(f.name) || {};
    return { filename: f.name, size: f.size, sha256: f.sha, ...own };
  }

  async function send(f, memory) {
    if (gone) return;
    try {
      const form = await postWithRetry(
        async () => {
          // The form kept for this file (in memory or, after a reload, in localStorage) unless it
          // expired; otherwise a new one (the API checks the hash again).
          f.form = f.formExpired ? null : usable(f.form) ? f.form : memory.form(f.name);
          if (f.form) return f.form;
          const [issued] = await api.post(`/batches/${batchId}/uploads`, { body: { files: [entryOf(f)] } });
          Object.assign(f, { form: issued, formExpired: false, slot: slotOf(issued.key) });
          memory.remember(f.name, { sha256: f.sha, size: f.size, slot: f.slot, form: issued, sent: false });
          return issued;
        },
        f.file,
        {
          signal: controller.signal,
          onProgress: (fraction) => {
            f.state = "uploading";
            f.progress = fraction;
            drawRow(f);
          },
          onRetry: (attempt, delay, error) => {
            if (error.expired) f.formExpired = true;
            Object.assign(f, { state: "retrying", reason: `${error.message}; try ${attempt + 1} in ${Math.round(delay / 100) / 10} s` });
            drawRow(f);
          },
        },
      );
      f.slot = slotOf(form.key);
      memory.remember(f.name, { sent: true, slot: f.slot, form: null });
      Object.assign(f, { state: "sent", progress: 1, reason: null });
      follow(); // registration is the trigger's: ask for it while the others are still going
    } catch (error) {
      if (error instanceof ApiError && error.problem.type?.endsWith("/duplicate-upload")) {
        const original = error.problem.context?.original_image_id;
        Object.assign(f, { state: "rejected", reason: original ? `duplicate of image ${original}` : error.problem.detail || "a duplicate" });
        memory.remember(f.name, { sent: false, form: null, rejected: f.reason });
      } else if (error instanceof ApiError) {
        Object.assign(f, { state: "failed", reason: error.problem.detail || error.title });
      } else if (error instanceof TransferError) {
        Object.assign(f, { state: "failed", reason: error.message });
      } else throw error;
    }
    if (!gone) {
      drawRow(f);
      drawActions();
    }
  }

  /** Ask the upload report until every sent file is registered or rejected (the trigger's verdict). */
  async function follow() {
    if (!batchId || following) return;
    following = true;
    const deadline = Date.now() + REGISTRATION_WAIT_MS;
    try {
      while (!gone) {
        const report = await loadReport();
        if (gone || !report) return;
        applyReport(report);
        if (!files.some((f) => f.state === "sent") || Date.now() > deadline) return;
        await sleep(POLL_MS);
      }
    } finally {
      following = false;
    }
  }
  let following = false;

  function applyReport(report) {
    for (const r of report.files) {
      const f = files.find((x) => x.slot === r.slot) || files.find((x) => x.name === r.filename && !x.slot);
      if (f) Object.assign(f, { state: r.state, reason: reasonOf(r), progress: 1, slot: r.slot });
      else files.push({ name: r.filename, size: null, state: r.state, reason: reasonOf(r), slot: r.slot, progress: 1 });
    }
    drawTable();
    drawSummary(report);
    drawActions();
  }

  async function complete() {
    const detail = await api.post(`/batches/${batchId}/complete`);
    new UploadMemory(batchId).forget();
    batch = detail;
    notify(`${detail.batch_name}: upload complete`, "success", `${detail.total_images} image${detail.total_images === 1 ? "" : "s"}; pre-annotation starts.`);
    await openBatch();
  }

  // ------------------------------------------------------------------ drawing

  function drawTable() {
    if (!files.length) return replace(table);
    replace(table, h("div", { class: "table-wrap" },
      h("table", { class: "data upload-table", "aria-label": "Files" },
        h("thead", {}, h("tr", {}, ["File", "Size", "State", "Progress"].map((label) => h("th", { scope: "col", text: label })))),
        h("tbody", {}, files.map((f) => {
          f.row = h("tr", { dataset: { file: f.name } });
          fillRow(f);
          return f.row;
        })))));
  }

  function drawRow(f) {
    if (f.row) fillRow(f);
  }

  function fillRow(f) {
    f.row.dataset.state = f.state;
    const percent = Math.round((f.progress || 0) * 100);
    replace(f.row,
      h("td", { class: "file-name" }, h("span", { class: "truncate", title: f.name, text: f.name })),
      h("td", { class: "num", text: f.size == null ? "—" : sizeText(f.size) }),
      h("td", { class: "file-state" }, statusPill(STATE_CODE[f.state] || "INFO", STATE_TEXT[f.state] || f.state),
        f.reason ? h("div", { class: "muted reason", dataset: { testid: "reason" }, text: f.reason }) : null),
      h("td", {}, h("div", { class: "progress", role: "progressbar", "aria-label": `${f.name} sent`, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": percent },
        h("span", { style: { width: `${percent}%`, background: f.state === "failed" || f.state === "rejected" ? "#ef6461" : "var(--accent)" } }))));
  }

  function drawSummary(report) {
    replace(summary, h("div", { class: "row upload-counts" },
      h("span", {}, h("strong", { text: String(report.registered) }), " registered"),
      h("span", {}, h("strong", { text: String(report.rejected) }), " rejected"),
      h("span", {}, h("strong", { text: String(report.expected) }), " expected")));
  }

  function drawActions() {
    const ready = files.filter((f) => f.state === "ready" || f.state === "failed").length;
    const registered = files.filter((f) => f.state === "registered").length;
    const open = uploadsOpen(batch);
    replace(actions,
      open && (ready || running || form.contains(drop)) ? h("button", { class: "btn btn-primary", type: "button", disabled: running || !ready, onclick: start, dataset: { testid: "send" },
        text: running ? "Sending…" : batchId ? `Send ${ready} file${ready === 1 ? "" : "s"}` : `Create the batch and send ${ready} file${ready === 1 ? "" : "s"}` }) : null,
      batchId && open ? h("button", { class: "btn", type: "button", disabled: running || !registered, title: "Every file is in: start pre-annotation with what arrived",
        text: "Complete upload", onclick: () => complete().catch((error) => showProblem(error)) }) : null,
      batchId ? h("a", { class: "btn", href: `#/admin/batches/${batchId}`, text: "The batch's images" }) : null);
  }

  function showProblem(error) {
    if (error instanceof ApiError) showError(error.title, error.fieldErrors.length ? error.fieldErrors.map((e) => `${e.location}: ${e.message}`) : [error.problem.detail || ""]);
    else showError("Something went wrong", [error?.message || String(error)]);
  }

  function showError(title, lines) {
    errorBox.hidden = false;
    replace(errorBox, h("strong", { text: title }), h("ul", {}, lines.filter(Boolean).map((line) => h("li", { text: line }))));
    errorBox.scrollIntoView?.({ block: "nearest" });
  }

  function hideError() {
    errorBox.hidden = true;
    replace(errorBox);
  }

  return {
    unmount() {
      gone = true;
      controller.abort();
      window.removeEventListener("beforeunload", beforeUnload);
    },
  };
}

const STATE_CODE = { registered: "SUCCEEDED", rejected: "REJECTED", failed: "FAILED", skipped: "REJECTED", uploading: "RUNNING", retrying: "PENDING", sent: "PENDING", waiting: "PENDING", hashing: "PENDING" };

function reasonOf(report) {
  if (report.state === "rejected" && report.duplicate_of && !/image \d+/.test(report.reason || "")) return `duplicate of image ${report.duplicate_of}`;
  return report.reason || null;
}

/** incoming/<batch>/<slot>/<name> → <slot> */
/** Files may still be sent: no batch yet, or one still UPLOADED whose pipeline was not started. */
function uploadsOpen(batch) {
  return !batch || (batch.status === "UPLOADED" && !batch.pipeline_run);
}

function usable(form) {
  return form && Date.parse(form.expires_at) - Date.now() > 60e3 ? form : null;
}

function slotOf(key) {
  return String(key).split("/")[2] || null;
}

function chunks(list, size) {
  const out = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1048576) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

/** Files of a drop, folders walked (webkitGetAsEntry), or the plain file list. */
async function droppedFiles(transfer) {
  const entries = Array.from(transfer.items || []).map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return Array.from(transfer.files || []);
  const out = [];
  const walk = async (entry) => {
    if (entry.isFile) out.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const entry of entries) await walk(entry);
  return out;
}
