// Claims and flags: work that could get stuck. Open verification claims (with when each lapses)
// and images annotators flagged as unusable, waiting for a decision.

import { h, replace, fmtDateTime, humanize } from "../../dom.js";
import { confirmDialog, openDialog } from "../../ui/dialog.js";
import { guarded, notify } from "../../ui/notices.js";
import { dataTable, pageHead, statusPill } from "./common.js";

export function mountClaims(root, ctx) {
  const api = ctx.api;
  const claims = h("div", { dataset: { testid: "claims" } });
  const flags = h("div", { dataset: { testid: "flags" } });
  root.append(
    pageHead("Claims and flags", "Verification claims lapse after an idle time and go back to their queue; release one at once here. Flagged images wait for a decision.",
      h("button", { class: "btn", type: "button", text: "Refresh", onclick: () => load() })),
    h("h2", { text: "Open verification claims" }),
    claims,
    h("h2", { text: "Images flagged as unusable" }),
    flags,
  );

  const load = guarded(async () => {
    const [open, flagged, people] = await Promise.all([api.all("/claims"), api.all("/flags"), api.all("/users")]);
    const name = (id) => people.find((u) => u.id === id)?.username || `user #${id}`;
    replace(claims, dataTable(
      [
        { label: "Image", render: (c) => `#${c.image_id}` },
        { label: "Batch", render: (c) => `#${c.batch_id}` },
        { label: "Held by", render: (c) => name(c.verifier_id) },
        { label: "Last active", render: (c) => fmtDateTime(c.claimed_at) },
        { label: "Lapses", render: (c) => (c.expired ? statusPill("OVERDUE", "lapsed") : fmtDateTime(c.expires_at)) },
        { label: "", render: (c) => h("button", { class: "btn btn-small", type: "button", dataset: { releaseClaim: String(c.image_id) }, text: "Release", onclick: guarded(() => release(c, name), "Release") }) },
      ],
      open,
      { empty: "Nobody holds a claim.", label: "Claims" },
    ));
    replace(flags, dataTable(
      [
        { label: "Image", render: (f) => `#${f.image_id}` },
        { label: "Batch", render: (f) => `#${f.batch_id}` },
        { label: "Reason", render: (f) => h("div", {}, h("strong", { text: humanize(f.reason) }), f.text ? h("div", { class: "muted", text: f.text }) : null) },
        { label: "Flagged by", render: (f) => name(f.flagged_by) },
        { label: "When", render: (f) => fmtDateTime(f.flagged_at) },
        {
          label: "",
          render: (f) => h("div", { class: "actions" },
            h("button", { class: "btn btn-small btn-danger", type: "button", dataset: { acceptFlag: String(f.image_id) }, text: "Accept (exclude)", onclick: guarded(() => decide(f, true), "Accept flag") }),
            h("button", { class: "btn btn-small", type: "button", dataset: { sendBack: String(f.image_id) }, text: "Send back…", onclick: guarded(() => decide(f, false), "Send back") })),
        },
      ],
      flagged,
      { empty: "No flag is waiting.", label: "Flags" },
    ));
  }, "Claims and flags");

  async function release(claim, name) {
    if (!(await confirmDialog("Release the claim?", `Image #${claim.image_id} goes back to its queue; ${name(claim.verifier_id)} can no longer decide on it.`, "Release", "danger"))) return;
    await api.post(`/claims/${claim.image_id}/release`);
    notify(`Claim on image #${claim.image_id} released`, "success");
    await load();
  }

  async function decide(flag, accept) {
    let note = null;
    if (accept) {
      if (!(await confirmDialog("Accept the flag?", `Image #${flag.image_id} is left out of the data set for good.`, "Accept", "danger"))) return;
    } else {
      const answer = await openDialog({
        title: `Send image #${flag.image_id} back`,
        body: h("label", { class: "field" }, h("span", { class: "field-label", text: "Note for the annotator" }), h("textarea", { name: "note", rows: 3, required: true, maxlength: 5000 })),
        actions: [{ label: "Cancel", value: null }, { label: "Send back", kind: "primary", submit: true }],
      });
      if (!answer) return;
      note = answer.note.trim();
    }
    await api.post(`/images/${flag.image_id}/flag-decision`, { body: note ? { accept, note } : { accept } });
    notify(accept ? `Image #${flag.image_id} excluded` : `Image #${flag.image_id} sent back`, "success");
    await load();
  }

  load();
  return {};
}
