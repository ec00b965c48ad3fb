// Signing in with Amazon Cognito's JSON protocol (the local identity provider speaks the same):
// SignUp, InitiateAuth (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH) and RespondToAuthChallenge
// (NEW_PASSWORD_REQUIRED, SOFTWARE_TOKEN_MFA, MFA_SETUP). The API wants the ID token.
//
// In the cloud the page can also send people to Cognito's Hosted UI (HostedUi below): OAuth 2.0
// authorization code with PKCE, back to the site's root, where the code becomes tokens.
//
// Tokens live in memory and in this tab's sessionStorage (so a reload keeps you signed in, and
// closing the tab signs you out). They never go into a URL and are never logged.

const TARGET = "AWSCognitoIdentityProviderService.";
const STORAGE_KEY = "cradle.session";
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

export class AuthError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

export class Cognito {
  constructor({ endpoint, clientId }) {
    this.endpoint = endpoint;
    this.clientId = clientId;
  }

  async call(action, body) {
    let response;
    try {
      response = await fetch(this.endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + action },
        body: JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch {
      throw new AuthError("NetworkError", "The sign-in service cannot be reached.");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const code = String(data.__type || "Error").split("#").pop();
      throw new AuthError(code, data.message || data.Message || "Sign-in failed.");
    }
    return data;
  }

  signUp(username, password, email) {
    return this.call("SignUp", {
      ClientId: this.clientId,
      Username: username,
      Password: password,
      UserAttributes: [{ Name: "email", Value: email }],
    });
  }

  /** → {tokens} or {challenge, session, username} */
  async signIn(username, password) {
    const data = await this.call("InitiateAuth", {
      ClientId: this.clientId,
      AuthFlow: "USER_PASSWORD_AUTH",
      AuthParameters: { USERNAME: username, PASSWORD: password },
    });
    return this.#outcome(data, username);
  }

  async answer(challenge, session, username, responses) {
    const data = await this.call("RespondToAuthChallenge", {
      ClientId: this.clientId,
      ChallengeName: challenge,
      Session: session,
      ChallengeResponses: { USERNAME: username, ...responses },
    });
    return this.#outcome(data, username);
  }

  /** MFA_SETUP: the secret to enter into an authenticator app, then verify a first code. */
  associateSoftwareToken(session) {
    return this.call("AssociateSoftwareToken", { Session: session });
  }

  verifySoftwareToken(session, code) {
    return this.call("VerifySoftwareToken", { Session: session, UserCode: code });
  }

  async refresh(refreshToken) {
    const data = await this.call("InitiateAuth", {
      ClientId: this.clientId,
      AuthFlow: "REFRESH_TOKEN_AUTH",
      AuthParameters: { REFRESH_TOKEN: refreshToken },
    });
    return data.AuthenticationResult;
  }

  #outcome(data, username) {
    if (data.AuthenticationResult) return { tokens: data.AuthenticationResult };
    return { challenge: data.ChallengeName, session: data.Session, username };
  }
}

const OAUTH_KEY = "cradle.oauth";

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(size) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

/** Cognito's Hosted UI: authorization code with PKCE (RFC 7636). A public client: no secret. */
export class HostedUi {
  constructor({ domain, redirectUri, scopes, clientId }) {
    this.domain = String(domain).replace(/\/+$/, "");
    this.redirectUri = redirectUri;
    this.scopes = scopes || "openid email profile";
    this.clientId = clientId;
  }

