// How this console signs people in, chosen at start-up from /config.json: the Azure
// deployment writes one (web/scripts/azure-config.mjs) naming Entra ID, the console's app
// registration and the API's scope and origin; the embedded host has none (a 404), which
// means the dev sign-in form against the same origin.
export interface EntraConfig {
  signIn: "entra";
  clientId: string;
  authority: string;
  apiScope: string;
  apiOrigin: string;
}
export type ConsoleConfig = { signIn: "dev" } | EntraConfig;

export const DEV: ConsoleConfig = { signIn: "dev" };

/** The config a /config.json body describes; a broken one is an error, never the dev form. */
export function parseConfig(raw: unknown): ConsoleConfig {
  const body = (raw ?? {}) as Record<string, unknown>;
  if (body.signIn === "dev") return DEV;
  if (body.signIn !== "entra") throw new Error('config.json: signIn must be "entra" or "dev"');
  const text = (name: keyof EntraConfig): string => {
    const value = body[name];
    if (typeof value !== "string" || value.trim() === "") throw new Error(`config.json: ${name} is missing`);
    return value;
  };
  const https = (name: "authority" | "apiOrigin"): string => {
    const value = text(name);
    if (!value.startsWith("https://")) throw new Error(`config.json: ${name} must be an https URL`);
    return value.replace(/\/+$/, "");
  };
  return {
    signIn: "entra",
    clientId: text("clientId"),
    authority: https("authority"),
    apiScope: text("apiScope"),
    apiOrigin: new URL(https("apiOrigin")).origin,
  };
}

/** Read /config.json; no such file means the embedded default's dev sign-in. */
export async function loadConfig(fetchFn: typeof fetch = fetch): Promise<ConsoleConfig> {
  const response = await fetchFn("/config.json", { cache: "no-cache" });
  if (response.status === 404) return DEV;
  if (!response.ok) throw new Error(`config.json: the host answered ${response.status}`);
  return parseConfig(await response.json());
}
