import type { RequestHandler } from 'express';
import { requireAuth, type Authenticator } from '../auth.js';
import { Problem, problems } from '../problem.js';
import { bearerFactsOf, type AuthContext } from './auth-facts.js';
import { readCookie } from './cookies.js';
import { sameToken, type Sessions } from './sessions.js';

/** Methods that change nothing: a cookie alone may make them (a cross-site page cannot read their answers). */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CookieAuth {
  sessions: Sessions;
  cookieName: string;
}

const REASONS = {
  unknown: 'your session is not known (signed out, or the cookie was altered); sign in again',
  expired: 'your session has ended (it lasts at most its absolute lifetime); sign in again',
  idle: 'your session ended after a time without use; sign in again',
  invalid: 'your session cannot be read; sign in again',
} as const;

/**
 * `/v1` authentication: `Authorization: Bearer` (machines, CLI, demo tokens) as before; without that header, the
 * portal's session cookie. A call with the cookie that changes something must carry the session's CSRF token in
 * `X-CSRF-Token`, so another site cannot make the browser act for the person. Sets `res.locals.principal` and
 * `res.locals.authContext`.
 */
export function authenticate(auth: Authenticator, cookie: CookieAuth | undefined): RequestHandler {
  const bearer = requireAuth(auth);
  return async (req, res, next) => {
    if (req.headers.authorization !== undefined || !cookie) {
      return bearer(req, res, (err?: unknown) => {
        if (err === undefined && res.locals.principal) {
          res.locals.authContext = { kind: 'bearer', ...bearerFactsOf(res.locals.principal as object) } satisfies AuthContext;
        }
        next(err);
      });
    }
    const id = readCookie(req, cookie.cookieName);
    if (!id) {
      return next(problems.unauthenticated(req.headers.cookie?.includes(cookie.cookieName) ? REASONS.unknown : 'sign in (GET /auth/login) or send Authorization: Bearer <token>'));
    }
    const found = await cookie.sessions.lookup(id);
    if (!found.ok) return next(problems.unauthenticated(REASONS[found.reason]));
    const s = found.session;
    if (!SAFE.has(req.method)) {
      const sent = req.header('x-csrf-token');
      if (!sent || !sameToken(sent, s.csrfToken)) {
        return next(new Problem(403, 'csrf', 'Not allowed', 'a call made with the session cookie that changes something must send the session\'s X-CSRF-Token (from GET /auth/session)'));
      }
    }
    res.locals.principal = s.principal;
    res.locals.session = s;
    res.locals.authContext = {
      kind: 'session',
      ...(s.authTime ? { authTime: Math.floor(Date.parse(s.authTime) / 1000) } : {}),
      amr: s.amr,
      ...(s.acr ? { acr: s.acr } : {}),
    } satisfies AuthContext;
    next();
  };
}
