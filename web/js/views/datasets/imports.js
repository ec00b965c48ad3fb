// Imports (admins): a COCO keypoints or YOLO pose ZIP goes up through a presigned form, is checked
// whole (a 422 names the first broken record), then imported in the background as a batch and an
// IMPORTED dataset. The URL holds the import's id, so a reload keeps following it.

import { h, replace, fmtDateTime } from "../../dom.js";
import { notify } from "../../ui/notices.js";
import { pageHead, statusPill } from "../admin/common.js";
import { fmtBytes, follow, setQuery } from "./jobs.js";

export function mountImports(root, ctx, route) {
  const api = ctx.api;
  let stop = () => {};
  const file = h("input", { type: "file", name: "archive", accept: ".zip,application/zip", required: true });
  const form = h("form", { class: "stack", "aria-label": "Import an archive" },
    h("div", { class: "form-grid" },
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Name" }), h("input", { name: "name", required: true, maxlength: 255 })),
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Source URL" }), h("input", { name: "source_url", type: "url", maxlength: 2000 })),
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Archive (ZIP)" }), file)),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Description" }), h("textarea", { name: "description", rows: 2, maxlength: 5000 })),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "resplit" }), " Deal new splits (ignore the archive's own train / validation / test)"),
    h("div", { class: "row" }, h("button", { class: "btn btn-primary", type: "submit", text: "Upload and import" })));
  const state = h("div", { dataset: { testid: "import-job" }, "aria-live": "polite" });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (form.reportValidity()) start();
  });
  root.append(pageHead("Imports", "Bring a COCO keypoints or YOLO pose archive in for review: it becomes a batch and an IMPORTED dataset."),
    h("section", { class: "card" }, form), h("div", { style: { marginTop: "1rem" } }, state));

  const progress = (fraction, text) => h("section", { class: "card job-card" },
    h("div", { class: "progress", role: "progressbar", "aria-valuenow": String(Math.round(fraction * 100)), "aria-valuemin": "0", "aria-valuemax": "100" },
      h("span", { style: { width: `${Math.round(fraction * 100)}%`, background: "var(--accent)" } })),
    h("p", { class: "muted", text }));

  async function start() {
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    stop();
    try {
      const archive = file.files[0];
      const value = (name) => form.elements[name].value || null;
      const made = await api.post("/dataset-imports", {
        body: { name: value("name"), description: value("description"), source_url: value("source_url"), resplit: form.elements.resplit.checked, size: archive.size },
      });
      setQuery("import", made.id);
      await upload(made.upload, archive, (done) => replace(state, progress(done / archive.size, `Uploading ${fmtBytes(done)} of ${fmtBytes(archive.size)}…`)));
      replace(state, progress(1, "Checking every record of the archive…"));
      await api.post(`/dataset-imports/${made.id}/start`);
      notify(`Import #${made.id} started`, "success");
      watch(made.id);
    } catch (error) {
      replace(state, h("section", { class: "card job-card", dataset: { status: "FAILED" } }, h("h2", { text: "The import did not start" }), h("p", { class: "error-text", role: "alert", text: error.message })));
    } finally {
      button.disabled = false;
    }
  }

  function watch(id) {
    stop();
    const started = Date.now();
    stop = follow(() => api.get(`/dataset-imports/${id}`), (i) => ["COMPLETED", "FAILED"].includes(i.status), (i) => replace(state, panel(i, started)), { context: `Import #${id}` });
  }

  function panel(i, started) {
    const body = [];
    if (i.status === "AWAITING_UPLOAD") body.push(h("p", { class: "muted", text: "The archive was never uploaded (the page was left during the upload). Upload it again as a new import." }));
    if (i.status === "PENDING") {
      body.push(h("div", { class: "progress indeterminate", role: "progressbar", "aria-label": "Importing" }, h("span", {})),
        h("p", { class: "muted", text: `Importing ${fmtBytes(i.archive_size)}… (${Math.round((Date.now() - started) / 1000)} s; this page can be reloaded, it keeps following)` }));
    }
    if (i.status === "COMPLETED") {
      body.push(h("p", {}, `${i.images_imported} images and ${i.annotations_imported} annotations imported ${fmtDateTime(i.finished_at)}.`),
        h("div", { class: "row" },
          i.dataset_id ? h("a", { class: "btn btn-primary", href: `#/datasets/${i.dataset_id}`, text: "Open the dataset" }) : null,
          i.batch_id && ctx.me.role === "ADMIN" ? h("a", { class: "btn", href: `#/admin/batches/${i.batch_id}`, text: "Open the batch" }) : null));
    }
    if (i.status === "FAILED") body.push(h("p", { class: "error-text", role: "alert", text: i.error_message || "The import failed; nothing was imported." }));
    return h("section", { class: "card job-card", dataset: { import: String(i.id), status: i.status } },
      h("h2", {}, h("span", { class: "truncate", title: i.name, text: `Import #${i.id}: ${i.name}` }), statusPill(i.status)), body);
  }

  const followed = Number(route.query.get("import"));
  if (followed > 0) watch(followed);
  return { unmount: () => stop() };
}

/** POST the file with the presigned form's fields (the file last, as S3 wants), reporting progress. */
function upload(form, archive, onProgress) {
  return new Promise((resolve, reject) => {
    const data = new FormData();
    for (const [key, value] of Object.entries(form.fields)) data.append(key, value);
    data.append("file", archive, form.filename);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.url);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new Error(`The upload was refused (${xhr.status}): ${s3Message(xhr.responseText)}`)));
    xhr.onerror = () => reject(new Error("The upload did not reach the storage. Check your connection."));
    xhr.send(data);
  });
}

function s3Message(xml) {
  const match = /<Message>([^<]*)<\/Message>/.exec(xml || "");
  return match ? match[1] : "no detail";
}
