import type { Response } from 'express';
import { Problem } from '../problem.js';
import { authContextOf } from './auth-facts.js';

/** What a decision records about the approver's login (signed with the decision, kept in the audit event). */
export interface LoginEvidence {
  /** ISO-8601 UTC: when the person last logged in at the identity provider. */
  authTime?: string;
  amr?: string[];
}

/** The path that signs the person in again, fresh, and brings them back to `returnTo`. */
export const stepUpLoginUrl = (returnTo: string) => `/auth/login?max_age=0&returnTo=${encodeURIComponent(returnTo)}`;

/**
 * A decision (approve, reject, revoke) needs a login at most `maxAgeMs` old. Sessions: from the ID token's
 * `auth_time`, which must be there. Bearer JWTs: from their `auth_time` when they carry one (machine tokens carry
 * none and are not people logging in). Demo tokens of the embedded default are exempt. `maxAgeMs` 0: no step-up.
 * @throws Problem 401 `step-up-required` with `loginUrl`, which the portal follows.
 */
export function requireFreshLogin(res: Response, maxAgeMs: number, returnTo: string, now: Date): LoginEvidence {
  const ctx = authContextOf(res);
  if (!ctx) return {};
  const evidence: LoginEvidence = {
    ...(ctx.authTime !== undefined ? { authTime: new Date(ctx.authTime * 1000).toISOString() } : {}),
    ...(ctx.amr && ctx.amr.length > 0 ? { amr: ctx.amr } : {}),
  };
  if (maxAgeMs <= 0 || ctx.stepUpExempt) return evidence;
  if (ctx.authTime === undefined) {
    if (ctx.kind === 'bearer') return evidence;
    throw stepUp('the identity provider did not say when you logged in (no auth_time); sign in again to decide', returnTo, maxAgeMs);
  }
  const ageMs = now.getTime() - ctx.authTime * 1000;
  if (ageMs > maxAgeMs) {
    throw stepUp(`your last login was ${Math.round(ageMs / 60_000)} min ago; decisions need one within ${Math.round(maxAgeMs / 60_000) || '<1'} min: sign in again`, returnTo, maxAgeMs);
  }
  return evidence;
}

function stepUp(detail: string, returnTo: string, maxAgeMs: number): Problem {
  return new Problem(401, 'step-up-required', 'Fresh login required', detail, undefined, {
    loginUrl: stepUpLoginUrl(returnTo),
    maxAge: String(Math.floor(maxAgeMs / 1000)),
  });
}
