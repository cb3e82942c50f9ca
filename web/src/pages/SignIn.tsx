import { type FormEvent, useState } from "react";
import { ROLES } from "../lib/roles";

// The embedded default's dev sign-in: the host mints a locally signed token for the
// person described here. It exists only with dev tokens on a loopback-bound host.
const LAST = "donatello.last-sign-in";

interface Form {
  user: string;
  roles: string[];
  department: string;
}

function lastForm(): Form {
  try {
    const stored = localStorage.getItem(LAST);
    if (stored) return JSON.parse(stored) as Form;
  } catch {
    // a damaged entry just means an empty form
  }
  return { user: "", roles: ["Generator.Standard"], department: "" };
}

export function SignInPage(props: { expired: boolean; onSignedIn: (token: string) => void }) {
  const [form, setForm] = useState<Form>(lastForm);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (form.roles.length === 0) {
      setError("Choose at least one role.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const response = await fetch("/dev/token", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          user: form.user.trim(),
          roles: form.roles,
          department: form.department.trim() || null,
        }),
      });
      if (response.status === 404) {
        setError("Dev sign-in is not offered by this host (only with dev tokens, on loopback).");
        return;
      }
      const body = (await response.json()) as { access_token?: string; detail?: string };
      if (!response.ok || !body.access_token) {
        setError(body.detail ?? `Sign-in failed (${response.status}).`);
        return;
      }
      localStorage.setItem(LAST, JSON.stringify(form));
      props.onSignedIn(body.access_token);
    } catch {
      setError("The host did not answer; is `donatello serve` running?");
    } finally {
      setBusy(false);
    }
  }

  const toggle = (role: string, on: boolean) =>
    setForm((f) => ({ ...f, roles: on ? [...f.roles, role] : f.roles.filter((r) => r !== role) }));

  return (
    <main className="container narrow">
      <h1>Sign in to DonatelloAI</h1>
      {props.expired && (
        <p role="status" className="notice">
          Your session expired. Sign in again: what you typed is still there.
        </p>
      )}
      <form onSubmit={submit} aria-describedby={error ? "sign-in-error" : undefined}>
        <label>
          User
          <input
            name="user"
            required
            autoComplete="username"
            value={form.user}
            onChange={(e) => setForm({ ...form, user: e.target.value })}
          />
        </label>
        <fieldset>
          <legend>Roles</legend>
          {ROLES.map((role) => (
            <label key={role}>
              <input
                type="checkbox"
                name="roles"
                value={role}
                checked={form.roles.includes(role)}
                onChange={(e) => toggle(role, e.target.checked)}
              />
              {role}
            </label>
          ))}
        </fieldset>
        <label>
          Department
          <input
            name="department"
            placeholder="e.g. marketing"
            value={form.department}
            onChange={(e) => setForm({ ...form, department: e.target.value })}
          />
        </label>
        {error && (
          <p id="sign-in-error" role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" aria-busy={busy} disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
