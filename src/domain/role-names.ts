/**
 * Lockbox role names as an identity provider says them (a roles claim, or the targets of LOCKBOX_OIDC_ROLE_MAP):
 * read by the API's claim mapping and checked by the configuration, so both layers share this one reading.
 */
import { isProviderRole, isTenantRole, ProviderRole, TENANT_ID_PATTERN, TenantRole, type TenantRoleGrant } from './directory.js';

/** A Lockbox role name as an IdP may say it, read: a provider role, a role at a tenant, or a bare customer role. */
export type RoleName =
  | { kind: 'provider'; role: ProviderRole }
  | { kind: 'tenant'; grant: TenantRoleGrant }
  /** `approver` / `admin` without a tenant: applies only when the tenants claim names exactly one tenant. */
  | { kind: 'bare'; role: TenantRole };

/**
 * Reads `engineer`, `internal_approver`, `operator` (provider side, global), `<tenant>:approver`, `<tenant>:admin`
 * (customer side, at that tenant) and the bare `approver` / `admin`; anything else is null.
 */
export function parseRoleName(name: string): RoleName | null {
  if (isProviderRole(name)) return { kind: 'provider', role: name };
  if (isTenantRole(name)) return { kind: 'bare', role: name };
  const at = name.lastIndexOf(':');
  const tenant = name.slice(0, at);
  const role = name.slice(at + 1);
  if (at > 0 && isTenantRole(role) && TENANT_ID_PATTERN.test(tenant)) return { kind: 'tenant', grant: { tenant, role } };
  return null;
}

/** The role names, as error messages list them. */
export const ROLE_NAMES = `${Object.values(ProviderRole).join(', ')}, <tenant>:${Object.values(TenantRole).join(', <tenant>:')}`;
