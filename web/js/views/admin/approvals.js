// Pending registrations: approve (with the role asked for, or another), or refuse with a reason.

import { h, replace, fmtDateTime, humanize } from "../../dom.js";
import { openDialog } from "../../ui/dialog.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, pageHead } from "./common.js";

export function mountApprovals(root, ctx) {
  const api = ctx.api;
  const body = h("div", { class: "muted", text: "Loading…" });
  root.append(pageHead("Pending registrations", "People who signed up and wait for an administrator. Nobody sees any data before approval."), body);

  const load = guarded(async () => {
    const page = await api.get("/users", { query: { is_approved: false, is_active: true, limit: 200 } });
    replace(body, dataTable(
      [
        { label: "User", className: "cell-name", render: (u) => h("div", {}, h("strong", { class: "long-name", title: u.username, text: u.username }), h("div", { class: "muted long-name", title: u.email, text: u.email })) },
        { label: "Registered", render: (u) => fmtDateTime(u.date_joined) },
        { label: "Specialty", render: (u) => u.annotation_specialty || u.verification_expertise || "—" },
        {
          label: "Role",
          render: (u) => h("select", { "aria-label": `Role for ${u.username}`, dataset: { role: u.username } },
            ["ANNOTATOR", "VERIFIER", "ADMIN"].map((r) => h("option", { value: r, selected: r === u.role, text: humanize(r) }))),
        },
        {
          label: "",
          render: (u) => h("div", { class: "actions" },
            h("button", { class: "btn btn-primary btn-small", type: "button", dataset: { approve: u.username }, text: "Approve", onclick: guarded((e) => approve(u, e.currentTarget), "Approve") }),
            h("button", { class: "btn btn-danger btn-small", type: "button", dataset: { reject: u.username }, text: "Refuse", onclick: guarded(() => refuse(u), "Refuse") })),
        },
      ],
      page.items,
      { empty: "No registration is waiting. New sign-ups appear here.", label: "Pending registrations" },
    ));
  }, "Pending registrations");

  async function approve(user, button) {
    button.disabled = true;
    const role = root.querySelector(`select[data-role="${CSS.escape(user.username)}"]`).value;
    if (role !== user.role) await api.put(`/users/${user.id}/role`, { body: { role } });
    await api.post(`/users/${user.id}/approve`);
    notify(`${user.username} approved as ${humanize(role)}`, "success");
    await load();
    ctx.refreshPending();
  }

  async function refuse(user) {
    const answer = await openDialog({
      title: `Refuse ${user.username}?`,
      body: h("label", { class: "field" }, h("span", { class: "field-label", text: "Reason (kept in the audit log)" }),
        h("textarea", { name: "reason", required: true, minlength: 3, maxlength: 1000, rows: 3 })),
      actions: [{ label: "Cancel", value: null }, { label: "Refuse registration", kind: "danger", submit: true }],
    });
    if (!answer) return;
    await api.post(`/users/${user.id}/reject`, { body: { reason: answer.reason } });
    notify(`${user.username} refused`, "info");
    await load();
    ctx.refreshPending();
  }

  load();
  return {};
}
