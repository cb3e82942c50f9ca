import { useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useCallback, useState } from "react";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { setCredentials } from "./lib/api";
import type { EntraSignIn } from "./lib/entra";
import { PAGES, homeFor, pagesFor } from "./lib/roles";
import { navigate, usePath } from "./lib/router";
import { type Session, clearSession, loadSession, saveSession } from "./lib/session";
import { AuditPage } from "./pages/Audit";
import { BudgetPage } from "./pages/Budget";
import { FinancePage } from "./pages/Finance";
import { GalleryPage } from "./pages/Gallery";
import { GeneratePage } from "./pages/Generate";
import { GenerationPage } from "./pages/Generation";
import { ModelsPage } from "./pages/Models";
import { SignInPage } from "./pages/SignIn";

// Only the Azure console signs in with Entra; the embedded default never loads MSAL.
const EntraSignInPage = lazy(() => import("./pages/EntraSignIn"));

export function App({ entra = null }: { entra?: EntraSignIn | null }) {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [expired, setExpired] = useState(false);
  const queries = useQueryClient();
  const path = usePath();

  const expire = useCallback(() => {
    // Back to sign-in, on the same path: the pages keep their drafts in sessionStorage.
    clearSession();
    setExpired(true);
    setSession(null);
  }, []);
  setCredentials(session?.token ?? null, expire, entra ? () => entra.token() : undefined);

  if (!session && entra) {
    return (
      <Suspense fallback={<p aria-busy="true">Loading sign-in…</p>}>
        <EntraSignInPage expired={expired} entra={entra} />
      </Suspense>
    );
  }
  if (!session) {
    return (
      <SignInPage
        expired={expired}
        onSignedIn={(token) => {
          const next = saveSession(token);
          queries.clear();
          setExpired(false);
          setSession(next);
          if (path === "/" || path === "/sign-in") navigate(homeFor(next.roles));
        }}
      />
    );
  }
  const pages = pagesFor(session.roles);
  return (
    <>
      <header className="container">
        <nav aria-label="Console">
          <ul>
            <li>
              <strong>DonatelloAI</strong>
            </li>
          </ul>
          <ul>
            {pages.map((page) => (
              <li key={page.id}>
                <a
                  href={page.path}
                  aria-current={path.startsWith(page.path) ? "page" : undefined}
                  onClick={(event) => {
                    event.preventDefault();
                    navigate(page.path);
                  }}
                >
                  {page.label}
                </a>
              </li>
            ))}
            <li>
              <button
                type="button"
                className="secondary outline"
                onClick={() => {
                  clearSession();
                  queries.clear();
                  setSession(null);
                  navigate("/");
                  if (entra) void entra.signOut();
                }}
              >
                Sign out {session.user}
              </button>
            </li>
          </ul>
        </nav>
      </header>
      <main className="container">
        <ErrorBoundary key={path}>{route(path, session)}</ErrorBoundary>
      </main>
    </>
  );
}

function route(path: string, session: Session) {
  const allowed = new Set(pagesFor(session.roles).map((p) => p.id));
  const generation = /^\/generations\/([0-9a-f-]{36})$/.exec(path);
  if (generation?.[1]) return <GenerationPage id={generation[1]} session={session} />;
  const page = PAGES.find((p) => path.startsWith(p.path));
  if (!page || !allowed.has(page.id)) {
    const home = homeFor(session.roles);
    if (path !== home) queueMicrotask(() => navigate(home));
    return null;
  }
  switch (page.id) {
    case "generate":
      return <GeneratePage session={session} />;
    case "gallery":
      return <GalleryPage session={session} />;
    case "budget":
      return <BudgetPage session={session} />;
    case "finance":
      return <FinancePage />;
    case "audit":
      return <AuditPage />;
    case "models":
      return (
        <ModelsPage admin={session.roles.some((r) => r === "Org.Admin" || r === "Platform.Admin")} />
      );
  }
}
