// Cradle's web UI: configuration, the session, the top bar, and which view a route shows.

import { loadConfig } from "./config.js";
import { Cognito, HostedUi, Session } from "./auth.js";
import { ApiError, createApi } from "./api.js";
import { h, replace } from "./dom.js";
import { go, onRoute, parseHash } from "./router.js";
import { installShortcuts, showShortcuts } from "./ui/shortcuts.js";
import { notifyError } from "./ui/notices.js";
import { mountRegister, mountSignIn, mountSignUp, mountWaiting } from "./views/account.js";
import { mountWorkbench } from "./views/workbench.js";
import { mountVerify } from "./views/verify.js";
import { mountAdmin } from "./views/admin/index.js";
import { mountDatasets } from "./views/datasets/index.js";
import { mountResearch } from "./views/research/index.js";
import { mountModels } from "./views/models/index.js";

const app = document.getElementById("app");
const topbar = document.getElementById("topbar");
let view = null;
let ctx = null;

const HOME = { ANNOTATOR: "/work", VERIFIER: "/verify", ADMIN: "/admin/approvals" };
const NAV = [
  { path: "/work", label: "Workbench", roles: ["ANNOTATOR"] },
  { path: "/verify", label: "Verify", roles: ["VERIFIER", "ADMIN"] },
  { path: "/datasets", label: "Datasets", roles: ["VERIFIER", "ADMIN"] },
  { path: "/models", label: "Models", roles: ["VERIFIER", "ADMIN"] },
  { path: "/research", label: "Research", roles: ["VERIFIER", "ADMIN"] },
  { path: "/admin", label: "Admin", roles: ["ADMIN"] },
];

async function boot() {
  const config = await loadConfig();
  const cognito = new Cognito({ endpoint: new URL(config.cognitoEndpoint, document.baseURI).href, clientId: config.clientId });
  const session = new Session(cognito);
  const hostedUi = config.hostedUi ? new HostedUi({ ...config.hostedUi, clientId: config.clientId }) : null;
  session.restore();
  let callbackError = null;
  if (hostedUi && HostedUi.isCallback()) {
    try {
      session.accept(await hostedUi.complete(), { hosted: true });
    } catch (error) {
      callbackError = error;
    }
    // The code is single-use: take it out of the address bar and the history.
    history.replaceState(null, "", new URL(hostedUi.redirectUri).pathname + location.hash);
  }
  const api = createApi({ base: config.apiBase, session, onSignedOut: () => session.signOut() });
  ctx = {
    config,
    cognito,
    hostedUi,
    session,
    api,
    me: null,
    unregistered: false,
    async signedIn() {
      await loadMe();
      const route = parseHash();
      if (["signin", "signup", ""].includes(route.parts[0] || "")) go(homeOf());
      else render(route);
    },
    signOut() {
      // The view says goodbye first (saves a draft, pauses the clock, releases a claim) while the
      // token is still there; then the session goes.
      view?.unmount?.();
      view = null;
      const hosted = session.hosted;
      session.signOut();
      if (hosted && hostedUi) location.assign(hostedUi.logoutUrl());
    },
  };
  session.onChange(() => {
    if (!session.signedIn) {
      ctx.me = null;
      go("/signin");
    }
  });
  installShortcuts();
  onRoute(render);
  if (session.signedIn) {
    try {
      await loadMe();
    } catch (error) {
      notifyError(error, "Could not load your profile");
    }
  }
  render(parseHash());
  if (callbackError) notifyError(callbackError, "Sign-in did not complete");
}

async function loadMe() {
  try {
    ctx.me = await ctx.api.get("/me");
    ctx.unregistered = false;
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      ctx.me = null;
      ctx.unregistered = true;
      return;
    }
    throw error;
  }
}

function homeOf() {
  return (ctx.me && HOME[ctx.me.role]) || "/signin";
}

function show(mount, route) {
  view?.unmount?.();
  view = null;
  replace(app);
  view = mount(app, ctx, route);
}

function render(route) {
  const section = route.parts[0] || "";
  if (!ctx.session.signedIn) {
    topbar.hidden = true;
    return show(section === "signup" && ctx.config.selfSignUp ? mountSignUp : mountSignIn, route);
  }
  if (!ctx.me) {
    topbar.hidden = true;
    return show(ctx.unregistered ? mountRegister : mountSignIn, route);
  }
  if (!ctx.me.is_approved || !ctx.me.is_active) {
    topbar.hidden = true;
    return show(mountWaiting, route);
  }
  const allowed = NAV.filter((item) => item.roles.includes(ctx.me.role)).map((item) => item.path.slice(1));
  if (!allowed.includes(section)) return go(homeOf());
  drawTopbar(section);
  const mount = {
    work: mountWorkbench, verify: mountVerify, datasets: mountDatasets, models: mountModels, admin: mountAdmin, research: mountResearch,
  }[section];
  show(mount, route);
  app.focus({ preventScroll: true });
}

function drawTopbar(section) {
  topbar.hidden = false;
  const links = NAV.filter((item) => item.roles.includes(ctx.me.role)).map((item) =>
    h("a", {
      href: `#${item.path}`,
      // Clicking the current page's link reloads it (new work may have arrived).
      onclick: (event) => {
        event.preventDefault();
        go(item.path);
      },
      class: ["nav-link", item.path.slice(1) === section ? "active" : null],
      "aria-current": item.path.slice(1) === section ? "page" : null,
      text: item.label,
    }),
  );
  replace(
    topbar,
    h("a", { class: "brand", href: `#${homeOf()}` }, h("img", { src: "favicon.svg", alt: "", width: 24, height: 24 }), "Cradle"),
    h("nav", { class: "nav", "aria-label": "Main" }, links),
    h("div", { class: "topbar-right" },
      h("button", { class: "btn btn-ghost btn-small", type: "button", title: "Keyboard shortcuts (?)", onclick: () => showShortcuts() }, h("kbd", { text: "?" }), " Shortcuts"),
      h("span", { class: "who" }, h("span", { class: "who-name", title: ctx.me.username, text: ctx.me.username }), h("span", { class: "role-badge", text: ctx.me.role.toLowerCase() })),
      h("button", { class: "btn btn-ghost btn-small", type: "button", text: "Sign out", onclick: () => ctx.signOut() }),
    ),
  );
}

// Shown to the user; still reported to the console, so the browser tests catch it.
window.addEventListener("unhandledrejection", (event) => notifyError(event.reason));

boot().catch((error) => {
  replace(app, h("div", { class: "account-page" }, h("section", { class: "account-card" }, h("h1", { text: "Cradle could not start" }), h("p", { text: error.message }))));
});
