// One dataset: what it is, its splits and statistics as charts, and its exports (start one,
// follow its packing — the URL holds its id, so a reload keeps following — and download it).

import { h, replace, fmtDateTime, humanize } from "../../dom.js";
import { horizontalBars } from "../../charts.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, pageHead, statusPill } from "../admin/common.js";
import { termBadges } from "./catalogue.js";
import { collectionPanel, follow, formatName, setQuery, fmtBytes } from "./jobs.js";

const SPLIT_COLOURS = { train: "#5fd4c4", validation: "#8fb4ff", test: "#ffb86b" };

export function mountDataset(root, ctx, datasetId, route) {
  const api = ctx.api;
  const stops = [];
  const head = h("div", {});
  const summary = h("div", { class: "muted", text: "Loading…" });
  const job = h("div", { dataset: { testid: "export-job" } });
  const exports = h("div", {});
  const format = h("select", { name: "format", "aria-label": "Export format" },
    h("option", { value: "COCO_KEYPOINTS", text: "COCO keypoints (ZIP)" }), h("option", { value: "YOLO_POSE", text: "YOLO pose (ZIP)" }));
  const unusable = h("input", { type: "checkbox", name: "include_unusable" });
  const exportForm = h("form", { class: "filters", "aria-label": "Export" },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Format" }), format),
    h("label", { class: "check" }, unusable, " Include images judged unusable"),
    h("button", { class: "btn btn-primary", type: "submit", text: "Export" }));
  exportForm.addEventListener("submit", (event) => {
    event.preventDefault();
    startExport();
  });
  const charts = h("div", {});
  root.append(head, summary,
    h("section", { class: "card", style: { marginBottom: "1rem" } }, h("h2", {}, "Export", h("span", { class: "muted", text: "a ZIP of the images and keypoints with their splits, packed in the background" })),
      exportForm, job),
    charts,
    h("h2", { class: "section-title", text: "Exports of this dataset" }), exports);

  const load = guarded(async () => {
    const d = await api.get(`/datasets/${datasetId}`);
    replace(head, pageHead(d.name, `${humanize(d.origin)} dataset #${d.id} · made ${fmtDateTime(d.created_at)}`,
      h("a", { class: "btn", href: "#/datasets", text: "All datasets" })));
    const splits = [["train", d.train_count], ["validation", d.validation_count], ["test", d.test_count]];
    replace(summary,
      h("div", { class: "kpis" },
        kpi(String(d.num_images), "images"),
        splits.map(([s, n]) => kpi(String(n), `${s} images`)),
        kpi(`seed ${d.split_seed}`, `grouped by ${d.group_by === "batch" ? "batch" : "infant"}${d.stratify_by ? `, stratified by ${d.stratify_by}` : ""}`)));
    replace(charts,
      h("div", { class: "cards cards-2" },
        h("section", { class: "card", dataset: { chart: "splits" } }, h("h2", {}, "Images per split"),
          horizontalBars(splits.map(([s, n]) => ({ label: s, value: n, color: SPLIT_COLOURS[s] })), { title: "Images per split", max: Math.max(1, d.num_images) })),
        h("section", { class: "card" }, h("h2", {}, "Description"),
          h("p", { class: "prewrap", text: d.description || "No description." }),
          termBadges(d.catalogue),
          d.source_url ? h("p", {}, h("a", { href: d.source_url, rel: "noopener noreferrer", target: "_blank", class: "truncate", text: d.source_url })) : null,
          h("p", { class: "muted", text: `Filters: ${describeFilters(d.filters)}` }))),
      h("div", { dataset: { testid: "dataset-stats" } }));
    loadStats(charts.lastElementChild);
  }, "Dataset");

  // Per-joint visibility and ages come from the statistics route; a server without it only loses these charts.
  const loadStats = async (into) => {
    let stats;
    try {
      stats = await api.get(`/datasets/${datasetId}/statistics`);
    } catch (error) {
      replace(into, h("p", { class: "muted", text: `Statistics unavailable: ${error.message}` }));
      return;
    }
    const joints = stats.keypoint_visibility || [];
    const ages = stats.age_months || [];
    replace(into, h("div", { class: "cards cards-2", style: { marginTop: "1rem" } },
      h("section", { class: "card", dataset: { chart: "visibility" } }, h("h2", {}, "Visibility per joint", h("span", { class: "muted", text: "visible / occluded / absent" })),
        stackedVisibility(joints)),
      h("section", { class: "card", dataset: { chart: "ages" } }, h("h2", {}, "Ages", h("span", { class: "muted", text: `months; ${stats.age_unknown || 0} without an age` })),
        ages.length
          ? horizontalBars(ages.map((a) => ({ label: a.band, value: a.images, color: "#8fb4ff" })), { title: "Images per age band (months)" })
          : h("div", { class: "chart-empty", text: "No image of this dataset has an age." }))));
  };

  const loadExports = guarded(async () => {
    const page = await api.get("/collections", { query: { dataset_id: datasetId, limit: 50 } });
    replace(exports, dataTable(
      [
        { label: "Export", className: "cell-wrap", render: (c) => h("a", { href: `#/datasets/${datasetId}?export=${c.id}`, onclick: (e) => { e.preventDefault(); followExport(c.id); } }, h("span", { class: "truncate", title: c.name, text: c.name })) },
        { label: "Format", render: (c) => formatName(c.format) },
        { label: "Status", render: (c) => statusPill(c.status) },
        { label: "Images", num: true, render: (c) => String(c.num_images) },
        { label: "Size", num: true, render: (c) => fmtBytes(c.size_bytes) },
        { label: "Asked", render: (c) => fmtDateTime(c.created_at) },
      ],
      page.items, { empty: "Not exported yet.", label: "Exports" }));
  }, "Exports");

  async function startExport() {
    const button = exportForm.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const made = await api.post(`/datasets/${datasetId}/exports`, { body: { format: format.value, include_unusable: unusable.checked } });
      notify(`Export #${made.id} asked: ${made.num_images} images`, "success");
      followExport(made.id);
      loadExports();
    } catch (error) {
      replace(job, h("p", { class: "error-text", role: "alert", text: error.message }));
    } finally {
      button.disabled = false;
    }
  }

  function followExport(id) {
    setQuery("export", id);
    stops.splice(0).forEach((stop) => stop());
    const started = Date.now();
    let last = null;
    stops.push(follow(() => api.get(`/collections/${id}`), (c) => c.status !== "PENDING", (c) => {
      replace(job, collectionPanel(c, started));
      if (last === "PENDING" && c.status !== "PENDING") loadExports();
      last = c.status;
    }, { context: `Export #${id}` }));
  }

  load();
  loadExports();
  const followed = Number(route.query.get("export"));
  if (followed > 0) followExport(followed);
  return { unmount: () => stops.forEach((stop) => stop()) };
}

