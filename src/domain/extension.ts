import { AuditEventType } from './audit.js';
import type { AuditDraft, DecisionCommand, Outcome } from './outcome.js';
import { formatDuration } from './duration.js';
import type { ApprovalPolicy } from './policy.js';
import { RequestStatus, type AccessRequest, type Extension } from './request.js';
import { castVote } from './vote.js';

/**
 * Extending an active grant: the requester asks for more time with a reason; the request's approvers decide it
 * stage by stage, as they did the request; on approval the window (and the grant's end at the target) moves by the
 * duration asked; on rejection or expiry the original end stands. Pure.
 */

const refuse = (code: 'not_active' | 'not_eligible' | 'not_pending', message: string): Outcome => ({ ok: false, rejection: { code, message } });

export function pendingExtension(state: AccessRequest): Extension | undefined {
  return state.extensions?.find((e) => e.status === 'pending' || e.status === 'approved');
}

/** The requester asks for `durationMs` more. */
export function requestExtension(state: AccessRequest, cmd: DecisionCommand & { durationMs?: number }, now: Date): Outcome {
  if (cmd.actor !== state.requester) return refuse('not_eligible', 'only the requester can ask to extend their access');
  if (state.status !== RequestStatus.active || !state.access || state.access.revokedAt) {
    return refuse('not_active', `request is ${state.status}, not active`);
  }
  const endsAt = Date.parse(state.access.endsAt);
  if (now.getTime() >= endsAt) return refuse('not_active', `access already ended at ${state.access.endsAt}`);
  if (state.decisions.some((d) => d.action === 'revoke')) return refuse('not_active', 'access is being revoked');
  if (pendingExtension(state)) return refuse('not_pending', 'an extension is already waiting for a decision');
  const durationMs = cmd.durationMs ?? 0;
  if (!Number.isSafeInteger(durationMs) || durationMs < 1000) return refuse('not_eligible', 'the extension needs a duration of at least 1s');
  const at = now.toISOString();
  const lifetime = Date.parse(state.expiresAt) - Date.parse(state.createdAt);
  const ext: Extension = {
    seq: (state.extensions?.length ?? 0) + 1,
    durationMs,
    duration: formatDuration(durationMs),
    reason: cmd.note ?? '',
    requestedAt: at,
    // An extension decided after the window ended would extend nothing.
    expiresAt: new Date(Math.min(now.getTime() + lifetime, endsAt)).toISOString(),
    status: 'pending',
    stages: state.stages,
    stage: state.stages[0] ?? null,
    decisions: [{ action: 'extend', actor: cmd.actor, at, note: cmd.note, ...(cmd.proof ? { proof: cmd.proof } : {}) }],
    endsAtBefore: state.access.endsAt,
    endsAtAfter: null,
  };
  return {
    ok: true,
    state: { ...state, extensions: [...(state.extensions ?? []), ext] },
    audit: [
      {
        type: AuditEventType.extensionRequested,
        actor: cmd.actor,
        details: { extension: ext.seq, duration: ext.duration, reason: ext.reason, expiresAt: ext.expiresAt, ...(cmd.proof ? { proof: cmd.proof } : {}) },
      },
    ],
  };
}

/** An approver's vote on the pending extension. */
export function reviewExtension(state: AccessRequest, cmd: DecisionCommand, now: Date, policy: ApprovalPolicy): Outcome {
  const ext = state.extensions?.find((e) => e.status === 'pending');
  if (!ext) return refuse('not_pending', 'no extension is waiting for a decision');
  if (now.getTime() >= Date.parse(ext.expiresAt)) return refuse('not_pending', `the extension expired at ${ext.expiresAt}`);
  const at = now.toISOString();
  const v = castVote(
    { tenant: state.tenant, requester: state.requester, stages: ext.stages, stage: ext.stage, decisions: ext.decisions.filter((d) => d.action !== 'extend') },
    { action: cmd.action === 'reject' ? 'reject' : 'approve', actor: cmd.actor, note: cmd.note, proof: cmd.proof },
    at,
    policy,
  );
  if (!v.ok) return { ok: false, rejection: { code: v.code, message: v.message } };
  const status: Extension['status'] = cmd.action === 'reject' ? 'rejected' : v.approved ? 'approved' : 'pending';
  const next: Extension = { ...ext, decisions: [ext.decisions[0]!, ...v.decisions], stage: v.stage, status };
  const type = cmd.action === 'reject' ? AuditEventType.extensionRejected : AuditEventType.extensionApproved;
  return {
    ok: true,
    state: replace(state, next),
    audit: [
      {
        type,
        actor: cmd.actor,
        details: { extension: ext.seq, note: cmd.note, stage: v.votedIn, approvals: v.approvals, quorum: v.quorum, final: status !== 'pending', policyVersion: policy.version, ...(cmd.proof ? { proof: cmd.proof } : {}) },
      },
    ],
  };
}

/** The approved extension took effect at the target: the window now ends at `endsAt`. */
export function extensionApplied(state: AccessRequest, endsAt: string): { state: AccessRequest; audit: AuditDraft[] } {
  const ext = state.extensions?.find((e) => e.status === 'approved');
  if (!ext || !state.access || state.status !== RequestStatus.active) return { state, audit: [] };
  const next = replace({ ...state, access: { ...state.access, endsAt } }, { ...ext, status: 'applied', endsAtAfter: endsAt });
  return { state: next, audit: [{ type: AuditEventType.accessExtended, actor: 'system', details: { extension: ext.seq, endsAtBefore: ext.endsAtBefore, endsAt } }] };
}

/** Nobody decided in time, or the target could not extend: the original end stands. */
export function extensionEnded(state: AccessRequest, outcome: 'expired' | 'failed', error?: string): { state: AccessRequest; audit: AuditDraft[] } {
  const ext = state.extensions?.find((e) => e.status === (outcome === 'expired' ? 'pending' : 'approved'));
  if (!ext) return { state, audit: [] };
  const type = outcome === 'expired' ? AuditEventType.extensionExpired : AuditEventType.extensionFailed;
  return {
    state: replace(state, { ...ext, status: outcome, stage: null }),
    audit: [{ type, actor: 'system', details: { extension: ext.seq, endsAt: ext.endsAtBefore, ...(error ? { error } : {}) } }],
  };
}

function replace(state: AccessRequest, ext: Extension): AccessRequest {
  return { ...state, extensions: (state.extensions ?? []).map((e) => (e.seq === ext.seq ? ext : e)) };
}
