import type { AccessRequest, Extension } from './request.js';

/**
 * Notification texts: what an approver needs to decide, never a secret or customer content.
 * Ids are deterministic so a retried activity delivers once.
 */
export interface Message {
  id: string;
  recipient: string;
  tenant: string;
  requestId: string;
  kind: 'approval_needed' | 'reminder' | 'outcome' | 'extension_needed' | 'emergency' | 'escalated' | 'review_reminder';
  subject: string;
  body: string;
  createdAt: string;
}

/**
 * Asks the approvers of the request's current stage to decide (`reminder`: once more, before it expires; `seq` > 1
 * for the tenant's further reminders, so each has an id of its own and a retry still delivers once).
 */
export function approvalNeeded(r: AccessRequest, recipients: readonly string[], now: Date, kind: 'approval_needed' | 'reminder' = 'approval_needed', seq = 1): Message[] {
  const stage = `${r.stage && r.stages.length > 1 ? `:${r.stage}` : ''}${seq > 1 ? `:${seq}` : ''}`;
  const body = [
    `${r.requester} asks for access to ${r.resource} in tenant ${r.tenant} for ${r.duration}.`,
    `Reason: ${r.reason}`,
    `Ticket: ${r.ticket ?? '(none)'}`,
    `The request expires unanswered at ${r.expiresAt}.`,
    `Approve or reject: POST /v1/requests/${r.id}/approve or /reject`,
  ].join('\n');
  return recipients.map((recipient) => ({
    id: `${r.id}:${kind}${stage}:${recipient}`,
    recipient,
    tenant: r.tenant,
    requestId: r.id,
    kind,
    subject: `[Lockbox] ${kind === 'reminder' ? 'Reminder: ' : ''}${r.requester} requests access to ${r.resource}`,
    body,
    createdAt: now.toISOString(),
  }));
}

export function outcome(r: AccessRequest, now: Date): Message {
  return {
    id: `${r.id}:outcome:${r.status}`,
    recipient: r.requester,
    tenant: r.tenant,
    requestId: r.id,
    kind: 'outcome',
    subject: `[Lockbox] Your request for ${r.resource} is ${r.status}`,
    body: `Request ${r.id} for ${r.resource} in tenant ${r.tenant} is ${r.status}.`,
    createdAt: now.toISOString(),
  };
}

/** The outcome told to others than the requester (approvers when a grant failed, tenant admins always). */
export function outcomeFor(r: AccessRequest, recipients: readonly string[], now: Date): Message[] {
  const base = outcome(r, now);
  return recipients
    .filter((x) => x !== r.requester)
    .map((recipient) => ({
      ...base,
      id: `${base.id}:${recipient}`,
      recipient,
      subject: `[Lockbox] ${r.requester}'s request for ${r.resource} is ${r.status}`,
      body: `${base.body}${r.failure ? `\nWhy: ${r.failure}` : ''}`,
    }));
}

/** Asks the approvers of an extension's current stage to decide it. */
export function extensionNeeded(r: AccessRequest, ext: Extension, recipients: readonly string[], now: Date): Message[] {
  const body = [
    `${r.requester} asks to extend access to ${r.resource} in tenant ${r.tenant} by ${ext.duration}.`,
    `Reason: ${ext.reason}`,
    `Access now ends at ${ext.endsAtBefore}; unanswered, the extension lapses at ${ext.expiresAt}.`,
    `Approve or reject: POST /v1/requests/${r.id}/approve or /reject`,
  ].join('\n');
  return recipients.map((recipient) => ({
    id: `${r.id}:extension:${ext.seq}:${ext.stage ?? 'none'}:${recipient}`,
    recipient,
    tenant: r.tenant,
    requestId: r.id,
    kind: 'extension_needed' as const,
    subject: `[Lockbox] ${r.requester} asks to extend access to ${r.resource}`,
    body,
    createdAt: now.toISOString(),
  }));
}

/**
 * How long the approvers' first notice may take as a local activity (`sendNoticeNow`) before the workflow sends it
 * the usual way (the retried `sendNotifications`). A healthy channel takes milliseconds; this bounds how long a
 * slow one holds the request's first workflow task, and so how long decisions wait to be taken in.
 */
export const FIRST_NOTICE_WITHIN_MS = 2_000;

/** `sendNoticeNow`'s answer: delivered (when, on the worker's clock), or not (why); it never fails. */
export type NoticeNow = { delivered: true; at: string } | { delivered: false; error: string };

/**
 * How long a request's outcome may take in `finishRequest` (the outcome and the trail's last batch in one activity)
 * before the workflow sends it the usual way: the longest a slow channel holds the last batch of the trail (as a
 * hold does elsewhere: AUDIT_HOLD_MS).
 */
export const OUTCOME_WITHIN_MS = 3_000;

/** The failure type of the `sendOutcome` activity; its details are one {@link OutcomeFailure} per group that failed. */
export const OUTCOME_NOT_DELIVERED = 'OutcomeNotDelivered';
export interface OutcomeFailure {
  /** The group's index: the direct groups in order, then the tenant's admins. */
  group: number;
  error: string;
}
