/**
 * The request's transitions that no person decides: the lifetime running out, Temporal cancelling the workflow,
 * the grant succeeding or failing, access removed at the target, a request that was not filed through the API.
 * Pure like decide.ts (which re-exports them): `(state, event, now) -> new state + audit drafts`, and a no-op when
 * the state does not allow the event.
 */
import { AuditEventType } from './audit.js';
import type { AuditDraft } from './outcome.js';
import { DecisionAction, RequestStatus, type Access, type AccessRequest } from './request.js';

/** The actor of what the system does on its own. */
export const SYSTEM = 'system';

/** The lifetime ran out with no decision. */
export function expire(state: AccessRequest, now: Date): { state: AccessRequest; audit: AuditDraft[] } {
  if (state.status !== RequestStatus.pending || state.approvedAt !== null) return { state, audit: [] };
  const at = now.toISOString();
  return {
    state: { ...state, status: RequestStatus.expired, stage: null, endedAt: at },
    audit: [{ type: AuditEventType.requestExpired, actor: SYSTEM, details: { expiresAt: state.expiresAt } }],
  };
}

/** Temporal cancelled the workflow (an operator in the Temporal UI) while it was pending. */
export function cancelByOperator(state: AccessRequest, now: Date): { state: AccessRequest; audit: AuditDraft[] } {
  if (state.status !== RequestStatus.pending && state.status !== RequestStatus.granting) return { state, audit: [] };
  const at = now.toISOString();
  return {
    state: { ...state, status: RequestStatus.cancelled, stage: null, endedAt: at },
    audit: [
      { type: AuditEventType.requestCancelled, actor: SYSTEM, details: { reason: 'workflow cancelled in Temporal' } },
    ],
  };
}

export function granted(state: AccessRequest, grant: { grantedAt: string; endsAt: string }): {
  state: AccessRequest;
  audit: AuditDraft[];
} {
  if (state.status !== RequestStatus.granting) return { state, audit: [] };
  const access: Access = { grantedAt: grant.grantedAt, endsAt: grant.endsAt, revokedAt: null };
  return {
    state: { ...state, status: RequestStatus.active, access },
    audit: [
      {
        type: AuditEventType.accessGranted,
        actor: state.requester,
        details: { resource: state.resource, grantedAt: grant.grantedAt, endsAt: grant.endsAt },
      },
    ],
  };
}

export function grantFailed(state: AccessRequest, error: string, now: Date): { state: AccessRequest; audit: AuditDraft[] } {
  if (state.status !== RequestStatus.granting) return { state, audit: [] };
  const at = now.toISOString();
  return {
    state: { ...state, status: RequestStatus.failed, endedAt: at, failure: error },
    audit: [{ type: AuditEventType.accessGrantFailed, actor: SYSTEM, details: { error } }],
  };
}

/**
 * Access was removed at the target. `completed` when the window ran out, `revoked` when someone ended it early
 * or the workflow was cancelled.
 */
export function revoked(
  state: AccessRequest,
  revokedAt: string,
  early: { by: string; reason: string | null } | null,
  verified?: boolean,
): {
  state: AccessRequest;
  audit: AuditDraft[];
} {
  if (state.access === null || state.status !== RequestStatus.active) return { state, audit: [] };
  const access: Access = { ...state.access, revokedAt };
  const status = early ? RequestStatus.revoked : RequestStatus.completed;
  return {
    state: { ...state, access, status, endedAt: revokedAt },
    audit: [
      {
        type: AuditEventType.accessRevoked,
        actor: early ? early.by : SYSTEM,
        details: {
          cause: early ? 'revoked' : 'window_ended',
          reason: early?.reason ?? null,
          endsAt: state.access.endsAt,
          // Checked at the target after the revoke (requests from before verification existed leave it out).
          ...(verified === undefined ? {} : { verified }),
        },
      },
    ],
  };
}

/**
 * A revoke decided while the grant was still under way: the grant was stopped and whatever part of it happened was
 * revoked at the target. The request ends `revoked`, having never been active.
 */
export function revokedWhileGranting(state: AccessRequest, revokedAt: string, verified: boolean): { state: AccessRequest; audit: AuditDraft[] } {
  const early = state.decisions.find((d) => d.action === DecisionAction.revoke);
  if (state.status !== RequestStatus.granting || !early) return { state, audit: [] };
  return {
    state: { ...state, status: RequestStatus.revoked, endedAt: revokedAt },
    audit: [
      {
        type: AuditEventType.accessRevoked,
        actor: early.actor,
        details: { cause: 'revoked_while_granting', reason: early.note, endsAt: null, verified },
      },
    ],
  };
}

/** The request was not filed through the API (no valid signature): it ends at once, having granted nothing. */
export function refuseUnauthenticated(state: AccessRequest, reason: string, now: Date): { state: AccessRequest; audit: AuditDraft[] } {
  if (state.status !== RequestStatus.pending) return { state, audit: [] };
  const at = now.toISOString();
  return {
    state: { ...state, status: RequestStatus.failed, stage: null, endedAt: at, failure: reason },
    audit: [
      { type: AuditEventType.requestRejectedUnauthenticated, actor: SYSTEM, details: { reason, claimedRequester: state.requester } },
    ],
  };
}
