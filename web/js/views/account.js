// Before work: sign in (and the identity provider's challenges), sign up, register with Cradle,
// and the "awaiting approval" page an unapproved account sees until an admin approves it.

import { h, replace } from "../dom.js";
import { AuthError } from "../auth.js";
import { notify } from "../ui/notices.js";

function card(title, subtitle, ...children) {
  return h(
    "section",
    { class: "account-card" },
    h("div", { class: "brand brand-large" }, h("img", { src: "favicon.svg", alt: "", width: 36, height: 36 }), "Cradle"),
    h("h1", { text: title }),
    subtitle ? h("p", { class: "muted", text: subtitle }) : null,
    ...children,
  );
}

function field(label, input, hint = null) {
  return h("label", { class: "field" }, h("span", { class: "field-label", text: label }), input, hint ? h("small", { class: "muted", text: hint }) : null);
}

function errorLine() {
  return h("p", { class: "form-error", role: "alert", hidden: true });
}

function showError(line, error) {
  line.hidden = false;
  line.textContent = error instanceof AuthError || error instanceof Error ? error.message : String(error);
}

function busy(form, on) {
  for (const el of form.querySelectorAll("button, input, select")) el.disabled = on;
}

/** The sign-in page; resolves through ctx.signedIn() once the identity provider hands out tokens. */
export function mountSignIn(root, ctx) {
  const wrapper = h("div", { class: "account-page" });
  root.append(wrapper);

  const signIn = () => {
    const username = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
    const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
    const error = errorLine();
    const form = h(
      "form",
      { class: "stack", "aria-label": "Sign in" },
      field("User name or e-mail", username),
      field("Password", password),
      error,
      h("button", { class: ["btn", ctx.hostedUi ? null : "btn-primary", "btn-block"], type: "submit", text: "Sign in" }),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      busy(form, true);
      try {
        await finish(await ctx.cognito.signIn(username.value.trim(), password.value));
      } catch (e) {
        showError(error, e);
        busy(form, false);
        password.select();
      }
    });
    // In the cloud the Hosted UI is offered first (it also walks people through MFA set-up).
    const hosted = [];
    if (ctx.hostedUi) {
      const button = h("button", {
        class: "btn btn-primary btn-block",
        type: "button",
        text: "Sign in with your Cradle account",
        "data-testid": "hosted-sign-in",
      });
      button.addEventListener("click", () => {
        button.disabled = true;
        ctx.hostedUi.begin().catch((e) => {
          button.disabled = false;
          showError(error, e);
        });
      });
      hosted.push(button, h("p", { class: "muted center divider", text: "or with your user name and password" }));
    }
    replace(
      wrapper,
      card(
        "Sign in",
        "Infant keypoint annotation and verification.",
        ...hosted,
        form,
        ctx.config.selfSignUp
          ? h("p", { class: "muted center" }, "New here? ", h("a", { href: "#/signup", text: "Create an account" }))
          : h("p", { class: "muted center", text: "Accounts are created by an administrator." }),
      ),
    );
    username.focus();
  };

  const finish = async (outcome) => {
    if (outcome.tokens) {
      ctx.session.accept(outcome.tokens);
      await ctx.signedIn();
      return;
    }
    if (outcome.challenge === "NEW_PASSWORD_REQUIRED") return newPassword(outcome);
    if (outcome.challenge === "SOFTWARE_TOKEN_MFA") return mfaCode(outcome);
    if (outcome.challenge === "MFA_SETUP") return mfaSetup(outcome);
    throw new AuthError(outcome.challenge, `The sign-in step ${outcome.challenge} is not supported here.`);
  };

  const newPassword = (outcome) => {
    const password = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: 12 });
    const again = h("input", { type: "password", autocomplete: "new-password", required: true });
    const error = errorLine();
    const form = h(
      "form",
      { class: "stack" },
      field("New password", password, "At least 12 characters (14 in the cloud), upper and lower case, a digit."),
      field("Repeat it", again),
      error,
      h("button", { class: "btn btn-primary btn-block", type: "submit", text: "Set password and sign in" }),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (password.value !== again.value) return showError(error, "The two passwords differ.");
      busy(form, true);
      try {
        await finish(await ctx.cognito.answer("NEW_PASSWORD_REQUIRED", outcome.session, outcome.username, { NEW_PASSWORD: password.value }));
      } catch (e) {
        showError(error, e);
        busy(form, false);
      }
    });
    replace(wrapper, card("Choose your password", "Your account has a temporary password; choose your own.", form));
    password.focus();
  };

  const mfaCode = (outcome) => {
    const code = h("input", { inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", required: true });
    const error = errorLine();
    const form = h("form", { class: "stack" }, field("Code from your authenticator app", code), error,
      h("button", { class: "btn btn-primary btn-block", type: "submit", text: "Verify" }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      busy(form, true);
      try {
        await finish(await ctx.cognito.answer("SOFTWARE_TOKEN_MFA", outcome.session, outcome.username, { SOFTWARE_TOKEN_MFA_CODE: code.value }));
      } catch (e) {
        showError(error, e);
        busy(form, false);
      }
    });
    replace(wrapper, card("Two-step verification", null, form));
    code.focus();
  };

  const mfaSetup = async (outcome) => {
    const association = await ctx.cognito.associateSoftwareToken(outcome.session);
    const code = h("input", { inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", required: true });
    const error = errorLine();
    const form = h(
      "form",
      { class: "stack" },
      h("p", { text: "Add this key to an authenticator app (as a time-based key), then enter the code it shows." }),
      h("code", { class: "secret", text: association.SecretCode }),
      field("Code", code),
      error,
      h("button", { class: "btn btn-primary btn-block", type: "submit", text: "Verify and sign in" }),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      busy(form, true);
      try {
        const verified = await ctx.cognito.verifySoftwareToken(association.Session, code.value);
        await finish(await ctx.cognito.answer("MFA_SETUP", verified.Session, outcome.username, {}));
      } catch (e) {
        showError(error, e);
        busy(form, false);
      }
    });
    replace(wrapper, card("Set up two-step verification", "Required for this deployment.", form));
    code.focus();
  };

  signIn();
  return { unmount: () => wrapper.remove() };
}

/** Create an identity-provider account, sign in, and register with Cradle in one go (local stack). */
export function mountSignUp(root, ctx) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, pattern: "[A-Za-z0-9_.@+\\-]{3,150}" });
  const email = h("input", { name: "email", type: "email", autocomplete: "email", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 12 });
  const role = roleSelect();
  const error = errorLine();
  const form = h(
    "form",
    { class: "stack", "aria-label": "Create an account" },
    field("User name", username),
    field("E-mail", email),
    field("Password", password, "At least 12 characters, upper and lower case, a digit."),
    field("I will work as", role),
    error,
    h("button", { class: "btn btn-primary btn-block", type: "submit", text: "Create account" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    busy(form, true);
    try {
      await ctx.cognito.signUp(username.value.trim(), password.value, email.value.trim());
      const outcome = await ctx.cognito.signIn(username.value.trim(), password.value);
      if (!outcome.tokens) throw new AuthError(outcome.challenge, "Sign in to continue.");
      ctx.session.accept(outcome.tokens);
      await ctx.api.post("/me/register", { body: { role: role.value } });
      await ctx.signedIn();
    } catch (e) {
      showError(error, e);
      busy(form, false);
    }
  });
  const wrapper = h(
    "div",
    { class: "account-page" },
    card("Create an account", "An administrator approves every account before it can see any data.", form,
      h("p", { class: "muted center" }, "Already have one? ", h("a", { href: "#/signin", text: "Sign in" }))),
  );
  root.append(wrapper);
  username.focus();
  return { unmount: () => wrapper.remove() };
}