  /** Leave for the Hosted UI; the verifier and state wait in this tab's sessionStorage. */
  async begin() {
    const verifier = randomText(48);
    const state = randomText(24);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    sessionStorage.setItem(OAUTH_KEY, JSON.stringify({ verifier, state }));
    const url = new URL(`${this.domain}/oauth2/authorize`);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: this.clientId,
      redirect_uri: this.redirectUri,
      scope: this.scopes,
      state,
      code_challenge: base64url(digest),
      code_challenge_method: "S256",
    }).toString();
    location.assign(url.href);
  }

  /** Is this page load the Hosted UI sending the browser back? */
  static isCallback(search = location.search) {
    const params = new URLSearchParams(search);
    return params.has("state") && (params.has("code") || params.has("error"));
  }

  /** The callback's code → tokens in the shape InitiateAuth returns them. */
  async complete(search = location.search) {
    const params = new URLSearchParams(search);
    const saved = JSON.parse(sessionStorage.getItem(OAUTH_KEY) || "null");
    sessionStorage.removeItem(OAUTH_KEY);
    if (params.has("error")) {
      throw new AuthError(params.get("error"), params.get("error_description") || "Sign-in was not completed.");
    }
    if (!saved || saved.state !== params.get("state")) {
      throw new AuthError("InvalidState", "This sign-in did not start in this tab; please sign in again.");
    }
    let response;
    try {
      response = await fetch(`${this.domain}/oauth2/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          client_id: this.clientId,
          code: params.get("code"),
          redirect_uri: this.redirectUri,
          code_verifier: saved.verifier,
        }).toString(),
        cache: "no-store",
        credentials: "omit",
      });
    } catch {
      throw new AuthError("NetworkError", "The sign-in service cannot be reached.");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok || !data.id_token) {
      throw new AuthError(data.error || "Error", data.error_description || "Sign-in failed; please try again.");
    }
    return { IdToken: data.id_token, RefreshToken: data.refresh_token, ExpiresIn: data.expires_in };
  }

  /** Where to go after signing out, so the Hosted UI forgets its own session too. */
  logoutUrl() {
    const url = new URL(`${this.domain}/logout`);
    url.search = new URLSearchParams({ client_id: this.clientId, logout_uri: this.redirectUri }).toString();
    return url.href;
  }
}

/** Decode a JWT's claims (no verification: the API verifies; the page only reads its own name). */
export function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = payload + "=".repeat((4 - (payload.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

export class Session {
  constructor(cognito) {
    this.cognito = cognito;
    this.idToken = null;
    this.refreshToken = null;
    this.expiresAt = 0;
    this.hosted = false; // signed in through the Hosted UI (signing out visits its /logout too)
    this.listeners = new Set();
    this.refreshing = null;
    this.timer = null;
  }

  get signedIn() {
    return Boolean(this.idToken);
  }

  get claims() {
    return this.idToken ? claimsOf(this.idToken) : {};
  }

  get username() {
    const c = this.claims;
    return c["cognito:username"] || c.username || c.email || "";
  }

  restore() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
      if (saved && saved.idToken) {
        Object.assign(this, {
          idToken: saved.idToken,
          refreshToken: saved.refreshToken,
          expiresAt: saved.expiresAt,
          hosted: Boolean(saved.hosted),
        });
        this.#schedule();
      }
    } catch {
      sessionStorage.removeItem(STORAGE_KEY);
    }
    return this.signedIn;
  }

  accept(tokens, { hosted = this.hosted } = {}) {
    this.idToken = tokens.IdToken;
    if (tokens.RefreshToken) this.refreshToken = tokens.RefreshToken;
    this.expiresAt = Date.now() + (tokens.ExpiresIn || 3600) * 1000;
    this.hosted = hosted;
    sessionStorage.setItem(
      STORAGE_KEY,
      JSON.stringify({
        idToken: this.idToken,
        refreshToken: this.refreshToken,
        expiresAt: this.expiresAt,
        hosted: this.hosted,
      }),
    );
    this.#schedule();
    this.#notify();
  }

  /** A valid ID token, refreshed first when it is about to expire; null when signed out. */
  async token() {
    if (!this.idToken) return null;
    if (Date.now() > this.expiresAt - REFRESH_MARGIN_MS) await this.refresh();
    return this.idToken;
  }

  async refresh() {
    if (!this.refreshToken) {
      this.signOut();
      return false;
    }
    this.refreshing ??= this.cognito
      .refresh(this.refreshToken)
      .then((tokens) => {
        this.accept(tokens);
        return true;
      })
      .catch(() => {
        this.signOut();
        return false;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  signOut() {
    this.idToken = null;
    this.refreshToken = null;
    this.expiresAt = 0;
    this.hosted = false;
    clearTimeout(this.timer);
    sessionStorage.removeItem(STORAGE_KEY);
    this.#notify();
  }

  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  #notify() {
    for (const listener of this.listeners) listener(this);
  }

  #schedule() {
    clearTimeout(this.timer);
    const wait = Math.max(5_000, this.expiresAt - Date.now() - REFRESH_MARGIN_MS);
    this.timer = setTimeout(() => this.refresh(), wait);
  }
}
