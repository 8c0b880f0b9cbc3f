/** The access request: its states, its shape, and the policy that applied to it. Pure data, no I/O. */
import type { ApprovalPolicy, Stage } from './policy.js';
import type { ResourceTarget } from './resources.js';

export const RequestStatus = {
  pending: 'pending',
  /** Approved; the grant at the target is under way (bounded by the target's deadline). */
  granting: 'granting',
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
  /** The requester asks for more time on an active grant; it goes through the same approvers. */
  extend: 'extend',
} as const;
export type DecisionAction = (typeof DecisionAction)[keyof typeof DecisionAction];

export type { ApprovalPolicy } from './policy.js';

export interface Decision {
  action: DecisionAction;
  actor: string;
  /** ISO-8601 UTC, workflow time. */
  at: string;
  /** The approver's comment or the reason given. */
  note: string | null;
  /** The approval stage the decision was made in (approve / reject), else null. */
  stage?: Stage | null;
  /** Settings version of the policy the decision was checked against. */
  policyVersion?: number;
  /** How the decision was authenticated: the API's signature, kept so a customer can verify it later. */
  proof?: DecisionProof | null;
  /** An approval's cap on the window (ISO-8601 UTC): access ends by then, whatever the duration asked for. */
  until?: string;
}

/** The API's Ed25519 signature over a decision's claims (see signing.ts). */
export interface DecisionProof {
  keyId: string;
  signature: string;
  nonce: string;
  issuedAt: string;
  /** The run the decision was signed for (part of the signed claims, so a customer can re-verify it). */
  runId?: string;
  /** Signed claims too: when and how the deciding person last logged in (step-up), when known. */
  authTime?: string;
  amr?: string[];
}

/** A request for more time on an active grant. On approval the window moves; otherwise the original end stands. */
export interface Extension {
  seq: number;
  durationMs: number;
  duration: string;
  reason: string;
  requestedAt: string;
  /** Unanswered by then (or by the end of the window, if sooner), it expires. */
  expiresAt: string;
  status: 'pending' | 'approved' | 'applied' | 'rejected' | 'expired' | 'failed';
  stages: Stage[];
  stage: Stage | null;
  decisions: Decision[];
  /** The window's end before and after the extension was applied. */
  endsAtBefore: string;
  endsAtAfter: string | null;
}

export interface Access {
  grantedAt: string;
  endsAt: string;
  revokedAt: string | null;
}

/** The request as the API shows it and the workflow keeps it. */
export interface AccessRequest {
  id: string;
  /**
   * The Temporal run that owns this request id (its first execution run id), set by the workflow when it starts;
   * decisions are signed for it. Absent only in the API's answer to a create, before the workflow ran.
   */
  runId?: string;
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
  /** The policy in force when the request was filed. */
  policy: ApprovalPolicy;
  /** How access is granted: fixed at filing, so the revoke goes where the grant went. */
  target: ResourceTarget;
  /** Extensions asked for while active, oldest first (absent until the first one). */
  extensions?: Extension[];
  /** Approval stages in order, fixed at creation. */
  stages: Stage[];
  /** The stage waiting for decisions, or null once approved or ended. */
  stage: Stage | null;
  /** Set once the last stage reached its quorum; the request is `granting` until the grant succeeds or fails. */
  approvedAt: string | null;
  /** Set when a terminal state is reached. */
  endedAt: string | null;
  /** Why the request failed (grant error), never a secret. */
  failure: string | null;
  /** Break-glass: granted at once without approval (docs/break-glass.md); absent on ordinary requests. */
  emergency?: true;
  /** Break-glass only: the tenant's review of it. */
  review?: EmergencyReview;
  /** Stages escalated to the tenant's escalation list because nobody decided in time (absent until the first). */
  escalations?: Escalation[];
}

/** A stage that went `afterMs` without a decision: from `at` on, the people on `to` (as the policy then says) may decide in it. */
export interface Escalation {
  stage: Stage;
  at: string;
  afterMs: number;
  /** Who was told (the escalation list when it escalated). */
  to: string[];
}

export const ReviewStatus = { pending: 'pending', justified: 'justified', unjustified: 'unjustified', overdue: 'overdue' } as const;
export type ReviewStatus = (typeof ReviewStatus)[keyof typeof ReviewStatus];

/** The review an emergency request owes: due `reviewWithinMs` after its access ends. */
export interface EmergencyReview {
  status: ReviewStatus;
  reviewWithinMs: number;
  /** Set when the request ends (the deadline counts from then); null while it runs. */
  dueAt: string | null;
  by: string | null;
  at: string | null;
  comment: string | null;
  proof?: DecisionProof | null;
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
  /** The policy in force at filing. */
  policy: Partial<ApprovalPolicy> & Pick<ApprovalPolicy, 'tenant'>;
  /**
   * How long the grant may keep failing transiently (retried with backoff) before the request ends `failed`;
   * default 5 minutes. A permanent refusal at the target ends it at once.
   */
  grantDeadlineMs?: number;
  /** Where access is granted: a declared target by name (the worker checks it is allowed for the tenant); absent: built-in. */
  target?: ResourceTarget;
  /**
   * Break-glass, as the API authorised it (the caller is a listed responder, within the limits): granted at once,
   * reviewed afterwards. Signed with the rest, so nobody can start an emergency request around the API.
   */
  emergency?: { reviewWithinMs: number };
  /** The API's signature over all other fields; a request without a valid one grants nothing. */
  proof?: { keyId: string; signature: string };
}

export function approvalsOf(r: AccessRequest): Decision[] {
  return r.decisions.filter((d) => d.action === DecisionAction.approve);
}
