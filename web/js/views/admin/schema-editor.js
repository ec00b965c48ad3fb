// The visual schema editor: keypoints (name, colour, required, OKS sigma) in a table, and the
// skeleton on a drawing: click one keypoint, then another, to connect or disconnect them; drag
// keypoints to arrange the drawing (the layout is only for editing, it is not saved).

import { h, replace, s } from "../../dom.js";
import { go } from "../../router.js";
import { forgetSchema } from "../../data.js";
import { ApiError } from "../../api.js";
import { openDialog } from "../../ui/dialog.js";
import { guarded, notify, notifyError } from "../../ui/notices.js";
import { pageHead } from "./common.js";

const NAME = /^[a-z][a-z0-9_]*$/;
const W = 400, H = 420;
const PALETTE = ["#FF0000", "#00C853", "#FF6D00", "#00BFA5", "#FFAB00", "#2962FF", "#D50000", "#00B8D4", "#C51162", "#6200EA", "#AA00FF", "#304FFE", "#DD2C00", "#0091EA", "#FF3D00", "#00E5FF", "#FFD600"];

// Where COCO's keypoints sit on a figure facing the viewer (their left on the right), 0..1.
const TEMPLATE = {
  nose: [0.5, 0.15], left_eye: [0.57, 0.08], right_eye: [0.43, 0.08], left_ear: [0.66, 0.13], right_ear: [0.34, 0.13],
  left_shoulder: [0.64, 0.27], right_shoulder: [0.36, 0.27], left_elbow: [0.76, 0.41], right_elbow: [0.24, 0.41],
  left_wrist: [0.83, 0.55], right_wrist: [0.17, 0.55], left_hip: [0.58, 0.56], right_hip: [0.42, 0.56],
  left_knee: [0.62, 0.73], right_knee: [0.38, 0.73], left_ankle: [0.64, 0.9], right_ankle: [0.36, 0.9],
};

