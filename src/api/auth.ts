import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Principal } from '../domain/directory.js';
import { problems } from './problem.js';

/** Turns a bearer token into a person, or null. Demo tokens now; OIDC JWTs plug in here. */
export interface Authenticator {
  /**
   * @param refused told, on a refusal, why in words fit for the caller's 401 (fixed text, never the token's);
   *   an authenticator with nothing more to say than "not valid" need not call it.
   */
  authenticate(token: string, refused?: (detail: string) => void): Promise<Principal | null>;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Static tokens compared in constant time (of their hashes), so a wrong token leaks nothing by timing. */
export function staticTokenAuthenticator(tokens: Readonly<Record<string, Principal>>): Authenticator {
  const entries = Object.entries(tokens).map(([token, p]) => [digest(token), p] as const);
  return {
    async authenticate(token) {
      const d = digest(token);
      let found: Principal | null = null;
      for (const [h, p] of entries) if (timingSafeEqual(h, d)) found = p;
      return found;
    },
  };
}

/** Requires `Authorization: Bearer <token>`; puts the principal on `res.locals.principal`. */
export function requireAuth(auth: Authenticator): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    if (!header) return next(problems.unauthenticated('send Authorization: Bearer <token>'));
    const match = /^Bearer ([\x21-\x7e]{1,4096})$/.exec(header);
    if (!match?.[1]) return next(problems.unauthenticated('the Authorization header must be "Bearer <token>"'));
    let why = 'the bearer token is not valid';
    const principal = await auth.authenticate(match[1], (detail) => {
      why = detail;
    });
    if (!principal) return next(problems.unauthenticated(why));
    res.locals.principal = principal;
    next();
  };
}

export function principalOf(res: { locals: Record<string, unknown> }): Principal {
  return res.locals.principal as Principal;
}

