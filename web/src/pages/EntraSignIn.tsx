import { useMsal } from "@azure/msal-react";
import { InteractionStatus } from "@azure/msal-browser";
import { useState } from "react";
import type { EntraSignIn } from "../lib/entra";

// The Azure console's sign-in: Entra ID in the organisation's own page (redirect), back
// here with a token for the API. What was typed before an expiry is kept in the pages'
// drafts (sessionStorage), which survive the round trip.
export default function EntraSignInPage(props: { expired: boolean; entra: EntraSignIn }) {
  const { inProgress } = useMsal();
  const [error, setError] = useState<string | null>(null);
  const busy = inProgress !== InteractionStatus.None;
  return (
    <main className="container">
      <h1>Sign in to DonatelloAI</h1>
      {props.expired && <p role="status">Your session ended; sign in again to carry on.</p>}
      <p>Sign in with your organisation's Microsoft Entra ID account.</p>
      {error && <p role="alert">{error}</p>}
      <button
        type="button"
        aria-busy={busy}
        disabled={busy}
        onClick={() => {
          setError(null);
          props.entra.signIn().catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
        }}
      >
        Sign in with Microsoft
      </button>
    </main>
  );
}
