import type { Principal } from '../../domain/directory.js';
import { principalFromClaims, type ClaimMapping } from '../oidc-claims.js';

/**
 * The principal an ID token names, with the same claim mapping as bearer JWTs ({@link principalFromClaims}: user
 * claim, `email_verified`, role names `engineer` / `<tenant>:approver` / bare roles with one tenant, role map). The
 * token itself was verified by openid-client (signature, iss, aud, exp, nonce) before this reads it. Null: nobody.
 */
export function principalFromIdToken(claims: Record<string, unknown>, opts: ClaimMapping = {}): Principal | null {
  const mapped = principalFromClaims(claims, opts);
  return mapped.ok ? mapped.principal : null;
}
