/**
 * The LOCKBOX_OIDC_* settings for bearer tokens (production mode: the API accepts only JWTs from this issuer) as
 * part of the one configuration schema (index.ts takes {@link OidcEnv} in), and the rules on them that the API's
 * verifier applies to options given in code too (src/api/auth-oidc.ts).
 */
import { z } from 'zod';
import { parseRoleName, ROLE_NAMES } from '../domain/role-names.js';
import { unsetIfEmpty } from './env-values.js';

/** How the API verifies bearer JWTs and reads their claims (the rules: OidcOptions in src/api/auth-oidc.ts). */
export interface OidcConfig {
  /** Compared exactly with the token's `iss`. */
  issuer: string;
  /** Must appear in the token's `aud`. */
  audience: string;
  jwksUrl: string;
  /** Allowed clock skew for `exp` and `nbf`, in seconds. */
  clockToleranceSec: number;
  /** Accepted JWT header `typ` values, normalized; unset: `at+jwt` only. */
  tokenTypes?: string[];
  /** Claim names (unset: the defaults); the same mapping applies to portal ID tokens. */
  claims: { userId?: string; tenants?: string; roles?: string };
  /** IdP names to Lockbox role names; unset: names that already are role names count. */
  roleMap?: Record<string, string>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Why a JWKS URL is not acceptable, or null. Plain http would let anyone on the path swap the keys. */
export function jwksUrlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return null;
  return 'must use https (http only on 127.0.0.1 or localhost)';
}

/** A `typ` value as compared: lower case, without the `application/` prefix (RFC 7515 4.1.9). */
export const normalizeTyp = (typ: string) => typ.trim().toLowerCase().replace(/^application\//, '');

/** Whether a normalized `typ` value is one a JWT header could carry (`at+jwt`, `jwt`, ...). */
export const isTokenType = (typ: string) => /^[a-z0-9.+-]+$/.test(typ);

/** Optional text, trimmed; empty or blank counts as unset. */
const trimmed = z.preprocess((v) => (typeof v === 'string' ? unsetIfEmpty(v.trim()) : v), z.string().optional());
const claimName = z.string().trim().min(1, 'must not be empty').optional();
const RoleMapSchema = z.record(z.string().min(1), z.string().refine((r) => parseRoleName(r) !== null, 'is not a Lockbox role name'));

/** The LOCKBOX_OIDC_* variables of bearer-token verification, spread into the configuration's schema. */
export const OidcEnv = {
  /**
   * The OpenID provider: bearer tokens' `iss` must equal it, and portal sign-in (docs/sign-in.md) and `lockbox login`
   * go there. Embedded default without it: the local demo provider src/main/dev.ts runs.
   */
  LOCKBOX_OIDC_ISSUER: trimmed,
  /** Bearer tokens must name it in `aud`. */
  LOCKBOX_OIDC_AUDIENCE: trimmed,
  /** The issuer's JWKS: https, or http on loopback only (tests). */
  LOCKBOX_OIDC_JWKS_URL: trimmed.superRefine((url, ctx) => {
    const problem = url === undefined ? null : jwksUrlProblem(url);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  // An empty value means unset: z.coerce would read '' as 0 and silently drop the skew allowance.
  LOCKBOX_OIDC_CLOCK_TOLERANCE: z.preprocess(unsetIfEmpty, z.coerce.number().int('must be whole seconds').min(0).max(600).default(60)),
  LOCKBOX_OIDC_USER_CLAIM: claimName,
  LOCKBOX_OIDC_TENANTS_CLAIM: claimName,
  LOCKBOX_OIDC_ROLES_CLAIM: claimName,
  /** Comma-separated JWT header typ values; unset or empty: at+jwt only. */
  LOCKBOX_OIDC_TOKEN_TYPES: z
    .string()
    .optional()
    .transform((text, ctx) => {
      const types = (text ?? '').split(',').map(normalizeTyp).filter((t) => t !== '');
      if (types.length === 0) return undefined;
      if (!types.every(isTokenType)) {
        ctx.addIssue({ code: 'custom', message: 'must be JWT typ values separated by commas, e.g. at+jwt,JWT' });
        return z.NEVER;
      }
      return [...new Set(types)];
    }),
  /** JSON: IdP group / role names to Lockbox role names. */
  LOCKBOX_OIDC_ROLE_MAP: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object such as {"contoso-approvers":"contoso:approver","lockbox-engineers":"engineer"}' });
        return z.NEVER;
      }
      const parsed = RoleMapSchema.safeParse(json);
      if (!parsed.success) {
        const why = parsed.error.issues.map((i) => (i.path.length ? `"${i.path.join('.')}" ` : '') + i.message).join('; ');
        ctx.addIssue({ code: 'custom', message: `must map names to ${ROLE_NAMES} (${why})` });
        return z.NEVER;
      }
      return parsed.data;
    }),
};

const OidcEnvSchema = z.object(OidcEnv);
export type OidcEnvValues = z.output<typeof OidcEnvSchema>;

/** The three settings bearer-token verification cannot do without. */
export const OIDC_REQUIRED = ['LOCKBOX_OIDC_ISSUER', 'LOCKBOX_OIDC_AUDIENCE', 'LOCKBOX_OIDC_JWKS_URL'] as const;

/**
 * The bearer-token settings, or undefined when none are given (the issuer alone is sign-in's, not a bearer setup);
 * a problem line per required setting missing beside the others.
 */
export function oidcConfigOf(e: OidcEnvValues): { oidc: OidcConfig | undefined; problems: string[] } {
  if (e.LOCKBOX_OIDC_AUDIENCE === undefined && e.LOCKBOX_OIDC_JWKS_URL === undefined) return { oidc: undefined, problems: [] };
  if (e.LOCKBOX_OIDC_ISSUER === undefined || e.LOCKBOX_OIDC_AUDIENCE === undefined || e.LOCKBOX_OIDC_JWKS_URL === undefined) {
    const given = OIDC_REQUIRED.filter((v) => e[v] !== undefined).join(' and ');
    return { oidc: undefined, problems: OIDC_REQUIRED.filter((v) => e[v] === undefined).map((v) => `${v}: required with ${given}`) };
  }
  return {
    oidc: {
      issuer: e.LOCKBOX_OIDC_ISSUER,
      audience: e.LOCKBOX_OIDC_AUDIENCE,
      jwksUrl: e.LOCKBOX_OIDC_JWKS_URL,
      clockToleranceSec: e.LOCKBOX_OIDC_CLOCK_TOLERANCE,
      ...(e.LOCKBOX_OIDC_TOKEN_TYPES ? { tokenTypes: e.LOCKBOX_OIDC_TOKEN_TYPES } : {}),
      claims: { userId: e.LOCKBOX_OIDC_USER_CLAIM, tenants: e.LOCKBOX_OIDC_TENANTS_CLAIM, roles: e.LOCKBOX_OIDC_ROLES_CLAIM },
      ...(e.LOCKBOX_OIDC_ROLE_MAP ? { roleMap: e.LOCKBOX_OIDC_ROLE_MAP } : {}),
    },
    problems: [],
  };
}
