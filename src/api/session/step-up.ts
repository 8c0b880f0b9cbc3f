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

/** What a decision needs of the login behind it: at most `maxAgeMs` old (0: any age), and a second factor. */
export interface StepUpRule {
  maxAgeMs: number;
  requireMfa: boolean;
}

/** amr values (RFC 8176) that are, or include, a factor besides a password. */
const SECOND_FACTORS = new Set(['mfa', 'otp', 'hwk', 'swk', 'sc', 'fpt', 'face', 'iris', 'retina', 'vbm', 'sms', 'tel']);

/** Whether the login used a second factor, as the provider's amr says. */
export const isMultiFactor = (amr: readonly string[] | undefined) => (amr ?? []).some((m) => SECOND_FACTORS.has(m));

/**
 * The rule for one tenant's decisions: the stricter of the deployment's max age (0: off) and the tenant's setting.
 */
export function stepUpRule(deploymentMaxAgeMs: number, tenant: { maxAgeMs: number; requireMfa: boolean } | undefined): StepUpRule {
  const ages = [deploymentMaxAgeMs, tenant?.maxAgeMs ?? 0].filter((ms) => ms > 0);
  return { maxAgeMs: ages.length > 0 ? Math.min(...ages) : 0, requireMfa: tenant?.requireMfa ?? false };
}

/**
 * A decision (approve, reject, revoke) needs a login at most `rule.maxAgeMs` old, and with a second factor when the
 * tenant requires one (403 mfa-required: signing in again the same way would not help). Sessions: from the ID token's
 * `auth_time`, which must be there. Bearer JWTs: from their `auth_time` when they carry one (machine tokens carry
 * none and are not people logging in). Demo tokens of the embedded default are exempt. `maxAgeMs` 0: no step-up.
 * @throws Problem 401 `step-up-required` with `loginUrl`, which the portal follows.
 */
export function requireFreshLogin(res: Response, rule: StepUpRule, returnTo: string, now: Date): LoginEvidence {
  const { maxAgeMs } = rule;
  const ctx = authContextOf(res);
  if (!ctx) return {};
  const evidence: LoginEvidence = {
    ...(ctx.authTime !== undefined ? { authTime: new Date(ctx.authTime * 1000).toISOString() } : {}),
    ...(ctx.amr && ctx.amr.length > 0 ? { amr: ctx.amr } : {}),
  };
  if (ctx.stepUpExempt) return evidence;
  if (rule.requireMfa && !isMultiFactor(ctx.amr)) {
    throw new Problem(403, 'mfa-required', 'Second factor required', 'this tenant requires a login with a second factor to decide (the identity provider did not report one in amr); sign in with MFA', undefined, {
      loginUrl: stepUpLoginUrl(returnTo),
    });
  }
  if (maxAgeMs <= 0) return evidence;
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
