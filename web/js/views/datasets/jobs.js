// Following background work (a collection being packed, an archive being imported): the page
// polls its record until it settles; the record's id is in the URL, so a reload follows it again.

import { h, replace, fmtDateTime, humanize } from "../../dom.js";
import { notifyError } from "../../ui/notices.js";
import { statusPill } from "../admin/common.js";

/** Poll `load()` every `everyMs` until `settled(record)`; `draw(record)` after each answer. */
export function follow(load, settled, draw, { everyMs = 1000, context = "" } = {}) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    try {
      const record = await load();
      if (stopped) return;
      draw(record);
      if (settled(record)) return;
    } catch (error) {
      if (stopped) return;
      notifyError(error, context);
      return; // a 404 or a 403 will not get better by asking again
    }
    timer = setTimeout(tick, everyMs);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Keep `key=value` in the current hash's query without a new route (no re-render). */
export function setQuery(key, value) {
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  const query = new URLSearchParams(search);
  if (value === null || value === undefined) query.delete(key);
  else query.set(key, String(value));
  const text = query.toString();
  history.replaceState(null, "", `#${path}${text ? `?${text}` : ""}`);
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const FORMAT = { COCO_KEYPOINTS: "COCO keypoints", YOLO_POSE: "YOLO pose" };
export const formatName = (f) => FORMAT[f] || humanize(f);

/** The state of one collection (an export is one): packing, ready with its download, failed. */
export function collectionPanel(c, started) {
  const body = [];
  if (c.status === "PENDING") {
    const seconds = Math.max(0, Math.round((Date.now() - started) / 1000));
    body.push(h("div", { class: "progress indeterminate", role: "progressbar", "aria-label": "Packing" }, h("span", {})),
      h("p", { class: "muted", text: `Packing ${c.num_images} images as ${formatName(c.format)}… (${seconds} s; this page can be reloaded, it keeps following)` }));
  } else if (c.status === "READY") {
    body.push(h("p", {}, `${c.num_images} images, ${fmtBytes(c.size_bytes)}, ready ${fmtDateTime(c.ready_at)}; kept until ${fmtDateTime(c.expires_at)}.`),
      c.download_url
        ? h("a", { class: "btn btn-primary", href: c.download_url, download: `collection-${c.id}.zip`, dataset: { download: String(c.id) }, text: "Download ZIP" })
        : null,
      h("p", { class: "muted", text: "The link is valid for a few minutes; reopen this page for a fresh one." }));
  } else if (c.status === "FAILED") {
    body.push(h("p", { class: "error-text", text: c.error_message || "Packing failed." }));
  } else {
    body.push(h("p", { class: "muted", text: "The archive's retention is over; it was deleted. Export again for a new one." }));
  }
  return h("section", { class: "card job-card", dataset: { collection: String(c.id), status: c.status } },
    h("h2", {}, h("span", { class: "truncate", title: c.name, text: c.name }), statusPill(c.status)),
    body);
}

