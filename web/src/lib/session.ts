// Who is signed in: the bearer token and what its claims say about the person. Kept in
// sessionStorage, so a reload keeps the sign-in and closing the tab ends it.
const KEY = "donatello.session";

export interface Session {
  token: string;
  user: string;
  roles: string[];
  department: string | null;
  expiresAt: number; // epoch milliseconds
}

function claims(token: string): Record<string, unknown> {
  const payload = token.split(".")[1] ?? "";
  const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(json) as Record<string, unknown>;
}

export function sessionFrom(token: string): Session {
  const c = claims(token);
  const roles = Array.isArray(c.roles) ? c.roles.map(String) : [];
  const department = typeof c.department === "string" ? c.department : null;
  return {
    token,
    user: String(c.oid ?? c.sub ?? ""),
    roles,
    department,
    expiresAt: Number(c.exp ?? 0) * 1000,
  };
}

export function loadSession(): Session | null {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  try {
    const session = sessionFrom(token);
    return session.expiresAt > Date.now() ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(token: string): Session {
  sessionStorage.setItem(KEY, token);
  return sessionFrom(token);
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
