import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { Role, type Principal } from '../domain/directory.js';
import type { Authenticator } from './auth.js';

/** How bearer JWTs from an OIDC / OAuth2 issuer are verified and turned into a {@link Principal}. */
export interface OidcOptions {
  /** Compared exactly with the token's `iss`. */
  issuer: string;
  /** Must appear in the token's `aud`. */
  audience: string;
  /** The issuer's JWKS endpoint; https, or http on 127.0.0.1 / localhost / [::1] (tests). */
  jwksUrl: string;
  /** Allowed clock skew for `exp` and `nbf`, in seconds; default 60. */
  clockToleranceSec?: number;
  /** Accepted signature algorithms; default RS256, ES256, EdDSA. Asymmetric only: never `none`, never HS*. */
  algorithms?: string[];
  /**
   * Claim names; a name that is not a top-level claim is read as a dotted path (`realm_access.roles`).
   * `userId` defaults to `email` and falls back to `sub`; `tenants` to `lockbox_tenants`; `roles` to `lockbox_roles`.
   */
  claims?: { userId?: string; tenants?: string; roles?: string };
  /**
   * IdP group / role names to Lockbox roles. When set, only mapped names count (an IdP's own "admin" group must not
   * become a Lockbox admin by accident); when absent, names that already are Lockbox roles count. Others are ignored.
   */
  roleMap?: Record<string, Role>;
  /** Told why a token was refused (see {@link OidcRefusal}); never given the token. */
  onRefused?: (reason: string) => void;
}

/**
 * Why a token was refused: a jose error code (`ERR_JWT_EXPIRED`, `ERR_JOSE_ALG_NOT_ALLOWED`,
 * `ERR_JWS_SIGNATURE_VERIFICATION_FAILED`, `ERR_JWKS_NO_MATCHING_KEY`, ...), for claim checks with the claim and
 * the check (`ERR_JWT_CLAIM_VALIDATION_FAILED:aud:check_failed`), or one of the reasons below.
 */
export const OidcRefusal = {
  /** The JWKS could not be fetched or read (IdP down, not 200, not a JWKS); nothing about the token is known. */
  jwksUnavailable: 'jwks_unavailable',
  /** Signature and claims were fine but neither the user claim nor `sub` holds a non-empty string. */
  missingUserId: 'missing_user_id',
  /** The user id would come from `email` and the token says `email_verified: false`. */
  emailUnverified: 'email_unverified',
  unexpected: 'unexpected_error',
} as const;

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];
const ROLES: readonly string[] = Object.values(Role);
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Why a JWKS URL is not acceptable, or null. Plain http would let anyone on the path swap the keys. */
function jwksUrlProblem(text: string): string | null {
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

/** Marks a failure to obtain the key set, as opposed to a token that does not match it. */
class JwksUnavailable extends Error {}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function readClaim(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let value: unknown = payload;
  for (const key of name.split('.')) value = isRecord(value) && Object.hasOwn(value, key) ? value[key] : undefined;
  return value;
}

const strings = (v: unknown): string[] =>
  (typeof v === 'string' ? [v] : Array.isArray(v) ? v : []).filter((s): s is string => typeof s === 'string' && s !== '');

const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

/** A jose error as a short, fixed-vocabulary reason; attacker-controlled text (messages, payloads) never gets in. */
function reasonOf(err: unknown): string {
  if (err instanceof JwksUnavailable) return OidcRefusal.jwksUnavailable;
  if (err instanceof errors.JWTClaimValidationFailed) return `${err.code}:${err.claim}:${err.reason}`;
  if (err instanceof errors.JOSEError) return err.code;
  return OidcRefusal.unexpected;
}

/**
 * Verifies OIDC / OAuth2 bearer JWTs against the issuer's JWKS with jose: signature (asymmetric algorithms only),
 * `iss`, `aud`, `exp` (required) and `nbf`, with clock tolerance; maps claims to a Principal. Every refusal resolves
 * to null and is reported to `onRefused`. Keys are cached by jose and refetched on an unknown `kid` (at most every
 * 30 s); a failed fetch is never cached, so the next token tries again.
 * @throws TypeError at construction when the options are unsafe (http JWKS URL, `none` or HS* algorithms, bad roleMap).
 */
export function createOidcAuthenticator(opts: OidcOptions): Authenticator {
  const urlProblem = jwksUrlProblem(opts.jwksUrl);
  if (urlProblem) throw new TypeError(`OIDC jwksUrl ${urlProblem}`);
  const algorithms = opts.algorithms ?? DEFAULT_ALGORITHMS;
  const unsafe = algorithms.filter((a) => !ASYMMETRIC.includes(a));
  if (algorithms.length === 0 || unsafe.length > 0) {
    throw new TypeError(`OIDC algorithms must be asymmetric signature algorithms (${ASYMMETRIC.join(', ')}); got ${unsafe.join(', ') || 'none'}`);
  }
  const roleMap = opts.roleMap;
  const badRoles = Object.entries(roleMap ?? {}).filter(([, r]) => !ROLES.includes(r));
  if (badRoles.length > 0) throw new TypeError(`OIDC roleMap maps to unknown roles: ${badRoles.map(([k]) => k).join(', ')}`);
  const userClaim = opts.claims?.userId ?? 'email';
  const tenantsClaim = opts.claims?.tenants ?? 'lockbox_tenants';
  const rolesClaim = opts.claims?.roles ?? 'lockbox_roles';

  const jwks = createRemoteJWKSet(new URL(opts.jwksUrl));
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (err) {
      // These say the token names no usable key; anything else means we could not get the key set at all.
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported) throw err;
      throw new JwksUnavailable('JWKS unavailable', { cause: err });
    }
  };
  const toRole = (name: string): Role | undefined =>
    roleMap ? (Object.hasOwn(roleMap, name) ? roleMap[name] : undefined) : ROLES.includes(name) ? (name as Role) : undefined;

  const refuse = (reason: string): null => {
    try {
      opts.onRefused?.(reason);
    } catch {
      // A failing logger must not turn a refusal into a thrown error.
    }
    return null;
  };

  return {
    async authenticate(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          issuer: opts.issuer,
          audience: opts.audience,
          algorithms,
          clockTolerance: opts.clockToleranceSec ?? 60,
          requiredClaims: ['exp'],
        }));
      } catch (err) {
        return refuse(reasonOf(err));
      }
      const fromUserClaim = nonEmpty(readClaim(payload, userClaim));
      if (fromUserClaim !== undefined && userClaim === 'email' && payload.email_verified === false) {
        return refuse(OidcRefusal.emailUnverified);
      }
      const id = fromUserClaim ?? nonEmpty(payload.sub);
      if (id === undefined) return refuse(OidcRefusal.missingUserId);
      const roles = strings(readClaim(payload, rolesClaim))
        .map(toRole)
        .filter((r): r is Role => r !== undefined);
      return { id, roles: [...new Set(roles)], tenants: [...new Set(strings(readClaim(payload, tenantsClaim)))] } satisfies Principal;
    },
  };
}

