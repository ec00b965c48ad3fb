// The annotation workbench: one image of an assignment at a time, YOLO's keypoints to start from,
// drag / nudge / visibility / notes, autosaved drafts, submit, and the next image already loaded.

import { $, h, humanize, isTyping, replace } from "../dom.js";
import { ApiError } from "../api.js";
import { go } from "../router.js";
import { getPicture, getSchema } from "../data.js";
import { ABSENT, KeypointDoc, OCCLUDED, VISIBLE } from "../keypoints/model.js";
import { KeypointCanvas } from "../keypoints/canvas.js";
import { KeypointList } from "../keypoints/list.js";
import { canvasToolbar, selectedBadge } from "../keypoints/toolbar.js";
import { DraftSaver, takeLocalDraft } from "./draft-saver.js";
import { guarded, notify, notifyError } from "../ui/notices.js";
import { openDialog } from "../ui/dialog.js";
import { useShortcuts } from "../ui/shortcuts.js";
import { scorePicker } from "../ui/score.js";
import { selectByNumber } from "./keys.js";

const OPEN = ["ASSIGNED", "ACKNOWLEDGED", "IN_PROGRESS", "OVERDUE"];
const WORKABLE_LISTED = ["IN_PROGRESS", "ASSIGNED", "REQUIRES_REVISION", "ANNOTATED"];
const DIFFICULTIES = ["EASY", "MEDIUM", "HARD", "VERY_HARD"];
const TOOL_VERSION = "cradle-web-1";

export const WORKBENCH_SHORTCUTS = [
  {
    name: "Keypoints",
    items: [
      { keys: "Tab / Shift+Tab", label: "Next / previous keypoint" },
      { keys: "1 … 9 / 0", label: "Keypoint 1–10; two digits quickly (1 then 5) for 11–17" },
      { keys: "← ↑ → ↓", label: "Nudge the selected keypoint 1 px (Shift: 10 px)" },
      { keys: "V / O / A", label: "Visible / occluded / absent" },
      { keys: "Click", label: "Place an absent keypoint where you click" },
      { keys: "R", label: "Reset the keypoint to YOLO's position" },
      { keys: "N", label: "Write a note on the keypoint" },
      { keys: "Esc", label: "Leave a text field / deselect" },
    ],
  },
  {
    name: "View",
    items: [
      { keys: "Wheel / + / −", label: "Zoom (at the cursor)" },
      { keys: "Drag background / Space+drag", label: "Pan" },
      { keys: "F", label: "Fit the image" },
      { keys: "Z", label: "Zoom to the selected keypoint / back" },
      { keys: "G", label: "Show or hide YOLO's original keypoints (ghost)" },
      { keys: "K", label: "Show or hide the skeleton" },
    ],
  },
  {
    name: "Work",
    items: [
      { keys: "Ctrl+Z", label: "Undo" },
      { keys: "Ctrl+Shift+Z / Ctrl+Y", label: "Redo" },
      { keys: "S / Ctrl+S", label: "Save the draft now (it also saves itself)" },
      { keys: "Enter / Ctrl+Enter", label: "Submit and open the next image" },
      { keys: "P", label: "Pause (the clock stops)" },
    ],
  },
];

// POST /images/{id}/flag-unusable's reasons (workflow.unusable.UnusableReason), in words.
const UNUSABLE_REASONS = [
  ["BODY_OUT_OF_FRAME", "The body is mostly out of frame"],
  ["KEYPOINT_NOT_PLACEABLE", "A required keypoint cannot be placed"],
  ["OCCLUDED", "The infant is hidden (blanket, hands, equipment)"],
  ["POOR_IMAGE_QUALITY", "Too blurred, dark or small"],
  ["NO_INFANT", "There is no infant in the picture"],
  ["MORE_THAN_ONE_PERSON", "More than one person, unclear which"],
  ["OTHER", "Other (say what)"],
];

