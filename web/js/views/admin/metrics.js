// Performance: each person's PerformanceMetrics over time, as pictures — accuracy, throughput,
// approval rate, time per image, and where on the body keypoints tend to be off.

import { h, replace, fmtPercent, humanize, accuracyText } from "../../dom.js";
import { horizontalBars, legend, lineChart, stackedBars } from "../../charts.js";
import { guarded, notify } from "../../ui/notices.js";
import { USER_COLOURS, latestOnly, pageHead } from "./common.js";

const PERIODS = ["DAILY", "WEEKLY", "MONTHLY", "QUARTERLY"];
const MAX_PEOPLE = 10;
const percent = (v) => `${Math.round(v * 100)} %`;

export function mountMetrics(root, ctx) {
  const api = ctx.api;
  const period = h("select", { "aria-label": "Period", dataset: { testid: "metrics-period" } }, PERIODS.map((p) => h("option", { value: p, text: humanize(p) })));
  const span = h("select", { "aria-label": "How far back" }, [14, 30, 60].map((n) => h("option", { value: String(n), selected: n === 30, text: `last ${n}` })));
  period.addEventListener("change", () => load());
  span.addEventListener("change", () => load());
  const body = h("div", { class: "muted", text: "Loading…" });
  root.append(
    pageHead("Performance", "Accuracy, throughput and approval rate per person and over time (docs/metrics.md defines each figure).",
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Period" }), period),
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Show" }), span),
      h("button", { class: "btn", type: "button", title: "Recompute the current period for everyone", text: "Recompute now", onclick: guarded(rollup, "Recompute") })),
    body,
  );

  async function rollup() {
    const result = await api.post("/metrics/rollup", { query: { period: period.value } });
    notify(`Recomputed ${humanize(result.period_type)} figures for ${result.users} people`, "success");
    await load();
  }

  const begin = latestOnly();
  const load = guarded(async () => {
    const fresh = begin();
    const people = (await api.all("/users", { is_active: true }, 600)).filter((u) => u.is_approved);
    const annotators = people.filter((u) => u.role === "ANNOTATOR").slice(0, MAX_PEOPLE);
    const verifiers = people.filter((u) => u.role === "VERIFIER").slice(0, MAX_PEOPLE);
    const rows = new Map();
    await Promise.all([...annotators, ...verifiers].map(async (u) => {
      rows.set(u.id, await api.get(`/users/${u.id}/metrics`, { query: { period: period.value, limit: 60 } }));
    }));
    if (!fresh()) return; // the period or span changed meanwhile: the newer load draws
    const allDates = [...new Set([...rows.values()].flat().map((r) => r.metrics_date))].sort();
    const dates = allDates.slice(-Number(span.value));
    const shown = new Set(dates);
    const series = (users, pick) => users.map((u, i) => ({
      name: u.username,
      color: USER_COLOURS[i % USER_COLOURS.length],
      values: new Map((rows.get(u.id) || []).filter((r) => shown.has(r.metrics_date)).map((r) => [r.metrics_date, pick(r)])),
    }));
    const annotatorRows = annotators.flatMap((u) => rows.get(u.id) || []).filter((r) => shown.has(r.metrics_date));
    const verifierRows = verifiers.flatMap((u) => rows.get(u.id) || []).filter((r) => shown.has(r.metrics_date));

    const accuracy = series(annotators, (r) => (r.images_annotated || r.data_completeness < 1 ? Number(r.accuracy_score) : null));
    const throughput = series(annotators, (r) => r.images_annotated);
    const minutes = series(annotators, (r) => (r.images_annotated ? Number(r.avg_time_per_annotation_minutes) : null));
    const approval = series(verifiers, (r) => (r.annotations_verified ? r.annotations_approved / r.annotations_verified : null));
    const reviews = series(verifiers, (r) => r.annotations_verified);

    const totalImages = annotatorRows.reduce((a, r) => a + r.images_annotated, 0);
    const verified = verifierRows.reduce((a, r) => a + r.annotations_verified, 0);
    const approved = verifierRows.reduce((a, r) => a + r.annotations_approved, 0);
    // Each annotator's accuracy in the latest period shown that has any of their work.
    const latest = accuracy
      .map((se) => [...se.values].filter(([, v]) => v !== null).sort(([a], [b]) => a.localeCompare(b)).pop())
      .filter(Boolean);
    const meanAccuracy = latest.length ? latest.reduce((sum, [, v]) => sum + v, 0) / latest.length : null;

    const card = (title, subtitle, chart, key = null) => h("section", { class: "card", dataset: { chart: key } }, h("h2", {}, title, h("span", { class: "muted", text: subtitle })), chart);
    replace(body,
      h("div", { class: "kpis" },
        kpi(String(totalImages), `images annotated (${dates.length} ${humanize(period.value)} periods)`),
        kpi(meanAccuracy === null ? "—" : fmtPercent(meanAccuracy, 1), "mean accuracy of annotators, latest period"),
        kpi(verified ? fmtPercent(approved / verified, 0) : "—", `approval rate of ${verified} decisions`),
        kpi(String(annotators.length + verifiers.length), `people with figures (${annotators.length} annotators, ${verifiers.length} verifiers)`)),
      h("div", { class: "cards cards-2" },
        card("Accuracy over time", "per annotator, 0.7 × OKS + 0.3 × first-pass rate", h("div", {}, lineChart(accuracy, dates, { title: "Accuracy per annotator over time", yMax: 1, format: percent }), legend(accuracy)), "accuracy"),
        card("Throughput", "images annotated per period", h("div", {}, stackedBars(throughput, dates, { title: "Images annotated per period, by annotator" }), legend(throughput)), "throughput"),
        card("Approval rate", "share of each verifier's decisions that approved", h("div", {}, lineChart(approval, dates, { title: "Approval rate per verifier over time", yMax: 1, format: percent }), legend(approval)), "approval"),
        card("Reviews", "decisions per period, by verifier", h("div", {}, stackedBars(reviews, dates, { title: "Verification decisions per period, by verifier" }), legend(reviews)), "reviews"),
        card("Accuracy by annotator", "now, over their last 500 finalized images",
          horizontalBars(annotators.map((u, i) => ({ label: u.username, value: u.total_annotations_completed ? Number(u.accuracy_score) : 0, color: USER_COLOURS[i % USER_COLOURS.length], text: accuracyText(u, 1) })), { title: "Current accuracy per annotator", max: 1 }), "by-person"),
        card("Minutes per image", "mean time per submitted version", h("div", {}, lineChart(minutes, dates, { title: "Minutes per image per annotator over time", format: (v) => v.toFixed(1) }), legend(minutes)), "minutes")),
      h("section", { class: "card", style: { marginTop: "1rem" }, dataset: { chart: "keypoints" } },
        h("h2", {}, "Where keypoints go wrong", h("span", { class: "muted", text: "mean OKS term per keypoint over the period shown (1 = exactly on the truth)" })),
        keypointHeat(annotators, annotatorRows)),
    );
  }, "Performance");

  load();
  return {};
}

