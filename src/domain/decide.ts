import { formatDuration } from './duration.js';
import { normalizePolicy, Stage, stageRule, stagesFor, type ApprovalPolicy } from './policy.js';
import { BUILTIN_TARGET } from './resources.js';
import { castVote } from './vote.js';
import { stageDeciders } from './escalation.js';
import { requestExtension, reviewExtension } from './extension.js';
import { pendingReview } from './break-glass.js';
import { AuditEventType } from './audit.js';
import { SYSTEM } from './lifecycle.js';
import {
  approvalsOf,
  DecisionAction,
  isTerminal,
  RequestStatus,
  type AccessRequest,
  type DecisionProof,
  type NewRequestInput,
} from './request.js';

/**
 * The request state machine as pure functions: `(state, input, now) -> new state + audit drafts | rejection`.
 * The workflow calls these from update validators (to refuse early) and from handlers (to apply), so the API,
 * signals and timers all go through the same rules.
 */

import { RejectionCode, type AuditDraft, type DecisionCommand, type Outcome } from './outcome.js';
export { RejectionCode, isConflict, type AuditDraft, type DecisionCommand, type Outcome, type Rejection } from './outcome.js';

// The system's own transitions (timers, grants, revokes) live in lifecycle.ts; callers import both from here.
export * from './lifecycle.js';

/** The state of a request that was just filed; pure in its input, so the API and the workflow agree on it. */
export function createRequest(input: NewRequestInput): { state: AccessRequest; audit: AuditDraft[] } {
  const now = new Date(input.createdAt);
  const policy = normalizePolicy(input.policy);
  const stages = stagesFor(policy);
  const state: AccessRequest = {
    id: input.id,
    tenant: input.tenant,
    resource: input.resource,
    requester: input.requester,
    reason: input.reason,
    ticket: input.ticket,
    duration: formatDuration(input.durationMs),
    durationMs: input.durationMs,
    status: RequestStatus.pending,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + input.requestTtlMs).toISOString(),
    decisions: [],
    access: null,
    policy,
    target: input.target ?? BUILTIN_TARGET,
    stages,
    stage: stages[0] ?? null,
    approvedAt: null,
    endedAt: null,
    failure: null,
    // Break-glass: shown from the start; granted only once the workflow has verified the API's signature.
    ...(input.emergency ? { emergency: true as const, review: pendingReview(input.emergency.reviewWithinMs) } : {}),
  };
  const details = {
    resource: state.resource,
    target: state.target,
    reason: state.reason,
    ticket: state.ticket,
    duration: state.duration,
    expiresAt: state.expiresAt,
    policy: state.policy,
  };
  return { state, audit: [{ type: AuditEventType.requestCreated, actor: input.requester, details }] };
}

/**
 * Applies a person's decision, or says why it is refused. `policy` is the one in force at decision time (current
 * tenant settings); it defaults to the policy recorded when the request was filed.
 */
export function decide(state: AccessRequest, cmd: DecisionCommand, now: Date, policy: ApprovalPolicy = state.policy): Outcome {
  if (cmd.until !== undefined && cmd.action !== DecisionAction.approve) return refuse(RejectionCode.invalidUntil, 'until applies to an approval only');
  switch (cmd.action) {
    case DecisionAction.approve:
    case DecisionAction.reject:
      return review(state, cmd, now, normalizePolicy(policy));
    case DecisionAction.cancel:
      return cancel(state, cmd, now);
    case DecisionAction.revoke:
      return revoke(state, cmd, now, normalizePolicy(policy));
    case DecisionAction.extend:
      return requestExtension(state, cmd, now);
  }
}

function record(cmd: DecisionCommand, at: string, extra: { stage?: Stage | null; policyVersion?: number } = {}) {
  return { action: cmd.action, actor: cmd.actor, at, note: cmd.note, ...extra, ...(cmd.proof ? { proof: cmd.proof } : {}) };
}

function refuse(code: RejectionCode, message: string): Outcome {
  return { ok: false, rejection: { code, message } };
}

