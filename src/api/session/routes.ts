/**
 * Portal sign-in (docs/sign-in.md): `GET /auth/login` sends the browser to the OpenID provider (code flow, PKCE,
 * state, nonce), `GET /auth/callback` checks its answer and opens a server-side session (cookie), `POST /auth/logout`
 * ends it (and at the provider, where it supports RP-initiated logout), `GET /auth/session` says who is signed in,
 * `GET /auth/cli` tells `lockbox login` where to sign in.
 */
import { Router, type Request, type Response } from 'express';
import type { Logger } from '../../config/logger.js';
import { describeRoles, type Principal } from '../../domain/directory.js';
import type { SessionStore } from '../../ports/session-store.js';
import { Problem, problems } from '../problem.js';
import { clearCookie, cookieNames, readCookie, setCookie } from './cookies.js';
import { SignInError, type OidcSignIn } from './oidc-sign-in.js';
import { hashId, randomToken, sameToken, type Sessions } from './sessions.js';

/** What `lockbox login` needs to sign in at the provider (device flow, RFC 8628): public, the provider's own facts. */
export interface CliSignIn {
  issuer: string;
  /** A public client allowed the device_code and refresh_token grants. */
  clientId: string;
  scopes: string[];
  /** The resource indicator (RFC 8707) to ask for, when the issuer needs one for this API's access tokens. */
  resource?: string;
}

/** The portal's sign-in and sessions, built once at start-up. */
export interface PortalAuth {
  sessions: Sessions;
  /** Sign-ins in progress live in the same store. */
  flows: Pick<SessionStore, 'putLoginFlow' | 'takeLoginFlow'>;
  /** Null when no provider is configured: only bearer tokens then. */
  oidc: OidcSignIn | null;
  /** Null when CLI sign-in is not configured (LOCKBOX_OIDC_CLI_CLIENT_ID). */
  cli?: CliSignIn | null;
  cookieSecure: boolean;
  /** Decisions need a login at most this old; 0: no step-up. */
  stepUpMaxAgeMs: number;
  /** Called with each person who signs in (to remember users). */
  onSignIn?: (p: Principal) => Promise<void>;
  log: Logger;
  clock?: () => Date;
}

/** A sign-in must come back within this. */
const FLOW_TTL_MS = 10 * 60_000;
const RETURN_BASE = 'http://lockbox.invalid';

/**
 * `returnTo` as a same-origin path (`/requests/req-...`), or null: an absolute URL, `//host`, a backslash or a
 * control character would send the person somewhere else after sign-in (an open redirect).
 */
export function safeReturnTo(value: unknown): string | null {
  if (value === undefined || value === '') return '/';
  if (typeof value !== 'string' || value.length > 1024 || !value.startsWith('/') || value.startsWith('//')) return null;
  if (/[\\\x00-\x1f\x7f]/.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value, RETURN_BASE);
  } catch {
    return null;
  }
  if (url.origin !== RETURN_BASE) return null;
  return `${url.pathname}${url.search}${url.hash}`;
}

