import { describe, expect, it } from "vitest";
import { loadConfig, parseConfig } from "./config";

const ENTRA = {
  signIn: "entra",
  clientId: "66666666-7777-8888-9999-000000000000",
  authority: "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/",
  apiScope: "api://donatello-dev/user_impersonation",
  apiOrigin: "https://func-donatello-dev-abcde.azurewebsites.net/",
};

const answering = (status: number, body?: unknown) => (async () =>
  new Response(body === undefined ? null : JSON.stringify(body), { status })) as typeof fetch;

describe("the sign-in mode", () => {
  it("is the dev sign-in when the host has no config.json (the embedded default)", async () => {
    expect(await loadConfig(answering(404))).toEqual({ signIn: "dev" });
  });
  it("is Entra ID when the deployment wrote one, its URLs tidied", async () => {
    expect(await loadConfig(answering(200, ENTRA))).toEqual({
      ...ENTRA,
      authority: "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555",
      apiOrigin: "https://func-donatello-dev-abcde.azurewebsites.net",
    });
  });
  it("never falls back to the dev form when the config is broken or unreadable", async () => {
    await expect(loadConfig(answering(500))).rejects.toThrow("answered 500");
    expect(() => parseConfig({ ...ENTRA, clientId: "" })).toThrow("clientId is missing");
    expect(() => parseConfig({ ...ENTRA, apiScope: undefined })).toThrow("apiScope is missing");
    expect(() => parseConfig({ ...ENTRA, authority: "http://login.example" })).toThrow("https");
    expect(() => parseConfig({ signIn: "basic" })).toThrow("signIn must be");
  });
});