/** Whether the request still takes approve / reject / cancel: pending, not yet approved, not past its lifetime. */
function checkOpen(state: AccessRequest, now: Date): Outcome | null {
  if (state.status !== RequestStatus.pending) {
    return refuse(RejectionCode.notPending, `request is ${state.status}, not pending`);
  }
  if (state.approvedAt !== null) return refuse(RejectionCode.notPending, 'request is already approved');
  if (now.getTime() >= Date.parse(state.expiresAt)) {
    return refuse(RejectionCode.expired, `request expired at ${state.expiresAt}`);
  }
  return null;
}

function review(state: AccessRequest, cmd: DecisionCommand, now: Date, policy: ApprovalPolicy): Outcome {
  if (state.status === RequestStatus.active && state.extensions?.some((e) => e.status === 'pending')) {
    // An extension's approval moves the end by what was asked; it does not cap it.
    if (cmd.until !== undefined) return refuse(RejectionCode.invalidUntil, "until applies to a request's approval, not to an extension's");
    return reviewExtension(state, cmd, now, policy);
  }
  const closed = checkOpen(state, now) ?? (cmd.until !== undefined ? checkUntil(cmd, now) : null);
  if (closed) return closed;
  const at = now.toISOString();
  const until = cmd.until !== undefined ? new Date(Date.parse(cmd.until)).toISOString() : undefined;
  const v = castVote(state, { action: cmd.action === DecisionAction.reject ? 'reject' : 'approve', actor: cmd.actor, note: cmd.note, proof: cmd.proof, until }, at, policy);
  if (!v.ok) return refuse(v.code, v.message);
  if (cmd.action === DecisionAction.reject) {
    return {
      ok: true,
      state: { ...state, decisions: v.decisions, status: RequestStatus.rejected, stage: null, endedAt: at },
      audit: [{ type: AuditEventType.requestRejected, actor: cmd.actor, details: { reason: cmd.note, stage: v.votedIn, policyVersion: policy.version, ...proofOf(cmd) } }],
    };
  }
  const approvedAt = v.approved ? at : null;
  return {
    ok: true,
    state: { ...state, decisions: v.decisions, stage: v.stage, approvedAt, status: v.approved ? RequestStatus.granting : state.status },
    audit: [
      {
        type: AuditEventType.requestApproved,
        actor: cmd.actor,
        details: { comment: cmd.note, stage: v.votedIn, approvals: v.approvals, quorum: v.quorum, final: v.approved, policyVersion: policy.version, ...(until ? { until } : {}), ...proofOf(cmd) },
      },
    ],
  };
}

/**
 * An approval's `until` (the approver's cap on the window): a UTC time after the decision, on an approval. The API
 * checks it too; the workflow checks again because the signed claims are all it trusts.
 */
