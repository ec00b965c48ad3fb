// Keypoint schemas: the list, activation, the visual editor (#/admin/schemas/<id> or /new), and
// each schema's OKS sigma calibrations (#/admin/schemas/<id>/calibrations).

import { h, replace, fmtDateTime } from "../../dom.js";
import { go } from "../../router.js";
import { forgetSchema } from "../../data.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, pageHead, statusPill } from "./common.js";
import { mountSchemaEditor } from "./schema-editor.js";
import { mountSigmaCalibrations } from "./sigma-calibrations.js";

export function mountSchemas(root, ctx, route) {
  const target = route.parts[2];
  if (target && route.parts[3] === "calibrations") return mountSigmaCalibrations(root, ctx, Number(target));
  if (target) return mountSchemaEditor(root, ctx, target === "new" ? null : Number(target), route.query.get("from"));
  const api = ctx.api;
  const list = h("div", { class: "muted", text: "Loading…" });
  root.append(
    pageHead("Keypoint schemas", "Which keypoints an annotation has, their colours and the skeleton. A schema in use cannot change: edit it into a new version.",
      h("a", { class: "btn btn-primary", href: "#/admin/schemas/new", text: "New schema" })),
    list,
  );

  const load = guarded(async () => {
    const items = await api.all("/schemas", {}, 400);
    replace(list, dataTable(
      [
        { label: "Schema", render: (s) => h("div", {}, h("a", { href: `#/admin/schemas/${s.id}`, text: `${s.name} ${s.version}` }), s.description ? h("div", { class: "muted", text: s.description }) : null) },
        { label: "Keypoints", num: true, render: (s) => String(s.total_keypoints) },
        { label: "Connections", num: true, render: (s) => String(s.schema_definition.connections.length) },
        { label: "Colours", render: (s) => h("div", { class: "row", style: { gap: "2px", flexWrap: "wrap", maxWidth: "220px" } }, s.schema_definition.keypoints.map((k) => h("span", { class: "dot", title: k.name, style: { background: k.color } }))) },
        { label: "State", render: (s) => h("div", { class: "row gap", style: { flexWrap: "wrap" } }, s.is_active ? statusPill("APPROVED", "active") : statusPill("ARCHIVED", "inactive"), s.in_use ? h("span", { class: "tag", text: "in use" }) : null) },
        { label: "Changed", render: (s) => fmtDateTime(s.last_modified) },
        {
          label: "",
          render: (s) => h("div", { class: "actions" },
            h("a", { class: "btn btn-small", href: `#/admin/schemas/${s.id}`, text: s.in_use ? "New version…" : "Edit" }),
            h("a", { class: "btn btn-small", href: `#/admin/schemas/new?from=${s.id}`, text: "Copy" }),
            h("a", { class: "btn btn-small", href: `#/admin/schemas/${s.id}/calibrations`, dataset: { calibrations: String(s.id) }, title: "OKS sigmas measured on infants, beside COCO's", text: "Sigmas" }),
            s.is_active
              ? h("button", { class: "btn btn-small", type: "button", text: "Deactivate", onclick: guarded(() => toggle(s, "deactivate"), "Deactivate") })
              : h("button", { class: "btn btn-small", type: "button", text: "Activate", onclick: guarded(() => toggle(s, "activate"), "Activate") })),
        },
      ],
      items,
      { empty: "No schema yet.", label: "Schemas" },
    ));
  }, "Schemas");

  async function toggle(schema, action) {
    await api.post(`/schemas/${schema.id}/${action}`);
    forgetSchema(schema.id);
    notify(`${schema.name} ${schema.version} ${action}d`, "success");
    await load();
  }

  load();
  return { open: (id) => go(`/admin/schemas/${id}`) };
}
