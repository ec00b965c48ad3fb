// Analysis reports (#/research/reports): ask for a posture report on one image, follow its stages
// (#/research/reports/<job id> polls the job, so a reload picks up where it was), then read it:
// the overlay, the findings, the report with its cited reference notes, and the HTML/PDF downloads.

import { h, replace, fmtDateTime, humanize } from "../../dom.js";
import { go } from "../../router.js";
import { guarded, notify } from "../../ui/notices.js";
import { ApiError } from "../../api.js";
import { dataTable, pageHead, pager, statusPill } from "../admin/common.js";

const STAGES = ["uploaded", "segmenting", "converting", "enhancing", "completed"];
const POLL_MS = 1500;

export function mountReports(root, ctx, route) {
  const jobId = route.parts[2];
  return jobId ? mountReport(root, ctx, jobId) : mountList(root, ctx, route);
}

function pill(status) {
  const code = { completed: "COMPLETED", failed: "FAILED" }[status] || "RUNNING";
  return statusPill(code, humanize(status));
}

function mountList(root, ctx, route) {
  const api = ctx.api;
  const imageInput = h("input", { type: "number", min: 1, id: "report-image", required: true, value: route.query.get("image") || "" });
  const annotationInput = h("input", { type: "number", min: 1, id: "report-annotation", placeholder: "latest verified" });
  const list = h("div", { dataset: { testid: "reports" } }, h("div", { class: "empty", text: "Loading the analyses…" }));
  let items = [];
  let cursor = null;
  root.append(
    pageHead("Analysis reports", "A posture report on one image: segmentation, keypoints, findings and the reference notes they cite. A research aid, not a diagnosis."),
    h("form", {
      class: "row gap filters",
      onsubmit: (event) => {
        event.preventDefault();
        request();
      },
    },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Image id" }), imageInput),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Annotation id (optional)" }), annotationInput),
    h("button", { class: "btn btn-primary", type: "submit", text: "Start analysis" })),
    h("h2", { text: "Analyses" }),
    list,
  );

  const request = guarded(async () => {
    const body = { image_id: Number(imageInput.value) };
    if (annotationInput.value) body.annotation_id = Number(annotationInput.value);
    const job = await api.post("/analyses", { body });
    notify(`Analysis of image #${job.image_id} started.`, "success");
    go(`/research/reports/${job.job_id}`);
  }, "Start analysis");

  async function more() {
    const page = await api.get("/analyses", { query: { cursor, limit: 50 } });
    items.push(...page.items);
    cursor = page.next_cursor;
    draw();
    return Boolean(cursor);
  }

  function draw() {
    replace(list,
      dataTable(
        [
          { label: "Image", render: (j) => `#${j.image_id}` },
          { label: "Status", render: (j) => pill(j.status) },
          { label: "Failed stage", render: (j) => j.failed_stage || "—" },
          { label: "Requested", render: (j) => fmtDateTime(j.created_at) },
          { label: "", render: (j) => h("a", { class: "btn btn-small", href: `#/research/reports/${j.job_id}`, text: j.status === "completed" ? "Read" : "Follow" }) },
        ],
        items,
        { empty: "No analysis yet: start one above.", label: "Analyses", rowAttrs: (j) => ({ dataset: { job: j.job_id } }) },
      ),
      cursor ? pager(more) : null);
  }

  guarded(more, "Analyses")();
  return { unmount() {} };
}

