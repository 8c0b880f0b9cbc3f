import type { AuditEventType } from './audit.js';
import type { AccessRequest, DecisionAction, DecisionProof } from './request.js';

/**
 * What a decision function returns and takes: shared by the request's rules (decide.ts) and its extensions
 * (extension.ts), so neither imports the other's module for its types.
 */

/** An audit event before the workflow gives it a seq number and time. */
export interface AuditDraft {
  type: AuditEventType;
  actor: string;
  details: Record<string, unknown>;
}

export const RejectionCode = {
  notPending: 'not_pending',
  notActive: 'not_active',
  expired: 'request_expired',
  alreadyDecided: 'already_decided',
  notEligible: 'not_eligible',
  selfApproval: 'self_approval',
  /** Review of a request that was not break-glass. */
  notEmergency: 'not_emergency',
  alreadyReviewed: 'already_reviewed',
  /** The responder reviewing their own emergency access. */
  selfReview: 'self_review',
  /** An approval's `until` that is not a time after the decision, or one given where it does not apply. */
  invalidUntil: 'invalid_until',
} as const;
export type RejectionCode = (typeof RejectionCode)[keyof typeof RejectionCode];

/** A typed refusal; `conflict` codes map to 409, the others to 403. */
export interface Rejection {
  code: RejectionCode;
  message: string;
}

export function isConflict(code: RejectionCode): boolean {
  return code !== RejectionCode.notEligible && code !== RejectionCode.selfApproval && code !== RejectionCode.selfReview;
}

export type Outcome = { ok: true; state: AccessRequest; audit: AuditDraft[] } | { ok: false; rejection: Rejection };

export interface DecisionCommand {
  action: DecisionAction;
  actor: string;
  note: string | null;
  /** The signature that authenticated the decision, recorded with it. */
  proof?: DecisionProof | null;
  /** For `extend`: how much more time. */
  durationMs?: number;
  /** For `approve`: the approver's cap on the window (ISO-8601 UTC); signed with the rest. */
  until?: string;
}
