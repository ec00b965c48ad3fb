// Collections: a query over the catalogue's verified images, packed as a ZIP in the background.
// Exports of datasets are collections too, so they are all listed here.

import { h, replace, fmtDateTime } from "../../dom.js";
import { openDialog } from "../../ui/dialog.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, latestOnly, pageHead, pager, statusPill } from "../admin/common.js";
import { imageFilterFields, readImageFilters, termSelect, vocabularies } from "./forms.js";
import { collectionPanel, fmtBytes, follow, formatName, setQuery } from "./jobs.js";

export function mountCollections(root, ctx, route) {
  const api = ctx.api;
  let items = [];
  let cursor = null;
  let stop = () => {};
  const status = h("select", { "aria-label": "Collection status" }, h("option", { value: "", text: "Any status" }),
    ["PENDING", "READY", "FAILED", "EXPIRED"].map((s) => h("option", { value: s, text: s.toLowerCase() })));
  status.addEventListener("change", () => load(true));
  const job = h("div", { dataset: { testid: "collection-job" } });
  const list = h("div", {}, h("div", { class: "muted", text: "Loading…" }));
  const more = h("div", {});
  root.append(
    pageHead("Collections and exports", ctx.me.role === "ADMIN" ? "Everyone's collections, newest first." : "Your collections, newest first.",
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Status" }), status),
      h("button", { class: "btn btn-primary", type: "button", text: "New collection…", onclick: guarded(create, "New collection") })),
    job, list, more);

  const begin = latestOnly();
  const load = guarded(async (reset = true) => {
    const fresh = begin();
    if (reset) {
      items = [];
      cursor = null;
    }
    const page = await api.get("/collections", { query: { status: status.value, cursor, limit: 25 } });
    if (!fresh()) return;
    items.push(...page.items);
    cursor = page.next_cursor;
    replace(list, dataTable(
      [
        { label: "Collection", className: "cell-wrap", render: (c) => h("div", {},
          h("a", { href: `#/datasets/collections?collection=${c.id}`, onclick: (e) => { e.preventDefault(); watch(c.id); } }, h("strong", { class: "truncate", title: c.name, text: c.name })),
          c.query_text ? h("div", { class: "muted truncate", title: c.query_text, text: `“${c.query_text}”` }) : null) },
        { label: "Dataset", render: (c) => (c.dataset_id ? h("a", { href: `#/datasets/${c.dataset_id}`, text: `#${c.dataset_id}` }) : "—") },
        { label: "Format", render: (c) => formatName(c.format) },
        { label: "Status", render: (c) => statusPill(c.status) },
        { label: "Images", num: true, render: (c) => String(c.num_images) },
        { label: "Size", num: true, render: (c) => fmtBytes(c.size_bytes) },
        { label: "Asked", render: (c) => fmtDateTime(c.created_at) },
      ],
      items, { empty: "No collection yet.", label: "Collections" }));
    replace(more, cursor ? pager(async () => { await load(false); return Boolean(cursor); }) : null);
  }, "Collections");

  function watch(id) {
    setQuery("collection", id);
    stop();
    const started = Date.now();
    let last = null;
    stop = follow(() => api.get(`/collections/${id}`), (c) => c.status !== "PENDING", (c) => {
      replace(job, collectionPanel(c, started));
      if (last === "PENDING" && c.status !== "PENDING") load(true);
      last = c.status;
    }, { context: `Collection #${id}` });
  }

  async function create() {
    const [schemas, vocab] = await Promise.all([api.all("/schemas", { active: true }), vocabularies(api)]);
    const body = h("div", { class: "stack" },
      h("div", { class: "form-grid" },
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Name" }), h("input", { name: "name", required: true, maxlength: 255 })),
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Keypoint schema" }),
          h("select", { name: "keypoint_schema_id", required: true }, schemas.map((s) => h("option", { value: String(s.id), text: s.name })))),
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Format" }),
          h("select", { name: "format" }, h("option", { value: "COCO_KEYPOINTS", text: "COCO keypoints" }), h("option", { value: "YOLO_POSE", text: "YOLO pose" })))),
      h("fieldset", { class: "form-grid" }, h("legend", { text: "Within the datasets the catalogue finds" }),
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Free text" }), h("input", { name: "query_text", maxlength: 200 })),
        termSelect(vocab, "ANATOMICAL_AREA", "anatomical_area", "Anatomical area"),
        termSelect(vocab, "MODALITY", "modality", "Modality"),
        termSelect(vocab, "TASK_TYPE", "task_type", "Task"),
        termSelect(vocab, "TAG", "tag", "Tag")),
      h("fieldset", { class: "stack" }, h("legend", { text: "Which verified images" }), imageFilterFields()));
    const answer = await openDialog({ title: "New collection", body, className: "dialog-wide",
      actions: [{ label: "Cancel", value: null }, { label: "Make the collection", kind: "primary", submit: true }] });
    if (!answer) return;
    const value = (name) => body.querySelector(`[name="${name}"]`).value || null;
    const made = await api.post("/collections", {
      body: {
        name: value("name"),
        keypoint_schema_id: Number(value("keypoint_schema_id")),
        format: value("format"),
        query: {
          query_text: value("query_text"), anatomical_area: value("anatomical_area"), modality: value("modality"),
          task_type: value("task_type"), tag: value("tag"), filters: readImageFilters(body),
        },
      },
    });
    notify(`Collection #${made.id} asked: ${made.num_images} images`, "success");
    await load(true);
    watch(made.id);
  }

  load();
  const followed = Number(route.query.get("collection"));
  if (followed > 0) watch(followed);
  return { unmount: () => stop() };
}
