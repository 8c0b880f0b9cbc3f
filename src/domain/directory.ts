import type { DecisionAction } from './request.js';

/**
 * What a signed-in person may do. `approver` and `admin` are scoped by `tenants` (customer side); the others are
 * provider-side and global. Being an approver of a tenant also needs a place in its settings' approver list, which
 * the request's rules check at decision time; these functions only decide what a person may see and attempt.
 */
export const Role = {
  engineer: 'engineer',
  approver: 'approver',
  admin: 'admin',
  internalApprover: 'internal_approver',
  operator: 'operator',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface Principal {
  /** The person's id, e-mail style; this, never a service account, is what the audit trail names. */
  id: string;
  roles: Role[];
  /** Tenants this person belongs to (customer side); their approver/admin roles apply there. */
  tenants: string[];
}

const has = (p: Principal, r: Role) => p.roles.includes(r);
/** Approver or admin of this tenant (customer side). */
const ofTenant = (p: Principal, tenant: string) => p.tenants.includes(tenant) && (has(p, 'approver') || has(p, 'admin'));
/** Provider-side people who see every tenant's requests. */
const seesAll = (p: Principal) => has(p, 'operator') || has(p, 'internal_approver');

/** Whether the principal may read a request (and its audit trail) of this tenant made by this requester. */
export function canSeeRequest(p: Principal, tenant: string, requester: string): boolean {
  return p.id === requester || ofTenant(p, tenant) || seesAll(p);
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
      return ofTenant(p, tenant) || has(p, 'internal_approver');
    case 'revoke':
      return p.id === requester || ofTenant(p, tenant) || has(p, 'internal_approver');
    case 'cancel':
    case 'extend':
      return p.id === requester;
  }
}

/** What a listing may show: everything for provider-side readers, else own requests plus own tenants'. */
export function listScope(p: Principal): { scopeTenants?: string[]; scopeRequester?: string } {
  if (seesAll(p)) return {};
  return { scopeTenants: p.tenants.filter((t) => ofTenant(p, t)), scopeRequester: p.id };
}

export function canReadSettings(p: Principal, tenant: string): boolean {
  return (p.tenants.includes(tenant) && has(p, 'admin')) || has(p, 'operator');
}

export function canChangeSettings(p: Principal, tenant: string): boolean {
  return p.tenants.includes(tenant) && has(p, 'admin');
}
