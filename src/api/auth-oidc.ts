import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { isTokenType, jwksUrlProblem, normalizeTyp } from '../config/oidc.js';
import { parseRoleName, ROLE_NAMES } from '../domain/role-names.js';
import type { Authenticator } from './auth.js';
import { principalFromClaims } from './oidc-claims.js';

export { principalFromClaims } from './oidc-claims.js';

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
   * Accepted JWT header `typ` values, compared case-insensitively without an `application/` prefix; default
   * `['at+jwt']` (RFC 9068 access tokens), so an ID token (typ `JWT` or none) is never taken for an access token.
   * Add `JWT` only for an IdP that types its access tokens so; such tokens are still refused when they carry
   * ID-token claims (`nonce`, `at_hash`, `c_hash`, or `typ: "ID"`). A token without `typ` is always refused.
   */
  tokenTypes?: string[];
  /**
   * Claim names; a name that is not a top-level claim is read as a dotted path (`realm_access.roles`).
   * `userId` defaults to `email` (then `email_verified` must be true) and falls back to `sub`; `tenants` to
   * `lockbox_tenants`; `roles` to `lockbox_roles`.
   */
  claims?: { userId?: string; tenants?: string; roles?: string };
  /**
   * IdP group / role names to Lockbox role names (see {@link parseRoleName}: `engineer`, `internal_approver`,
   * `operator`, `contoso:approver`, `contoso:admin`). When set, only mapped names count (an IdP's own "admin" group
   * must not become a Lockbox admin by accident); when absent, names that already are Lockbox role names count.
   * Others are ignored.
   */
  roleMap?: Record<string, string>;
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
  /** The user id would come from `email` and the token does not say `email_verified: true`. */
  emailUnverified: 'email_unverified',
  /** The JWT header's `typ` is not one of the accepted token types (by default: not an RFC 9068 access token). */
  tokenType: 'token_type_not_allowed',
  /** A token typed as accepted but carrying ID-token claims: an ID token is not an access token. */
  idToken: 'id_token',
  unexpected: 'unexpected_error',
} as const;

/** What the caller is told in the 401 for each reason: fixed words, never anything from the token. */
const PUBLIC_DETAIL: Record<string, string> = {
  ERR_JWT_EXPIRED: 'the token has expired',
  'ERR_JWT_CLAIM_VALIDATION_FAILED:nbf:check_failed': 'the token is not valid yet',
  'ERR_JWT_CLAIM_VALIDATION_FAILED:exp:missing': 'the token has no expiry (exp)',
  'ERR_JWT_CLAIM_VALIDATION_FAILED:aud:check_failed': 'the token is meant for another audience',
  'ERR_JWT_CLAIM_VALIDATION_FAILED:aud:missing': 'the token names no audience (aud)',
  'ERR_JWT_CLAIM_VALIDATION_FAILED:iss:check_failed': 'the token is from another issuer',
  'ERR_JWT_CLAIM_VALIDATION_FAILED:iss:missing': 'the token names no issuer (iss)',
  [OidcRefusal.jwksUnavailable]: "the identity provider's signing keys could not be fetched; try again later",
  [OidcRefusal.missingUserId]: 'the token names no user',
  [OidcRefusal.emailUnverified]: 'the e-mail address in the token is not verified (email_verified must be true)',
  [OidcRefusal.idToken]: 'this is an ID token; send an access token',
};

/** The words a 401 may carry for a refusal reason, or a generic sentence. */
export function publicRefusalDetail(reason: string, tokenTypes: readonly string[] = DEFAULT_TOKEN_TYPES): string {
  if (reason === OidcRefusal.tokenType) return `the token is not an access token: its JWT header typ must be ${tokenTypes.join(' or ')}`;
  return PUBLIC_DETAIL[reason] ?? 'the bearer token is not valid';
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];
const DEFAULT_TOKEN_TYPES = ['at+jwt'];
/** Claims only ID tokens carry (OIDC Core 3.1.3.6, 3.3.2.11), and Keycloak's token kind claim. */
const ID_TOKEN_CLAIMS = ['nonce', 'at_hash', 'c_hash'];

/** Marks a failure to obtain the key set, as opposed to a token that does not match it. */
class JwksUnavailable extends Error {}


/** A jose error as a short, fixed-vocabulary reason; attacker-controlled text (messages, payloads) never gets in. */
function reasonOf(err: unknown): string {
  if (err instanceof JwksUnavailable) return OidcRefusal.jwksUnavailable;
  if (err instanceof errors.JWTClaimValidationFailed) return `${err.code}:${err.claim}:${err.reason}`;
  if (err instanceof errors.JOSEError) return err.code;
  return OidcRefusal.unexpected;
}

/**
 * Verifies OIDC / OAuth2 bearer JWTs against the issuer's JWKS with jose: signature (asymmetric algorithms only),
 * `iss`, `aud`, `exp` (required) and `nbf`, with clock tolerance; the header's `typ` (`at+jwt` unless configured:
 * an ID token is not an access token); maps claims to a Principal ({@link principalFromClaims}). Every refusal
 * resolves to null, is reported to `onRefused`, and is told to the caller in fixed words ({@link publicRefusalDetail}). Keys are cached by jose and refetched on an unknown `kid` (at most every
 * 30 s); a failed fetch is never cached, so the next token tries again.
 * @throws TypeError at construction when the options are unsafe (http JWKS URL, `none` or HS* algorithms, bad roleMap,
 *   no token type).
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
  const badRoles = Object.entries(roleMap ?? {}).filter(([, r]) => parseRoleName(r) === null);
  if (badRoles.length > 0) throw new TypeError(`OIDC roleMap maps to unknown roles: ${badRoles.map(([k]) => k).join(', ')} (use ${ROLE_NAMES})`);
  const tokenTypes = (opts.tokenTypes ?? DEFAULT_TOKEN_TYPES).map(normalizeTyp);
  if (tokenTypes.length === 0 || !tokenTypes.every(isTokenType)) {
    throw new TypeError('OIDC tokenTypes must be one or more JWT typ values, e.g. at+jwt');
  }

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
  const refuse = (reason: string, tell?: (detail: string) => void): null => {
    try {
      opts.onRefused?.(reason);
    } catch {
      // A failing logger must not turn a refusal into a thrown error.
    }
    tell?.(publicRefusalDetail(reason, tokenTypes));
    return null;
  };

  return {
    async authenticate(token, refused) {
      let payload: JWTPayload;
      let typ: unknown;
      try {
        ({ payload, protectedHeader: { typ } } = await jwtVerify(token, getKey, {
          issuer: opts.issuer,
          audience: opts.audience,
          algorithms,
          clockTolerance: opts.clockToleranceSec ?? 60,
          requiredClaims: ['exp'],
        }));
      } catch (err) {
        return refuse(reasonOf(err), refused);
      }
      // Checked after the signature, so the header read is the one the IdP signed.
      const type = typeof typ === 'string' ? normalizeTyp(typ) : '';
      if (!tokenTypes.includes(type)) return refuse(OidcRefusal.tokenType, refused);
      if (type !== 'at+jwt' && (ID_TOKEN_CLAIMS.some((c) => Object.hasOwn(payload, c)) || payload.typ === 'ID')) {
        return refuse(OidcRefusal.idToken, refused);
      }
      const mapped = principalFromClaims(payload, opts);
      return mapped.ok ? mapped.principal : refuse(mapped.reason, refused);
    },
  };
}

