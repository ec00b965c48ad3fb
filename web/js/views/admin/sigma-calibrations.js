// A schema's OKS sigma calibrations (#/admin/schemas/<id>/calibrations): each keypoint's sigma
// measured on infants (from images annotated more than once) beside COCO's adult default and the
// schema's current one, with the samples behind it. A researcher runs a new calibration here; an
// admin adopts one as a new, inactive schema version, then activates that version under Schemas.

import { h, replace, fmtDateTime, fmtNumber } from "../../dom.js";
import { legend, pairedBars } from "../../charts.js";
import { openDialog } from "../../ui/dialog.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, pageHead, statusPill } from "./common.js";

const SERIES = [
  { name: "Measured on infants", color: "#5fd4c4" },
  { name: "COCO default (adults)", color: "#8a7dd8" },
];

export function mountSigmaCalibrations(root, ctx, schemaId) {
  const api = ctx.api;
  const isAdmin = ctx.me.role === "ADMIN";
  const title = h("span", { text: `Schema #${schemaId}` });
  const list = h("div", {}, h("div", { class: "empty", text: "Loading…" }));
  const detail = h("section", { class: "card", "aria-label": "Calibration" });
  let chosen = null;
  root.append(
    pageHead("OKS sigma calibrations", "How far annotators place each keypoint from the verified result, as COCO's sigma: measured on this project's infants, beside COCO's adult default.",
      h("a", { class: "btn", href: "#/admin/schemas", text: "Back to schemas" }),
      h("button", { class: "btn btn-primary", type: "button", text: "Calibrate now", onclick: guarded(calibrate, "Calibrate") })),
    h("h3", { class: "long-name" }, title),
    list,
    detail,
  );

  const load = guarded(async () => {
    const [schema, calibrations] = await Promise.all([api.get(`/schemas/${schemaId}`), api.all(`/schemas/${schemaId}/sigma-calibrations`)]);
    title.textContent = `${schema.name} ${schema.version}`;
    replace(list, dataTable(
      [
        { label: "#", render: (c) => h("button", { class: "btn btn-small", type: "button", "aria-label": `Show calibration ${c.id}`, dataset: { calibration: String(c.id) }, text: `#${c.id}`, onclick: () => show(c) }) },
        { label: "Made", render: (c) => fmtDateTime(c.created_at) },
        { label: "Images", num: true, render: (c) => String(c.images) },
        { label: "Annotations", num: true, render: (c) => String(c.annotations) },
        { label: "Adoptable keypoints", num: true, render: (c) => `${c.estimates.filter((e) => e.adoptable).length} of ${c.estimates.length}` },
        { label: "State", render: (c) => (c.adopted_schema_id ? statusPill("SUCCEEDED", `adopted by schema #${c.adopted_schema_id}`) : statusPill("PENDING", "not adopted")) },
      ],
      calibrations,
      { empty: "No calibration of this schema yet: Calibrate now measures one from images annotated more than once.", label: "Calibrations" },
    ));
    const again = chosen && calibrations.find((c) => c.id === chosen.id);
    if (again || calibrations.length) show(again || calibrations[0]);
    else replace(detail);
  }, "Calibrations");

  function show(calibration) {
    chosen = calibration;
    const rows = calibration.estimates.map((e) => ({ label: e.name, values: [e.sigma, e.coco_sigma] }));
    const adoptable = calibration.estimates.some((e) => e.adoptable);
    replace(detail,
      h("h2", { text: `Calibration #${calibration.id}` }),
      h("p", { class: "muted", text: `${calibration.images} images, ${calibration.annotations} annotations; an estimate needs ${calibration.min_samples} samples to be adopted.` }),
      legend(SERIES),
      // 17 keypoints × two bars: at the card's full width the chart would fill the screen; kept
      // near its drawn size so the table under it stays in view.
      h("div", { class: "sigma-chart", dataset: { chart: "sigmas" } },
        pairedBars(rows, SERIES, { title: `Per-keypoint sigma of calibration ${calibration.id} beside COCO's`, format: (v) => fmtNumber(v, 3) })),
      dataTable(
        [
          { label: "Keypoint", render: (e) => e.name },
          { label: "Measured σ", num: true, render: (e) => (e.sigma == null ? "—" : fmtNumber(e.sigma, 4)) },
          { label: "Samples", num: true, render: (e) => String(e.samples) },
          { label: "Current σ", num: true, render: (e) => fmtNumber(e.current_sigma, 4) },
          { label: "COCO σ", num: true, render: (e) => (e.coco_sigma == null ? "—" : fmtNumber(e.coco_sigma, 4)) },
          { label: "", render: (e) => (e.adoptable ? statusPill("SUCCESS", "adoptable") : statusPill("PENDING", "too few samples")) },
        ],
        calibration.estimates,
        { label: `Sigmas of calibration ${calibration.id}`, rowAttrs: (e) => ({ dataset: { keypoint: e.name } }) },
      ),
      isAdmin && !calibration.adopted_schema_id && adoptable
        ? h("div", { class: "row gap" },
          h("button", { class: "btn btn-primary", type: "button", dataset: { adopt: String(calibration.id) }, text: "Adopt as a new schema version…", onclick: guarded(() => adopt(calibration), "Adopt sigmas") }))
        : null,
      calibration.adopted_schema_id
        ? h("p", {}, "Adopted by ", h("a", { href: `#/admin/schemas/${calibration.adopted_schema_id}`, text: `schema #${calibration.adopted_schema_id}` }), "; activate it under Schemas to use these sigmas.")
        : null);
  }

  async function calibrate() {
    const made = await api.post(`/schemas/${schemaId}/sigma-calibrations`, { body: {} });
    notify(`Calibration #${made.id} measured on ${made.images} images`, "success");
    chosen = made;
    await load();
  }

  async function adopt(calibration) {
    const answer = await openDialog({
      title: `Adopt calibration #${calibration.id}`,
      body: h("div", { class: "stack" },
        h("p", { class: "muted", text: "A new, inactive version of the schema with the measured sigmas where enough samples back them (the others stay as they are). Activate it under Schemas to use it." }),
        h("label", { class: "field" }, h("span", { class: "field-label", text: "Version" }), h("input", { name: "version", required: true, maxlength: 10, placeholder: "v1.1" }))),
      actions: [{ label: "Cancel", value: null }, { label: "Adopt", kind: "primary", submit: true }],
    });
    if (!answer) return;
    const schema = await api.post(`/sigma-calibrations/${calibration.id}/adopt`, { body: { version: answer.version.trim() } });
    notify(`${schema.name} ${schema.version} made with the calibrated sigmas (inactive)`, "success");
    await load();
  }

  load();
  return {};
}