function checkUntil(cmd: DecisionCommand, now: Date): Outcome | null {
  const t = typeof cmd.until === 'string' && ISO_UTC.test(cmd.until) ? Date.parse(cmd.until) : Number.NaN;
  if (!Number.isFinite(t)) return refuse(RejectionCode.invalidUntil, 'until must be an ISO-8601 UTC time');
  if (t <= now.getTime()) return refuse(RejectionCode.invalidUntil, `until (${cmd.until}) has passed`);
  return null;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** The earliest `until` of the request's approvals (ISO-8601 UTC): no access past it. Null when nobody capped the window. */
export function approvedUntil(state: AccessRequest): string | null {
  const caps = state.decisions
    .filter((d) => d.action === DecisionAction.approve && typeof d.until === 'string')
    .map((d) => Date.parse(d.until!))
    .filter((t) => Number.isFinite(t));
  return caps.length ? new Date(Math.min(...caps)).toISOString() : null;
}

function proofOf(cmd: DecisionCommand): Record<string, unknown> {
  return cmd.proof ? { proof: cmd.proof } : {};
}

function cancel(state: AccessRequest, cmd: DecisionCommand, now: Date): Outcome {
  if (cmd.actor !== state.requester) {
    return refuse(RejectionCode.notEligible, 'only the requester can cancel a request');
  }
  const closed = checkOpen(state, now);
  if (closed) return closed;
  const at = now.toISOString();
  return {
    ok: true,
    state: {
      ...state,
      decisions: [...state.decisions, record(cmd, at)],
      status: RequestStatus.cancelled,
      stage: null,
      endedAt: at,
    },
    audit: [{ type: AuditEventType.requestCancelled, actor: cmd.actor, details: { reason: cmd.note, ...proofOf(cmd) } }],
  };
}

/** Early revoke by an approver or by the requester giving access up; the revoke itself is the workflow's job. */
function revoke(state: AccessRequest, cmd: DecisionCommand, now: Date, policy: ApprovalPolicy): Outcome {
  const mayRevoke = cmd.actor === state.requester || policy.approvers.includes(cmd.actor) || policy.internalApprovers.includes(cmd.actor);
  if (!mayRevoke) {
    return refuse(RejectionCode.notEligible, `${cmd.actor} may not revoke this request`);
  }
  // While granting, a revoke stops the grant: the workflow cancels it, then revokes whatever part of it happened.
  const granting = state.status === RequestStatus.granting;
  if (!granting && (state.status !== RequestStatus.active || state.access === null)) {
    return refuse(RejectionCode.notActive, `request is ${state.status}, not active`);
  }
  if (state.decisions.some((d) => d.action === DecisionAction.revoke)) {
    return refuse(RejectionCode.notActive, 'request is already being revoked');
  }
  // The window has run out: the workflow is revoking it as `completed`; an early revoke now would misname the cause.
  if (state.access !== null && now.getTime() >= Date.parse(state.access.endsAt)) {
    return refuse(RejectionCode.notActive, `access already ended at ${state.access.endsAt}`);
  }
  const at = now.toISOString();
  return {
    ok: true,
    state: { ...state, decisions: [...state.decisions, record(cmd, at, { policyVersion: policy.version })] },
    audit: [],
  };
}

/** Whether an early revoke has been asked for. */
export function revokeRequested(state: AccessRequest): boolean {
  return state.decisions.some((d) => d.action === DecisionAction.revoke);
}

/**
 * The tenant's settings changed while the request waits for decisions. The rule (docs/design.md, "policy changes"):
 * a request keeps the stages it was filed with; within the stage it waits in, the new quorum and approver list
 * apply at once. So a quorum lowered to what the approvals already given reach completes the stage now (and the
 * request is approved when it was the last one), and a stage that can no longer reach its quorum (too few eligible
 * approvers left who have not decided) ends the request at once instead of letting it wait for approvals that
 * cannot come. Anything else changes nothing.
 */
export function applyPolicyChange(state: AccessRequest, policy: ApprovalPolicy, now: Date): { state: AccessRequest; audit: AuditDraft[] } {
  if (state.status !== RequestStatus.pending || state.approvedAt !== null || state.stage === null) return { state, audit: [] };
  if (now.getTime() >= Date.parse(state.expiresAt)) return { state, audit: [] };
  const p = normalizePolicy(policy);
  const at = now.toISOString();
  let stage: Stage | null = state.stage;
  const completed: { stage: Stage; approvals: number; quorum: number }[] = [];
  while (stage !== null) {
    const rule = stageRule(p, stage);
    const approvers = new Set(approvalsOf(state).filter((d) => d.stage === stage && d.actor !== state.requester).map((d) => d.actor));
    if (approvers.size >= rule.quorum) {
      completed.push({ stage, approvals: approvers.size, quorum: rule.quorum });
      stage = state.stages[state.stages.indexOf(stage) + 1] ?? null;
      continue;
    }
    const decided = new Set(state.decisions.map((d) => d.actor));
    const stillPossible = stageDeciders(state, p, stage).filter((a) => a !== state.requester && !decided.has(a)).length;
    if (approvers.size + stillPossible < rule.quorum) {
      const reason = `policy_changed: the ${stage} stage can no longer reach its quorum of ${rule.quorum} (${approvers.size} given, ${stillPossible} approver(s) left who could)`;
      return {
        state: { ...state, status: RequestStatus.cancelled, stage: null, endedAt: at, failure: null },
        audit: [{ type: AuditEventType.requestCancelled, actor: SYSTEM, details: { reason, policyVersion: p.version } }],
      };
    }
    break;
  }
  if (completed.length === 0) return { state, audit: [] };
  const approved = stage === null;
  return {
    state: { ...state, stage, approvedAt: approved ? at : null, status: approved ? RequestStatus.granting : state.status },
    audit: completed.map((c, i) => ({
      type: AuditEventType.requestApproved,
      actor: SYSTEM,
      details: { stage: c.stage, approvals: c.approvals, quorum: c.quorum, final: approved && i === completed.length - 1, policyVersion: p.version, cause: 'policy_changed' },
    })),
  };
}