export function mountSchemaEditor(root, ctx, schemaId, fromId) {
  const api = ctx.api;
  const st = { original: null, keypoints: [], connections: [], bodyParts: {}, positions: new Map(), pending: null, selected: null };
  const name = h("input", { name: "name", required: true, pattern: "[a-z0-9][a-z0-9._\\-]*", maxlength: 100, placeholder: "infant-pose-21" });
  const version = h("input", { name: "version", required: true, pattern: "v?\\d+(\\.\\d+){0,2}([\\-.][a-z0-9]+)?", maxlength: 10, value: "v1.0" });
  const description = h("textarea", { name: "description", rows: 2, maxlength: 2000 });
  const maxMissing = h("input", { name: "max_missing_keypoints", type: "number", min: 0, value: "3" });
  const svg = s("svg", { class: "schema-canvas", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Skeleton: click two keypoints to connect them" });
  const tableBody = h("tbody", {});
  const connections = h("div", { class: "chips", dataset: { testid: "connections" } });
  const hint = h("p", { class: "muted", style: { margin: 0 } });
  const saveButton = h("button", { class: "btn btn-primary", type: "button", onclick: guarded(save, "Save schema") }, "Save");
  const heading = h("div", {});
  root.append(
    heading,
    h("div", { class: "schema-editor" },
      h("div", { class: "stack" },
        h("div", { class: "card stack" },
          h("div", { class: "form-grid" },
            h("label", { class: "field" }, h("span", { class: "field-label", text: "Name" }), name),
            h("label", { class: "field" }, h("span", { class: "field-label", text: "Version" }), version),
            h("label", { class: "field" }, h("span", { class: "field-label", text: "Most absent keypoints allowed" }), maxMissing)),
          h("label", { class: "field" }, h("span", { class: "field-label", text: "Description" }), description)),
        h("div", { class: "card" },
          h("h2", {}, "Keypoints", h("span", { class: "muted", text: "colour, required for submission, OKS sigma (blank: COCO's or 0.05)" })),
          h("div", { class: "table-wrap", style: { border: 0 } },
            h("table", { class: "data kp-editor" },
              h("thead", {}, h("tr", {}, ["Id", "Name", "Colour", "Required", "Sigma", ""].map((t) => h("th", { text: t })))),
              tableBody)),
          h("div", { class: "row gap", style: { marginTop: ".6rem" } },
            h("button", { class: "btn", type: "button", text: "Add keypoint", onclick: () => addKeypoint() }))),
      ),
      h("div", { class: "stack" },
        h("div", { class: "card stack" },
          h("h2", {}, "Skeleton", h("span", { class: "muted", text: "click two keypoints to connect or disconnect" })),
          svg,
          hint,
          connections),
        h("div", { class: "row gap" }, h("a", { class: "btn", href: "#/admin/schemas", text: "Back" }), h("span", { class: "spacer" }), saveButton))),
  );

  // ------------------------------------------------------------------ loading
  (async () => {
    const source = schemaId ? await api.get(`/schemas/${schemaId}`) : fromId ? await api.get(`/schemas/${fromId}`) : (await api.get("/schemas", { query: { active: true, limit: 1 } })).items[0];
    st.original = schemaId ? source : null;
    if (source) {
      const def = source.schema_definition;
      st.keypoints = def.keypoints.map((k) => ({ ...k, sigma: k.sigma ?? null }));
      const required = new Set(source.required_keypoints ?? def.keypoints.filter((k) => k.required).map((k) => k.id));
      for (const k of st.keypoints) k.required = required.has(k.id);
      st.connections = def.connections.map(([a, b]) => [a, b]);
      st.bodyParts = structuredClone(def.body_parts || {});
      maxMissing.value = String(source.max_missing_keypoints);
      description.value = source.description || "";
    }
    if (schemaId) {
      name.value = source.name;
      name.disabled = true;
      version.value = source.version;
      version.disabled = true; // a version is a name: edits keep it, new versions get their own
    } else if (source) {
      name.value = "";
      version.value = "v1.0";
    }
    layout();
    const title = schemaId ? `${source.name} ${source.version}` : "New schema";
    replace(heading, pageHead(title, schemaId && source.in_use
      ? "In use by a batch: saving creates a new, inactive version; activate it when ready."
      : "Changes apply when you save."));
    saveButton.textContent = schemaId && source.in_use ? "Save as new version…" : schemaId ? "Save changes" : "Create schema";
    draw();
  })().catch((error) => notifyError(error, "Schema"));

  function layout() {
    const unknown = st.keypoints.filter((k) => !TEMPLATE[k.name] && !st.positions.has(k.id));
    for (const k of st.keypoints) {
      if (TEMPLATE[k.name] && !st.positions.has(k.id)) st.positions.set(k.id, { x: TEMPLATE[k.name][0] * W, y: TEMPLATE[k.name][1] * H });
    }
    unknown.forEach((k, i) => {
      const a = (2 * Math.PI * i) / Math.max(unknown.length, 1) - Math.PI / 2;
      st.positions.set(k.id, { x: W / 2 + Math.cos(a) * W * 0.3, y: H / 2 + Math.sin(a) * H * 0.3 });
    });
  }

  // ------------------------------------------------------------------ drawing
  function draw() {
    drawTable();
    drawSkeleton();
    replace(connections, st.connections.map(([a, b]) => h("span", { class: "chip", dataset: { edge: `${a}-${b}` } },
      `${label(a)} — ${label(b)}`,
      h("button", { type: "button", "aria-label": `Remove ${label(a)} — ${label(b)}`, text: "×", onclick: () => { toggleEdge(a, b); } }))));
    hint.textContent = st.pending !== null
      ? `Now click the keypoint to connect with ${label(st.pending)} (or it again to cancel).`
      : `${st.keypoints.length} keypoints, ${st.connections.length} connections.`;
  }

  function label(id) {
    return st.keypoints.find((k) => k.id === id)?.name.replaceAll("_", " ") ?? `#${id}`;
  }

  function drawTable() {
    replace(tableBody, st.keypoints.map((k) => h("tr", { dataset: { kp: String(k.id) }, class: st.selected === k.id ? "selected" : null },
      h("td", { class: "muted", text: String(k.id) }),
      h("td", {}, h("input", { type: "text", value: k.name, required: true, pattern: "[a-z][a-z0-9_]*", maxlength: 50, "aria-label": `Name of keypoint ${k.id}`,
        onchange: (e) => { k.name = e.target.value.trim(); e.target.setCustomValidity(NAME.test(k.name) ? "" : "lower_snake_case, starting with a letter"); drawSkeleton(); } })),
      h("td", {}, h("input", { type: "color", value: k.color.toLowerCase(), "aria-label": `Colour of ${k.name}`, oninput: (e) => { k.color = e.target.value.toUpperCase(); drawSkeleton(); } })),
      h("td", {}, h("input", { type: "checkbox", checked: k.required, "aria-label": `${k.name} is required`, onchange: (e) => { k.required = e.target.checked; } })),
      h("td", {}, h("input", { type: "number", min: 0.001, max: 1, step: 0.001, value: k.sigma ?? "", placeholder: "auto", style: { width: "5.5rem" }, "aria-label": `OKS sigma of ${k.name}`,
        onchange: (e) => { k.sigma = e.target.value === "" ? null : Number(e.target.value); } })),
      h("td", {}, h("button", { class: "btn btn-small btn-ghost", type: "button", "aria-label": `Remove ${k.name}`, title: "Remove", text: "✕", onclick: () => removeKeypoint(k.id) })))));
  }

  function drawSkeleton() {
    const byId = new Map(st.keypoints.map((k) => [k.id, k]));
    const edges = st.connections.map(([a, b]) => {
      const p = st.positions.get(a), q = st.positions.get(b);
      return s("line", { x1: p.x, y1: p.y, x2: q.x, y2: q.y, stroke: byId.get(a).color, "stroke-width": 3, "stroke-linecap": "round", opacity: 0.85 });
    });
    const nodes = st.keypoints.map((k) => {
      const p = st.positions.get(k.id);
      const g = s("g", { class: "schema-node", dataset: { kp: String(k.id) }, transform: `translate(${p.x} ${p.y})`, style: { cursor: "pointer" } },
        st.pending === k.id ? s("circle", { r: 13, fill: "none", stroke: "#fff", "stroke-width": 2, "stroke-dasharray": "3 3" }) : null,
        s("circle", { r: 8, fill: k.color, stroke: "rgba(0,0,0,.7)", "stroke-width": 1.5 }),
        s("text", { x: 12, y: 4, fill: "#c9d4de", "font-size": 11 }, k.name.replaceAll("_", " ")));
      nodeEvents(g, k.id);
      return g;
    });
    replace(svg, s("rect", { x: 0, y: 0, width: W, height: H, fill: "transparent" }), ...edges, ...nodes);
  }

  function nodeEvents(g, id) {
    let start = null;
    g.addEventListener("pointerdown", (event) => {
      start = { x: event.clientX, y: event.clientY, moved: false };
      g.setPointerCapture(event.pointerId);
    });
    g.addEventListener("pointermove", (event) => {
      if (!start) return;
      if (Math.hypot(event.clientX - start.x, event.clientY - start.y) > 4) start.moved = true;
      if (!start.moved) return;
      const rect = svg.getBoundingClientRect();
      st.positions.set(id, { x: ((event.clientX - rect.left) / rect.width) * W, y: ((event.clientY - rect.top) / rect.height) * H });
      drawSkeletonSoon();
    });
    g.addEventListener("pointerup", () => {
      const moved = start?.moved;
      start = null;
      if (!moved) clickNode(id);
    });
  }

  let frame = 0;
  function drawSkeletonSoon() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      // Redrawing replaces the node being dragged; keep its pointer capture by moving it only.
      for (const g of svg.querySelectorAll(".schema-node")) {
        const p = st.positions.get(Number(g.dataset.kp));
        g.setAttribute("transform", `translate(${p.x} ${p.y})`);
      }
      const lines = svg.querySelectorAll("line");
      st.connections.forEach(([a, b], i) => {
        const p = st.positions.get(a), q = st.positions.get(b);
        Object.entries({ x1: p.x, y1: p.y, x2: q.x, y2: q.y }).forEach(([k, v]) => lines[i].setAttribute(k, v));
      });
    });
  }

  // ------------------------------------------------------------------ editing
  function clickNode(id) {
    if (st.pending === null) st.pending = id;
    else if (st.pending === id) st.pending = null;
    else {
      toggleEdge(st.pending, id);
      st.pending = null;
    }
    st.selected = id;
    draw();
  }

  function toggleEdge(a, b) {
    const i = st.connections.findIndex(([x, y]) => (x === a && y === b) || (x === b && y === a));
    if (i >= 0) st.connections.splice(i, 1);
    else st.connections.push([a, b]);
    draw();
  }

  function addKeypoint() {
    const id = st.keypoints.reduce((m, k) => Math.max(m, k.id), -1) + 1;
    st.keypoints.push({ id, name: `keypoint_${id}`, color: PALETTE[id % PALETTE.length], required: false, sigma: null });
    st.positions.set(id, { x: W / 2 + ((id * 37) % 80) - 40, y: H / 2 + ((id * 53) % 80) - 40 });
    draw();
    tableBody.querySelector(`tr[data-kp="${id}"] input[type=text]`)?.select();
  }

  function removeKeypoint(id) {
    if (st.keypoints.length <= 1) return notify("A schema keeps at least one keypoint.", "warning");
    st.keypoints = st.keypoints.filter((k) => k.id !== id);
    st.connections = st.connections.filter(([a, b]) => a !== id && b !== id);
    for (const [part, ids] of Object.entries(st.bodyParts)) {
      st.bodyParts[part] = ids.filter((x) => x !== id);
      if (!st.bodyParts[part].length) delete st.bodyParts[part];
    }
    if (st.pending === id) st.pending = null;
    draw();
  }

  // ------------------------------------------------------------------ saving
  function definition() {
    return {
      keypoints: st.keypoints.map((k) => {
        const out = { id: k.id, name: k.name, color: k.color.toUpperCase(), required: k.required };
        if (k.sigma !== null && k.sigma !== undefined && !Number.isNaN(k.sigma)) out.sigma = k.sigma;
        return out;
      }),
      connections: st.connections,
      body_parts: st.bodyParts,
    };
  }

  function problems() {
    const found = [];
    const names = st.keypoints.map((k) => k.name);
    for (const n of names) if (!NAME.test(n)) found.push(`“${n}” is not lower_snake_case.`);
    const dupes = names.filter((n, i) => names.indexOf(n) !== i);
    if (dupes.length) found.push(`Names used twice: ${[...new Set(dupes)].join(", ")}.`);
    if (!name.disabled && !name.checkValidity()) found.push("The name is lower case letters, digits, dots and dashes.");
    if (!version.checkValidity()) found.push("The version looks like v1.0 or 2.1.3.");
    if (Number(maxMissing.value) > st.keypoints.length) found.push("More absent keypoints allowed than there are keypoints.");
    return found;
  }

  async function save() {
    const found = problems();
    if (found.length) return notify("The schema is not valid yet", "warning", found.join(" "));
    const common = {
      description: description.value.trim() || null,
      schema_definition: definition(),
      required_keypoints: st.keypoints.filter((k) => k.required).map((k) => k.id),
      max_missing_keypoints: Number(maxMissing.value),
    };
    try {
      let saved;
      if (!st.original) {
        saved = await api.post("/schemas", { body: { name: name.value.trim(), version: version.value.trim(), ...common } });
        notify(`Schema ${saved.name} ${saved.version} created`, "success");
      } else if (st.original.in_use) {
        const answer = await openDialog({
          title: "Save as a new version",
          body: h("label", { class: "field" }, h("span", { class: "field-label", text: `New version of ${st.original.name} (now ${st.original.version})` }),
            h("input", { name: "version", required: true, maxlength: 10, pattern: "v?\\d+(\\.\\d+){0,2}([\\-.][a-z0-9]+)?", value: bump(st.original.version) })),
          actions: [{ label: "Cancel", value: null }, { label: "Create version", kind: "primary", submit: true }],
        });
        if (!answer) return;
        saved = await api.post(`/schemas/${st.original.id}/versions`, { body: { version: answer.version, ...common } });
        notify(`Version ${saved.version} created (inactive)`, "success", "Activate it in the schema list when it is ready.");
      } else {
        saved = await api.patch(`/schemas/${st.original.id}`, { body: { ...common } });
        forgetSchema(saved.id);
        notify(`${saved.name} ${saved.version} saved`, "success");
      }
      go(`/admin/schemas/${saved.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) notifyError(error, "The server refused the schema");
      else throw error;
    }
  }

  return {};
}

function bump(version) {
  const m = /^(v?)(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) return version;
  return `${m[1]}${m[2]}.${Number(m[3] || 0) + 1}`;
}
