// The image on a canvas with keypoints over it: zoom (wheel, +/-), pan (drag the background,
// Space + drag, middle button), drag a keypoint to move it, click to place an absent one.
// Coordinates: image pixels in the model; screen = image × scale + offset (CSS pixels).
// Markers are drawn at a constant screen size, whatever the zoom.

import { ABSENT, OCCLUDED } from "./model.js";
import { isTyping } from "../dom.js";

const HIT_RADIUS = 11;
const CLICK_SLOP = 4;
const MIN_SCALE = 0.05;
const MAX_SCALE = 24;

export class KeypointCanvas {
  /**
   * options: schema, width, height, editable, and callbacks:
   *   onSelect(id), onDragStart(id), onDrag(id, x, y), onDragEnd(id), onPlace(id, x, y), onView(scale)
   */
  constructor(container, options) {
    this.container = container;
    this.o = options;
    this.canvas = document.createElement("canvas");
    this.canvas.setAttribute("aria-label", options.label || "Image with keypoints");
    this.canvas.setAttribute("role", "img");
    this.ctx = this.canvas.getContext("2d");
    container.prepend(this.canvas);
    this.image = null;
    this.scale = 1;
    this.fitScale = 1;
    this.offset = { x: 0, y: 0 };
    this.layers = { doc: null, ghost: null, showGhost: true, showSkeleton: true, links: false, majors: new Set(), highlights: new Set(), reference: null, selected: null };
    this.pointer = null;
    this.spaceDown = false;
    this.hover = null;
    this.frame = 0;
    this.maxScaleUsed = 1;
    this.#listen();
    this.resizeObserver = new ResizeObserver(() => this.#resize());
    this.resizeObserver.observe(container);
    this.#resize();
  }

  destroy() {
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
    window.removeEventListener("keydown", this.keyDown);
    window.removeEventListener("keyup", this.keyUp);
    this.canvas.remove();
  }

  setSize(width, height) {
    this.o.width = width;
    this.o.height = height;
  }

  setImage(image) {
    this.image = image;
    this.fit();
  }

  set(layers) {
    Object.assign(this.layers, layers);
    this.draw();
  }

  // ------------------------------------------------------------------ view
  fit() {
    const { clientWidth: w, clientHeight: h } = this.canvas;
    if (!w || !h || !this.o.width) return;
    const margin = 24;
    this.fitScale = Math.min((w - 2 * margin) / this.o.width, (h - 2 * margin) / this.o.height);
    this.scale = this.fitScale;
    this.offset = { x: (w - this.o.width * this.scale) / 2, y: (h - this.o.height * this.scale) / 2 };
    this.#viewChanged();
  }

  zoomBy(factor, cx = this.canvas.clientWidth / 2, cy = this.canvas.clientHeight / 2) {
    const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    const ix = (cx - this.offset.x) / this.scale;
    const iy = (cy - this.offset.y) / this.scale;
    this.scale = next;
    this.offset = { x: cx - ix * next, y: cy - iy * next };
    this.#viewChanged();
  }

  /** Zoom so that 1 image pixel is `level` screen pixels, centred on a keypoint if given. */
  zoomTo(level, centre = null) {
    const cx = this.canvas.clientWidth / 2, cy = this.canvas.clientHeight / 2;
    this.scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, level));
    if (centre) this.offset = { x: cx - centre.x * this.scale, y: cy - centre.y * this.scale };
    this.#viewChanged();
  }

  panBy(dx, dy) {
    this.offset = { x: this.offset.x + dx, y: this.offset.y + dy };
    this.draw();
  }

  /** Keep a keypoint on screen (after selecting it with the keyboard). */
  reveal(point) {
    if (!point) return;
    const s = this.toScreen(point), pad = 40;
    const { clientWidth: w, clientHeight: h } = this.canvas;
    let dx = 0, dy = 0;
    if (s.x < pad) dx = pad - s.x;
    if (s.x > w - pad) dx = w - pad - s.x;
    if (s.y < pad) dy = pad - s.y;
    if (s.y > h - pad) dy = h - pad - s.y;
    if (dx || dy) this.panBy(dx, dy);
  }

  toScreen(p) {
    return { x: p.x * this.scale + this.offset.x, y: p.y * this.scale + this.offset.y };
  }

  toImage(x, y) {
    return { x: (x - this.offset.x) / this.scale, y: (y - this.offset.y) / this.scale };
  }

  #viewChanged() {
    this.maxScaleUsed = Math.max(this.maxScaleUsed, this.scale);
    this.o.onView?.(this.scale);
    this.draw();
  }

  #resize() {
    const dpr = window.devicePixelRatio || 1;
    const { clientWidth: w, clientHeight: h } = this.container;
    const first = !this.canvas.width;
    this.canvas.width = Math.max(1, Math.round(w * dpr));
    this.canvas.height = Math.max(1, Math.round(h * dpr));
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    if (first || this.scale === this.fitScale) this.fit();
    else this.draw();
  }

  // ------------------------------------------------------------------ drawing
  draw() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.#paint();
    });
  }

  #paint() {
    const { ctx, canvas } = this;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (this.image) {
      ctx.setTransform(dpr * this.scale, 0, 0, dpr * this.scale, dpr * this.offset.x, dpr * this.offset.y);
      ctx.imageSmoothingEnabled = this.scale < 2.5;
      ctx.drawImage(this.image, 0, 0, this.o.width, this.o.height);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const L = this.layers;
    if (!L.doc) return;
    const schema = this.o.schema;
    const points = L.doc.points;
    if (L.showSkeleton) this.#skeleton(points, schema);
    if (L.reference) this.#reference(L.reference, points);
    if (L.ghost && L.showGhost) this.#ghost(L.ghost, points, L.links, L.majors);
    for (const def of schema.keypoints) {
      const p = points.get(def.id);
      if (p.visible === ABSENT) continue;
      this.#marker(p, def.color, def.id === L.selected, L.highlights.has(def.id), def.id === this.hover);
    }
    const selected = L.selected !== null ? points.get(L.selected) : null;
    if (selected && selected.visible !== ABSENT) this.#label(selected, schema.byId.get(selected.id));
    else if (this.hover !== null && points.get(this.hover)) this.#label(points.get(this.hover), schema.byId.get(this.hover));
  }

  #skeleton(points, schema) {
    const { ctx } = this;
    ctx.lineCap = "round";
    for (const [a, b] of schema.connections) {
      const p = points.get(a), q = points.get(b);
      if (!p || !q || p.visible === ABSENT || q.visible === ABSENT) continue;
      const s = this.toScreen(p), t = this.toScreen(q);
      const gradient = ctx.createLinearGradient(s.x, s.y, t.x, t.y);
      gradient.addColorStop(0, schema.byId.get(a).color);
      gradient.addColorStop(1, schema.byId.get(b).color);
      ctx.globalAlpha = 0.85;
      ctx.strokeStyle = "rgba(0,0,0,0.55)";
      ctx.lineWidth = 4.5;
      ctx.setLineDash(p.visible === OCCLUDED || q.visible === OCCLUDED ? [6, 5] : []);
      line(ctx, s, t);
      ctx.strokeStyle = gradient;
      ctx.lineWidth = 2.5;
      line(ctx, s, t);
    }
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
  }

  #ghost(payload, points, links, majors) {
    const { ctx } = this;
    for (const k of payload.keypoints || []) {
      if (Number(k.visible) === ABSENT) continue;
      const def = this.o.schema.byId.get(k.id);
      if (!def) continue;
      const g = this.toScreen(k);
      const p = points.get(k.id);
      const moved = p && p.visible !== ABSENT && Math.hypot(p.x - k.x, p.y - k.y) > 0.5;
      const major = majors.has(k.id);
      if (links && moved) {
        ctx.strokeStyle = major ? "rgba(240,180,76,0.95)" : "rgba(255,255,255,0.7)";
        ctx.lineWidth = major ? 2.5 : 1.3;
        ctx.setLineDash(major ? [] : [4, 3]);
        line(ctx, g, this.toScreen(p));
        ctx.setLineDash([]);
      }
      ctx.globalAlpha = 0.9;
      ctx.strokeStyle = major ? "rgba(240,180,76,1)" : "rgba(255,255,255,0.85)";
      ctx.lineWidth = 1.3;
      ctx.setLineDash([2, 2]);
      circle(ctx, g, 6);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = def.color;
      circle(ctx, g, 2);
      ctx.fill();
      ctx.globalAlpha = 1;
    }
  }

  #reference(payload, points) {
    // Where the submitted version had a keypoint that is now corrected: a small grey cross.
    const { ctx } = this;
    for (const k of payload.keypoints || []) {
      const p = points.get(k.id);
      if (!p || Number(k.visible) === ABSENT) continue;
      if (p.visible !== ABSENT && Math.hypot(p.x - k.x, p.y - k.y) <= 0.5) continue;
      const r = this.toScreen(k);
      ctx.strokeStyle = "rgba(200,210,220,0.9)";
      ctx.lineWidth = 1.5;
      line(ctx, { x: r.x - 5, y: r.y - 5 }, { x: r.x + 5, y: r.y + 5 });
      line(ctx, { x: r.x - 5, y: r.y + 5 }, { x: r.x + 5, y: r.y - 5 });
      if (p.visible !== ABSENT) {
        ctx.setLineDash([2, 3]);
        line(ctx, r, this.toScreen(p));
        ctx.setLineDash([]);
      }
    }
  }

  #marker(p, color, selected, highlighted, hovered) {
    const { ctx } = this;
    const s = this.toScreen(p);
    const r = selected ? 7.5 : hovered ? 6.5 : 5.5;
    if (highlighted) {
      ctx.strokeStyle = "#ef6461";
      ctx.lineWidth = 2;
      ctx.setLineDash([4, 3]);
      circle(ctx, s, r + 7);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (selected) {
      ctx.fillStyle = "rgba(255,255,255,0.95)";
      circle(ctx, s, r + 3);
      ctx.fill();
    }
    if (p.visible === OCCLUDED) {
      ctx.fillStyle = "rgba(10,16,22,0.75)";
      circle(ctx, s, r);
      ctx.fill();
      ctx.strokeStyle = color;
      ctx.lineWidth = 2.5;
      circle(ctx, s, r - 1);
      ctx.stroke();
    } else {
      ctx.fillStyle = color;
      circle(ctx, s, r);
      ctx.fill();
      ctx.strokeStyle = "rgba(0,0,0,0.7)";
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
  }

  #label(p, def) {
    const { ctx } = this;
    const s = this.toScreen(p);
    const text = def.name.replaceAll("_", " ");
    ctx.font = "600 12px system-ui, sans-serif";
    const w = ctx.measureText(text).width + 14;
    const x = s.x + 12, y = s.y - 26;
    ctx.fillStyle = "rgba(12,18,24,0.9)";
    roundRect(ctx, x, y, w, 20, 10);
    ctx.fill();
    ctx.strokeStyle = def.color;
    ctx.lineWidth = 1.5;
    ctx.stroke();
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x + 7, y + 14);
  }

  // ------------------------------------------------------------------ interaction
  hitTest(x, y) {
    const doc = this.layers.doc;
    if (!doc) return null;
    let best = null, bestDistance = HIT_RADIUS;
    // The selected keypoint wins ties: it is the one being worked on.
    const ordered = [...this.o.schema.keypoints].sort((a, b) => (a.id === this.layers.selected) - (b.id === this.layers.selected));
    for (const def of ordered) {
      const p = doc.points.get(def.id);
      if (p.visible === ABSENT) continue;
      const s = this.toScreen(p);
      const d = Math.hypot(s.x - x, s.y - y);
      if (d <= bestDistance) {
        best = def.id;
        bestDistance = d;
      }
    }
    return best;
  }

  #local(event) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  #listen() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 && event.button !== 1) return;
      const at = this.#local(event);
      const hit = event.button === 0 && !this.spaceDown ? this.hitTest(at.x, at.y) : null;
      c.setPointerCapture(event.pointerId);
      if (hit !== null) {
        this.o.onSelect?.(hit);
        if (this.o.editable) {
          const p = this.layers.doc.points.get(hit);
          const img = this.toImage(at.x, at.y);
          this.pointer = { mode: "drag", id: hit, start: at, grab: { dx: p.x - img.x, dy: p.y - img.y }, moved: false };
          this.o.onDragStart?.(hit);
        }
      } else {
        this.pointer = { mode: "pan", start: at, last: at, moved: false };
        this.container.classList.add("panning");
      }
      event.preventDefault();
    });
    c.addEventListener("pointermove", (event) => {
      const at = this.#local(event);
      const ptr = this.pointer;
      if (!ptr) {
        const hit = this.hitTest(at.x, at.y);
        if (hit !== this.hover) {
          this.hover = hit;
          this.draw();
        }
        c.style.cursor = this.spaceDown ? "grab" : hit !== null && this.o.editable ? "grab" : "crosshair";
        return;
      }
      if (Math.hypot(at.x - ptr.start.x, at.y - ptr.start.y) > CLICK_SLOP) ptr.moved = true;
      if (ptr.mode === "drag" && ptr.moved) {
        const img = this.toImage(at.x, at.y);
        this.o.onDrag?.(ptr.id, img.x + ptr.grab.dx, img.y + ptr.grab.dy);
        c.style.cursor = "grabbing";
        this.draw();
      } else if (ptr.mode === "pan") {
        this.panBy(at.x - ptr.last.x, at.y - ptr.last.y);
        ptr.last = at;
      }
    });
    const end = (event) => {
      const ptr = this.pointer;
      if (!ptr) return;
      this.pointer = null;
      this.container.classList.remove("panning");
      if (c.hasPointerCapture(event.pointerId)) c.releasePointerCapture(event.pointerId);
      if (ptr.mode === "drag") this.o.onDragEnd?.(ptr.id, ptr.moved);
      else if (!ptr.moved && event.type === "pointerup") {
        const img = this.toImage(ptr.start.x, ptr.start.y);
        const inside = img.x >= 0 && img.y >= 0 && img.x <= this.o.width && img.y <= this.o.height;
        if (inside) this.o.onPlace?.(img.x, img.y);
      }
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    c.addEventListener("pointerleave", () => {
      if (this.hover !== null && !this.pointer) {
        this.hover = null;
        this.draw();
      }
    });
    c.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const at = this.#local(event);
        if (event.ctrlKey || !event.shiftKey) this.zoomBy(Math.pow(1.0015, -event.deltaY), at.x, at.y);
        else this.panBy(-event.deltaY, 0);
      },
      { passive: false },
    );
    c.addEventListener("auxclick", (event) => event.preventDefault());
    this.keyDown = (event) => {
      if (event.code === "Space" && !event.repeat && !isTyping(event) && !(event.target instanceof HTMLButtonElement)) {
        event.preventDefault();
        this.spaceDown = true;
        c.style.cursor = "grab";
      }
    };
    this.keyUp = (event) => {
      if (event.code === "Space") {
        this.spaceDown = false;
        c.style.cursor = "crosshair";
      }
    };
    window.addEventListener("keydown", this.keyDown);
    window.addEventListener("keyup", this.keyUp);
  }
}

function line(ctx, a, b) {
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
}

function circle(ctx, p, r) {
  ctx.beginPath();
  ctx.arc(p.x, p.y, Math.max(0.5, r), 0, Math.PI * 2);
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.roundRect(x, y, w, h, r);
}

/** Load an image from a (presigned) URL and decode it before it is shown. */
export async function loadImage(url) {
  const img = new Image();
  img.decoding = "async";
  img.src = url;
  await img.decode();
  return img;
}