const VISIBILITY = [["visible", "#5fd4c4"], ["occluded", "#f0b44c"], ["absent", "#4a5d70"]];

/** One bar per joint, split into visible / occluded / absent (the same bar look as the batches' progress). */
function stackedVisibility(joints) {
  if (!joints.length) return h("div", { class: "chart-empty", text: "No keypoints." });
  return h("div", { class: "stack", style: { gap: ".3rem" }, role: "table", "aria-label": "Visibility per joint" },
    joints.map((j) => h("div", { class: "joint-row", role: "row", title: `${j.name}: ${j.visible} visible, ${j.occluded} occluded, ${j.absent} absent` },
      h("span", { class: "joint-name", role: "rowheader", text: j.name.replaceAll("_", " ") }),
      h("div", { class: "progress", role: "cell" }, VISIBILITY.map(([key, colour]) => (j[key] ? h("span", { style: { width: `${(100 * j[key]) / Math.max(1, j.images)}%`, background: colour } }) : null))),
      h("span", { class: "muted joint-count", role: "cell", text: `${j.visible}/${j.images}` }))),
    h("div", { class: "legend" }, VISIBILITY.map(([key, colour]) => h("span", {}, h("i", { style: { background: colour } }), key))));
}

function kpi(value, label) {
  return h("div", { class: "kpi" }, h("b", { text: value }), h("span", { text: label }));
}

function describeFilters(filters) {
  const parts = Object.entries(filters || {}).filter(([, v]) => v !== null && v !== false && !(Array.isArray(v) && !v.length))
    .map(([k, v]) => `${humanize(k)}: ${Array.isArray(v) ? v.join(", ") : typeof v === "object" ? JSON.stringify(v) : v}`);
  return parts.length ? parts.join(" · ") : "all verified images of the schema";
}
