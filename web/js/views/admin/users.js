// Everyone: roles, capacity, activity, and the figures that follow each person.

import { h, replace, fmtDateTime, accuracyText, humanize } from "../../dom.js";
import { confirmDialog } from "../../ui/dialog.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, latestOnly, pageHead, pager, statusPill } from "./common.js";

export function mountUsers(root, ctx) {
  const api = ctx.api;
  const filters = { role: "", is_active: "", search: "" };
  let items = [];
  let cursor = null;
  const list = h("div", {});
  const more = h("div", {});
  const search = h("input", { type: "search", placeholder: "name or e-mail", "aria-label": "Search users" });
  const role = h("select", { "aria-label": "Role" }, h("option", { value: "", text: "All roles" }), ["ADMIN", "ANNOTATOR", "VERIFIER"].map((r) => h("option", { value: r, text: humanize(r) })));
  const active = h("select", { "aria-label": "Activity" }, h("option", { value: "", text: "Active and inactive" }), h("option", { value: "true", text: "Active" }), h("option", { value: "false", text: "Inactive" }));
  const form = h("form", { class: "filters" },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Search" }), search),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Role" }), role),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Activity" }), active),
    h("button", { class: "btn", type: "submit", text: "Filter" }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    Object.assign(filters, { search: search.value.trim(), role: role.value, is_active: active.value });
    load(true);
  });
  root.append(pageHead("Users and roles", "Role changes and deactivation take effect on the person's next request."), inviteForm(), form, list, more);

  // Self sign-up is off in the cloud: an admin brings people in. The API creates the sign-in
  // account (which is e-mailed a temporary password) and the approved user together.
  function inviteForm() {
    const username = h("input", { name: "username", required: true, minlength: 3, maxlength: 150, pattern: "[A-Za-z0-9_.@+\\-]+", autocomplete: "off" });
    const email = h("input", { name: "email", type: "email", required: true, maxlength: 254, autocomplete: "off" });
    const newRole = h("select", { name: "role" }, ["ANNOTATOR", "VERIFIER", "ADMIN"].map((r) => h("option", { value: r, text: humanize(r) })));
    const invite = h("form", { class: "filters", "aria-label": "Invite a person" },
      h("label", { class: "field" }, h("span", { class: "field-label", text: "User name" }), username),
      h("label", { class: "field" }, h("span", { class: "field-label", text: "E-mail" }), email),
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Role" }), newRole),
      h("button", { class: "btn btn-primary", type: "submit", text: "Send invitation" }));
    invite.addEventListener("submit", guarded(async (e) => {
      e.preventDefault();
      const invited = await api.post("/invitations", { body: { username: username.value.trim(), email: email.value.trim(), role: newRole.value } });
      notify(`${invited.username} invited as ${humanize(invited.role)}; a temporary password was e-mailed to ${invited.email}`, "success");
      invite.reset();
      await load(true);
    }, "Invitation"));
    return h("details", { class: "invite", dataset: { testid: "invite" } }, h("summary", { text: "Invite a person" }), invite);
  }

  const begin = latestOnly();
  const load = guarded(async (reset = true) => {
    const fresh = begin();
    if (reset) {
      items = [];
      cursor = null;
    }
    const page = await api.get("/users", { query: { ...filters, cursor, limit: 50 } });
    if (!fresh()) return;
    items.push(...page.items);
    cursor = page.next_cursor;
    draw();
    replace(more, cursor ? pager(async () => { await load(false); return Boolean(cursor); }) : null);
  }, "Users");

  function draw() {
    replace(list, dataTable(
      [
        { label: "User", className: "cell-name", render: (u) => h("div", {}, h("strong", { class: "long-name", title: u.username, text: u.username }), h("div", { class: "muted long-name", title: u.email, text: u.email })) },
        {
          label: "Role",
          render: (u) => h("select", { "aria-label": `Role of ${u.username}`, dataset: { userRole: u.username }, disabled: u.id === ctx.me.id || null, onchange: guarded((e) => changeRole(u, e.target), "Role") },
            ["ADMIN", "ANNOTATOR", "VERIFIER"].map((r) => h("option", { value: r, selected: r === u.role, text: humanize(r) }))),
        },
        { label: "Status", render: (u) => !u.is_active ? statusPill("FAILED", "inactive") : !u.is_approved ? statusPill("PENDING", "awaiting approval") : statusPill("APPROVED", "active") },
        {
          label: "Max batches",
          num: true,
          render: (u) => u.role === "ANNOTATOR"
            ? h("input", { type: "number", min: 0, max: 100, value: String(u.max_concurrent_batches), "aria-label": `Concurrent batches for ${u.username}`, onchange: guarded((e) => capacity(u, e.target), "Capacity") })
            : "—",
        },
        { label: "Accuracy", num: true, render: (u) => (u.role === "ANNOTATOR" ? accuracyText(u, 1) : "—") },
        { label: "Done", num: true, render: (u) => (u.role === "VERIFIER" ? `${u.total_verifications_completed} reviews` : u.role === "ANNOTATOR" ? `${u.total_annotations_completed} images` : "—") },
        { label: "Last sign-in", render: (u) => fmtDateTime(u.last_login) },
        {
          label: "",
          render: (u) => u.id === ctx.me.id ? h("span", { class: "muted", text: "you" }) : h("div", { class: "actions" },
            u.is_active
              ? h("button", { class: "btn btn-small btn-danger", type: "button", text: "Deactivate", onclick: guarded(() => setActive(u, false), "Deactivate") })
              : h("button", { class: "btn btn-small", type: "button", text: "Reactivate", onclick: guarded(() => setActive(u, true), "Reactivate") })),
        },
      ],
      items,
      { empty: "No user matches.", label: "Users" },
    ));
  }

  async function changeRole(user, select) {
    const role = select.value;
    if (!(await confirmDialog("Change the role?", `${user.username} becomes ${humanize(role)}. Their current work stays as it is.`, "Change role"))) {
      select.value = user.role;
      return;
    }
    const updated = await api.put(`/users/${user.id}/role`, { body: { role } });
    Object.assign(user, updated);
    notify(`${user.username} is now ${humanize(role)}`, "success");
    draw();
  }

  async function capacity(user, input) {
    const updated = await api.patch(`/users/${user.id}`, { body: { max_concurrent_batches: Number(input.value) } });
    Object.assign(user, updated);
    notify(`${user.username}: up to ${updated.max_concurrent_batches} batches at once`, "success");
  }

  async function setActive(user, on) {
    if (!on && !(await confirmDialog(`Deactivate ${user.username}?`, "They can no longer sign in to Cradle's data. Their past work stays; their open assignments go to other annotators (auto-assign rules) or to the pool, and their claims back to the queues.", "Deactivate", "danger"))) return;
    const { handed_over: handedOver = [], claims_released: released = [], ...updated } = await api.post(`/users/${user.id}/${on ? "reactivate" : "deactivate"}`);
    Object.assign(user, updated);
    const where = handedOver.map((m) => `assignment #${m.assignment_id} → ${m.to === "pool" ? "the pool" : `user #${m.annotator_id}`}`);
    if (released.length) where.push(`${released.length} claim(s) released`);
    notify(`${user.username} ${on ? "reactivated" : "deactivated"}`, "info", where.join(" · "));
    draw();
  }

  load(true);
  return {};
}