export function mountWorkbench(root, ctx, route) {
  const api = ctx.api;
  const st = {
    destroyed: false,
    assignments: [],
    assignment: null,
    active: false,
    item: null,
    info: null,
    schema: null,
    doc: null,
    saver: null,
    selected: null,
    showGhost: true,
    showSkeleton: true,
    notes: {},
    meta: {},
    clock: { base: 0, since: null },
    remaining: 0,
    prefetch: null,
    submitting: false,
    paused: false,
    zoomedFrom: null,
  };

  // ------------------------------------------------------------------ layout
  const canvasArea = h("div", { class: "bench-canvas" });
  const message = h("div", { class: "canvas-message", text: "Loading your work…" });
  const side = h("aside", { class: "bench-side", "aria-label": "Annotation" });
  const bench = h("div", { class: "bench", dataset: { view: "workbench" } }, canvasArea, side);
  root.append(bench);
  canvasArea.append(message);

  let canvas = null, toolbar = null, badge = null, list = null;
  const ui = {};

  const removeShortcuts = useShortcuts("Workbench", WORKBENCH_SHORTCUTS, onKey);
  const onVisibility = () => tickClock(document.visibilityState === "visible" && !st.paused);
  document.addEventListener("visibilitychange", onVisibility);
  const onPageHide = () => {
    st.saver?.saveOnUnload();
    if (st.active && st.assignment) api.request("POST", `/assignments/${st.assignment.id}/pause`, { keepalive: true }).catch(() => {});
  };
  window.addEventListener("pagehide", onPageHide);

  start().catch((error) => {
    if (!st.destroyed) {
      message.textContent = "Could not load your work.";
      notifyError(error, "Workbench");
    }
  });

  // ------------------------------------------------------------------ assignments
  async function start() {
    const page = await api.get("/assignments", { query: { limit: 100 } });
    st.assignments = page.items;
    const open = openAssignments();
    const wanted = route.parts[1] ? Number(route.parts[1]) : null;
    const chosen = (wanted && st.assignments.find((a) => a.id === wanted)) || open[0];
    if (!chosen || !OPEN.includes(chosen.status)) {
      if (chosen && wanted) return finished(chosen);
      return nothingToDo();
    }
    st.assignment = await ensureActive(chosen);
    st.active = true;
    await nextFromServer();
  }

  function openAssignments() {
    return st.assignments
      .filter((a) => OPEN.includes(a.status))
      .sort((a, b) => (b.assignment_type === "REVISION") - (a.assignment_type === "REVISION") || b.priority - a.priority || a.id - b.id);
  }

  async function ensureActive(assignment) {
    const path = `/assignments/${assignment.id}`;
    if (assignment.status === "ASSIGNED" || assignment.status === "ACKNOWLEDGED") return api.post(`${path}/start`);
    if (assignment.status === "OVERDUE") return api.post(`${path}/${assignment.started_at ? "resume" : "start"}`);
    if (assignment.is_paused) return api.post(`${path}/resume`);
    return assignment;
  }

  async function nextFromServer() {
    const { item } = await api.get(`/assignments/${st.assignment.id}/next-image`);
    if (st.destroyed) return;
    if (!item) {
      st.active = false;
      return finished(st.assignment);
    }
    const [schema, picture, previous] = await Promise.all([getSchema(api, item.schema_id), getPicture(api, item.image_id), previousVersion(item)]);
    if (st.destroyed) return;
    st.remaining = item.remaining;
    show(item, schema, picture, previous);
  }

  /** On a revision with no draft yet, the version the verifier sent back is where work resumes. */
  async function previousVersion(item) {
    if (item.annotation || !item.revision) return null;
    const versions = await api.get(`/images/${item.image_id}/annotations`);
    return versions.find((v) => v.id === item.revision.previous_annotation_id)?.refined_keypoints || null;
  }

  // ------------------------------------------------------------------ one image
  function show(item, schema, picture, previous = null) {
    st.item = item;
    st.info = picture.info;
    st.schema = schema;
    st.prefetch = null;
    const saved = item.annotation;
    // Changes made on the server's version that never reached it (the page was left too soon).
    const local = takeLocalDraft(item.image_id, saved ? saved.row_version : null);
    const draft = local ? { ...saved, ...local, refined_keypoints: local.keypoints } : saved;
    const start = draft ? draft.refined_keypoints : previous || item.yolo_keypoints || { keypoints: [] };
    st.doc = new KeypointDoc(schema, start, item.width, item.height, onDocChange);
    st.notes = { ...(draft?.keypoint_notes || {}) };
    st.meta = {
      difficulty_rating: draft?.difficulty_rating || null,
      annotation_quality_score: draft?.annotation_quality_score ?? null,
      general_notes: draft?.general_notes || "",
      image_quality_feedback: draft?.image_quality_feedback || "",
      pause_count: draft?.pause_count || 0,
    };
    st.clock = { base: draft?.time_spent_seconds || 0, since: null };
    tickClock(document.visibilityState === "visible");
    st.saver?.close();
    st.saver = new DraftSaver({
      api,
      imageId: item.image_id,
      rowVersion: saved ? saved.row_version : null,
      body: draftBody,
      onState: (state) => setSaveState(state),
      onConflict: reloadAfterConflict,
      onError: (error) => notifyError(error, "Could not save the draft"),
    });
    const problems = new Set(item.revision?.problematic_keypoints || []);
    buildCanvas(item, schema, picture.image);
    buildSide(item, schema, picture.info, problems);
    st.selected = null;
    select(problems.size ? [...problems][0] : schema.keypoints[0].id, "canvas");
    setSaveState(saved ? "saved" : "unsaved");
    if (local) {
      st.saver.changed();
      notify("Unsaved changes restored", "info", "Your last changes had not reached the server; they are saved now.");
    }
    refresh();
    prefetchNext().catch(() => {});
  }

  function buildCanvas(item, schema, image) {
    if (!canvas) {
      canvas = new KeypointCanvas(canvasArea, {
        schema,
        width: item.width,
        height: item.height,
        editable: true,
        label: "Image to annotate",
        onSelect: (id) => select(id, "canvas"),
        onDragStart: () => st.doc.checkpoint(),
        onDrag: (id, x, y) => st.doc.moveTo(id, x, y),
        onDragEnd: (id, moved) => {
          if (!moved) st.doc.dropCheckpoint();
        },
        onPlace: (x, y) => {
          const p = st.doc.get(st.selected);
          if (p && p.visible === ABSENT) st.doc.place(st.selected, x, y);
        },
        onView: () => refreshToolbar(),
      });
      toolbar = canvasToolbar(canvas, {
        onToggleGhost: () => toggleGhost(),
        onToggleSkeleton: () => toggleSkeleton(),
        onUndo: () => st.doc.undo(),
        onRedo: () => st.doc.redo(),
      });
      badge = selectedBadge();
      canvasArea.append(toolbar.el, badge.el);
    }
    canvas.o.schema = schema;
    canvas.setSize(item.width, item.height);
    canvas.setImage(image);
    message.hidden = true;
    canvas.set({ doc: st.doc, ghost: item.yolo_keypoints, links: true, highlights: new Set(item.revision?.problematic_keypoints || []) });
  }

  function buildSide(item, schema, info, problems) {
    const saveState = h("span", { class: "status-pill save-state", dataset: { state: "saved", testid: "save-state" }, text: "saved" });
    ui.saveState = saveState;
    ui.remaining = h("span", { class: "muted" });
    list = new KeypointList(schema, { onSelect: (id) => select(id) });
    ui.visibility = h(
      "div",
      { class: "segmented", role: "group", "aria-label": "Visibility of the selected keypoint" },
      [[VISIBLE, "Visible", "V"], [OCCLUDED, "Occluded", "O"], [ABSENT, "Absent", "A"]].map(([v, label, key]) =>
        h("button", { type: "button", dataset: { v: String(v) }, title: `${label} (${key})`, onclick: () => setVisibility(v) }, label),
      ),
    );
    ui.note = h("textarea", {
      rows: 2,
      maxlength: 500,
      placeholder: "Note on this keypoint (N)",
      "aria-label": "Note on the selected keypoint",
      oninput: () => {
        const text = ui.note.value.trim();
        if (text) st.notes[String(st.selected)] = ui.note.value;
        else delete st.notes[String(st.selected)];
        st.saver.changed();
        refreshList();
      },
    });
    ui.selectedName = h("strong");
    const revision = item.revision
      ? h(
          "section",
          { class: "feedback-box feedback-pinned", dataset: { testid: "revision-feedback" } },
          h("h3", { text: item.revision.decision === "MAJOR_REVISION_NEEDED" ? "Major revision requested" : "Revision requested" }),
          problems.size
            ? h("div", { class: "chips", style: { margin: ".1rem 0 .4rem" } },
                [...problems].map((id) => {
                  const def = schema.byId.get(id);
                  return h("button", { type: "button", class: "chip", title: "Select it", onclick: () => select(id) }, h("span", { class: "dot", style: { background: def?.color } }), def ? def.name.replaceAll("_", " ") : `#${id}`);
                }))
            : null,
          h("p", { text: item.revision.feedback_to_annotator || "(no feedback given)" }),
        )
      : null;

    const difficulty = h(
      "div",
      { class: "segmented", role: "group", "aria-label": "Difficulty" },
      DIFFICULTIES.map((d) =>
        h("button", {
          type: "button",
          dataset: { d },
          "aria-pressed": String(st.meta.difficulty_rating === d),
          text: humanize(d),
          onclick: (event) => {
            st.meta.difficulty_rating = st.meta.difficulty_rating === d ? null : d;
            for (const b of difficulty.children) b.setAttribute("aria-pressed", String(b.dataset.d === st.meta.difficulty_rating));
            event.currentTarget.blur();
            st.saver.changed();
          },
        }),
      ),
    );
    const confidence = scorePicker({
      label: "How sure are you of this annotation? (1–5)",
      name: "self-confidence",
      min: 1,
      max: 5,
      value: st.meta.annotation_quality_score !== null ? Math.max(1, Math.round(Number(st.meta.annotation_quality_score) * 5)) : null,
      onChange: (v) => {
        const next = v === null ? null : v / 5;
        if (next !== st.meta.annotation_quality_score) {
          st.meta.annotation_quality_score = next;
          st.saver?.changed();
        }
      },
    });
    const textField = (label, key, placeholder) =>
      h("label", { class: "field" }, h("span", { class: "field-label", text: label }),
        h("textarea", { rows: 2, maxlength: 5000, placeholder, value: st.meta[key], oninput: (e) => { st.meta[key] = e.target.value; st.saver.changed(); } }));

    ui.submit = h("button", { type: "button", class: "btn btn-primary", title: "Submit (Enter)", onclick: guarded(submit, "Submit") }, "Submit ", h("kbd", { text: "↵" }));
    replace(
      side,
      h("div", { class: "side-head" },
        h("div", {},
          h("h2", { text: info.original_filename }),
          h("div", { class: "muted", style: { fontSize: "12.5px" } }, `Image ${item.image_id} · batch ${item.batch_id} · `, ui.remaining)),
        saveState),
      revision,
      h("div", { class: "side-scroll" },
        h("section", { class: "side-section", "aria-label": "Selected keypoint" },
          h("div", { class: "row gap" }, h("h3", { text: "Selected" }), ui.selectedName),
          ui.visibility,
          h("div", { class: "row gap" },
            h("button", { type: "button", class: "btn btn-small", title: "Back to YOLO's position (R)", onclick: () => resetSelected() }, "Reset to YOLO"),
            h("button", { type: "button", class: "btn btn-small", title: "Zoom to it (Z)", onclick: () => zoomToSelected() }, "Zoom to it")),
          ui.note),
        h("section", { class: "side-section" },
          h("h3", { text: `Keypoints · ${schema.name} ${schema.version}` }),
          list.el),
        h("details", { class: "side-section", open: Boolean(item.revision) || null },
          h("summary", {}, h("h3", { style: { display: "inline" }, text: "Self-assessment and notes" })),
          h("div", { class: "stack", style: { marginTop: ".5rem" } },
            h("div", { class: "field" }, h("span", { class: "field-label", text: "Difficulty of this image" }), difficulty),
            confidence.el,
            textField("General notes", "general_notes", "Anything the verifier should know"),
            textField("Image quality feedback", "image_quality_feedback", "Blur, lighting, cropping…"))),
        assignmentSwitcher(),
      ),
      h("div", { class: "side-footer" },
        h("button", { type: "button", class: "btn btn-danger", title: "This image cannot be annotated honestly: a verifier decides", dataset: { testid: "flag-unusable" }, onclick: guarded(flagUnusable, "Flag as unusable") }, "Flag as unusable"),
        h("button", { type: "button", class: "btn", title: "Pause: the clock stops (P)", onclick: guarded(pause, "Pause") }, "Pause"),
        h("button", { type: "button", class: "btn", title: "Save the draft now (S)", onclick: guarded(() => st.saver.save(), "Save") }, "Save ", h("kbd", { text: "S" })),
        ui.submit),
    );
  }

  function assignmentSwitcher() {
    const others = openAssignments();
    if (others.length < 2) return null;
    return h("section", { class: "side-section" },
      h("h3", { text: "Your assignments" }),
      h("ul", { class: "assignment-list" },
        others.map((a) => h("li", {}, h("a", { href: `#/work/${a.id}`, "aria-current": a.id === st.assignment.id ? "true" : null },
          h("span", { class: "tag", text: humanize(a.assignment_type) }), `Batch ${a.batch_id}`, h("span", { class: "spacer" }), h("span", { class: "muted", text: `${a.images_completed}/${a.images_total}` }))))));
  }

  // ------------------------------------------------------------------ state → screen
  function onDocChange() {
    st.saver.changed();
    refresh();
  }

  function refresh() {
    canvas?.set({ selected: st.selected, showGhost: st.showGhost, showSkeleton: st.showSkeleton });
    refreshList();
    refreshToolbar();
    const def = st.schema.byId.get(st.selected);
    const p = def ? st.doc.get(def.id) : null;
    badge.update(def, p, st.schema.keypoints.length);
    ui.selectedName.textContent = def ? def.name.replaceAll("_", " ") : "—";
    for (const b of ui.visibility.children) b.setAttribute("aria-pressed", String(p && Number(b.dataset.v) === p.visible));
    if (document.activeElement !== ui.note) ui.note.value = (def && st.notes[String(def.id)]) || "";
    ui.remaining.textContent = `${st.remaining} left in this assignment`;
  }

  function refreshList() {
    const problems = new Set(st.item.revision?.problematic_keypoints || []);
    const yolo = new Map((st.item.yolo_keypoints?.keypoints || []).map((k) => [k.id, k]));
    list.update((id) => {
      const p = st.doc.get(id), y = yolo.get(id);
      const distance = y && p.visible && y.visible ? Math.hypot(p.x - y.x, p.y - y.y) : 0;
      return {
        selected: id === st.selected,
        visible: p.visible,
        note: Boolean(st.notes[String(id)]),
        problem: problems.has(id),
        metaText: distance > 0.5 ? `${distance.toFixed(1)} px` : "",
      };
    });
  }

  function refreshToolbar() {
    if (!toolbar || !st.doc) return;
    toolbar.update({ scale: canvas.scale, showGhost: st.showGhost, showSkeleton: st.showSkeleton, canUndo: st.doc.canUndo, canRedo: st.doc.canRedo });
  }

  function setSaveState(state) {
    if (!ui.saveState) return;
    ui.saveState.dataset.state = state;
    ui.saveState.textContent = { saved: "saved", unsaved: "unsaved", saving: "saving…", conflict: "conflict", error: "not saved" }[state];
  }

  /** Select a keypoint; `from` says who asked: the keyboard scrolls the list and the canvas to it. */
  function select(id, from = "list") {
    if (!st.schema?.byId.has(id)) return;
    st.selected = id;
    st.zoomedFrom = null;
    refresh();
    if (from === "keyboard") list.scrollTo(id);
    if (from !== "canvas") canvas.reveal(st.doc.get(id));
  }

  function selectStep(step) {
    const ids = st.schema.keypoints.map((k) => k.id);
    const i = ids.indexOf(st.selected);
    select(ids[(i + step + ids.length) % ids.length], "keyboard");
  }

  function setVisibility(v) {
    if (st.selected === null) return;
    const p = st.doc.get(st.selected);
    if (p.visible === ABSENT && v !== ABSENT && st.item.yolo_keypoints && (p.x === st.item.width / 2 && p.y === st.item.height / 2)) {
      notify("Click on the image to place this keypoint.", "info");
    }
    st.doc.setVisible(st.selected, v);
  }

  function resetSelected() {
    if (st.selected === null || !st.item.yolo_keypoints) return;
    st.doc.resetTo(st.selected, st.item.yolo_keypoints);
  }

  function toggleGhost() {
    st.showGhost = !st.showGhost;
    refresh();
  }

  function toggleSkeleton() {
    st.showSkeleton = !st.showSkeleton;
    refresh();
  }

  function zoomToSelected() {
    const p = st.selected !== null ? st.doc.get(st.selected) : null;
    if (!p) return;
    if (st.zoomedFrom) {
      canvas.fit();
      st.zoomedFrom = null;
    } else {
      st.zoomedFrom = canvas.scale;
      canvas.zoomTo(Math.max(canvas.fitScale * 4, 2), p);
    }
  }

  // ------------------------------------------------------------------ time
  function tickClock(running) {
    const now = performance.now();
    if (st.clock.since !== null) st.clock.base += (now - st.clock.since) / 1000;
    st.clock.since = running ? now : null;
  }

  function seconds() {
    tickClock(st.clock.since !== null);
    return Math.min(86400, Math.round(st.clock.base));
  }

  // ------------------------------------------------------------------ saving and submitting
  function draftBody() {
    const notes = Object.fromEntries(Object.entries(st.notes).filter(([, v]) => v && v.trim()));
    return {
      keypoints: st.doc.payload(),
      keypoint_notes: Object.keys(notes).length ? notes : null,
      difficulty_rating: st.meta.difficulty_rating,
      annotation_quality_score: st.meta.annotation_quality_score,
      general_notes: st.meta.general_notes.trim() || null,
      image_quality_feedback: st.meta.image_quality_feedback.trim() || null,
      time_spent_seconds: seconds(),
      pause_count: st.meta.pause_count,
      zoom_level_used: Math.min(99, Math.max(0.1, Math.round(canvas.maxScaleUsed * 10) / 10)),
      annotation_tool_version: TOOL_VERSION,
    };
  }

  async function reloadAfterConflict() {
    const item = await api.get(`/images/${st.item.image_id}/work`);
    if (st.destroyed || !item.annotation) return;
    st.doc.replaceAll(item.annotation.refined_keypoints);
    st.notes = { ...(item.annotation.keypoint_notes || {}) };
    st.saver.reset(item.annotation.row_version);
    refresh();
    notify(
      "This draft was saved elsewhere in the meantime",
      "warning",
      "Another tab or window changed it. The latest saved version is loaded; your last change was not kept.",
    );
  }

  async function submit() {
    if (st.submitting || !st.item) return;
    const check = st.doc.completeness();
    if (check.missingRequired.length || check.tooMany) {
      const names = check.missingRequired.map((k) => k.name.replaceAll("_", " ")).join(", ");
      notify(
        "Not ready to submit",
        "warning",
        check.missingRequired.length
          ? `Required keypoints are absent: ${names}.`
          : `${check.missing} keypoints are absent; the schema allows ${st.schema.maxMissing}.`,
      );
      if (check.missingRequired.length) select(check.missingRequired[0].id, "keyboard");
      return;
    }
    st.submitting = true;
    ui.submit.disabled = true;
    try {
      await st.saver.flush();
      await api.request("POST", `/images/${st.item.image_id}/annotation/submit`, { ifMatch: st.saver.rowVersion });
      st.saver.forget();
      st.saver.close();
      notify(`Submitted ${st.info.original_filename}`, "success");
      st.remaining = Math.max(0, st.remaining - 1);
      const next = st.prefetch;
      if (next && next.item.assignment_id === st.assignment.id) {
        show(next.item, next.schema, next.picture, next.previous);
        st.remaining = Math.max(1, st.remaining);
        refresh();
      } else {
        await nextFromServer();
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        notify("The server refused the submission", "warning", error.fieldErrors.map((e) => e.message).join(" ") || error.message);
      } else if (!(error instanceof ApiError && error.status === 412)) {
        throw error;
      }
    } finally {
      st.submitting = false;
      if (ui.submit) ui.submit.disabled = false;
    }
  }

  /** Hand the image in without keypoints, with a reason: a verifier or an admin decides. */
  async function flagUnusable() {
    if (st.submitting || !st.item) return;
    const words = h("textarea", { name: "text", rows: 3, maxlength: 2000, placeholder: "Required for “other”" });
    const reason = h("select", { name: "reason", required: true },
      h("option", { value: "", text: "Choose…" }),
      UNUSABLE_REASONS.map(([value, text]) => h("option", { value, text })));
    reason.addEventListener("change", () => { words.required = reason.value === "OTHER"; });
    const answer = await openDialog({
      title: "Flag the image as unusable",
      body: h("div", { class: "stack" },
        h("p", { class: "muted", text: "Instead of guessing keypoints you cannot see. A verifier or an administrator accepts the flag (the image is left out) or sends the image back with a note." }),
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Reason" }), reason),
        h("label", { class: "field" }, h("span", { class: "field-label", text: "What is wrong" }), words)),
      actions: [
        { label: "Cancel", value: null },
        { label: "Flag as unusable", kind: "danger", submit: true },
      ],
    });
    if (!answer) return;
    const body = { reason: answer.reason };
    if (answer.text.trim()) body.text = answer.text.trim();
    st.submitting = true;
    try {
      if (st.saver?.dirty) await st.saver.flush();
      await api.post(`/images/${st.item.image_id}/flag-unusable`, { body });
      st.saver?.close();
      notify(`Flagged ${st.info.original_filename} as unusable`, "success", "A verifier decides; the next image is open.");
      st.prefetch = null;
      await nextFromServer();
    } finally {
      st.submitting = false;
    }
  }

  /** The image after this one, with its pixels decoded, so that submit shows it at once. */
  async function prefetchNext() {
    const current = st.item;
    const listed = [];
    for (const status of WORKABLE_LISTED) {
      const page = await api.get(`/batches/${current.batch_id}/images`, { query: { status, limit: 200 } });
      listed.push(...page.items.filter((i) => i.current_annotator === ctx.me.id && i.id !== current.image_id));
      if (listed.length) break;
    }
    listed.sort((a, b) => a.id - b.id);
    for (const candidate of listed.slice(0, 3)) {
      const item = await api.get(`/images/${candidate.id}/work`);
      if (item.assignment_id !== st.assignment.id) continue;
      const [schema, picture, previous] = await Promise.all([getSchema(api, item.schema_id), getPicture(api, item.image_id), previousVersion(item)]);
      if (st.item === current && !st.destroyed) st.prefetch = { item, schema, picture, previous };
      return;
    }
  }

  async function pause() {
    if (!st.active) return;
    tickClock(false);
    await st.saver?.flush();
    await api.post(`/assignments/${st.assignment.id}/pause`);
    st.active = false;
    st.paused = true;
    st.meta.pause_count += 1;
    const overlay = h("div", { class: "pause-overlay", dataset: { testid: "paused" } },
      h("div", {}, h("h1", { text: "Paused" }), h("p", { class: "muted", text: "The clock has stopped." }),
        h("button", {
          class: "btn btn-primary",
          text: "Resume",
          autofocus: true,
          onclick: guarded(async () => {
            await api.post(`/assignments/${st.assignment.id}/resume`);
            st.active = true;
            st.paused = false;
            tickClock(true);
            overlay.remove();
            st.saver.changed();
          }, "Resume"),
        })));
    canvasArea.append(overlay);
    $("button", overlay).focus();
  }

  // ------------------------------------------------------------------ when there is nothing to show
  function emptyState(title, text, ...extra) {
    message.hidden = true;
    canvas?.destroy();
    canvas = null;
    replace(bench, h("div", { class: "empty-state", style: { gridColumn: "1 / -1" } },
      h("div", {}, h("h1", { text: title }), h("p", { class: "muted", text }), ...extra)));
  }

  function nothingToDo() {
    emptyState(
      "Nothing to annotate right now",
      "When an administrator assigns you a batch, it appears here.",
      h("button", { class: "btn btn-primary", text: "Check again", onclick: () => go("/work") }),
    );
  }

  function finished(assignment) {
    const others = openAssignments().filter((a) => a.id !== assignment.id);
    const difficulty = scorePicker({ label: "How hard was this batch? (1–5)", name: "assignment-difficulty", min: 1, max: 5, value: assignment.self_reported_difficulty });
    const confidence = scorePicker({ label: "How confident are you in your work? (1–5)", name: "assignment-confidence", min: 1, max: 5,
      value: assignment.completion_confidence !== null && assignment.completion_confidence !== undefined ? Math.max(1, Math.round(assignment.completion_confidence * 5)) : null });
    const form = h("form", { class: "stack card", style: { textAlign: "left", marginTop: "1rem" } },
      h("h2", { text: "A word on this assignment" }), difficulty.el, confidence.el,
      h("button", { class: "btn", type: "submit", text: "Save" }));
    form.addEventListener("submit", guarded(async (event) => {
      event.preventDefault();
      const body = {};
      if (difficulty.value !== null) body.self_reported_difficulty = difficulty.value;
      if (confidence.value !== null) body.completion_confidence = confidence.value / 5;
      if (!Object.keys(body).length) return;
      await api.patch(`/assignments/${assignment.id}`, { body });
      notify("Thank you — noted.", "success");
    }, "Self-assessment"));
    emptyState(
      "All images of this assignment are submitted",
      `Batch ${assignment.batch_id}: the verifiers take it from here. Revisions they ask for will appear in your workbench.`,
      form,
      others.length
        ? h("p", {}, h("a", { class: "btn btn-primary", href: `#/work/${others[0].id}`, text: `Next assignment (batch ${others[0].batch_id})` }))
        : h("p", {}, h("button", { class: "btn", text: "Check for new work", onclick: () => go("/work") })),
    );
  }

  // ------------------------------------------------------------------ keys
  function onKey(event) {
    if (!st.doc || st.destroyed || $(".pause-overlay", canvasArea)) return false;
    const ctrl = event.ctrlKey || event.metaKey;
    const key = event.key;
    if (isTyping(event)) {
      if (key === "Escape") {
        event.target.blur();
        return true;
      }
      if (ctrl && key.toLowerCase() === "s") return run(() => st.saver.save());
      if (ctrl && key === "Enter") return run(submit);
      return false;
    }
    if (ctrl && key.toLowerCase() === "z") return event.shiftKey ? st.doc.redo() || true : st.doc.undo() || true;
    if (ctrl && key.toLowerCase() === "y") return st.doc.redo() || true;
    if (ctrl && key.toLowerCase() === "s") return run(() => st.saver.save());
    if (key === "Enter") return run(submit);
    if (ctrl || event.altKey) return false;
    if (key === "Tab") {
      selectStep(event.shiftKey ? -1 : 1);
      return true;
    }
    const number = selectByNumber(key, st.schema.keypoints.length);
    if (number !== null) {
      select(st.schema.keypoints[number - 1].id, "keyboard");
      return true;
    }
    const step = event.shiftKey ? 10 : 1;
    const arrows = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (arrows[key]) {
      if (st.selected !== null) st.doc.nudge(st.selected, ...arrows[key]);
      canvas.reveal(st.doc.get(st.selected));
      return true;
    }
    switch (key.toLowerCase()) {
      case "v": setVisibility(VISIBLE); return true;
      case "o": setVisibility(OCCLUDED); return true;
      case "a": case "x": setVisibility(ABSENT); return true;
      case "r": resetSelected(); return true;
      case "g": toggleGhost(); return true;
      case "k": toggleSkeleton(); return true;
      case "f": canvas.fit(); return true;
      case "z": zoomToSelected(); return true;
      case "+": case "=": canvas.zoomBy(1.25); return true;
      case "-": case "_": canvas.zoomBy(1 / 1.25); return true;
      case "s": return run(() => st.saver.save());
      case "p": return run(pause);
      case "n": ui.note.focus(); return true;
      case "escape": select(st.selected, "canvas"); return true;
      default: return false;
    }
  }

  function run(fn) {
    Promise.resolve()
      .then(fn)
      .catch((error) => {
        if (!(error instanceof ApiError && error.status === 412)) notifyError(error);
      });
    return true;
  }

  return {
    unmount() {
      st.destroyed = true;
      removeShortcuts();
      document.removeEventListener("visibilitychange", onVisibility);
      window.removeEventListener("pagehide", onPageHide);
      if (st.saver?.dirty) st.saver.save().catch(() => {});
      st.saver?.close();
      if (st.active && st.assignment) api.post(`/assignments/${st.assignment.id}/pause`).catch(() => {});
      canvas?.destroy();
      bench.remove();
    },
  };
}
