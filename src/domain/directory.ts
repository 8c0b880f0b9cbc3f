import type { DecisionAction } from './request.js';

/**
 * What a signed-in person may do. Provider-side roles (engineer, internal approver, operator) are global; customer-side
 * roles (approver, admin) are held at one tenant each, so approving at contoso and administering fabrikam never add up
 * to administering contoso. Being an approver of a tenant also needs a place in its settings' approver list, which the
 * request's rules check at decision time; these functions only decide what a person may see and attempt.
 */
export const ProviderRole = {
  engineer: 'engineer',
  internalApprover: 'internal_approver',
  operator: 'operator',
} as const;
export type ProviderRole = (typeof ProviderRole)[keyof typeof ProviderRole];

/** Roles a person holds at one tenant (customer side). An admin may also approve there. */
export const TenantRole = {
  approver: 'approver',
  admin: 'admin',
} as const;
export type TenantRole = (typeof TenantRole)[keyof typeof TenantRole];

/** Every role name, provider- and customer-side. */
export const Role = { ...ProviderRole, ...TenantRole } as const;
export type Role = ProviderRole | TenantRole;

/** A tenant id: lower-case letters, digits and `-`, at most 63 characters (the API, the settings, role names). */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** One customer-side role at one tenant. */
export interface TenantRoleGrant {
  tenant: string;
  role: TenantRole;
}

export interface Principal {
  /** The person's id, e-mail style; this, never a service account, is what the audit trail names. */
  id: string;
  /** Provider-side roles, valid everywhere. */
  roles: ProviderRole[];
  /** Customer-side roles, each at its tenant. */
  tenantRoles: TenantRoleGrant[];
}

const PROVIDER_ROLES: readonly string[] = Object.values(ProviderRole);
const TENANT_ROLES: readonly string[] = Object.values(TenantRole);
export const isProviderRole = (r: unknown): r is ProviderRole => typeof r === 'string' && PROVIDER_ROLES.includes(r);
export const isTenantRole = (r: unknown): r is TenantRole => typeof r === 'string' && TENANT_ROLES.includes(r);

const has = (p: Principal, r: ProviderRole) => p.roles.includes(r);

/** Whether the person holds this role at this tenant (exactly this role: an admin is not an approver here). */
export function hasTenantRole(p: { tenantRoles: readonly TenantRoleGrant[] }, tenant: string, role: TenantRole): boolean {
  return p.tenantRoles.some((g) => g.tenant === tenant && g.role === role);
}

/** Approver or admin of this tenant (customer side): may see and decide its requests, may be listed as its approver. */
export function isMemberOf(p: { tenantRoles: readonly TenantRoleGrant[] }, tenant: string): boolean {
  return p.tenantRoles.some((g) => g.tenant === tenant);
}

/** The tenants where the person holds `role` (any customer-side role when absent), each once, in order. */
export function tenantsOf(p: { tenantRoles: readonly TenantRoleGrant[] }, role?: TenantRole): string[] {
  return [...new Set(p.tenantRoles.filter((g) => role === undefined || g.role === role).map((g) => g.tenant))];
}

/** Provider-side people who see every tenant's requests. */
const seesAll = (p: Principal) => has(p, 'operator') || has(p, 'internal_approver');

/** Whether the principal may read a request (and its audit trail) of this tenant made by this requester. */
export function canSeeRequest(p: Principal, tenant: string, requester: string): boolean {
  return p.id === requester || isMemberOf(p, tenant) || seesAll(p);
}

export function canCreateRequest(p: Principal): boolean {
  return has(p, 'engineer');
}

/**
 * Whether the principal may attempt a decision. Operators read everything and decide nothing. The request's own
 * rules then check eligibility against the tenant's current approver lists.
 */
export function canAttemptDecision(p: Principal, action: DecisionAction, tenant: string, requester: string): boolean {
  switch (action) {
    case 'approve':
    case 'reject':
      return isMemberOf(p, tenant) || has(p, 'internal_approver');
    case 'revoke':
      return p.id === requester || isMemberOf(p, tenant) || has(p, 'internal_approver');
    case 'cancel':
    case 'extend':
      return p.id === requester;
  }
}

/** Who may review an emergency (break-glass) request: the tenant's approvers and admins (never the responder). */
export function canReviewEmergency(p: Principal, tenant: string): boolean {
  return hasTenantRole(p, tenant, 'approver') || hasTenantRole(p, tenant, 'admin');
}

/** What a listing may show: everything for provider-side readers, else own requests plus the tenants one belongs to. */
export function listScope(p: Principal): { scopeTenants?: string[]; scopeRequester?: string } {
  if (seesAll(p)) return {};
  return { scopeTenants: tenantsOf(p), scopeRequester: p.id };
}

/** Settings, evidence and the audit feed of a tenant: its admins, and operators (read only). */
export function canReadSettings(p: Principal, tenant: string): boolean {
  return hasTenantRole(p, tenant, 'admin') || has(p, 'operator');
}

export function canChangeSettings(p: Principal, tenant: string): boolean {
  return hasTenantRole(p, tenant, 'admin');
}

/** Prometheus metrics and the Temporal UI's address are for operators. */
export function isOperator(p: Principal): boolean {
  return has(p, 'operator');
}

/**
 * A principal from untrusted JSON (a stored session, a row): unknown roles and malformed pairs are dropped, never
 * widened. Null when there is no usable id.
 */
export function principalFrom(value: unknown): Principal | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || v.id.trim() === '') return null;
  const roles = Array.isArray(v.roles) ? [...new Set(v.roles.filter(isProviderRole))] : [];
  const pairs = Array.isArray(v.tenantRoles) ? v.tenantRoles : [];
  const tenantRoles: TenantRoleGrant[] = [];
  for (const g of pairs) {
    if (typeof g !== 'object' || g === null) continue;
    const { tenant, role } = g as Record<string, unknown>;
    if (typeof tenant === 'string' && tenant !== '' && isTenantRole(role) && !hasTenantRole({ tenantRoles }, tenant, role)) {
      tenantRoles.push({ tenant, role });
    }
  }
  return { id: v.id, roles, tenantRoles };
}

/** The roles in words, for people: `internal approver`, `approver and admin at contoso, admin at fabrikam`. */
export function describeRoles(p: Pick<Principal, 'roles' | 'tenantRoles'>): string {
  const provider = p.roles.map((r) => r.replaceAll('_', ' '));
  const customer = tenantsOf(p).map((t) => `${p.tenantRoles.filter((g) => g.tenant === t).map((g) => g.role).join(' and ')} at ${t}`);
  return [...provider, ...customer].join(', ') || 'no roles';
}
