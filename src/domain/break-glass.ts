import { AuditEventType } from './audit.js';
import { formatDuration } from './duration.js';
import { SYSTEM } from './lifecycle.js';
import type { Message } from './messages.js';
import { RejectionCode, type AuditDraft, type Outcome } from './outcome.js';
import { isTerminal, RequestStatus, ReviewStatus, type AccessRequest, type DecisionProof } from './request.js';

/**
 * Break-glass (docs/break-glass.md) as pure functions: an emergency request is granted at once, without approval,
 * and owes the tenant a review after its access ends. Same shape as decide.ts: `(state, input, now) -> state + audit`.
 */

export type Verdict = typeof ReviewStatus.justified | typeof ReviewStatus.unjustified;

export interface ReviewCommand {
  actor: string;
  verdict: Verdict;
  comment: string | null;
  proof?: DecisionProof | null;
}

type Step = { state: AccessRequest; audit: AuditDraft[] };

/** The review an emergency request starts with: pending, due once the request has ended. */
export function pendingReview(reviewWithinMs: number): NonNullable<AccessRequest['review']> {
  return { status: ReviewStatus.pending, reviewWithinMs, dueAt: null, by: null, at: null, comment: null };
}

/** A verified emergency request skips the approval wait: approved now, granted next by the usual grant path. */
export function emergencyGranted(state: AccessRequest, now: Date): Step {
  if (!state.emergency || state.status !== RequestStatus.pending) return { state, audit: [] };
  const at = now.toISOString();
  return {
    state: { ...state, status: RequestStatus.granting, stage: null, approvedAt: at },
    audit: [
      {
        type: AuditEventType.requestEmergencyGranted,
        actor: state.requester,
        details: {
          resource: state.resource,
          reason: state.reason,
          ticket: state.ticket,
          duration: state.duration,
          reviewWithin: formatDuration(state.review?.reviewWithinMs ?? 0),
        },
      },
    ],
  };
}

/** Once the request has ended, its review deadline is fixed: `reviewWithin` after the end. */
export function reviewDue(state: AccessRequest): AccessRequest {
  const review = state.review;
  if (!review || review.dueAt !== null || !isTerminal(state.status) || state.endedAt === null) return state;
  return { ...state, review: { ...review, dueAt: new Date(Date.parse(state.endedAt) + review.reviewWithinMs).toISOString() } };
}

/** A tenant approver's or admin's verdict; once per request, never by the responder, only on emergency requests. */
export function reviewEmergency(state: AccessRequest, cmd: ReviewCommand, now: Date): Outcome {
  const review = state.review;
  if (!state.emergency || !review) return refuse(RejectionCode.notEmergency, 'only emergency (break-glass) requests are reviewed');
  if (cmd.actor === state.requester) return refuse(RejectionCode.selfReview, 'the responder cannot review their own emergency access');
  if (review.status !== ReviewStatus.pending) {
    return refuse(RejectionCode.alreadyReviewed, `the review is ${review.status}${review.by ? ` (by ${review.by})` : ''}`);
  }
  const at = now.toISOString();
  return {
    ok: true,
    state: { ...state, review: { ...review, status: cmd.verdict, by: cmd.actor, at, comment: cmd.comment, ...(cmd.proof ? { proof: cmd.proof } : {}) } },
    audit: [
      {
        type: AuditEventType.requestReviewed,
        actor: cmd.actor,
        details: { verdict: cmd.verdict, comment: cmd.comment, status: state.status, ...(cmd.proof ? { proof: cmd.proof } : {}) },
      },
    ],
  };
}

/** The deadline passed unreviewed: flagged overdue, once. */
export function reviewOverdue(state: AccessRequest, now: Date): Step {
  const review = state.review;
  if (!review || review.status !== ReviewStatus.pending) return { state, audit: [] };
  return {
    state: { ...state, review: { ...review, status: ReviewStatus.overdue } },
    audit: [{ type: AuditEventType.requestReviewOverdue, actor: SYSTEM, details: { dueAt: review.dueAt, at: now.toISOString() } }],
  };
}

/** Every customer approver and admin hears at once that a responder broke the glass. */
export function emergencyAlert(r: AccessRequest, recipients: readonly string[], now: Date): Message[] {
  const body = [
    `EMERGENCY ACCESS: ${r.requester} took access to ${r.resource} in tenant ${r.tenant} for ${r.duration}, without approval (break-glass).`,
    `Reason: ${r.reason}`,
    `Ticket: ${r.ticket ?? '(none)'}`,
    `Revoke it at any time: POST /v1/requests/${r.id}/revoke`,
    `Review it once it ends: POST /v1/requests/${r.id}/review {"verdict":"justified"|"unjustified"}`,
  ].join('\n');
  return recipients
    .filter((x) => x !== r.requester)
    .map((recipient) => ({
      id: `${r.id}:emergency:${recipient}`,
      recipient,
      tenant: r.tenant,
      requestId: r.id,
      kind: 'emergency' as const,
      subject: `[Lockbox] EMERGENCY: ${r.requester} broke the glass for ${r.resource}`,
      body,
      createdAt: now.toISOString(),
    }));
}

/** When the tenant's approvers are reminded of a pending review: halfway between the end and the deadline. */
export function reviewReminderAt(review: { reviewWithinMs: number; dueAt: string | null }): number | null {
  if (review.dueAt === null) return null;
  return Date.parse(review.dueAt) - Math.floor(review.reviewWithinMs / 2);
}

/** The tenant's approvers are reminded that an emergency request still waits for its review. */
export function reviewReminder(r: AccessRequest, recipients: readonly string[], now: Date): Message[] {
  return recipients
    .filter((x) => x !== r.requester)
    .map((recipient) => ({
      id: `${r.id}:review_reminder:${recipient}`,
      recipient,
      tenant: r.tenant,
      requestId: r.id,
      kind: 'review_reminder' as const,
      subject: `[Lockbox] Reminder: review ${r.requester}'s emergency access to ${r.resource}`,
      body: [
        `Emergency request ${r.id} (${r.requester}, ${r.resource}) has ended and waits for a review, due by ${r.review?.dueAt ?? '?'}.`,
        `Review it: POST /v1/requests/${r.id}/review {"verdict":"justified"|"unjustified"}`,
      ].join('\n'),
      createdAt: now.toISOString(),
    }));
}

/** The tenant's admins hear that an emergency request went unreviewed. */
export function reviewOverdueAlert(r: AccessRequest, now: Date): Message {
  return {
    id: `${r.id}:review_overdue`,
    recipient: 'tenant admins',
    tenant: r.tenant,
    requestId: r.id,
    kind: 'emergency',
    subject: `[Lockbox] EMERGENCY access by ${r.requester} to ${r.resource} was not reviewed in time`,
    body: `Emergency request ${r.id} (${r.requester}, ${r.resource}) was due for review by ${r.review?.dueAt ?? '?'} and nobody reviewed it. It stays flagged unreviewed.`,
    createdAt: now.toISOString(),
  };
}

function refuse(code: RejectionCode, message: string): Outcome {
  return { ok: false, rejection: { code, message } };
}