function mountReport(root, ctx, jobId) {
  const api = ctx.api;
  const stages = h("ol", { class: "stages", "aria-label": "Stages", dataset: { testid: "stages" } });
  const body = h("div", { class: "stack" }, h("div", { class: "empty", text: "Loading the analysis…" }));
  let timer = null;
  let gone = false;
  root.append(
    pageHead("Analysis report", `Job ${jobId}`, h("a", { class: "btn", href: "#/research/reports", text: "Back to analyses" })),
    stages,
    body,
  );

  function drawStages(job) {
    const at = job.status === "failed" ? STAGES.indexOf(job.failed_stage) : STAGES.indexOf(job.status);
    replace(stages, STAGES.map((stage, i) => {
      const state = job.status === "failed" && i === at ? "failed" : i < at || job.status === "completed" ? "done" : i === at ? "current" : "todo";
      return h("li", { class: ["stage", `stage-${state}`], dataset: { stage, state }, "aria-current": state === "current" ? "step" : null, text: humanize(stage) });
    }));
  }

  async function poll() {
    if (gone) return;
    let job;
    try {
      job = await api.get(`/analyses/${jobId}`);
    } catch (error) {
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
        replace(body, h("div", { class: "empty form-error", role: "alert", text: error.message }));
        return;
      }
      throw error;
    }
    if (gone) return;
    drawStages(job);
    if (job.status === "completed") return drawReport(job);
    if (job.status === "failed") {
      replace(body, h("div", { class: "form-error", role: "alert", dataset: { testid: "failure" }, text: `The ${job.failed_stage || "analysis"} stage failed: ${job.error_message || "no reason given"}` }));
      return;
    }
    replace(body, h("div", { class: "empty", role: "status", text: `Running: ${humanize(job.status)}…` }));
    timer = setTimeout(guarded(poll, "Analysis"), POLL_MS);
  }

  function drawReport(job) {
    const r = job.result || {};
    const findings = Object.entries(r.findings || {});
    const sources = r.sources || [];
    replace(body,
      h("div", { class: "row gap" },
        h("button", { class: "btn btn-primary", type: "button", dataset: { download: "html" }, text: "Download HTML", onclick: guarded(() => download(job, "html"), "Download") }),
        h("button", { class: "btn", type: "button", dataset: { download: "pdf" }, text: "Download PDF", title: "Opens the report for printing: choose “Save as PDF”", onclick: guarded(() => printable(job), "PDF") }),
        h("button", { class: "btn", type: "button", dataset: { download: "md" }, text: "Markdown", onclick: guarded(() => download(job, "md"), "Download") })),
      h("div", { class: "cards cards-2 research-grid" },
        h("section", { class: "card" },
          h("h3", { text: "Overlay" }),
          job.overlay_url
            ? h("img", { class: "report-overlay", src: job.overlay_url, alt: `Skeleton overlay of image #${job.image_id}`, dataset: { testid: "overlay" } })
            : h("div", { class: "empty", text: "No overlay for this analysis." })),
        h("section", { class: "card", dataset: { testid: "findings" } },
          h("h3", { text: "Findings" }),
          dataTable(
            [
              { label: "Finding", render: ([k]) => humanize(k) },
              { label: "Value", render: ([, v]) => findingValue(v) },
            ],
            findings, { empty: "No findings recorded.", label: "Findings" }))),
      h("section", { class: "card", dataset: { testid: "report" } },
        h("h3", { text: "Report" }),
        h("div", { class: "report-text" }, markdown(r.enhanced_report || ""))),
      h("section", { class: "card", dataset: { testid: "sources" } },
        h("h3", { text: "Cited reference notes" }),
        sources.length
          ? h("ol", {}, sources.map((src) => h("li", { class: "cell-wrap" }, sourceText(src))))
          : h("div", { class: "empty", text: "The report cites no reference note." })),
    );
  }

  async function fetchReport(job, format) {
    // The report is not JSON: fetched with the same bearer token the API client uses.
    const url = new URL(`${ctx.config.apiBase}/analyses/${job.job_id}/report`, document.baseURI);
    url.searchParams.set("format", format);
    const token = await ctx.session.token();
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
    const text = await response.text();
    if (!response.ok) {
      let problem = null;
      try {
        problem = JSON.parse(text);
      } catch {
        problem = null;
      }
      throw new ApiError(response.status, problem);
    }
    const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    return { text, type: response.headers.get("Content-Type") || "text/plain", filename: name ? name[1] : `report.${format}` };
  }

  async function download(job, format) {
    const report = await fetchReport(job, format);
    const link = h("a", { href: URL.createObjectURL(new Blob([report.text], { type: report.type })), download: report.filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  async function printable(job) {
    // The HTML report is self-contained (overlay inline): the browser's print dialog saves it as PDF.
    const report = await fetchReport(job, "html");
    const frame = h("iframe", { class: "print-frame", title: "Report for printing", srcdoc: report.text });
    document.body.append(frame);
    frame.addEventListener("load", () => {
      frame.contentWindow.focus();
      frame.contentWindow.print();
      setTimeout(() => frame.remove(), 1000);
    });
  }

  guarded(poll, "Analysis")();
  return {
    unmount() {
      gone = true;
      clearTimeout(timer);
    },
  };
}

/** A finding's value as text: a list of measures one per line, "none" for an empty list. */
function findingValue(value) {
  const text = (v) => (v !== null && typeof v === "object" ? Object.entries(v).map(([k, x]) => `${humanize(k)}: ${typeof x === "object" && x !== null ? JSON.stringify(x) : x}`).join(" · ") : String(v));
  if (Array.isArray(value)) {
    if (!value.length) return h("span", { class: "muted", text: "none" });
    if (value.every((v) => v === null || typeof v !== "object")) return h("span", { class: "cell-wrap", text: value.join(", ") });
    return h("ul", { class: "finding-list" }, value.map((v) => h("li", { class: "cell-wrap", text: text(v) })));
  }
  return h("span", { class: "cell-wrap", text: text(value) });
}

function sourceText(src) {
  if (typeof src === "string") return src;
  return [
    h("strong", { text: `[${src.number ?? "?"}] ${src.title || src.topic || "Reference note"}` }),
    src.citation ? h("span", { class: "muted", text: ` — ${src.citation}` }) : null,
    src.body ? h("p", { class: "muted", text: src.body }) : null,
  ];
}

/** A small, safe Markdown reading: headings, lists and paragraphs as text nodes (no HTML injected). */
function markdown(text) {
  const out = [];
  let list = null;
  for (const line of text.split("\n")) {
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    const item = /^\s*[-*]\s+(.*)$/.exec(line);
    if (item) {
      list = list || h("ul", {});
      list.append(h("li", { text: item[1] }));
      continue;
    }
    if (list) {
      out.push(list);
      list = null;
    }
    if (heading) out.push(h(`h${Math.min(6, heading[1].length + 2)}`, { text: heading[2] }));
    else if (line.trim()) out.push(h("p", { text: line }));
  }
  if (list) out.push(list);
  return out;
}
