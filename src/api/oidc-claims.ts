/**
 * How verified OIDC claims become a Lockbox principal, for bearer access tokens (auth-oidc.ts) and portal ID tokens
 * (session/id-token-principal.ts) alike: the user claim, role names (`engineer`, `<tenant>:approver`, ...) and the
 * role map. Pure: the tokens were verified before their claims reach here.
 */
import { TENANT_ID_PATTERN, type Principal, type ProviderRole, type TenantRoleGrant } from '../domain/directory.js';
import { parseRoleName, type RoleName } from '../domain/role-names.js';

/** Claim names and the IdP-name-to-role map (see OidcOptions in auth-oidc.ts). */
export interface ClaimMapping {
  claims?: { userId?: string; tenants?: string; roles?: string };
  roleMap?: Record<string, string>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function readClaim(payload: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let value: unknown = payload;
  for (const key of name.split('.')) value = isRecord(value) && Object.hasOwn(value, key) ? value[key] : undefined;
  return value;
}

const strings = (v: unknown): string[] =>
  (typeof v === 'string' ? [v] : Array.isArray(v) ? v : []).filter((s): s is string => typeof s === 'string' && s !== '');

const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

/**
 * Verified claims (of an access token here, of an ID token at portal sign-in) as a Principal: the user id from the
 * user claim (`email` only with `email_verified: true`), else `sub`; roles from the roles claim through the role map.
 * A bare `approver` / `admin` (an IdP that keeps one realm per customer) counts at the one tenant the tenants claim
 * names; with several tenants it would be every role at every tenant, so it counts nowhere (say `<tenant>:<role>`).
 */
export function principalFromClaims(
  payload: Readonly<Record<string, unknown>>,
  opts: ClaimMapping = {},
): { ok: true; principal: Principal } | { ok: false; reason: 'email_unverified' | 'missing_user_id' } {
  const userClaim = opts.claims?.userId ?? 'email';
  const fromUserClaim = nonEmpty(readClaim(payload, userClaim));
  // An e-mail address the IdP has not verified may be anyone's: it never names a Lockbox user.
  if (fromUserClaim !== undefined && userClaim === 'email' && payload.email_verified !== true) return { ok: false, reason: 'email_unverified' };
  const id = fromUserClaim ?? nonEmpty(payload.sub);
  if (id === undefined) return { ok: false, reason: 'missing_user_id' };
  const roleMap = opts.roleMap;
  const toRole = (name: string): RoleName | null => {
    const target = roleMap ? (Object.hasOwn(roleMap, name) ? roleMap[name] : undefined) : name;
    return target === undefined ? null : parseRoleName(target);
  };
  const names = strings(readClaim(payload, opts.claims?.roles ?? 'lockbox_roles')).map(toRole);
  const roles: ProviderRole[] = [];
  const tenantRoles: TenantRoleGrant[] = [];
  const tenants = [...new Set(strings(readClaim(payload, opts.claims?.tenants ?? 'lockbox_tenants')))];
  const only = tenants.length === 1 && TENANT_ID_PATTERN.test(tenants[0]!) ? tenants[0] : undefined;
  const addGrant = (g: TenantRoleGrant) => {
    if (!tenantRoles.some((x) => x.tenant === g.tenant && x.role === g.role)) tenantRoles.push(g);
  };
  for (const n of names) {
    if (n?.kind === 'provider' && !roles.includes(n.role)) roles.push(n.role);
    else if (n?.kind === 'tenant') addGrant(n.grant);
    else if (n?.kind === 'bare' && only !== undefined) addGrant({ tenant: only, role: n.role });
  }
  return { ok: true, principal: { id, roles, tenantRoles } };
}
