// The keypoints being edited, in image pixels, with undo and redo.
// Visibility is COCO's: 2 visible, 1 occluded, 0 absent (an absent keypoint keeps its last
// position so that making it visible again puts it back where it was).

export const VISIBLE = 2;
export const OCCLUDED = 1;
export const ABSENT = 0;
export const VISIBILITY_NAMES = { 2: "visible", 1: "occluded", 0: "absent" };

const COALESCE_MS = 900;
const HISTORY_LIMIT = 200;

/** The schema's keypoints, each with its colour, plus lookups and the skeleton. */
export function schemaModel(schemaOut) {
  const def = schemaOut.schema_definition;
  const keypoints = def.keypoints.map((k, index) => ({ ...k, index }));
  const byId = new Map(keypoints.map((k) => [k.id, k]));
  // The row's required_keypoints is what submission checks; the definition's flags are its default.
  const required = new Set(schemaOut.required_keypoints ?? keypoints.filter((k) => k.required).map((k) => k.id));
  return {
    id: schemaOut.id,
    name: schemaOut.name,
    version: schemaOut.version,
    keypoints,
    byId,
    connections: (def.connections || []).filter(([a, b]) => byId.has(a) && byId.has(b)),
    required,
    maxMissing: schemaOut.max_missing_keypoints,
  };
}

/** A payload ({keypoints: [...]}) as a Map id → point, completed with every schema keypoint. */
export function pointsFrom(schema, payload, width, height) {
  const given = new Map((payload?.keypoints || []).map((k) => [k.id, k]));
  const points = new Map();
  for (const def of schema.keypoints) {
    const k = given.get(def.id);
    points.set(def.id, {
      id: def.id,
      name: def.name,
      x: k ? Number(k.x) : width / 2,
      y: k ? Number(k.y) : height / 2,
      confidence: k && k.confidence !== undefined ? k.confidence : null,
      visible: k ? Number(k.visible ?? VISIBLE) : ABSENT,
    });
  }
  return points;
}

export class KeypointDoc {
  constructor(schema, payload, width, height, onChange = () => {}) {
    this.schema = schema;
    this.width = width;
    this.height = height;
    this.points = pointsFrom(schema, payload, width, height);
    this.undoStack = [];
    this.redoStack = [];
    this.lastKey = null;
    this.lastAt = 0;
    this.onChange = onChange;
  }

  get(id) {
    return this.points.get(id);
  }

  list() {
    return this.schema.keypoints.map((def) => this.points.get(def.id));
  }

  get canUndo() {
    return this.undoStack.length > 0;
  }

  get canRedo() {
    return this.redoStack.length > 0;
  }

  /** Record the state before a change; changes with the same key in quick succession merge. */
  checkpoint(key = null) {
    const now = performance.now();
    if (key !== null && key === this.lastKey && now - this.lastAt < COALESCE_MS) {
      this.lastAt = now;
      return;
    }
    this.undoStack.push(this.#snapshot());
    if (this.undoStack.length > HISTORY_LIMIT) this.undoStack.shift();
    this.redoStack = [];
    this.lastKey = key;
    this.lastAt = now;
  }

  /** Forget the last checkpoint (a drag that ended where it started). */
  dropCheckpoint() {
    this.undoStack.pop();
    this.lastKey = null;
  }

  moveTo(id, x, y) {
    const p = this.points.get(id);
    p.x = clamp(x, 0, this.width);
    p.y = clamp(y, 0, this.height);
    this.onChange("move", id);
  }

  nudge(id, dx, dy) {
    const p = this.points.get(id);
    if (p.visible === ABSENT) return false;
    this.checkpoint(`nudge:${id}`);
    this.moveTo(id, p.x + dx, p.y + dy);
    return true;
  }

  setVisible(id, visible) {
    const p = this.points.get(id);
    if (p.visible === visible) return false;
    this.checkpoint();
    p.visible = visible;
    this.onChange("visibility", id);
    return true;
  }

  place(id, x, y) {
    this.checkpoint();
    const p = this.points.get(id);
    p.visible = VISIBLE;
    this.moveTo(id, x, y);
  }

  /** Put one keypoint back as another payload has it (YOLO's suggestion, the submitted version). */
  resetTo(id, payload) {
    const source = pointsFrom(this.schema, payload, this.width, this.height).get(id);
    this.checkpoint();
    Object.assign(this.points.get(id), { x: source.x, y: source.y, visible: source.visible });
    this.onChange("reset", id);
  }

  replaceAll(payload) {
    this.checkpoint();
    this.points = pointsFrom(this.schema, payload, this.width, this.height);
    this.onChange("replace", null);
  }

  undo() {
    if (!this.canUndo) return false;
    this.redoStack.push(this.#snapshot());
    this.#restore(this.undoStack.pop());
    this.onChange("undo", null);
    return true;
  }

  redo() {
    if (!this.canRedo) return false;
    this.undoStack.push(this.#snapshot());
    this.#restore(this.redoStack.pop());
    this.onChange("redo", null);
    return true;
  }

  /** The API's keypoint payload, in schema order, to a tenth of a pixel. */
  payload() {
    return {
      keypoints: this.list().map((p) => {
        const k = { id: p.id, name: p.name, x: round1(p.x), y: round1(p.y), visible: p.visible };
        if (p.confidence !== null && p.confidence !== undefined) k.confidence = p.confidence;
        return k;
      }),
    };
  }

  /** Ids whose position (beyond half a pixel) or visibility differs from `payload`. */
  differencesFrom(payload) {
    const other = pointsFrom(this.schema, payload, this.width, this.height);
    const changed = new Set();
    for (const p of this.list()) {
      const o = other.get(p.id);
      const moved = p.visible !== ABSENT && Math.hypot(p.x - o.x, p.y - o.y) > 0.5;
      if (p.visible !== o.visible || moved) changed.add(p.id);
    }
    return changed;
  }

  /** Required keypoints that are absent, and whether too many are missing (the submit rules). */
  completeness() {
    const missingRequired = this.schema.keypoints.filter((k) => this.schema.required.has(k.id) && this.points.get(k.id).visible === ABSENT);
    const missing = this.list().filter((p) => p.visible === ABSENT).length;
    return { missingRequired, missing, tooMany: missing > this.schema.maxMissing };
  }

  #snapshot() {
    return this.list().map((p) => ({ ...p }));
  }

  #restore(snapshot) {
    this.points = new Map(snapshot.map((p) => [p.id, { ...p }]));
    this.lastKey = null;
  }
}

export function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}

function round1(v) {
  return Math.round(v * 10) / 10;
}
