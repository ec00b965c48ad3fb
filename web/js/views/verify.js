// The verification view: claim the next submitted annotation, see it over the image with YOLO's
// baseline and each keypoint's displacement, correct by dragging, and record one of the five
// decisions with the seed's scores. Second opinions and escalations have queues of their own.

import { $, h, humanize, isTyping, replace, fmtDateTime } from "../dom.js";
import { ApiError } from "../api.js";
import { getPicture, getSchema } from "../data.js";
import { ABSENT, KeypointDoc, OCCLUDED, VISIBLE } from "../keypoints/model.js";
import { KeypointCanvas } from "../keypoints/canvas.js";
import { KeypointList } from "../keypoints/list.js";
import { canvasToolbar, selectedBadge } from "../keypoints/toolbar.js";
import { guarded, notify, notifyError } from "../ui/notices.js";
import { useShortcuts } from "../ui/shortcuts.js";
import { scorePicker } from "../ui/score.js";

export const DECISIONS = [
  { code: "APPROVED", label: "Approve" },
  { code: "APPROVED_WITH_CORRECTIONS", label: "Approve with corrections" },
  { code: "MINOR_REVISION_NEEDED", label: "Minor revision" },
  { code: "MAJOR_REVISION_NEEDED", label: "Major revision" },
  { code: "REJECTED", label: "Reject" },
];
const REASONS = ["POOR_IMAGE_QUALITY", "INCORRECT_KEYPOINTS", "ANATOMICAL_ERRORS", "INCOMPLETE_ANNOTATION", "TECHNICAL_ISSUES", "GUIDELINES_VIOLATION", "OTHER"];
const QUEUES = [
  { code: "submitted", label: "Submitted" },
  { code: "second_opinion", label: "Second opinion" },
  { code: "escalated", label: "Escalated", admin: true },
];

export const VERIFY_SHORTCUTS = [
  {
    name: "Decide",
    items: [
      { keys: "1 … 5", label: "Approve / with corrections / minor revision / major revision / reject" },
      { keys: "Enter / Ctrl+Enter", label: "Record the decision and claim the next annotation" },
      { keys: "P", label: "Flag the selected keypoint as problematic" },
    ],
  },
  {
    name: "Keypoints and corrections",
    items: [
      { keys: "Tab / Shift+Tab", label: "Next / previous keypoint" },
      { keys: "Drag", label: "Correct a keypoint (the decision becomes “with corrections”)" },
      { keys: "← ↑ → ↓", label: "Nudge the selected keypoint 1 px (Shift: 10 px)" },
      { keys: "V / O / A", label: "Correct its visibility: visible / occluded / absent" },
      { keys: "R", label: "Undo the correction of the selected keypoint" },
      { keys: "Ctrl+Z / Ctrl+Shift+Z", label: "Undo / redo" },
    ],
  },
  {
    name: "View",
    items: [
      { keys: "Wheel / + / −", label: "Zoom" },
      { keys: "Drag background / Space+drag", label: "Pan" },
      { keys: "F", label: "Fit the image" },
      { keys: "Z", label: "Zoom to the selected keypoint / back" },
      { keys: "G", label: "Show or hide YOLO's baseline and the displacement lines" },
      { keys: "K", label: "Show or hide the skeleton" },
    ],
  },
];

const RENEW_EVERY_MS = 5 * 60 * 1000;

