// Datasets for researchers (verifiers and admins): the catalogue, one dataset with its splits and
// exports, collections, and (admins) imports of COCO / YOLO archives.

import { h } from "../../dom.js";
import { go } from "../../router.js";
import { mountCatalogue } from "./catalogue.js";
import { mountDataset } from "./dataset.js";
import { mountCollections } from "./collections.js";
import { mountImports } from "./imports.js";

const PAGES = [
  { key: "", label: "Catalogue", mount: mountCatalogue, roles: ["VERIFIER", "ADMIN"] },
  { key: "collections", label: "Collections and exports", mount: mountCollections, roles: ["VERIFIER", "ADMIN"] },
  { key: "imports", label: "Imports", mount: mountImports, roles: ["ADMIN"] },
];

export function mountDatasets(root, ctx, route) {
  const second = route.parts[1] || "";
  const datasetId = /^\d+$/.test(second) ? Number(second) : null;
  const key = datasetId ? "" : second;
  const pages = PAGES.filter((p) => p.roles.includes(ctx.me.role));
  const page = pages.find((p) => p.key === key);
  if (!page) {
    go("/datasets");
    return { unmount() {} };
  }
  const nav = h("nav", { class: "admin-nav", "aria-label": "Datasets" },
    pages.map((p) => h("a", {
      href: `#/datasets${p.key ? `/${p.key}` : ""}`,
      class: p.key === key ? "active" : null,
      "aria-current": p.key === key ? "page" : null,
      text: p.label,
    })));
  const main = h("section", { class: "admin-main", dataset: { page: datasetId ? "dataset" : key || "catalogue" } });
  const el = h("div", { class: "admin", dataset: { view: "datasets" } }, nav, main);
  root.append(el);
  const child = datasetId ? mountDataset(main, ctx, datasetId, route) : page.mount(main, ctx, route);
  return {
    unmount() {
      child?.unmount?.();
      el.remove();
    },
  };
}
