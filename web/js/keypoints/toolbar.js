// What floats over the canvas: the zoom and layer toolbar, and the selected keypoint's name.

import { h, replace } from "../dom.js";
import { VISIBILITY_NAMES } from "./model.js";

/**
 * toolbar(canvas, {ghostLabel, onToggleGhost, onToggleSkeleton, onUndo, onRedo}) → {el, update(state)}
 * state: {scale, showGhost, showSkeleton, canUndo, canRedo}
 */
export function canvasToolbar(canvas, options) {
  const zoom = h("span", { class: "zoom-readout", title: "Zoom (1 image pixel = this many screen pixels)" });
  const button = (label, title, onclick, extra = {}) => h("button", { type: "button", class: "btn btn-ghost btn-small", title, "aria-label": title, onclick, ...extra }, label);
  const ghost = button(options.ghostLabel || "YOLO", "Show YOLO's original keypoints (G)", options.onToggleGhost, { "aria-pressed": "true" });
  const skeleton = button("Skeleton", "Show the skeleton (K)", options.onToggleSkeleton, { "aria-pressed": "true" });
  const undo = options.onUndo ? button("↶", "Undo (Ctrl+Z)", options.onUndo) : null;
  const redo = options.onRedo ? button("↷", "Redo (Ctrl+Shift+Z)", options.onRedo) : null;
  const el = h(
    "div",
    { class: "canvas-toolbar", role: "toolbar", "aria-label": "View" },
    button("−", "Zoom out (−)", () => canvas.zoomBy(1 / 1.25)),
    zoom,
    button("+", "Zoom in (+)", () => canvas.zoomBy(1.25)),
    button("Fit", "Fit the image (F)", () => canvas.fit()),
    h("span", { class: "sep" }),
    ghost,
    skeleton,
    undo || redo ? h("span", { class: "sep" }) : null,
    undo,
    redo,
  );
  return {
    el,
    update(state) {
      zoom.textContent = `${Math.round(state.scale * 100)} %`;
      ghost.setAttribute("aria-pressed", String(Boolean(state.showGhost)));
      skeleton.setAttribute("aria-pressed", String(Boolean(state.showSkeleton)));
      if (undo) undo.disabled = !state.canUndo;
      if (redo) redo.disabled = !state.canRedo;
    },
  };
}

/** The badge at the bottom of the canvas: which keypoint is selected, and its visibility. */
export function selectedBadge() {
  const el = h("div", { class: "selected-badge", "aria-live": "polite", dataset: { testid: "selected-keypoint" } });
  return {
    el,
    update(def, point, total, extra = null) {
      if (!def) {
        replace(el, h("span", { class: "muted", text: "No keypoint selected — press Tab or a number" }));
        return;
      }
      replace(
        el,
        h("span", { class: "dot", style: { background: def.color } }),
        h("span", { class: "selected-name", text: def.name.replaceAll("_", " ") }),
        h("span", { class: "muted", text: `${def.index + 1}/${total}` }),
        h("span", { class: "vis-tag", dataset: { v: String(point.visible) }, text: VISIBILITY_NAMES[point.visible] }),
        extra,
      );
    },
  };
}