export function mountVerify(root, ctx, route) {
  const api = ctx.api;
  const isAdmin = ctx.me.role === "ADMIN";
  const st = {
    destroyed: false,
    queue: QUEUES.some((q) => q.code === route.query.get("queue")) ? route.query.get("queue") : "submitted",
    item: null,
    schema: null,
    doc: null,
    selected: null,
    showGhost: true,
    showSkeleton: true,
    decision: null,
    problems: new Set(),
    kpScores: {},
    claimedAt: 0,
    hiddenSince: null,
    hiddenTotal: 0,
    deciding: false,
    zoomedFrom: null,
  };
  if (st.queue === "escalated" && !isAdmin) st.queue = "submitted";

  const canvasArea = h("div", { class: "bench-canvas" });
  const message = h("div", { class: "canvas-message", text: "Claiming the next annotation…" });
  const side = h("aside", { class: "bench-side", "aria-label": "Verification" });
  const bench = h("div", { class: "bench", dataset: { view: "verify" } }, canvasArea, side);
  canvasArea.append(message);
  root.append(bench);
  let canvas = null, toolbar = null, badge = null, list = null;
  const ui = {};

  const removeShortcuts = useShortcuts("Verification", VERIFY_SHORTCUTS, onKey);
  const onVisibility = () => {
    if (document.visibilityState === "hidden") st.hiddenSince = performance.now();
    else if (st.hiddenSince !== null) {
      st.hiddenTotal += performance.now() - st.hiddenSince;
      st.hiddenSince = null;
    }
  };
  document.addEventListener("visibilitychange", onVisibility);
  const onPageHide = () => {
    if (st.item) api.request("POST", `/annotations/${st.item.annotation.id}/release`, { keepalive: true }).catch(() => {});
  };
  window.addEventListener("pagehide", onPageHide);
  // A claim is a lease: while this page is open and visible it is renewed, so only a closed or
  // abandoned tab lets it lapse (the server's idle time, 30 minutes by default).
  const renewer = setInterval(() => {
    if (st.item && document.visibilityState === "visible") {
      api.post(`/claims/${st.item.image_id}/renew`).catch(() => {});
    }
  }, RENEW_EVERY_MS);

  claimNext().catch((error) => {
    message.textContent = "Could not claim an annotation.";
    notifyError(error, "Verification");
  });

  // ------------------------------------------------------------------ claiming
  async function claimNext() {
    message.hidden = false;
    message.textContent = "Claiming the next annotation…";
    const { item } = await api.post("/verifications/next", { query: { queue: st.queue } });
    if (st.destroyed) {
      if (item) api.post(`/annotations/${item.annotation.id}/release`).catch(() => {});
      return;
    }
    if (!item) return emptyQueue();
    const [schema, picture] = await Promise.all([getSchema(api, item.schema_id), getPicture(api, item.image_id)]);
    if (st.destroyed) return;
    show(item, schema, picture);
  }

  async function release() {
    const item = st.item;
    if (!item) return;
    st.item = null;
    await api.post(`/annotations/${item.annotation.id}/release`);
  }

  // ------------------------------------------------------------------ one annotation
  function show(item, schema, picture) {
    Object.assign(st, { item, schema, info: picture.info, decision: null, problems: new Set(), kpScores: {}, claimedAt: performance.now(), hiddenTotal: 0, zoomedFrom: null });
    st.doc = new KeypointDoc(schema, item.annotation.refined_keypoints, item.width, item.height, onCorrection);
    if (!canvas) {
      canvas = new KeypointCanvas(canvasArea, {
        schema,
        width: item.width,
        height: item.height,
        editable: true,
        label: "Annotation under review",
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
        ghostLabel: "YOLO",
        onToggleGhost: () => toggle("showGhost"),
        onToggleSkeleton: () => toggle("showSkeleton"),
        onUndo: () => st.doc.undo(),
        onRedo: () => st.doc.redo(),
      });
      badge = selectedBadge();
      canvasArea.append(toolbar.el, badge.el);
    }
    canvas.o.schema = schema;
    canvas.setSize(item.width, item.height);
    canvas.setImage(picture.image);
    message.hidden = true;
    const majors = new Set(item.displacement.filter((d) => d.major).map((d) => d.id));
    canvas.set({ doc: st.doc, ghost: item.yolo_keypoints, links: true, majors, reference: item.annotation.refined_keypoints });
    buildSide(item, schema, picture.info, majors);
    const firstMajor = item.displacement.find((d) => d.major);
    select(firstMajor ? firstMajor.id : schema.keypoints[0].id, "canvas");
  }

  function buildSide(item, schema, info, majors) {
    const a = item.annotation;
    const displacement = new Map(item.displacement.map((d) => [d.id, d]));
    list = new KeypointList(schema, {
      onSelect: (id) => select(id),
      label: "Keypoints with their displacement from YOLO",
      extra: (def) => {
        const score = h("input", {
          class: "kp-score",
          type: "number",
          min: 1,
          max: 10,
          placeholder: "–",
          title: `Accuracy of ${def.name} (1–10)`,
          "aria-label": `Accuracy of ${def.name}, 1 to 10`,
          dataset: { kpScore: String(def.id) },
          oninput: (e) => {
            const v = e.target.value === "" ? null : Number(e.target.value);
            if (v === null) delete st.kpScores[def.id];
            else st.kpScores[def.id] = v;
          },
        });
        const flag = h("button", {
          type: "button",
          class: "kp-flag",
          title: "Problematic (P)",
          "aria-label": `Flag ${def.name} as problematic`,
          "aria-pressed": "false",
          dataset: { kpFlag: String(def.id) },
          text: "⚑",
          onclick: () => toggleProblem(def.id),
        });
        return [score, flag];
      },
    });
    ui.displacement = displacement;
    ui.majors = majors;
    ui.decisionButtons = DECISIONS.map((d, i) =>
      h("button", { type: "button", class: "btn decision", dataset: { decision: d.code }, "aria-pressed": "false", onclick: () => choose(d.code) },
        h("kbd", { text: String(i + 1) }), d.label),
    );
    ui.fields = h("div", { class: "stack" });
    ui.record = h("button", { type: "button", class: "btn btn-primary", title: "Record the decision (Enter)", onclick: guarded(record, "Decision") }, "Record decision ", h("kbd", { text: "↵" }));
    ui.overall = scorePicker({ label: "Overall quality", name: "overall_quality_score", required: true });
    ui.certainty = scorePicker({ label: "Your certainty", name: "certainty_level", required: true });
    ui.more = moreScores();
    ui.flags = flagBoxes();
    ui.corrections = h("span", { class: "muted" });
    const notes = annotatorNotes(a, schema);
    const earlier = item.earlier_verifications.length
      ? h("section", { class: "feedback-box", dataset: { testid: "earlier-verifications" } },
          h("h3", { text: "Earlier decisions on this annotation" }),
          item.earlier_verifications.map((v) => h("p", {},
            h("strong", { text: humanize(v.decision) }), ` · quality ${v.overall_quality_score}/10 · certainty ${v.certainty_level}/10`,
            v.requires_second_opinion ? " · asked for a second opinion" : "", v.escalated_to_admin ? " · escalated" : "",
            v.feedback_to_annotator ? h("div", { class: "muted", text: v.feedback_to_annotator }) : null)))
      : null;
    replace(
      side,
      h("div", { class: "side-head" },
        h("div", {},
          h("h2", { text: `Review · ${info.original_filename}` }),
          h("div", { class: "muted", style: { fontSize: "12.5px" }, text: `Image ${item.image_id} · annotation v${a.version}${a.is_revision ? " (revision)" : ""} · batch ${item.batch_id}` }),
          caseTags(item))),
      h("div", { class: "queue-row" }, h("span", { class: "muted", text: "Queue" }), queuePicker()),
      h("div", { class: "side-scroll" },
        earlier,
        h("section", { class: "side-section", "aria-label": "Decision" },
          h("h3", { text: "Decision" }),
          h("div", { class: "decisions", role: "group", "aria-label": "Decision" }, ui.decisionButtons),
          ui.corrections,
          ui.overall.el,
          ui.certainty.el,
          ui.fields,
          ui.flags,
          ui.more),
        h("section", { class: "side-section" },
          h("h3", { text: "Keypoints · displacement from YOLO" }),
          h("p", { class: "muted", style: { margin: 0, fontSize: "12.5px" } },
            `Major above ${item.major_threshold_px} px: `, h("strong", { text: String(majors.size) }), ` of ${schema.keypoints.length}. `,
            `${a.total_keypoints_modified} moved by the annotator. Accuracy 1–10 and ⚑ per keypoint.`),
          list.el),
        notes),
      h("div", { class: "side-footer" },
        h("button", { type: "button", class: "btn", title: "Give this annotation back to the queue", onclick: guarded(async () => { await release(); await claimNext(); }, "Release") }, "Release"),
        ui.record),
    );
    renderFields();
    refresh();
  }

  // The rule-made flags and the routing (docs/workflow.md): why this item is here and what it needs.
  function caseTags(item) {
    const tags = [
      item.is_difficult_case && ["difficult", "Difficult case: low model confidence, quality issues, a hard rating, a verifier's marks or repeated revisions"],
      item.has_annotation_issues && ["annotation issues", "Earlier verdicts, a failed gold check or repeated revisions found problems"],
      item.requires_specialist_review && ["specialist review", "A verifier asked for specialist input"],
      item.needed_expertise && [item.needed_expertise === "*" ? "needs an expert" : `needs ${humanize(item.needed_expertise)}`, "The verification expertise this item is routed to"],
      item.review_assignment_type && [item.review_assignment_type === "SECOND_OPINION" ? "your second opinion" : "your quality check", item.review_instructions || ""],
    ].filter(Boolean);
    if (!tags.length) return null;
    return h("div", { class: "chips", dataset: { testid: "case-tags" }, style: { marginTop: ".3rem" } },
      tags.map(([text, title]) => h("span", { class: "tag", title, text })));
  }

  function queuePicker() {
    return h("div", { class: "segmented", role: "group", "aria-label": "Queue" },
      QUEUES.filter((q) => !q.admin || isAdmin).map((q) =>
        h("button", {
          type: "button",
          "aria-pressed": String(q.code === st.queue),
          title: `${q.label} queue`,
          text: q.label,
          onclick: guarded(async () => {
            if (q.code === st.queue) return;
            await release();
            st.queue = q.code;
            history.replaceState(null, "", `#/verify?queue=${q.code}`);
            await claimNext();
          }, "Queue"),
        })));
  }

  function annotatorNotes(a, schema) {
    const keypointNotes = Object.entries(a.keypoint_notes || {});
    const lines = [
      a.difficulty_rating ? ["Difficulty", humanize(a.difficulty_rating)] : null,
      a.annotation_quality_score !== null ? ["Self-confidence", `${Math.round(Number(a.annotation_quality_score) * 5)}/5`] : null,
      ["Time spent", `${Math.round(a.time_spent_seconds / 6) / 10} min`],
      a.submitted_at ? ["Submitted", fmtDateTime(a.submitted_at)] : null,
      a.general_notes ? ["Notes", a.general_notes] : null,
      a.image_quality_feedback ? ["Image quality", a.image_quality_feedback] : null,
      a.revision_reason ? ["Revision of", a.revision_reason] : null,
    ].filter(Boolean);
    return h("section", { class: "side-section" },
      h("h3", { text: "From the annotator" }),
      h("dl", { class: "facts" }, lines.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]),
        keypointNotes.map(([id, note]) => [h("dt", { text: schema.byId.get(Number(id))?.name.replaceAll("_", " ") || `#${id}` }), h("dd", { text: note })])));
  }

  function moreScores() {
    ui.extra = {
      anatomical_accuracy: scorePicker({ label: "Anatomical accuracy", name: "anatomical_accuracy" }),
      technical_precision: scorePicker({ label: "Technical precision", name: "technical_precision" }),
      completeness_score: scorePicker({ label: "Completeness", name: "completeness_score" }),
      complexity_rating: scorePicker({ label: "Complexity of the image (1–5)", name: "complexity_rating", max: 5 }),
    };
    const choice = (name, values) => h("select", { name }, h("option", { value: "", text: "—" }), values.map((v) => h("option", { value: v, text: humanize(v) })));
    ui.clinical = choice("clinical_relevance", ["HIGH", "MEDIUM", "LOW"]);
    ui.diagnostic = choice("diagnostic_quality", ["EXCELLENT", "GOOD", "ADEQUATE", "POOR"]);
    ui.research = h("input", { type: "checkbox", checked: true });
    ui.detailed = h("textarea", { rows: 2, maxlength: 10000, placeholder: "Detailed feedback (kept with the verification)" });
    // Internal notes are written and read by admins only (the API refuses them from anyone else).
    ui.internal = isAdmin ? h("textarea", { rows: 2, maxlength: 10000, name: "internal_notes", placeholder: "Internal notes (admins only)" }) : null;
    return h("details", { class: "side-section" },
      h("summary", {}, h("h3", { style: { display: "inline" }, text: "More scores and notes" })),
      h("div", { class: "stack", style: { marginTop: ".5rem" } },
        Object.values(ui.extra).map((p) => p.el),
        h("div", { class: "form-grid" },
          h("label", { class: "field" }, h("span", { class: "field-label", text: "Clinical relevance" }), ui.clinical),
          h("label", { class: "field" }, h("span", { class: "field-label", text: "Diagnostic quality" }), ui.diagnostic)),
        h("label", { class: "check" }, ui.research, "Usable for research"),
        ui.detailed,
        ui.internal));
  }

  function flagBoxes() {
    ui.secondOpinion = h("input", { type: "checkbox", name: "requires_second_opinion" });
    ui.escalate = h("input", { type: "checkbox", name: "escalated_to_admin" });
    ui.specialist = h("input", { type: "checkbox", name: "requires_specialist_input" });
    return h("div", { class: "stack", style: { gap: ".3rem" } },
      h("label", { class: "check" }, ui.secondOpinion, "Ask for a second opinion (the decision waits for it)"),
      h("label", { class: "check" }, ui.escalate, "Escalate to an administrator"),
      h("label", { class: "check" }, ui.specialist, "Needs a specialist's input"));
  }

  function renderFields() {
    const d = st.decision;
    ui.feedback = null;
    ui.reason = null;
    if (d === "MINOR_REVISION_NEEDED" || d === "MAJOR_REVISION_NEEDED") {
      ui.feedback = h("textarea", { name: "feedback_to_annotator", rows: 3, required: true, maxlength: 10000, placeholder: "What should the annotator fix? (required)" });
      replace(ui.fields,
        h("label", { class: "field" }, h("span", { class: "field-label" }, "Feedback to the annotator", h("span", { class: "req", text: " *" })), ui.feedback),
        h("p", { class: "muted", style: { margin: 0, fontSize: "12.5px" } }, "Flag the keypoints to fix with ⚑ in the list (or P): ", h("strong", { dataset: { testid: "problem-count" }, text: String(st.problems.size) }), " flagged."));
    } else if (d === "REJECTED") {
      ui.reason = h("select", { name: "rejection_reason", required: true }, h("option", { value: "", text: "Choose a reason…" }), REASONS.map((r) => h("option", { value: r, text: humanize(r) })));
      ui.details = h("textarea", { rows: 2, maxlength: 5000, placeholder: "Details" });
      ui.reannotate = h("input", { type: "checkbox", checked: true });
      replace(ui.fields,
        h("label", { class: "field" }, h("span", { class: "field-label" }, "Rejection reason", h("span", { class: "req", text: " *" })), ui.reason),
        ui.details,
        h("label", { class: "check" }, ui.reannotate, "Can be annotated again (a fresh assignment)"));
    } else if (d === "APPROVED_WITH_CORRECTIONS") {
      ui.summary = h("textarea", { rows: 2, maxlength: 5000, placeholder: "What you corrected (optional)" });
      replace(ui.fields, ui.summary);
    } else {
      replace(ui.fields);
    }
  }

  // ------------------------------------------------------------------ state → screen
  function corrected() {
    return st.doc.differencesFrom(st.item.annotation.refined_keypoints);
  }

  function onCorrection() {
    const n = corrected().size;
    if (n > 0 && (st.decision === null || st.decision === "APPROVED")) choose("APPROVED_WITH_CORRECTIONS");
    if (n === 0 && st.decision === "APPROVED_WITH_CORRECTIONS") choose("APPROVED");
    refresh();
  }

  function refresh() {
    if (!st.item) return;
    const changed = corrected();
    canvas.set({ selected: st.selected, showGhost: st.showGhost, showSkeleton: st.showSkeleton, highlights: st.problems });
    list.update((id) => {
      const d = ui.displacement.get(id);
      return {
        selected: id === st.selected,
        visible: st.doc.get(id).visible,
        problem: st.problems.has(id),
        major: ui.majors.has(id),
        note: Boolean(st.item.annotation.keypoint_notes?.[String(id)]),
        metaText: changed.has(id) ? "corrected" : d && d.pixels !== null ? `${d.pixels.toFixed(1)} px` : "—",
      };
    });
    for (const b of side.querySelectorAll("[data-kp-flag]")) b.setAttribute("aria-pressed", String(st.problems.has(Number(b.dataset.kpFlag))));
    for (const b of ui.decisionButtons) b.setAttribute("aria-pressed", String(b.dataset.decision === st.decision));
    ui.corrections.textContent = changed.size ? `${changed.size} keypoint${changed.size > 1 ? "s" : ""} corrected — they become a new approved version.` : "";
    const count = $("[data-testid=problem-count]", side);
    if (count) count.textContent = String(st.problems.size);
    const def = st.schema.byId.get(st.selected);
    const d = ui.displacement.get(st.selected);
    badge.update(def, def ? st.doc.get(def.id) : null, st.schema.keypoints.length,
      d && d.pixels !== null ? h("span", { class: d.major ? "flag" : "muted", text: `${d.pixels.toFixed(1)} px from YOLO${d.major ? " · major" : ""}` }) : null);
    refreshToolbar();
  }

  function refreshToolbar() {
    if (!toolbar || !st.doc) return;
    toolbar.update({ scale: canvas.scale, showGhost: st.showGhost, showSkeleton: st.showSkeleton, canUndo: st.doc.canUndo, canRedo: st.doc.canRedo });
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

  function choose(code) {
    if (st.decision === code) return;
    st.decision = code;
    renderFields();
    refresh();
  }

  function toggleProblem(id) {
    if (st.problems.has(id)) st.problems.delete(id);
    else st.problems.add(id);
    refresh();
  }

  function toggle(key) {
    st[key] = !st[key];
    refresh();
  }

  // ------------------------------------------------------------------ recording
  function decisionBody() {
    const problems = [];
    const need = (ok, text) => {
      if (!ok) problems.push(text);
    };
    const d = st.decision;
    need(d, "Choose a decision (1–5).");
    need(ui.overall.value !== null, "Give the overall quality (1–10).");
    need(ui.certainty.value !== null, "Give your certainty (1–10).");
    const changed = corrected();
    if (d === "APPROVED_WITH_CORRECTIONS") need(changed.size > 0, "Drag the keypoints you correct first, or choose Approve.");
    if (d === "MINOR_REVISION_NEEDED" || d === "MAJOR_REVISION_NEEDED") need(ui.feedback?.value.trim(), "Write feedback to the annotator.");
    if (d === "REJECTED") need(ui.reason?.value, "Choose a rejection reason.");
    for (const [id, v] of Object.entries(st.kpScores)) {
      need(Number.isInteger(v) && v >= 1 && v <= 10, `Keypoint accuracy of ${st.schema.byId.get(Number(id)).name} must be 1–10.`);
    }
    if (problems.length) return { problems };
    const visibleMs = performance.now() - st.claimedAt - st.hiddenTotal;
    const body = {
      decision: d,
      overall_quality_score: ui.overall.value,
      certainty_level: ui.certainty.value,
      verification_time_seconds: Math.min(86400, Math.max(0, Math.round(visibleMs / 1000))),
      requires_second_opinion: ui.secondOpinion.checked,
      escalated_to_admin: ui.escalate.checked,
      requires_specialist_input: ui.specialist.checked,
      research_usability: ui.research.checked,
    };
    for (const [key, picker] of Object.entries(ui.extra)) if (picker.value !== null) body[key] = picker.value;
    if (ui.clinical.value) body.clinical_relevance = ui.clinical.value;
    if (ui.diagnostic.value) body.diagnostic_quality = ui.diagnostic.value;
    if (ui.detailed.value.trim()) body.detailed_feedback = ui.detailed.value.trim();
    if (ui.internal?.value.trim()) body.internal_notes = ui.internal.value.trim();
    if (Object.keys(st.kpScores).length) body.keypoint_accuracy_scores = Object.fromEntries(Object.entries(st.kpScores).map(([k, v]) => [String(k), v]));
    if (st.problems.size) body.problematic_keypoints = [...st.problems].sort((x, y) => x - y);
    if (d === "APPROVED_WITH_CORRECTIONS") {
      body.corrected_keypoints = st.doc.payload();
      if (ui.summary?.value.trim()) body.correction_summary = ui.summary.value.trim();
    }
    if (d === "MINOR_REVISION_NEEDED" || d === "MAJOR_REVISION_NEEDED") body.feedback_to_annotator = ui.feedback.value.trim();
    if (d === "REJECTED") {
      body.rejection_reason = ui.reason.value;
      body.can_be_reannotated = ui.reannotate.checked;
      if (ui.details.value.trim()) body.rejection_details = ui.details.value.trim();
    }
    return { body };
  }

  async function record() {
    if (st.deciding || !st.item) return;
    const { body, problems } = decisionBody();
    if (problems) {
      notify("The decision is not complete", "warning", problems.join(" "));
      return;
    }
    st.deciding = true;
    ui.record.disabled = true;
    try {
      const result = await api.post(`/annotations/${st.item.annotation.id}/verifications`, { body });
      st.item = null;
      const pending = !result.verification.is_final_decision;
      const byRule = result.second_opinion_by_rule ? " A difficult case decided with low certainty needs a second opinion." : "";
      notify(
        `Recorded: ${humanize(body.decision)}${pending ? " (waiting for a second opinion or an admin)" : ""}`,
        "success",
        `Image is now ${humanize(result.image_status)}.${byRule}`,
      );
      await claimNext();
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        notify("This annotation is no longer yours to decide", "warning", error.message);
        st.item = null;
        await claimNext();
      } else throw error;
    } finally {
      st.deciding = false;
      if (ui.record) ui.record.disabled = false;
    }
  }

  function emptyQueue() {
    st.item = null;
    canvas?.destroy();
    canvas = null;
    const label = QUEUES.find((q) => q.code === st.queue).label.toLowerCase();
    replace(bench,
      h("div", { class: "empty-state", style: { gridColumn: "1 / -1" } },
        h("div", {},
          h("h1", { text: `Nothing waiting in the ${label} queue` }),
          h("p", { class: "muted", text: "Annotations appear here as soon as annotators submit them." }),
          h("div", { class: "row gap", style: { justifyContent: "center" } },
            QUEUES.filter((q) => !q.admin || isAdmin).map((q) =>
              h("a", { class: ["btn", q.code === st.queue ? "btn-primary" : null], href: `#/verify?queue=${q.code}`, text: q.code === st.queue ? "Check again" : `${q.label} queue` }))))));
  }

  // ------------------------------------------------------------------ keys
  function onKey(event) {
    if (!st.item || st.destroyed) return false;
    const ctrl = event.ctrlKey || event.metaKey;
    const key = event.key;
    if (isTyping(event)) {
      if (key === "Escape") {
        event.target.blur();
        return true;
      }
      if (ctrl && key === "Enter") return run(record);
      return false;
    }
    if (ctrl && key.toLowerCase() === "z") return (event.shiftKey ? st.doc.redo() : st.doc.undo()) || true;
    if (ctrl && key.toLowerCase() === "y") return st.doc.redo() || true;
    if (key === "Enter") return run(record);
    if (ctrl || event.altKey) return false;
    if (key === "Tab") {
      const ids = st.schema.keypoints.map((k) => k.id);
      const i = ids.indexOf(st.selected);
      select(ids[(i + (event.shiftKey ? -1 : 1) + ids.length) % ids.length], "keyboard");
      return true;
    }
    if (/^[1-5]$/.test(key)) {
      choose(DECISIONS[Number(key) - 1].code);
      return true;
    }
    const step = event.shiftKey ? 10 : 1;
    const arrows = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (arrows[key]) {
      st.doc.nudge(st.selected, ...arrows[key]);
      canvas.reveal(st.doc.get(st.selected));
      return true;
    }
    switch (key.toLowerCase()) {
      case "p": toggleProblem(st.selected); return true;
      case "v": st.doc.setVisible(st.selected, VISIBLE); return true;
      case "o": st.doc.setVisible(st.selected, OCCLUDED); return true;
      case "a": st.doc.setVisible(st.selected, ABSENT); return true;
      case "r": st.doc.resetTo(st.selected, st.item.annotation.refined_keypoints); return true;
      case "g": toggle("showGhost"); return true;
      case "k": toggle("showSkeleton"); return true;
      case "f": canvas.fit(); return true;
      case "+": case "=": canvas.zoomBy(1.25); return true;
      case "-": case "_": canvas.zoomBy(1 / 1.25); return true;
      case "z": {
        const p = st.doc.get(st.selected);
        if (st.zoomedFrom) {
          canvas.fit();
          st.zoomedFrom = null;
        } else {
          st.zoomedFrom = canvas.scale;
          canvas.zoomTo(Math.max(canvas.fitScale * 4, 2), p);
        }
        return true;
      }
      default: return false;
    }
  }

  function run(fn) {
    Promise.resolve().then(fn).catch((error) => notifyError(error));
    return true;
  }

  return {
    unmount() {
      st.destroyed = true;
      clearInterval(renewer);
      removeShortcuts();
      document.removeEventListener("visibilitychange", onVisibility);
      window.removeEventListener("pagehide", onPageHide);
      if (st.item) release().catch(() => {});
      canvas?.destroy();
      bench.remove();
    },
  };
}
