import type { ApprovalPolicy } from './request.js';

/** What a signed-in person may do. Roles are global; tenants scope the approver and admin roles. */
export const Role = {
  engineer: 'engineer',
  approver: 'approver',
  admin: 'admin',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface Principal {
  /** The person's id, e-mail style; this, never a service account, is what the audit trail names. */
  id: string;
  roles: Role[];
  /** Tenants whose approver/admin this person is. */
  tenants: string[];
}

/** A tenant that has opted in to Lockbox and its approval policy. */
export interface Tenant {
  id: string;
  name: string;
  policy: ApprovalPolicy;
}

/** Whether the principal may read a request of this tenant made by this requester. */
export function canSeeRequest(p: Principal, tenant: string, requester: string): boolean {
  return p.id === requester || p.tenants.includes(tenant);
}
