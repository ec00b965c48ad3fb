// The runtime configuration: config.json next to index.html, written by whoever serves the app
// (the committed one for the local stack; the CDK app writes the cloud one with the API's URL and
// the Cognito app client). Nothing about a deployment is baked into the code.

const DEFAULTS = {
  apiBase: "/api",
  cognitoEndpoint: "/idp/",
  clientId: "cradle-local-client",
  selfSignUp: false,
  hostedUi: null, // {domain, redirectUri, scopes}: Cognito's Hosted UI, in the cloud
  stage: "local",
};

export async function loadConfig() {
  const response = await fetch(new URL("config.json", document.baseURI), { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json could not be read (${response.status})`);
  const raw = await response.json();
  const config = { ...DEFAULTS, ...raw };
  config.apiBase = String(config.apiBase).replace(/\/+$/, "");
  return Object.freeze(config);
}
