// What is checked here is the wiring around MSAL, against MSAL's real PublicClientApplication
// with no network: the configuration it is given, that nobody signed in means no token
// (and so the sign-in page), the scope and account a token is asked for, and what an
// "interaction required" answer leads to. A real Entra sign-in (the redirect, consent, the
// token's claims) needs a real tenant: docs/deploy.md, "Signing in to the console".
import { type AccountInfo, InteractionRequiredAuthError, PublicClientApplication } from "@azure/msal-browser";
import { webcrypto } from "node:crypto";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { request, setApiOrigin, setCredentials } from "./api";
import type { EntraConfig } from "./config";
import { entraSignIn, msalConfiguration, startEntra } from "./entra";

const CONFIG: EntraConfig = {
  signIn: "entra",
  clientId: "66666666-7777-8888-9999-000000000000",
  authority: "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555",
  apiScope: "api://donatello-dev/user_impersonation",
  apiOrigin: "https://func-donatello-dev-abcde.azurewebsites.net",
};
const ACCOUNT = {
  homeAccountId: "u.t",
  environment: "login.microsoftonline.com",
  tenantId: "11111111-2222-3333-4444-555555555555",
  username: "kim@example.org",
  localAccountId: "u",
} as AccountInfo;

function client() {
  return new PublicClientApplication(msalConfiguration(CONFIG, "https://console.example"));
}

beforeAll(() => {
  // jsdom has no Web Crypto; a browser (and MSAL) has. Node's is the real thing.
  Object.defineProperty(window, "crypto", { value: webcrypto, configurable: true });
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  setApiOrigin("");
  setCredentials(null, () => undefined);
});

describe("MSAL's configuration", () => {
  it("names the console's app registration, the tenant and this origin to come back to", () => {
    const { auth, cache } = msalConfiguration(CONFIG, "https://console.example");
    expect(auth).toEqual({
      clientId: CONFIG.clientId,
      authority: CONFIG.authority,
      redirectUri: "https://console.example",
      postLogoutRedirectUri: "https://console.example",
    });
    expect(cache?.cacheLocation).toBe("sessionStorage");
  });
});

describe("a token for the API", () => {
  it("is none before anyone signs in, so the console shows its sign-in page", async () => {
    const entra = await startEntra(CONFIG, client());
    expect(entra.instance.getAllAccounts()).toEqual([]);
    expect(await entra.token()).toBeNull();
  });

  it("is asked silently for the API's scope and the signed-in account", async () => {
    const instance = client();
    await instance.initialize();
    vi.spyOn(instance, "getActiveAccount").mockReturnValue(ACCOUNT);
    const silent = vi
      .spyOn(instance, "acquireTokenSilent")
      .mockRejectedValueOnce(new InteractionRequiredAuthError("login_required", "test-correlation"))
      .mockRejectedValueOnce(new Error("network down"));
    const entra = entraSignIn(instance, CONFIG);
    // Entra wants the person again: no token, so back to sign-in; anything else is an error.
    expect(await entra.token()).toBeNull();
    await expect(entra.token()).rejects.toThrow("network down");
    expect(silent).toHaveBeenCalledWith({ scopes: [CONFIG.apiScope], account: ACCOUNT });
  });

  it("signs in by redirect asking for the API's scope", async () => {
    const instance = client();
    await instance.initialize();
    const redirect = vi.spyOn(instance, "loginRedirect").mockResolvedValue(undefined);
    await entraSignIn(instance, CONFIG).signIn();
    expect(redirect).toHaveBeenCalledWith({ scopes: [CONFIG.apiScope] });
  });

  it("goes with every call to the API's origin, renewed each time", async () => {
    const seen: { url: string; auth: string | null }[] = [];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      seen.push({ url, auth: new Headers(init.headers).get("Authorization") });
      return new Response("{}", { status: 200 });
    });
    let n = 0;
    setApiOrigin(CONFIG.apiOrigin);
    setCredentials("first", () => undefined, async () => `renewed-${++n}`);
    await request("/v1/models");
    await request("/v1/models");
    expect(seen).toEqual([
      { url: `${CONFIG.apiOrigin}/api/v1/models`, auth: "Bearer renewed-1" },
      { url: `${CONFIG.apiOrigin}/api/v1/models`, auth: "Bearer renewed-2" },
    ]);
  });
});
