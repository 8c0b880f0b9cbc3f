/** The access request: its states, its shape, and the policy that applied to it. Pure data, no I/O. */

export const RequestStatus = {
  pending: 'pending',
  active: 'active',
  completed: 'completed',
  rejected: 'rejected',
  expired: 'expired',
  cancelled: 'cancelled',
  revoked: 'revoked',
  failed: 'failed',
} as const;
export type RequestStatus = (typeof RequestStatus)[keyof typeof RequestStatus];

/** States after which nothing changes any more. */
export const TERMINAL_STATUSES: readonly RequestStatus[] = [
  RequestStatus.completed,
  RequestStatus.rejected,
  RequestStatus.expired,
  RequestStatus.cancelled,
  RequestStatus.revoked,
  RequestStatus.failed,
];

export function isTerminal(status: RequestStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const DecisionAction = {
  approve: 'approve',
  reject: 'reject',
  revoke: 'revoke',
  cancel: 'cancel',
} as const;
export type DecisionAction = (typeof DecisionAction)[keyof typeof DecisionAction];

/** Who approves a request of a tenant, captured when the request is created. */
export interface ApprovalPolicy {
  tenant: string;
  /** Whether the tenant's own approvers must approve (Customer Lockbox opt-in). */
  customerApproval: boolean;
  /** User ids of the people who may approve or reject. */
  approvers: string[];
  /** Distinct approvals needed. */
  quorum: number;
}

export interface Decision {
  action: DecisionAction;
  actor: string;
  /** ISO-8601 UTC, workflow time. */
  at: string;
  /** The approver's comment or the reason given. */
  note: string | null;
}

export interface Access {
  grantedAt: string;
  endsAt: string;
  revokedAt: string | null;
}

/** The request as the API shows it and the workflow keeps it. */
export interface AccessRequest {
  id: string;
  tenant: string;
  resource: string;
  requester: string;
  reason: string;
  ticket: string | null;
  /** As normalised at creation, e.g. `4h`. */
  duration: string;
  durationMs: number;
  status: RequestStatus;
  createdAt: string;
  expiresAt: string;
  decisions: Decision[];
  access: Access | null;
  policy: ApprovalPolicy;
  /** Set once quorum is reached; the request stays `pending` until the grant succeeds or fails. */
  approvedAt: string | null;
  /** Set when a terminal state is reached. */
  endedAt: string | null;
  /** Why the request failed (grant error), never a secret. */
  failure: string | null;
}

/** Everything the workflow needs to start: fixed at creation by the API. */
export interface NewRequestInput {
  id: string;
  tenant: string;
  resource: string;
  requester: string;
  reason: string;
  ticket: string | null;
  durationMs: number;
  requestTtlMs: number;
  /** ISO-8601 UTC: when the API accepted the request; the lifetime counts from here. */
  createdAt: string;
  policy: ApprovalPolicy;
}

export function approvalsOf(r: AccessRequest): Decision[] {
  return r.decisions.filter((d) => d.action === DecisionAction.approve);
}
