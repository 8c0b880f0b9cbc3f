import type { Authenticator } from '../api/auth.js';
import { withBearerFacts } from '../api/session/auth-facts.js';
import { principalFromIdToken } from '../api/session/id-token-principal.js';
import { createOidcSignIn } from '../api/session/oidc-sign-in.js';
import type { PortalAuth } from '../api/session/routes.js';
import { createSessions } from '../api/session/sessions.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../config/logger.js';
import type { Store } from '../ports/store.js';

/** How often ended sessions and abandoned sign-ins are deleted. */
const PURGE_EVERY_MS = 10 * 60_000;

/**
 * The portal's sign-in (when an issuer and client id are configured, or the embedded demo provider filled them in)
 * and its sessions in the Store. `close` stops the periodic purge.
 */
export function createPortalAuth(config: Config, store: Store, log: Logger): PortalAuth & { close(): void } {
  const s = config.signIn;
  const sessions = createSessions(store, { ttlMs: s.sessionTtlMs, idleMs: s.sessionIdleMs });
  const portal = config.notify.portalUrl.replace(/\/+$/, '');
  // The bearer JWTs' claim names and role map apply to ID tokens too (production); the demo uses the defaults.
  const mapping = config.mode === 'production' ? config.oidc : undefined;
  const claimOpts = mapping ? { claims: mapping.claims, ...(mapping.roleMap ? { roleMap: mapping.roleMap } : {}) } : {};
  const oidc =
    s.issuer && s.clientId
      ? createOidcSignIn({
          issuer: s.issuer,
          clientId: s.clientId,
          ...(s.clientSecret ? { clientSecret: s.clientSecret } : {}),
          redirectUri: s.redirectUri ?? `${portal}/auth/callback`,
          scopes: s.scopes,
          postLogoutRedirectUri: `${portal}/`,
          toPrincipal: (claims) => principalFromIdToken(claims, claimOpts),
        })
      : null;
  // `lockbox login`: the same issuer, its own public client; refresh tokens need offline_access.
  const cli = s.issuer && s.cliClientId
    ? { issuer: s.issuer, clientId: s.cliClientId, scopes: [...new Set([...s.scopes, 'offline_access'])], ...(s.cliResource ? { resource: s.cliResource } : {}) }
    : null;
  const purge = setInterval(() => {
    sessions.purge().catch((err: unknown) => log.warn('could not purge ended sessions', { error: err instanceof Error ? err.message : String(err) }));
  }, PURGE_EVERY_MS);
  purge.unref();
  return {
    sessions,
    flows: store,
    oidc,
    cli,
    cookieSecure: s.cookieSecure,
    stepUpMaxAgeMs: s.stepUpMaxAgeMs,
    onSignIn: (p) => store.upsertUser({ id: p.id, roles: p.roles, tenantRoles: p.tenantRoles, lastSeenAt: new Date().toISOString() }),
    log,
    close: () => clearInterval(purge),
  };
}

/** Demo tokens have no login behind them to be fresh: exempt from step-up (embedded default only). */
export function stepUpExempt(auth: Authenticator): Authenticator {
  return {
    async authenticate(token, refused) {
      const p = await auth.authenticate(token, refused);
      return p ? withBearerFacts({ ...p }, { stepUpExempt: true }) : null;
    },
  };
}

/** Tries each authenticator in turn; the first that knows the token wins. */
export function anyOf(...auths: Authenticator[]): Authenticator {
  return {
    async authenticate(token, refused) {
      let why: string | undefined;
      for (const a of auths) {
        const p = await a.authenticate(token, (d) => {
          why ??= d;
        });
        if (p) return p;
      }
      if (why !== undefined) refused?.(why);
      return null;
    },
  };
}
