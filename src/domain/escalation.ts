import { AuditEventType } from './audit.js';
import { formatDuration } from './duration.js';
import { SYSTEM } from './lifecycle.js';
import type { Message } from './messages.js';
import type { AuditDraft } from './outcome.js';
import { reminderAt, stageRule, type ApprovalPolicy, type Stage } from './policy.js';
import { RequestStatus, type AccessRequest, type Decision, type Escalation } from './request.js';

/**
 * Escalation and reminders for silent approvers (docs/break-glass.md, "Escalation") as pure functions. The rules come
 * from the approval policy in force (signed by the API like the approver list), so a settings change reaches a
 * pending request the same way.
 */

type Step = { state: AccessRequest; audit: AuditDraft[] };

/** Whether a request's (or ballot's) stage has been escalated. */
export function escalatedIn(b: { escalations?: readonly Escalation[] }, stage: Stage): boolean {
  return b.escalations?.some((e) => e.stage === stage) ?? false;
}

/**
 * Who may decide in a stage under this policy: its approvers, plus, once the stage escalated, the policy's
 * escalation list (the requester is refused elsewhere, whoever lists them).
 */
export function stageDeciders(b: { escalations?: readonly Escalation[] }, p: ApprovalPolicy, stage: Stage): string[] {
  const { approvers } = stageRule(p, stage);
  if (!p.escalation || !escalatedIn(b, stage)) return approvers;
  return [...new Set([...approvers, ...p.escalation.to])];
}

/**
 * When the current stage escalates (ms since the epoch): `afterMs` after the later of the stage's start and its last
 * decision; null when the policy has no escalation, the request is not waiting, or this stage already escalated.
 */
export function escalationDueAt(state: AccessRequest, p: ApprovalPolicy, stageSinceMs: number): number | null {
  const stage = state.stage;
  if (!p.escalation || stage === null || state.status !== RequestStatus.pending || state.approvedAt !== null) return null;
  if (escalatedIn(state, stage)) return null;
  const last = lastDecisionIn(state.decisions, stage);
  return Math.max(stageSinceMs, last) + p.escalation.afterMs;
}

function lastDecisionIn(decisions: readonly Decision[], stage: Stage): number {
  return decisions.filter((d) => d.stage === stage).reduce((m, d) => Math.max(m, Date.parse(d.at)), 0);
}

/** The current stage escalates: recorded once per stage (`request.escalated`); its list may decide from now on. */
export function escalate(state: AccessRequest, p: ApprovalPolicy, now: Date): Step {
  const stage = state.stage;
  if (!p.escalation || stage === null || state.status !== RequestStatus.pending || state.approvedAt !== null) return { state, audit: [] };
  if (escalatedIn(state, stage)) return { state, audit: [] };
  const at = now.toISOString();
  const to = p.escalation.to.filter((u) => u !== state.requester);
  const escalation: Escalation = { stage, at, afterMs: p.escalation.afterMs, to };
  return {
    state: { ...state, escalations: [...(state.escalations ?? []), escalation] },
    audit: [
      {
        type: AuditEventType.requestEscalated,
        actor: SYSTEM,
        details: { stage, after: formatDuration(p.escalation.afterMs), to, policyVersion: p.version },
      },
    ],
  };
}

/** The escalation list hears that a stage went unanswered and that they may now decide it. */
export function escalationNotice(r: AccessRequest, recipients: readonly string[], now: Date): Message[] {
  const stage = r.stage ?? 'approval';
  const body = [
    `Nobody decided the ${stage} stage of ${r.requester}'s request for ${r.resource} in tenant ${r.tenant} in time; it was escalated to you.`,
    `Reason: ${r.reason}`,
    `Ticket: ${r.ticket ?? '(none)'}`,
    `The request expires unanswered at ${r.expiresAt}.`,
    `Approve or reject: POST /v1/requests/${r.id}/approve or /reject`,
  ].join('\n');
  return recipients
    .filter((x) => x !== r.requester)
    .map((recipient) => ({
      id: `${r.id}:escalated:${stage}:${recipient}`,
      recipient,
      tenant: r.tenant,
      requestId: r.id,
      kind: 'escalated' as const,
      subject: `[Lockbox] Escalated: ${r.requester} requests access to ${r.resource}`,
      body,
      createdAt: now.toISOString(),
    }));
}

/** Reminders sent so far: in the current stage, and over the whole request. */
export interface RemindersSent {
  inStage: number;
  total: number;
}

/**
 * When the next reminder is due (ms since the epoch), or null when none is left. With the tenant's rule: `count`
 * reminders per stage, `everyMs` apart from the stage's start. Without one: the built-in single reminder per request
 * (`reminderAt`). A time at or after expiry is never reached (the expiry fires first).
 */
export function nextReminderAt(state: AccessRequest, p: ApprovalPolicy, stageSinceMs: number, sent: RemindersSent): number | null {
  if (state.stage === null) return null;
  if (!p.reminders) return sent.total === 0 ? reminderAt(state.createdAt, state.expiresAt) : null;
  if (sent.inStage >= p.reminders.count) return null;
  return stageSinceMs + (sent.inStage + 1) * p.reminders.everyMs;
}
