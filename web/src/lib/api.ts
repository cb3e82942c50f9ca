// The one way the console speaks to the API: bearer token, problem+json turned into an
// error a page can show beside what caused it. Same origin on the embedded host; on Azure
// the Function App's origin (config.json), whose CORS answers this console only.
import type { components, paths } from "../api/schema";

export type Schemas = components["schemas"];
export type Problem = Schemas["ProblemDetails"];
export type ApiPath = keyof paths;

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;
  constructor(status: number, problem: Problem | null) {
    super(problem?.detail ?? problem?.title ?? `The server answered ${status}.`);
    this.status = status;
    this.problem = problem;
  }
  /** The message for one field, from a 422's `errors` (e.g. field "prompt"). */
  fieldMessage(field: string): string | null {
    const issue = this.problem?.errors?.find((e) => e.loc.includes(field));
    return issue ? issue.msg : null;
  }
}

type Expiry = () => void;
/** A fresh token each time it is asked (MSAL renews it silently), or null. */
export type TokenSource = () => Promise<string | null>;
let onExpired: Expiry = () => undefined;
let token: string | null = null;
let renew: TokenSource | null = null;
let apiOrigin = "";

export function setCredentials(value: string | null, expired: Expiry, source?: TokenSource): void {
  token = value;
  onExpired = expired;
  renew = source ?? null;
}

/** Where the API is: "" for this origin, else e.g. "https://func-....azurewebsites.net". */
export function setApiOrigin(origin: string): void {
  apiOrigin = origin;
}

export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const bearer = renew && token ? await renew() : token;
  if (bearer) headers.set("Authorization", `Bearer ${bearer}`);
  const response = await fetch(`${apiOrigin}/api${path}`, { ...init, headers });
  if (response.ok) return response;
  let problem: Problem | null = null;
  if ((response.headers.get("content-type") ?? "").includes("json")) {
    problem = (await response.json()) as Problem;
  }
  if (response.status === 401) onExpired();
  throw new ApiError(response.status, problem);
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request(path)).json()) as T;
}

export async function sendJson<T>(
  method: "POST" | "PUT" | "DELETE",
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const response = await request(path, {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return (response.status === 204 ? null : await response.json()) as T;
}

/** Download a response as a file the browser saves (CSV, JSON Lines, PNG). */
export async function download(path: string, fallbackName: string): Promise<void> {
  const response = await request(path);
  const disposition = response.headers.get("content-disposition") ?? "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  saveBlob(await response.blob(), name);
}

/** Hand a blob to the browser as a file download named `name`. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  URL.revokeObjectURL(url);
}
