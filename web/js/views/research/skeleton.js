// A pose drawn as an SVG skeleton (the schema's connections from keypoints/model.js), optionally
// over its image, with each joint's marker sized and coloured by a weight (its share of a score).

import { h, s } from "../../dom.js";
import { ABSENT, pointsFrom } from "../../keypoints/model.js";

/** Colour for a share 0–1: teal (little) → amber → red (most of the score). */
export function shareColour(share) {
  const t = Math.max(0, Math.min(1, share));
  const hue = 170 - 170 * t;
  return `hsl(${hue.toFixed(0)} 80% 58%)`;
}

/**
 * schema: schemaModel(...); pose: GET /anomaly/poses/{id} ({width, height, keypoints: [{name, x, y}]});
 * weights: Map name → share (0–1), or null; options: {imageUrl, label, className}
 */
export function skeletonSvg(schema, pose, weights = null, { imageUrl = null, label = "Pose", className = "pose-svg" } = {}) {
  const size = { width: pose.width, height: pose.height };
  const byName = new Map(pose.keypoints.map((k) => [k.name, k]));
  const payload = { keypoints: schema.keypoints.filter((k) => byName.has(k.name)).map((k) => ({ id: k.id, name: k.name, x: byName.get(k.name).x, y: byName.get(k.name).y, visible: 2 })) };
  const points = pointsFrom(schema, payload, size.width, size.height);
  const shown = [...points.values()].filter((p) => p.visible !== ABSENT);
  // Fit the view to the pose (with a margin) when there is no image to show it on.
  let box = { x: 0, y: 0, w: size.width, h: size.height };
  if (!imageUrl && shown.length) {
    const xs = shown.map((p) => p.x);
    const ys = shown.map((p) => p.y);
    const pad = 0.12 * Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys), 1);
    box = { x: Math.min(...xs) - pad, y: Math.min(...ys) - pad, w: Math.max(...xs) - Math.min(...xs) + 2 * pad, h: Math.max(...ys) - Math.min(...ys) + 2 * pad };
  }
  const unit = Math.max(box.w, box.h) / 100;
  const svg = s("svg", { class: className, viewBox: `${box.x} ${box.y} ${box.w} ${box.h}`, role: "img", "aria-label": label, preserveAspectRatio: "xMidYMid meet" }, s("title", {}, label));
  if (imageUrl) svg.append(s("image", { href: imageUrl, x: 0, y: 0, width: size.width, height: size.height }));
  for (const [a, b] of schema.connections) {
    const p = points.get(a);
    const q = points.get(b);
    if (!p || !q || p.visible === ABSENT || q.visible === ABSENT) continue;
    svg.append(s("line", { x1: p.x, y1: p.y, x2: q.x, y2: q.y, stroke: "#9fb3c8", "stroke-width": unit * 0.8, "stroke-linecap": "round", opacity: 0.8 }));
  }
  for (const p of shown) {
    const share = weights ? weights.get(p.name) ?? 0 : 0;
    const r = weights ? unit * (1.2 + 5 * Math.sqrt(share)) : unit * 1.4;
    svg.append(s("circle", {
      cx: p.x, cy: p.y, r,
      fill: weights ? shareColour(share) : "#5fd4c4",
      "fill-opacity": 0.85, stroke: "#0b1620", "stroke-width": unit * 0.3,
      "data-joint": p.name, "data-share": weights ? share.toFixed(3) : null,
    }, s("title", {}, weights ? `${p.name}: ${(share * 100).toFixed(0)} % of the score` : p.name)));
  }
  return h("div", { class: "pose-frame" }, svg);
}
