import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  proxyActivities,
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
  revokeRequested,
  revoked,
  type AuditDraft,
  type DecisionCommand,
  type Rejection,
} from '../domain/decide.js';
import { approvalNeeded, outcome } from '../domain/messages.js';
import { DecisionAction, RequestStatus, type AccessRequest, type NewRequestInput } from '../domain/request.js';
import { AuditJournal } from './audit-journal.js';
import * as defs from './definitions.js';

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

const HANDLERS = [
  [DecisionAction.approve, defs.approveUpdate, defs.approveSignal],
  [DecisionAction.reject, defs.rejectUpdate, defs.rejectSignal],
  [DecisionAction.revoke, defs.revokeUpdate, defs.revokeSignal],
  [DecisionAction.cancel, defs.cancelUpdate, defs.cancelSignal],
] as const;

/**
 * One access request, from filing to the end of its access: notify -> wait for a decision or the lifetime ->
 * grant -> wait for the window or an early revoke -> revoke (always) -> audit exported.
 */
export async function accessRequestWorkflow(input: NewRequestInput): Promise<AccessRequest> {
  const journal = new AuditJournal(input.id, input.tenant, (events) => mustSucceed.exportAudit(events));
  const created = createRequest(input);
  let state = created.state;
  journal.record(created.audit);
  journal.start();

  const commit = (next: { state: AccessRequest; audit: AuditDraft[] }) => {
    const statusChanged = next.state.status !== state.status;
    state = next.state;
    journal.record(next.audit);
    if (statusChanged) upsertSearchAttributes([{ key: defs.SearchAttributes.status, value: state.status }]);
  };
  const evaluate = (action: DecisionAction, args: unknown) => {
    const out = decide(state, toCommand(action, args), new Date());
    if (!out.ok) throw toFailure(out.rejection);
    return out;
  };

  for (const [action, update, signal] of HANDLERS) {
    setHandler(
      update,
      async (args) => {
        commit(evaluate(action, args));
        await settled(action);
        return state;
      },
      { validator: (args) => void evaluate(action, args) },
    );
    // Signals take the same rules; a refused signal changes nothing (there is no caller to answer).
    setHandler(signal, (args) => {
      try {
        commit(evaluate(action, args));
      } catch (err) {
        log.warn('decision signal refused', { action, error: err instanceof Error ? err.message : String(err) });
      }
    });
  }
  setHandler(defs.getRequestQuery, () => state);
  setHandler(defs.getAuditQuery, () => journal.events);

  /** An approve that completes the quorum answers once access is granted (or failed); a revoke once it is done. */
  async function settled(action: DecisionAction): Promise<void> {
    if (action === DecisionAction.approve && state.approvedAt !== null) {
      await condition(() => state.status !== RequestStatus.pending);
    } else if (action === DecisionAction.revoke) {
      await condition(() => state.access?.revokedAt != null);
    }
  }

  let cancelledInTemporal = false;
  try {
    await notify(approvalNeeded(state, state.policy.approvers.filter((a) => a !== state.requester), new Date()), {
      type: AuditEventType.approversNotified,
      actor: 'system',
      details: { recipients: state.policy.approvers.filter((a) => a !== state.requester) },
    });
    const remaining = Date.parse(state.expiresAt) - Date.now();
    const answered =
      remaining > 0 && (await condition(() => state.status !== RequestStatus.pending || state.approvedAt !== null, remaining));
    if (!answered) commit(expire(state, new Date()));
    if (state.status === RequestStatus.pending && state.approvedAt !== null) await grantAndHold();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelledInTemporal = true;
  }

  await CancellationScope.nonCancellable(async () => {
    if (cancelledInTemporal) commit(cancelByOperator(state, new Date()));
    await notify([outcome(state, new Date())], null);
    await condition(allHandlersFinished);
    await journal.drain();
  });
  return state;

  async function grantAndHold(): Promise<void> {
    let grant: { grantedAt: string; endsAt: string };
    try {
      grant = await grants.grantAccess({
        requestId: state.id,
        tenant: state.tenant,
        resource: state.resource,
        principal: state.requester,
        durationMs: state.durationMs,
      });
    } catch (err) {
      // Whatever part of the grant happened must not stay behind.
      await CancellationScope.nonCancellable(() => mustSucceed.revokeAccess({ requestId: state.id }));
      if (isCancellation(err)) throw err;
      commit(grantFailed(state, failureMessage(err), new Date()));
      return;
    }
    commit(granted(state, grant));
    try {
      const windowMs = Date.parse(grant.endsAt) - Date.now();
      if (windowMs > 0) await condition(() => revokeRequested(state), windowMs);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      cancelledInTemporal = true;
    } finally {
      await CancellationScope.nonCancellable(async () => {
        const { revokedAt } = await mustSucceed.revokeAccess({ requestId: state.id });
        const early = state.decisions.find((d) => d.action === DecisionAction.revoke);
        const cause = early
          ? { by: early.actor, reason: early.note }
          : cancelledInTemporal
            ? { by: 'system', reason: 'workflow cancelled in Temporal' }
            : null;
        commit(revoked(state, revokedAt, cause));
      });
    }
  }

  /** Sends messages; a failing channel never fails the request, it is audited instead. */
  async function notify(messages: ReturnType<typeof approvalNeeded>, onSuccess: AuditDraft | null): Promise<void> {
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

function toCommand(action: DecisionAction, args: unknown): DecisionCommand {
  const a = (typeof args === 'object' && args !== null ? args : {}) as Record<string, unknown>;
  if (typeof a.actor !== 'string' || a.actor.length === 0) {
    throw ApplicationFailure.create({ type: defs.FailureType.forbidden, message: 'decision has no actor', nonRetryable: true });
  }
  const note = typeof a.note === 'string' ? a.note : null;
  return { action, actor: a.actor, note };
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
