// Entra ID sign-in through MSAL (the console on Azure; lib/config.ts chooses it). Loaded
// only when config.json names Entra, so the embedded default ships without it.
import {
  BrowserCacheLocation,
  type Configuration,
  type IPublicClientApplication,
  InteractionRequiredAuthError,
  PublicClientApplication,
} from "@azure/msal-browser";
import type { EntraConfig } from "./config";

export function msalConfiguration(config: EntraConfig, origin: string): Configuration {
  return {
    auth: {
      clientId: config.clientId,
      authority: config.authority,
      redirectUri: origin,
      postLogoutRedirectUri: origin,
    },
    // Like the dev session: a reload keeps the sign-in, closing the tab ends it.
    cache: { cacheLocation: BrowserCacheLocation.SessionStorage },
  };
}

/** What the console needs of Entra: a token for the API, and the way in and out. */
export interface EntraSignIn {
  readonly instance: IPublicClientApplication;
  /** An access token for the API's scope, renewed silently; null when Entra needs the
   * person again (never signed in, session ended, consent or MFA asked). */
  token(): Promise<string | null>;
  signIn(): Promise<void>;
  signOut(): Promise<void>;
}

export function entraSignIn(instance: IPublicClientApplication, config: EntraConfig): EntraSignIn {
  const scopes = [config.apiScope];
  return {
    instance,
    async token() {
      const account = instance.getActiveAccount();
      if (!account) return null;
      try {
        return (await instance.acquireTokenSilent({ scopes, account })).accessToken;
      } catch (error) {
        if (error instanceof InteractionRequiredAuthError) return null;
        throw error;
      }
    },
    signIn: () => instance.loginRedirect({ scopes }),
    signOut: () => instance.logoutRedirect({ account: instance.getActiveAccount() }),
  };
}

/** Start MSAL: finish a sign-in Entra just redirected back from, pick the account. */
export async function startEntra(
  config: EntraConfig,
  instance: IPublicClientApplication = new PublicClientApplication(
    msalConfiguration(config, window.location.origin),
  ),
): Promise<EntraSignIn> {
  await instance.initialize();
  const result = await instance.handleRedirectPromise();
  const account = result?.account ?? instance.getActiveAccount() ?? instance.getAllAccounts()[0];
  if (account) instance.setActiveAccount(account);
  return entraSignIn(instance, config);
}
