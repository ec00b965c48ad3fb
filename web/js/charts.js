// Small SVG charts: lines over time, stacked bars over time, horizontal bars, and a legend.
// They scale with their container (viewBox) and carry a <title> for screen readers.

import { h, s } from "./dom.js";

const M = { top: 14, right: 16, bottom: 28, left: 44 };
const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

function frame(width, height, title) {
  return s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title }, s("title", {}, title));
}

function niceMax(value) {
  if (value <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(value)));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= value);
}

function timeAxis(svg, dates, x, height, width) {
  const ticks = Math.min(dates.length, Math.max(2, Math.floor((width - M.left - M.right) / 70)));
  const step = Math.max(1, Math.ceil(dates.length / ticks));
  const g = s("g", { class: "axis" });
  const shown = dates.map((_, i) => i).filter((i) => i % step === 0);
  const last = dates.length - 1;
  // The last date always shows; the regular tick before it gives way when they would overlap.
  if (shown[shown.length - 1] !== last) {
    if (shown.length > 1 && x(last) - x(shown[shown.length - 1]) < 48) shown.pop();
    shown.push(last);
  }
  // Hourly or weekly periods can give two ticks the same day label: the later one gives way.
  let previous = null;
  for (const i of shown) {
    const label = dayFormat.format(new Date(dates[i]));
    if (label === previous) continue;
    previous = label;
    g.append(s("text", { x: x(i), y: height - 8, "text-anchor": "middle" }, label));
  }
  svg.append(g);
}

function valueAxis(svg, max, y, width, format) {
  const g = s("g", { class: "grid" });
  // A small maximum with a rounding format (0, 0.25 … 1 as whole numbers) would repeat labels:
  // a gridline whose label equals the one below it stays unlabelled.
  let previous = null;
  for (let i = 0; i <= 4; i += 1) {
    const v = (max * i) / 4;
    g.append(s("line", { x1: M.left, x2: width - M.right, y1: y(v), y2: y(v) }));
    const label = format(v);
    if (label === previous) continue;
    previous = label;
    g.append(s("text", { x: M.left - 6, y: y(v) + 3.5, "text-anchor": "end" }, label));
  }
  svg.append(g);
}

/**
 * series: [{name, color, values: Map(dateIso → number|null)}]; dates: sorted ISO dates.
 * options: {title, yMax, format, width, height, marks}
 * marks (optional): Map(dateIso → {label, color}) names what each point stands for (the model
 * that pre-annotated a batch): the point takes its colour, its tooltip its label, and the label is
 * written above the point where it differs from the previous point's, so a run of points with the
 * same label is labelled once and no two neighbouring labels repeat.
 */
