import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { AuditEventType } from '../domain/audit.js';
import {
  cancelByOperator,
  createRequest,
  decide,
  expire,
  grantFailed,
  granted,
  isConflict,
  refuseUnauthenticated,
  revokeRequested,
  revoked,
  type AuditDraft,
  type DecisionCommand,
  type Rejection,
} from '../domain/decide.js';
import { extensionApplied, extensionEnded, pendingExtension } from '../domain/extension.js';
import { approvalNeeded, extensionNeeded, outcome, outcomeFor, type Message } from '../domain/messages.js';
import { reminderAt, stageRule, type ApprovalPolicy } from '../domain/policy.js';
import { DecisionAction, RequestStatus, type AccessRequest, type Extension, type NewRequestInput } from '../domain/request.js';
import { verifyRequest, type TrustedKeys } from '../domain/signing.js';
import { AuditJournal } from './audit-journal.js';
import { authenticateDecision } from './decision-auth.js';
import * as defs from './definitions.js';

/**
 * Requests started from this version on: signed requests and decisions, approval stages with decision-time policy,
 * one reminder before expiry. Requests started earlier replay on the v1 path unchanged.
 */
export const PATCH_V2 = 'lockbox-v2-signed-staged';
/**
 * Approver notifications run beside the wait for decisions instead of before it, so a channel that keeps failing
 * (retried for minutes) never holds up a decision or the grant that follows it.
 */
export const PATCH_BACKGROUND_NOTIFY = 'lockbox-background-notify';
/**
 * After a timer fires, decide by WHICH timer fired, not by re-reading the workflow clock: a worker that took over a
 * request after another one died was seen (production suite, SIGKILL) to run that activation with the previous
 * task's time, start a second window timer, and leave a history that would not replay.
 */
export const PATCH_TRUST_TIMERS = 'lockbox-trust-timers';

const notifications = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '1m', maximumAttempts: 8 },
});
const grants = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 },
});
/** Revoke and audit export retry until they succeed: access must end and no event may be lost. */
const mustSucceed = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s', backoffCoefficient: 2 },
});
const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '10s' });

const HANDLERS = [
  [DecisionAction.approve, defs.approveUpdate, defs.approveSignal],
  [DecisionAction.reject, defs.rejectUpdate, defs.rejectSignal],
  [DecisionAction.revoke, defs.revokeUpdate, defs.revokeSignal],
  [DecisionAction.cancel, defs.cancelUpdate, defs.cancelSignal],
  [DecisionAction.extend, defs.extendUpdate, defs.extendSignal],
] as const;

/** Unauthenticated attempts audited one by one per request; beyond that they are only logged (history stays small). */
const MAX_AUDITED_FORGERIES = 50;

/**
 * One access request, from filing to the end of its access: notify -> wait for decisions (stage by stage) or the
 * lifetime -> grant -> wait for the window or an early revoke -> revoke (always) -> audit exported.
 */