const required = z.string({ error: 'required' }).trim().min(1, 'required');
const claimName = z.string().trim().min(1, 'must not be empty').optional();
const RoleMapSchema = z.record(z.string().min(1), z.enum(Role));

/** The OIDC environment variables; parse with {@link oidcOptionsFromEnv}. */
export const OidcConfigSchema = z.object({
  LOCKBOX_OIDC_ISSUER: required,
  LOCKBOX_OIDC_AUDIENCE: required,
  LOCKBOX_OIDC_JWKS_URL: required.superRefine((url, ctx) => {
    const problem = jwksUrlProblem(url);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  // An empty value means unset: z.coerce would read '' as 0 and silently drop the skew allowance.
  LOCKBOX_OIDC_CLOCK_TOLERANCE: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int('must be whole seconds').min(0).max(600).default(60),
  ),
  LOCKBOX_OIDC_USER_CLAIM: claimName,
  LOCKBOX_OIDC_TENANTS_CLAIM: claimName,
  LOCKBOX_OIDC_ROLES_CLAIM: claimName,
  LOCKBOX_OIDC_ROLE_MAP: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object such as {"idp-approvers":"approver"}' });
        return z.NEVER;
      }
      const parsed = RoleMapSchema.safeParse(json);
      if (!parsed.success) {
        const why = parsed.error.issues.map((i) => (i.path.length ? `"${i.path.join('.')}" ` : '') + i.message).join('; ');
        ctx.addIssue({ code: 'custom', message: `must map names to ${ROLES.join(', ')} (${why})` });
        return z.NEVER;
      }
      return parsed.data;
    }),
});

/** Either the options, or one line per problem, each starting with the variable's name. */
export type OidcEnvResult = { ok: true; options: OidcOptions } | { ok: false; problems: string[] };

/** Reads the `LOCKBOX_OIDC_*` variables (parse once at start-up); `onRefused` is for the caller to add. */
export function oidcOptionsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): OidcEnvResult {
  const parsed = OidcConfigSchema.safeParse(env);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) };
  }
  const e = parsed.data;
  return {
    ok: true,
    options: {
      issuer: e.LOCKBOX_OIDC_ISSUER,
      audience: e.LOCKBOX_OIDC_AUDIENCE,
      jwksUrl: e.LOCKBOX_OIDC_JWKS_URL,
      clockToleranceSec: e.LOCKBOX_OIDC_CLOCK_TOLERANCE,
      claims: { userId: e.LOCKBOX_OIDC_USER_CLAIM, tenants: e.LOCKBOX_OIDC_TENANTS_CLAIM, roles: e.LOCKBOX_OIDC_ROLES_CLAIM },
      ...(e.LOCKBOX_OIDC_ROLE_MAP ? { roleMap: e.LOCKBOX_OIDC_ROLE_MAP } : {}),
    },
  };
}
