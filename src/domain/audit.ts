/** Audit event types: one per step of a request, exported exactly once to every sink. */
export const AuditEventType = {
  requestCreated: 'request.created',
  approversNotified: 'approvers.notified',
  requestApproved: 'request.approved',
  requestRejected: 'request.rejected',
  requestExpired: 'request.expired',
  requestCancelled: 'request.cancelled',
  accessGranted: 'access.granted',
  accessRevoked: 'access.revoked',
  accessGrantFailed: 'access.grant_failed',
  /** The last event of every request's trail: its final status and how it ended (SIEM rules can key on it). */
  requestClosed: 'request.closed',
  /** The clean-up revoke after a failed or stopped grant could not confirm in time: the reconciler owns the rest. */
  accessCleanupUnconfirmed: 'access.cleanup_unconfirmed',
  notificationFailed: 'notification.failed',
  approversReminded: 'approvers.reminded',
  decisionRejectedUnauthenticated: 'decision.rejected_unauthenticated',
  requestRejectedUnauthenticated: 'request.rejected_unauthenticated',
  tenantSettingsChanged: 'tenant.settings_changed',
  /** A settings change that did not come from the API (no valid signature): refused, nothing changed. */
  settingsRejectedUnauthenticated: 'tenant.settings_rejected_unauthenticated',
  extensionRequested: 'extension.requested',
  extensionApproved: 'extension.approved',
  extensionRejected: 'extension.rejected',
  extensionExpired: 'extension.expired',
  extensionFailed: 'extension.failed',
  accessExtended: 'access.extended',
  /** The reconciler revoked access that no running request owned (docs/reconcile.md). */
  accessOrphanRevoked: 'access.orphan_revoked',
  /** The reconciler found an active request's access missing at its target. */
  accessDriftDetected: 'access.drift_detected',
  /**
   * A decision refused by the API because the person's login was too old or lacked a second factor (step-up,
   * docs/sign-in.md). Written by the API, outside the request's numbered trail (seq 0), at most once a minute per
   * person, request and reason; in the audit stream, not in the workflow's own trail.
   */
  decisionRefusedLogin: 'decision.refused_login',
  /** Break-glass (docs/break-glass.md): a listed responder took access at once, without approval. */
  requestEmergencyGranted: 'request.emergency_granted',
  /** A tenant approver or admin judged an emergency request justified or not. */
  requestReviewed: 'request.reviewed',
  /** Nobody reviewed an emergency request within the tenant's `breakGlass.reviewWithin` after it ended. */
  requestReviewOverdue: 'request.review_overdue',
  /** A stage went the tenant's `escalation.after` without a decision: its escalation list was told and may decide. */
  requestEscalated: 'request.escalated',
  /**
   * Closed request records older than their tenant's retention were deleted from Lockbox's store (docs/records.md).
   * Not part of a request's trail (seq 0); the audit sinks keep their own copies of those requests' events.
   */
  recordsPruned: 'records.pruned',
} as const;
export type AuditEventType = (typeof AuditEventType)[keyof typeof AuditEventType];

/**
 * One audit event. `id` is `<requestId>:<seq>`: deterministic, so a retried export is de-duplicated by the sink.
 * `actor` is the person (or `system` for timers), never a service account.
 */
export interface AuditEvent {
  id: string;
  seq: number;
  /** ISO-8601 UTC, workflow time. */
  time: string;
  type: AuditEventType;
  tenant: string;
  requestId: string;
  actor: string;
  details: Record<string, unknown>;
}

/** Builds the next event of a request; `seq` starts at 1. */
export function buildAuditEvent(input: {
  requestId: string;
  tenant: string;
  seq: number;
  time: Date;
  type: AuditEventType;
  actor: string;
  details?: Record<string, unknown>;
}): AuditEvent {
  return {
    id: `${input.requestId}:${input.seq}`,
    seq: input.seq,
    time: input.time.toISOString(),
    type: input.type,
    tenant: input.tenant,
    requestId: input.requestId,
    actor: input.actor,
    details: input.details ?? {},
  };
}