export function authRoutes(auth: PortalAuth): Router {
  const r = Router();
  const names = cookieNames(auth.cookieSecure);
  const now = auth.clock ?? (() => new Date());
  const noStore = (res: Response) => res.setHeader('Cache-Control', 'no-store');

  const signInOn = (): OidcSignIn => {
    if (!auth.oidc) throw problems.notFound('portal sign-in is not configured (LOCKBOX_OIDC_CLIENT_ID); use a bearer token');
    return auth.oidc;
  };

  r.get('/auth/login', async (req, res) => {
    const oidc = signInOn();
    const returnTo = safeReturnTo(req.query.returnTo);
    if (returnTo === null) {
      throw problems.validation([{ field: 'returnTo', pointer: '#/returnTo', message: 'must be a path on this site, e.g. /requests/req-contoso-…' }]);
    }
    const maxAgeText = req.query.max_age;
    if (maxAgeText !== undefined && (typeof maxAgeText !== 'string' || !/^\d{1,6}$/.test(maxAgeText))) {
      throw problems.validation([{ field: 'max_age', pointer: '#/max_age', message: 'must be whole seconds, e.g. 0 for a fresh login' }]);
    }
    const flowId = randomToken();
    const checks = { state: randomToken(), nonce: randomToken(), codeVerifier: randomToken(), maxAge: maxAgeText === undefined ? null : Number(maxAgeText) };
    let location: string;
    try {
      location = await oidc.authorizationUrl(checks);
    } catch (err) {
      auth.log.warn('sign-in: the OpenID provider is unavailable', { error: err instanceof Error ? err.message : String(err) });
      throw problems.unavailable('the identity provider cannot be reached; try again shortly');
    }
    await auth.flows.putLoginFlow({ idHash: hashId(flowId), ...checks, returnTo, expiresAt: new Date(now().getTime() + FLOW_TTL_MS).toISOString() });
    // The flow is bound to this browser: the callback needs this cookie, not only the state in the URL.
    setCookie(res, names.signIn, flowId, { secure: auth.cookieSecure, maxAgeSec: FLOW_TTL_MS / 1000 });
    noStore(res);
    res.redirect(302, location);
  });

  r.get('/auth/callback', async (req, res) => {
    const oidc = signInOn();
    noStore(res);
    const flowId = readCookie(req, names.signIn);
    clearCookie(res, names.signIn, auth.cookieSecure);
    const flow = flowId ? await auth.flows.takeLoginFlow(hashId(flowId)) : null;
    if (!flow || Date.parse(flow.expiresAt) <= now().getTime()) {
      throw signInFailed('no sign-in in progress in this browser (or it took longer than 10 minutes); start again');
    }
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
    let result;
    try {
      result = await oidc.finish(query, flow);
    } catch (err) {
      if (!(err instanceof SignInError)) throw err;
      auth.log.warn('sign-in refused', { reason: err.reason });
      throw signInFailed(err.reason);
    }
    // A new session id at every sign-in (no fixation); the one this browser had, if any, ends.
    const old = readCookie(req, names.session);
    if (old) await auth.sessions.end(hashId(old));
    const { id } = await auth.sessions.open(result.principal, result);
    await auth.onSignIn?.(result.principal).catch(() => undefined);
    setCookie(res, names.session, id, { secure: auth.cookieSecure });
    auth.log.info('signed in', { user: result.principal.id, amr: result.amr?.join(',') });
    res.redirect(303, flow.returnTo);
  });

  r.post('/auth/logout', async (req, res) => {
    noStore(res);
    const id = readCookie(req, names.session);
    const found = id ? await auth.sessions.lookup(id) : null;
    clearCookie(res, names.session, auth.cookieSecure);
    if (!found?.ok) return void res.json({ signedOut: true, redirect: '/' });
    // Same rule as /v1: only the portal, which can read the CSRF token, can sign someone out.
    const sent = req.header('x-csrf-token');
    if (!sent || !sameToken(sent, found.session.csrfToken)) {
      throw new Problem(403, 'csrf', 'Not allowed', 'send the session\'s X-CSRF-Token to sign out');
    }
    await auth.sessions.end(found.session.idHash);
    const redirect = (await auth.oidc?.logoutUrl(found.session.idToken)) ?? '/';
    auth.log.info('signed out', { user: found.session.principal.id });
    res.json({ signedOut: true, redirect });
  });

  // Public: lets `lockbox login` find the provider and its client from the API's URL alone (docs/cli.md).
  r.get('/auth/cli', (_req, res) => {
    if (!auth.cli) throw problems.notFound('CLI sign-in is not configured here (LOCKBOX_OIDC_CLI_CLIENT_ID); use a bearer token (LOCKBOX_TOKEN)');
    const { issuer, clientId, scopes, resource } = auth.cli;
    res.json({ issuer, clientId, scopes, ...(resource ? { resource } : {}) });
  });

  r.get('/auth/session', async (req: Request, res: Response) => {
    noStore(res);
    const id = readCookie(req, names.session);
    const found = id ? await auth.sessions.lookup(id) : null;
    if (!found?.ok) {
      if (id) clearCookie(res, names.session, auth.cookieSecure);
      return void res.json({ signedIn: false, signInAvailable: auth.oidc !== null, loginUrl: '/auth/login' });
    }
    const s = found.session;
    res.json({
      signedIn: true,
      user: { id: s.principal.id, roles: s.principal.roles, tenantRoles: s.principal.tenantRoles, describedRoles: describeRoles(s.principal) },
      authTime: s.authTime,
      amr: s.amr,
      acr: s.acr,
      expiresAt: s.expiresAt,
      idleTimeoutSec: Math.floor(auth.sessions.limits.idleMs / 1000),
      stepUpMaxAgeSec: Math.floor(auth.stepUpMaxAgeMs / 1000),
      csrfToken: s.csrfToken,
    });
  });

  return r;
}

function signInFailed(detail: string): Problem {
  return new Problem(401, 'sign-in-failed', 'Sign-in failed', detail, undefined, { loginUrl: '/auth/login' });
}