function roleSelect() {
  return h(
    "select",
    { name: "role", required: true },
    h("option", { value: "ANNOTATOR", text: "Annotator — I place keypoints" }),
    h("option", { value: "VERIFIER", text: "Verifier — I review annotations" }),
  );
}

/** Signed in with the identity provider, not yet a Cradle user: ask for the role. */
export function mountRegister(root, ctx) {
  const role = roleSelect();
  const specialty = h("input", { name: "specialty", maxlength: 100, placeholder: "e.g. full_body, pediatric_physiotherapy" });
  const error = errorLine();
  const form = h(
    "form",
    { class: "stack" },
    field("Role", role),
    field("Specialty or expertise (optional)", specialty),
    error,
    h("button", { class: "btn btn-primary btn-block", type: "submit", text: "Register" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    busy(form, true);
    const body = { role: role.value };
    if (specialty.value.trim()) {
      body[role.value === "ANNOTATOR" ? "annotation_specialty" : "verification_expertise"] = specialty.value.trim();
    }
    try {
      await ctx.api.post("/me/register", { body });
      await ctx.signedIn();
    } catch (e) {
      showError(error, e);
      busy(form, false);
    }
  });
  const wrapper = h("div", { class: "account-page" },
    card(`Welcome, ${ctx.session.username}`, "Register with Cradle; an administrator will approve your account.", form, signOutLink(ctx)));
  root.append(wrapper);
  return { unmount: () => wrapper.remove() };
}

/** Registered, not (or no longer) allowed to work. */
export function mountWaiting(root, ctx) {
  const me = ctx.me;
  const refused = !me.is_active;
  const check = h("button", {
    class: "btn btn-primary",
    text: "Check again",
    onclick: async () => {
      check.disabled = true;
      try {
        await ctx.signedIn();
        if (!ctx.me.is_approved) notify("Still awaiting approval.", "info");
      } finally {
        check.disabled = false;
      }
    },
  });
  const wrapper = h(
    "div",
    { class: "account-page" },
    card(
      refused ? "Account not active" : "Awaiting approval",
      null,
      h("div", { class: "waiting", dataset: { state: refused ? "inactive" : "awaiting-approval" } },
        h("span", { class: ["status-pill", refused ? "status-bad" : "status-wait"], text: refused ? "inactive" : "awaiting approval" }),
        h("p", {
          text: refused
            ? "This account was deactivated or its registration refused. Ask an administrator if you think this is a mistake."
            : `Thank you, ${me.username}. You registered as ${me.role.toLowerCase()}; an administrator has to approve the account before you can see any images.`,
        }),
      ),
      h("div", { class: "row gap" }, refused ? null : check, signOutLink(ctx)),
    ),
  );
  root.append(wrapper);
  return { unmount: () => wrapper.remove() };
}

function signOutLink(ctx) {
  return h("button", { class: "btn btn-ghost", type: "button", text: "Sign out", onclick: () => ctx.signOut() });
}
