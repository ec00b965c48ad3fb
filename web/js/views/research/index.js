// The research side (#/research/…), for administrators and verifiers: anomaly screening of verified
// poses per age band, and posture analysis reports on one image. A research aid, not a diagnosis.

import { h } from "../../dom.js";
import { go } from "../../router.js";
import { mountAnomaly } from "./anomaly.js";
import { mountReports } from "./reports.js";

const PAGES = [
  { key: "anomaly", label: "Anomaly screening", mount: mountAnomaly },
  { key: "reports", label: "Analysis reports", mount: mountReports },
];

export function mountResearch(root, ctx, route) {
  const key = route.parts[1] || "anomaly";
  const page = PAGES.find((p) => p.key === key);
  if (!page) {
    go("/research/anomaly");
    return { unmount() {} };
  }
  const nav = h("nav", { class: "admin-nav", "aria-label": "Research" },
    PAGES.map((p) => h("a", {
      href: `#/research/${p.key}`,
      class: p.key === key ? "active" : null,
      "aria-current": p.key === key ? "page" : null,
    }, p.label)));
  const main = h("section", { class: "admin-main", dataset: { page: key } });
  const el = h("div", { class: "admin", dataset: { view: "research" } }, nav, main);
  root.append(el);
  const child = page.mount(main, ctx, route);
  return {
    unmount() {
      child.unmount?.();
      el.remove();
    },
  };
}
