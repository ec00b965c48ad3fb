// The admin console: a side navigation and one page per concern.

import { h } from "../../dom.js";
import { go } from "../../router.js";
import { notifyError } from "../../ui/notices.js";
import { useShortcuts } from "../../ui/shortcuts.js";
import { mountApprovals } from "./approvals.js";
import { mountUsers } from "./users.js";
import { mountSchemas } from "./schemas.js";
import { mountBatches } from "./batches.js";
import { mountAudit } from "./audit.js";
import { mountMetrics } from "./metrics.js";
import { mountClaims } from "./claims.js";
import { mountUpload } from "../uploads/upload.js";
import { mountVocabulary } from "./vocabulary.js";
import { mountCorrections } from "./corrections.js";
import { mountRetraining } from "./retraining.js";

const PAGES = [
  { key: "approvals", label: "Approvals", mount: mountApprovals, shortcut: "1" },
  { key: "users", label: "Users and roles", mount: mountUsers, shortcut: "2" },
  { key: "batches", label: "Batches", mount: mountBatches, shortcut: "3" },
  { key: "schemas", label: "Schemas", mount: mountSchemas, shortcut: "4" },
  { key: "metrics", label: "Performance", mount: mountMetrics, shortcut: "5" },
  { key: "audit", label: "Audit log", mount: mountAudit, shortcut: "6" },
  { key: "claims", label: "Claims and flags", mount: mountClaims, shortcut: "7" },
  { key: "upload", label: "Upload a batch", mount: mountUpload, shortcut: "8" },
  { key: "vocabulary", label: "Vocabulary", mount: mountVocabulary, shortcut: "9" },
  { key: "corrections", label: "Corrections", mount: mountCorrections, shortcut: "0" },
  { key: "retraining", label: "Retraining", mount: mountRetraining, shortcut: "r" },
];

export function mountAdmin(root, ctx, route) {
  const key = route.parts[1] || "approvals";
  const page = PAGES.find((p) => p.key === key);
  if (!page) {
    go("/admin/approvals");
    return { unmount() {} };
  }
  const pending = h("span", { class: "count-badge", hidden: true, dataset: { testid: "pending-count" } });
  const nav = h("nav", { class: "admin-nav", "aria-label": "Admin" },
    PAGES.map((p) => h("a", {
      href: `#/admin/${p.key}`,
      class: p.key === key ? "active" : null,
      "aria-current": p.key === key ? "page" : null,
      title: `${p.label} (${p.shortcut})`,
    }, p.label, p.key === "approvals" ? pending : null)));
  const main = h("section", { class: "admin-main", dataset: { page: key } });
  const el = h("div", { class: "admin", dataset: { view: "admin" } }, nav, main);
  root.append(el);

  const refreshPending = async () => {
    try {
      const page = await ctx.api.get("/users", { query: { is_approved: false, is_active: true, limit: 200 } });
      pending.textContent = String(page.items.length);
      pending.hidden = page.items.length === 0;
    } catch (error) {
      notifyError(error, "Pending registrations");
    }
  };
  refreshPending();
  const child = page.mount(main, { ...ctx, refreshPending }, route);
  const removeShortcuts = useShortcuts(
    "Admin",
    [{ name: "Admin pages", items: PAGES.map((p) => ({ keys: p.shortcut, label: p.label })) }, ...(child.shortcuts || [])],
    (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return false;
      const target = event.target;
      if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return false;
      const p = PAGES.find((x) => x.shortcut === event.key);
      if (p) {
        go(`/admin/${p.key}`);
        return true;
      }
      return child.onKey ? child.onKey(event) : false;
    },
  );
  return {
    unmount() {
      removeShortcuts();
      child.unmount?.();
      el.remove();
    },
  };
}
