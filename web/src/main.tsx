import "@picocss/pico/css/pico.min.css";
import "./console.css";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { type ReactNode, StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { ApiError, setApiOrigin } from "./lib/api";
import { loadConfig } from "./lib/config";
import type { EntraSignIn } from "./lib/entra";
import { saveSession } from "./lib/session";

const queries = new QueryClient({
  defaultOptions: {
    queries: {
      // A 4xx will answer the same again; a network blip or 503 is worth one more try.
      retry: (count, error) => count < 1 && !(error instanceof ApiError && error.status < 500),
      refetchOnWindowFocus: false,
    },
  },
});

/** The embedded default: the dev sign-in, same origin. On Azure (config.json): MSAL. */
async function start(): Promise<{ entra: EntraSignIn | null; wrap: (app: ReactNode) => ReactNode }> {
  const config = await loadConfig();
  if (config.signIn === "dev") return { entra: null, wrap: (app) => app };
  setApiOrigin(config.apiOrigin);
  const [{ startEntra }, { MsalProvider }] = await Promise.all([
    import("./lib/entra"),
    import("@azure/msal-react"),
  ]);
  const entra = await startEntra(config);
  const token = await entra.token();
  if (token) saveSession(token);
  return {
    entra,
    wrap: (app) => <MsalProvider instance={entra.instance}>{app}</MsalProvider>,
  };
}

const root = document.getElementById("root");
if (root) {
  start().then(
    ({ entra, wrap }) =>
      createRoot(root).render(
        <StrictMode>
          <QueryClientProvider client={queries}>{wrap(<App entra={entra} />)}</QueryClientProvider>
        </StrictMode>,
      ),
    (error: unknown) => {
      root.textContent = `The console could not start: ${error instanceof Error ? error.message : String(error)}`;
    },
  );
}
