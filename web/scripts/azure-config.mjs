// Write what the console needs on Azure into the built folder (dist, or the one given):
// config.json, read at start-up (Entra sign-in: tenant, the console's client id, the API's
// scope and origin), and staticwebapp.config.json, whose global headers are
// security-headers.json's with only the API's and Entra's origins added. azure.yaml runs it
// before `azd deploy` uploads the console, from the outputs of infra/bicep (docs/deploy.md).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const out = process.argv[2] ?? join(import.meta.dirname, "..", "dist");
const need = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set: run this from azd (it sets infra/bicep's outputs)`);
    process.exit(2);
  }
  return value;
};
const origin = (url) => new URL(url).origin;

const apiOrigin = origin(need("API_BASE_URL"));
const authorityHost = origin(process.env.ENTRA_AUTHORITY_HOST || "https://login.microsoftonline.com");
const config = {
  signIn: "entra",
  clientId: need("CONSOLE_CLIENT_ID"),
  authority: `${authorityHost}/${need("AZURE_TENANT_ID")}`,
  apiScope: need("CONSOLE_API_SCOPE"),
  apiOrigin,
};

const declared = JSON.parse(readFileSync(join(import.meta.dirname, "..", "security-headers.json"), "utf-8"));
const csp = { ...declared["content-security-policy"] };
// The API answers across origins (its CORS allows only this console); MSAL talks to Entra
// by fetch and renews tokens in a hidden frame of Entra's origin.
csp["connect-src"] = [...csp["connect-src"], apiOrigin, authorityHost];
csp["frame-src"] = [authorityHost];
const headers = Object.fromEntries(
  Object.entries(declared).filter(([name]) => !name.startsWith("_") && name !== "content-security-policy"),
);
headers["content-security-policy"] = Object.entries(csp)
  .map(([name, sources]) => `${name} ${sources.join(" ")}`)
  .join("; ");

const site = {
  navigationFallback: { rewrite: "/index.html", exclude: ["/assets/*", "/config.json"] },
  globalHeaders: headers,
  routes: [{ route: "/config.json", headers: { "cache-control": "no-cache" } }],
};
writeFileSync(join(out, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
writeFileSync(join(out, "staticwebapp.config.json"), `${JSON.stringify(site, null, 2)}\n`);
console.log(`console configured for ${config.authority}, API ${apiOrigin}`);