export function lineChart(series, dates, { title, yMax = null, format = (v) => String(Math.round(v)), width = 560, height = 220, marks = null } = {}) {
  const svg = frame(width, height, title);
  if (!dates.length) return empty(title);
  const max = yMax ?? niceMax(Math.max(0, ...series.flatMap((se) => [...se.values.values()].filter((v) => v !== null))));
  const x = (i) => M.left + (dates.length === 1 ? (width - M.left - M.right) / 2 : (i * (width - M.left - M.right)) / (dates.length - 1));
  const y = (v) => height - M.bottom - (v / max) * (height - M.top - M.bottom);
  valueAxis(svg, max, y, width, format);
  timeAxis(svg, dates, x, height, width);
  for (const se of series) {
    const points = dates.map((d, i) => [i, se.values.get(d)]).filter(([, v]) => v !== null && v !== undefined);
    if (!points.length) continue;
    const path = points.map(([i, v], k) => `${k ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    svg.append(s("path", { d: path, fill: "none", stroke: se.color, "stroke-width": 2.2, "stroke-linejoin": "round", "stroke-linecap": "round" }));
    let previousLabel = null;
    for (const [i, v] of points) {
      const mark = marks?.get(dates[i]);
      const about = mark ? ` (${mark.label})` : "";
      svg.append(s("circle", { cx: x(i), cy: y(v), r: mark ? 4 : 3, fill: mark?.color ?? se.color, stroke: mark ? se.color : null, "stroke-width": mark ? 1.5 : null },
        s("title", {}, `${se.name}, ${dayFormat.format(new Date(dates[i]))}: ${format(v)}${about}`)));
      if (mark && mark.label !== previousLabel) {
        const anchor = x(i) < M.left + 40 ? "start" : x(i) > width - M.right - 40 ? "end" : "middle";
        svg.append(s("text", { class: "point-label", x: x(i), y: Math.max(M.top, y(v) - 8), "text-anchor": anchor }, mark.label));
      }
      previousLabel = mark?.label ?? null;
    }
  }
  return svg;
}

/** Stacked bars per date: series [{name, color, values: Map(dateIso → number)}]. */
export function stackedBars(series, dates, { title, format = (v) => String(Math.round(v)), width = 560, height = 220 } = {}) {
  if (!dates.length) return empty(title);
  const svg = frame(width, height, title);
  const totals = dates.map((d) => series.reduce((sum, se) => sum + (se.values.get(d) || 0), 0));
  const max = niceMax(Math.max(1, ...totals));
  const band = (width - M.left - M.right) / dates.length;
  const x = (i) => M.left + i * band + band / 2;
  const y = (v) => height - M.bottom - (v / max) * (height - M.top - M.bottom);
  valueAxis(svg, max, y, width, format);
  timeAxis(svg, dates, x, height, width);
  const barWidth = Math.max(3, Math.min(28, band * 0.7));
  dates.forEach((d, i) => {
    let base = 0;
    for (const se of series) {
      const v = se.values.get(d) || 0;
      if (!v) continue;
      svg.append(s("rect", { x: x(i) - barWidth / 2, y: y(base + v), width: barWidth, height: Math.max(0.5, y(base) - y(base + v)), fill: se.color, rx: 2 },
        s("title", {}, `${se.name}, ${dayFormat.format(new Date(d))}: ${format(v)}`)));
      base += v;
    }
  });
  return svg;
}

/** Horizontal bars: items [{label, value, color, text}] with values in 0..max. */
export function horizontalBars(items, { title, max = null, format = (v) => String(v), width = 560 } = {}) {
  if (!items.length) return empty(title);
  const row = 26;
  const height = items.length * row + 10;
  const left = 110;
  const top = Math.max(1e-9, max ?? Math.max(...items.map((i) => i.value)));
  const svg = frame(width, height, title);
  items.forEach((item, i) => {
    const y = 5 + i * row;
    const w = ((width - left - 70) * Math.max(0, item.value)) / top;
    svg.append(
      s("text", { x: left - 8, y: y + 15, "text-anchor": "end" }, item.label),
      s("rect", { x: left, y: y + 3, width: width - left - 70, height: 16, rx: 3, fill: "#1c2a37" }),
      s("rect", { x: left, y: y + 3, width: Math.max(1, w), height: 16, rx: 3, fill: item.color }),
      s("text", { x: left + Math.max(1, w) + 6, y: y + 15 }, item.text ?? format(item.value)),
    );
  });
  return svg;
}

/**
 * Two bars a row, to compare two values of the same thing (a measured sigma beside COCO's).
 * rows: [{label, values: [a|null, b|null]}]; series: [{name, color}, {name, color}] name the two
 * bars once, in the legend, so no label repeats. A null value draws no bar and says "—".
 */
export function pairedBars(rows, series, { title, max = null, format = (v) => String(v), width = 560 } = {}) {
  if (!rows.length) return empty(title);
  const row = 34;
  const height = rows.length * row + 10;
  const left = 120;
  const values = rows.flatMap((r) => r.values.filter((v) => v != null));
  const top = Math.max(1e-9, max ?? Math.max(...values, 0));
  const span = width - left - 70;
  const svg = frame(width, height, title);
  rows.forEach((item, i) => {
    const y = 5 + i * row;
    svg.append(s("text", { x: left - 8, y: y + 19, "text-anchor": "end" }, item.label));
    item.values.forEach((value, k) => {
      const by = y + 3 + k * 14;
      const w = value == null ? 0 : (span * Math.max(0, value)) / top;
      if (value != null) svg.append(s("rect", { x: left, y: by, width: Math.max(1, w), height: 12, rx: 2, fill: series[k].color }));
      svg.append(s("text", { x: left + Math.max(1, w) + 6, y: by + 10, class: "bar-value" }, value == null ? "—" : format(value)));
    });
  });
  return svg;
}

export function legend(series) {
  return h("div", { class: "legend" }, series.map((se) => h("span", {}, h("i", { style: { background: se.color } }), se.name)));
}

function empty(title) {
  return h("div", { class: "chart-empty", role: "img", "aria-label": title, text: "No data for this period yet." });
}

/**
 * A histogram of `values` with vertical marks (a threshold, the value at hand).
 * marks: [{value, label, color}]; options: {title, bins, format, width, height}
 */
export function histogram(values, marks = [], { title, bins = 20, format = (v) => v.toFixed(1), width = 560, height = 200 } = {}) {
  const all = [...values, ...marks.map((m) => m.value)].filter((v) => Number.isFinite(v));
  if (!values.length || !all.length) return empty(title);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const span = hi - lo || 1;
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor(((v - lo) / span) * bins))] += 1;
  // Counts are whole numbers: four grid steps of a whole number each, so no label repeats.
  const top = 4 * Math.max(1, Math.ceil(niceMax(Math.max(...counts)) / 4));
  const svg = frame(width, height, title);
  const x = (v) => M.left + ((v - lo) / span) * (width - M.left - M.right);
  const y = (c) => height - M.bottom - (c / top) * (height - M.top - M.bottom);
  valueAxis(svg, top, y, width, (v) => String(Math.round(v)));
  const barWidth = (width - M.left - M.right) / bins;
  counts.forEach((c, i) => {
    if (c) svg.append(s("rect", { x: M.left + i * barWidth + 1, y: y(c), width: Math.max(1, barWidth - 2), height: y(0) - y(c), fill: "#4a6f8f" }));
  });
  const axis = s("g", { class: "axis" });
  // Three value labels (low, middle, high): never the same label twice.
  const labels = [...new Set([lo, lo + span / 2, hi].map((v) => format(v)))];
  labels.forEach((text, i) => axis.append(s("text", { x: M.left + (i / Math.max(1, labels.length - 1)) * (width - M.left - M.right), y: height - 8, "text-anchor": i === 0 ? "start" : i === labels.length - 1 ? "end" : "middle" }, text)));
  svg.append(axis);
  marks.forEach((m, i) => {
    if (!Number.isFinite(m.value)) return;
    svg.append(
      s("line", { x1: x(m.value), x2: x(m.value), y1: M.top, y2: height - M.bottom, stroke: m.color, "stroke-width": 2, "stroke-dasharray": i ? "5 3" : null }),
      s("text", { x: Math.min(width - M.right, x(m.value) + 4), y: M.top + 10 + i * 14, fill: m.color, "text-anchor": x(m.value) > width - 120 ? "end" : "start" }, m.label),
    );
  });
  return svg;
}
