import * as client from 'openid-client';
import type { Principal } from '../../domain/directory.js';

/** The portal's client at the OpenID provider. */
export interface OidcSignInOptions {
  issuer: string;
  clientId: string;
  /** Secret: never logged. Absent: a public client (PKCE only). */
  clientSecret?: string;
  /** `<portal>/auth/callback`, registered at the provider. */
  redirectUri: string;
  scopes: string[];
  /** Where the provider sends people after its logout (`<portal>/`). */
  postLogoutRedirectUri: string;
  /** Maps the verified ID token's claims to a principal (the bearer JWTs' claim mapping); null: nobody. */
  toPrincipal(claims: Record<string, unknown>): Principal | null;
}

/** Everything the callback learned from the provider. */
export interface SignInResult {
  principal: Principal;
  idToken: string;
  authTime?: number;
  amr?: string[];
  acr?: string;
}

/** A sign-in refused at the callback; `reason` is fixed vocabulary or the library's own words (never a token). */
export class SignInError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])([:/]|$)/;

/**
 * OpenID Connect authorization code flow with PKCE through `openid-client` (a certified relying party): builds the
 * authorization URL, redeems the code with every check (state, PKCE verifier, nonce, issuer, audience, expiry,
 * `auth_time` against `max_age`), and builds the provider's logout URL. Discovery is done on first use and retried
 * after a failure, so Lockbox starts while the provider is down.
 */
export function createOidcSignIn(opts: OidcSignInOptions) {
  let config: Promise<client.Configuration> | undefined;
  const configuration = () => {
    config ??= client
      .discovery(new URL(opts.issuer), opts.clientId, undefined, opts.clientSecret ? client.ClientSecretPost(opts.clientSecret) : client.None(), {
        // Plain http only for a provider on this machine (the embedded demo's); the config schema refuses others.
        execute: LOOPBACK.test(opts.issuer) ? [client.allowInsecureRequests] : [],
      })
      .then((c) => {
        // Check the ID token's signature too, although it came straight from the token endpoint.
        client.enableNonRepudiationChecks(c);
        return c;
      })
      .catch((err: unknown) => {
        config = undefined;
        throw err;
      });
    return config;
  };

  return {
    /** The provider's authorization URL for a new sign-in; `maxAge` 0 forces a fresh login (step-up). */
    async authorizationUrl(checks: { state: string; nonce: string; codeVerifier: string; maxAge: number | null }): Promise<string> {
      const c = await configuration();
      const params: Record<string, string> = {
        redirect_uri: opts.redirectUri,
        scope: opts.scopes.join(' '),
        response_type: 'code',
        code_challenge: await client.calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
        state: checks.state,
        nonce: checks.nonce,
        ...(checks.maxAge !== null ? { max_age: String(checks.maxAge) } : {}),
        ...(checks.maxAge === 0 ? { prompt: 'login' } : {}),
      };
      return client.buildAuthorizationUrl(c, params).href;
    },

    /** Redeems the code in the callback's query; throws {@link SignInError} on any failed check. */
    async finish(query: string, checks: { state: string; nonce: string; codeVerifier: string; maxAge: number | null }): Promise<SignInResult> {
      const c = await configuration();
      const current = new URL(opts.redirectUri);
      current.search = query;
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(
          c,
          current,
          {
            pkceCodeVerifier: checks.codeVerifier,
            expectedState: checks.state,
            expectedNonce: checks.nonce,
            idTokenExpected: true,
            ...(checks.maxAge !== null ? { maxAge: checks.maxAge } : {}),
          },
          { redirect_uri: opts.redirectUri },
        );
      } catch (err) {
        throw new SignInError(reasonOf(err));
      }
      const claims = tokens.claims();
      if (!claims || !tokens.id_token) throw new SignInError('no ID token');
      const principal = opts.toPrincipal(claims);
      if (!principal) throw new SignInError('the ID token names nobody Lockbox can map (user id, verified e-mail)');
      return {
        principal,
        idToken: tokens.id_token,
        ...(typeof claims.auth_time === 'number' ? { authTime: claims.auth_time } : {}),
        ...(Array.isArray(claims.amr) ? { amr: claims.amr.filter((x): x is string => typeof x === 'string') } : {}),
        ...(typeof claims.acr === 'string' ? { acr: claims.acr } : {}),
      };
    },

    /** The provider's RP-initiated logout URL, or null when it has no end_session_endpoint. */
    async logoutUrl(idToken: string | null): Promise<string | null> {
      const c = await configuration().catch(() => null);
      if (!c?.serverMetadata().end_session_endpoint) return null;
      return client.buildEndSessionUrl(c, {
        post_logout_redirect_uri: opts.postLogoutRedirectUri,
        client_id: opts.clientId,
        ...(idToken ? { id_token_hint: idToken } : {}),
      }).href;
    },
  };
}

export type OidcSignIn = ReturnType<typeof createOidcSignIn>;

/** openid-client / oauth4webapi errors as a short reason: their code and message (fixed texts, no token values). */
function reasonOf(err: unknown): string {
  if (err instanceof client.AuthorizationResponseError) return `the provider refused: ${err.error}`;
  if (err instanceof client.ResponseBodyError) return `the provider's token endpoint refused: ${err.error}`;
  // The library's inner error names the check (`unexpected JWT "aud" (audience) claim value`); its own is generic.
  if (err instanceof client.ClientError) return `${err.code ?? 'check failed'}: ${err.cause instanceof Error ? err.cause.message : err.message}`.slice(0, 200);
  return 'the provider could not be reached or answered unexpectedly';
}