function kpi(value, label) {
  return h("div", { class: "kpi" }, h("b", { text: value }), h("span", { text: label }));
}

function keypointHeat(annotators, rows) {
  const sums = new Map();
  const names = [];
  for (const r of rows) {
    for (const [name, cell] of Object.entries(r.keypoint_accuracy_breakdown || {})) {
      if (!names.includes(name)) names.push(name);
      const key = `${r.user_id}|${name}`;
      const acc = sums.get(key) || { total: 0, n: 0 };
      acc.total += cell.mean_similarity * cell.samples;
      acc.n += cell.samples;
      sums.set(key, acc);
    }
  }
  const people = annotators.filter((u) => names.some((n) => sums.has(`${u.id}|${n}`)));
  if (!people.length) return h("div", { class: "chart-empty", text: "No finalized images in this period yet." });
  const colour = (v) => `hsl(${Math.round(v * 140)}, 62%, ${48 + v * 10}%)`;
  return h("div", { class: "heat", style: { gridTemplateColumns: `110px repeat(${names.length}, minmax(34px, 1fr))` }, role: "table", "aria-label": "Keypoint accuracy per annotator" },
    h("span", {}),
    names.map((n) => h("span", { class: "heat-label", title: n, style: { writingMode: "vertical-rl", transform: "rotate(180deg)", height: "92px" }, text: n.replaceAll("_", " ") })),
    people.map((u) => [
      h("span", { class: "heat-label", text: u.username }),
      names.map((n) => {
        const acc = sums.get(`${u.id}|${n}`);
        if (!acc || !acc.n) return h("span", { class: "heat-cell", style: { background: "#1c2a37", color: "#8b9cad" }, text: "—" });
        const v = acc.total / acc.n;
        return h("span", { class: "heat-cell", title: `${u.username}, ${n}: ${v.toFixed(2)} over ${acc.n} images`, style: { background: colour(v) }, text: v.toFixed(2) });
      }),
    ]));
}