export async function accessRequestWorkflow(input: NewRequestInput): Promise<AccessRequest> {
  // Every patch is asked for here, first thing, in a fixed order: a patch asked for later (after an await) was seen
  // to replay out of step with its marker when the awaited local activity resolved in another activation.
  const v2 = patched(PATCH_V2);
  const backgroundPatch = patched(PATCH_BACKGROUND_NOTIFY);
  const trustTimersPatch = patched(PATCH_TRUST_TIMERS);
  const journal = new AuditJournal(input.id, input.tenant, (events) => mustSucceed.exportAudit(events));
  const created = createRequest(input);
  let state = created.state;
  journal.record(created.audit);
  journal.start();

  /** v2: the API's public keys (from the worker's configuration, never from the caller); null until loaded. */
  let keys: TrustedKeys | null = v2 ? null : {};
  const usedNonces = new Set<string>();
  let latestPolicy: ApprovalPolicy = state.policy;
  let forgeries = 0;

  const commit = (next: { state: AccessRequest; audit: AuditDraft[] }) => {
    const statusChanged = next.state.status !== state.status;
    state = next.state;
    journal.record(next.audit);
    if (statusChanged) upsertSearchAttributes([{ key: defs.SearchAttributes.status, value: state.status }]);
  };

  /** Authenticates (v2) and checks a decision; null means "not authenticated" (audited by the caller). */
  const check = (action: DecisionAction, args: unknown) => {
    const auth = v2 ? authenticateDecision(state, action, args, keys ?? {}, usedNonces, Date.now()) : v1Command(action, args);
    if (!auth.ok) return { auth, out: null };
    const out = decide(state, auth.cmd, new Date(), auth.policy);
    if (!out.ok) throw toFailure(out.rejection);
    return { auth, out };
  };
  const apply = (action: DecisionAction, args: unknown, via: 'update' | 'signal'): boolean => {
    const { auth, out } = check(action, args);
    if (!auth.ok || !out) {
      auditForgery(action, auth.ok ? 'unknown' : auth.reason, auth.ok ? '' : auth.claimedActor, via);
      return false;
    }
    if (auth.cmd.proof) usedNonces.add(auth.cmd.proof.nonce);
    if (v2 && auth.policy) latestPolicy = auth.policy;
    commit(out);
    return true;
  };
  function auditForgery(action: DecisionAction, reason: string, claimedActor: string, via: string) {
    forgeries += 1;
    log.warn('unauthenticated decision refused', { action, reason, via });
    if (forgeries > MAX_AUDITED_FORGERIES) return;
    journal.record([
      { type: AuditEventType.decisionRejectedUnauthenticated, actor: 'unknown', details: { action, via, reason, claimedActor } },
    ]);
  }

  for (const [action, update, signal] of HANDLERS) {
    setHandler(
      update,
      async (args) => {
        if (v2) await condition(() => keys !== null);
        if (!apply(action, args, 'update')) {
          throw ApplicationFailure.create({
            type: defs.FailureType.forbidden,
            message: 'decision refused: not signed by the Lockbox API',
            details: ['unauthenticated'],
            nonRetryable: true,
          });
        }
        await settled(action);
        return state;
      },
      {
        // Refuse early what the rules refuse; unauthenticated attempts are let through to the handler to be audited.
        validator: (args) => {
          if (keys !== null) check(action, args);
        },
      },
    );
    // Signals take the same rules; a refused signal changes nothing (there is no caller to answer).
    setHandler(signal, async (args) => {
      if (v2) await condition(() => keys !== null);
      try {
        apply(action, args, 'signal');
      } catch (err) {
        log.warn('decision signal refused', { action, error: err instanceof Error ? err.message : String(err) });
      }
    });
  }
  setHandler(defs.getRequestQuery, () => state);
  setHandler(defs.getAuditQuery, () => journal.events);

  /** An approve that completes the quorum answers once access is granted (or failed); a revoke once it is done. */
  async function settled(action: DecisionAction): Promise<void> {
    if (action === DecisionAction.approve && state.status === RequestStatus.active) {
      // An approved extension answers once the window has moved at the target (or that failed).
      await condition(() => !state.extensions?.some((e) => e.status === 'approved'));
    } else if (action === DecisionAction.approve && state.approvedAt !== null) {
      await condition(() => state.status !== RequestStatus.pending);
    } else if (action === DecisionAction.revoke) {
      await condition(() => state.access?.revokedAt != null);
    }
  }

  /** Set (patched) once a request sends approver notifications in the background; these finish before the end. */
  let background = false;
  /** Set (patched): after a timer fires, the deadline it was set for has passed, whatever the clock reads. */
  let trustTimers = false;
  const inFlight: Promise<void>[] = [];

  let cancelledInTemporal = false;
  try {
    if (v2) {
      keys = await local.trustedDecisionKeys();
      if (!verifyRequest(input, keys)) commit(refuseUnauthenticated(state, 'request was not filed through the Lockbox API', new Date()));
    }
    if (state.status === RequestStatus.pending) {
      if (v2) await awaitDecisionsV2();
      else await awaitDecisionsV1();
    }
    if (state.status === RequestStatus.pending && state.approvedAt !== null) await grantAndHold();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelledInTemporal = true;
  }

  await CancellationScope.nonCancellable(async () => {
    if (cancelledInTemporal) commit(cancelByOperator(state, new Date()));
    await Promise.all(inFlight);
    await notify([outcome(state, new Date())], null);
    if (v2) await tellOthersTheOutcome();
    await condition(allHandlersFinished);
    await journal.drain();
  });
  return state;

  async function awaitDecisionsV1(): Promise<void> {
    const recipients = state.policy.approvers.filter((a) => a !== state.requester);
    await notify(approvalNeeded(state, recipients, new Date()), {
      type: AuditEventType.approversNotified,
      actor: 'system',
      details: { recipients },
    });
    const remaining = Date.parse(state.expiresAt) - Date.now();
    const answered = remaining > 0 && (await condition(() => !awaitingDecision(), remaining));
    if (!answered) commit(expire(state, new Date()));
  }

  /** Stage by stage: notify the stage's approvers, remind the undecided once, expire at the lifetime. */
  async function awaitDecisionsV2(): Promise<void> {
    let reminded = false;
    background = backgroundPatch;
    trustTimers = trustTimersPatch;
    await notifyStage('approval_needed');
    while (awaitingDecision()) {
      const stage = state.stage;
      const expiry = Date.parse(state.expiresAt);
      const remindAt = reminded ? expiry : Math.min(expiry, reminderAt(state.createdAt, state.expiresAt));
      const reminderTimer = !reminded && remindAt < expiry;
      const wait = remindAt - Date.now();
      const changed = wait > 0 && (await condition(() => !awaitingDecision() || state.stage !== stage, wait));
      if (changed) {
        if (awaitingDecision()) await notifyStage('approval_needed');
      } else if (trustTimers ? reminderTimer : !reminded && Date.now() < expiry) {
        reminded = true;
        await notifyStage('reminder');
      } else {
        commit(expire(state, new Date()));
      }
    }
  }

  function awaitingDecision(): boolean {
    return state.status === RequestStatus.pending && state.approvedAt === null;
  }

  /** Approvers of the current stage (policy as last known), minus the requester and, for reminders, those who decided. */
  async function notifyStage(kind: 'approval_needed' | 'reminder'): Promise<void> {
    if (!state.stage) return;
    const decided = new Set(state.decisions.map((d) => d.actor));
    const recipients = stageRule(latestPolicy, state.stage).approvers.filter(
      (a) => a !== state.requester && (kind === 'approval_needed' || !decided.has(a)),
    );
    const type = kind === 'reminder' ? AuditEventType.approversReminded : AuditEventType.approversNotified;
    await send(approvalNeeded(state, recipients, new Date(), kind), { type, actor: 'system', details: { stage: state.stage, recipients } });
  }

  async function grantAndHold(): Promise<void> {
    let grant: { grantedAt: string; endsAt: string };
    try {
      grant = await grants.grantAccess({
        requestId: state.id,
        tenant: state.tenant,
        resource: state.resource,
        principal: state.requester,
        durationMs: state.durationMs,
        ...(v2 ? { target: state.target } : {}),
      });
    } catch (err) {
      // Whatever part of the grant happened must not stay behind.
      await CancellationScope.nonCancellable(() => mustSucceed.revokeAccess(revokeInput()));
      if (isCancellation(err)) throw err;
      commit(grantFailed(state, failureMessage(err), new Date()));
      return;
    }
    commit(granted(state, grant));
    try {
      if (v2) await holdWindow();
      else {
        const windowMs = Date.parse(grant.endsAt) - Date.now();
        if (windowMs > 0) await condition(() => revokeRequested(state), windowMs);
      }
    } catch (err) {
      if (!isCancellation(err)) throw err;
      cancelledInTemporal = true;
    } finally {
      await CancellationScope.nonCancellable(async () => {
        const { revokedAt, verified } = await mustSucceed.revokeAccess(revokeInput());
        const early = state.decisions.find((d) => d.action === DecisionAction.revoke);
        const cause = early
          ? { by: early.actor, reason: early.note }
          : cancelledInTemporal
            ? { by: 'system', reason: 'workflow cancelled in Temporal' }
            : null;
        commit(revoked(state, revokedAt, cause, v2 ? verified : undefined));
      });
    }
  }

  /**
   * v2: waits out the window, which an approved extension moves; ends early on a revoke. An extension nobody decides
   * in time expires and the original end stands.
   */
  async function holdWindow(): Promise<void> {
    const key = () => (state.extensions ?? []).map((e) => `${e.seq}:${e.status}:${e.stage}`).join(',');
    for (;;) {
      if (revokeRequested(state) || !state.access) return;
      const ext = pendingExtension(state);
      if (ext?.status === 'approved') {
        await applyExtension(ext);
        continue;
      }
      const endsAt = Date.parse(state.access.endsAt);
      const extDue = ext?.status === 'pending' ? Date.parse(ext.expiresAt) : Number.POSITIVE_INFINITY;
      if (!trustTimers) {
        if (ext?.status === 'pending' && Date.now() >= extDue) {
          commit(extensionEnded(state, 'expired'));
          continue;
        }
        if (Date.now() >= endsAt) return;
      }
      const wakeAt = Math.min(endsAt, extDue);
      const before = key();
      const notifiedStage = ext?.stage ?? null;
      const woke = await condition(() => revokeRequested(state) || key() !== before, Math.max(1, wakeAt - Date.now()));
      if (!woke && trustTimers) {
        // A timer fired: the extension's deadline (it expires), or the window's end (access ends now).
        if (ext?.status === 'pending') commit(extensionEnded(state, 'expired'));
        if (extDue < endsAt) continue;
        return;
      }
      const now = pendingExtension(state);
      if (now?.status === 'pending' && (now.seq !== ext?.seq || now.stage !== notifiedStage)) await notifyExtension(now);
    }
  }

  async function applyExtension(ext: Extension): Promise<void> {
    const endsAt = new Date(Date.parse(ext.endsAtBefore) + ext.durationMs).toISOString();
    try {
      const moved = await grants.extendAccess({ requestId: state.id, endsAt, target: state.target });
      commit(extensionApplied(state, moved.endsAt));
    } catch (err) {
      if (isCancellation(err)) throw err;
      commit(extensionEnded(state, 'failed', failureMessage(err)));
    }
  }

  async function notifyExtension(ext: Extension): Promise<void> {
    if (!ext.stage) return;
    const recipients = stageRule(latestPolicy, ext.stage).approvers.filter((a) => a !== state.requester);
    await send(extensionNeeded(state, ext, recipients, new Date()), {
      type: AuditEventType.approversNotified,
      actor: 'system',
      details: { stage: ext.stage, recipients, extension: ext.seq },
    });
  }

  /** v2: approvers hear when a grant they approved failed; the tenant's admins hear every outcome. */
  async function tellOthersTheOutcome(): Promise<void> {
    if (state.status === RequestStatus.failed && state.approvedAt !== null) {
      const approvers = [...new Set(state.decisions.filter((d) => d.action === DecisionAction.approve).map((d) => d.actor))];
      await notify(outcomeFor(state, approvers, new Date()), null);
    }
    const [message] = outcomeFor(state, ['tenant admins'], new Date());
    if (!message) return;
    try {
      await notifications.notifyTenantAdmins(message);
    } catch (err) {
      if (isCancellation(err)) throw err;
      journal.record([
        { type: AuditEventType.notificationFailed, actor: 'system', details: { recipients: ['tenant admins'], kind: 'outcome', error: failureMessage(err) } },
      ]);
    }
  }

  /** Where the revoke goes: the target recorded at filing (v1 requests had only the built-in store). */
  function revokeInput() {
    return v2 ? { requestId: state.id, target: state.target } : { requestId: state.id };
  }

  /** Approver messages: in the background where patched (not cancelled with the workflow: they are already due). */
  async function send(messages: Message[], onSuccess: AuditDraft | null): Promise<void> {
    if (!background) return notify(messages, onSuccess);
    inFlight.push(CancellationScope.nonCancellable(() => notify(messages, onSuccess)));
  }

  /** Sends messages; a failing channel never fails the request, it is audited instead. */
  async function notify(messages: Message[], onSuccess: AuditDraft | null): Promise<void> {
    if (messages.length === 0) return;
    try {
      await notifications.sendNotifications(messages);
      if (onSuccess) journal.record([onSuccess]);
    } catch (err) {
      if (isCancellation(err)) throw err;
      journal.record([
        {
          type: AuditEventType.notificationFailed,
          actor: 'system',
          details: { recipients: messages.map((m) => m.recipient), kind: messages[0]?.kind, error: failureMessage(err) },
        },
      ]);
    }
  }
}

/** Requests started before v2 took decisions as `{actor, note}`, unsigned, checked against the filed policy. */
function v1Command(action: DecisionAction, args: unknown): { ok: true; cmd: DecisionCommand; policy: undefined } {
  const a = (typeof args === 'object' && args !== null ? args : {}) as Record<string, unknown>;
  if (typeof a.actor !== 'string' || a.actor.length === 0) {
    throw ApplicationFailure.create({ type: defs.FailureType.forbidden, message: 'decision has no actor', nonRetryable: true });
  }
  return { ok: true, cmd: { action, actor: a.actor, note: typeof a.note === 'string' ? a.note : null }, policy: undefined };
}

function toFailure(r: Rejection): ApplicationFailure {
  return ApplicationFailure.create({
    type: isConflict(r.code) ? defs.FailureType.conflict : defs.FailureType.forbidden,
    message: r.message,
    details: [r.code],
    nonRetryable: true,
  });
}

function failureMessage(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
