import { ActivityFailure, ApplicationFailure, CancellationScope, allHandlersFinished, condition, isCancellation, workflowInfo } from '@temporalio/workflow';
import { AuditEventType } from '../domain/audit.js';
import { cancelByOperator, refuseUnauthenticated, type AuditDraft } from '../domain/decide.js';
import { OUTCOME_NOT_DELIVERED, outcome, outcomeFor, type Message, type OutcomeFailure } from '../domain/messages.js';
import { DecisionAction, RequestStatus, type AccessRequest, type NewRequestInput } from '../domain/request.js';
import { closedDetails } from '../domain/closing.js';
import { grantAndHold } from './request/access-window.js';
import { awaitDecisions, sendFirstNotice } from './request/approval-stages.js';
import { awaitReview, awaitsReview, grantEmergency, registerReviewHandler } from './request/break-glass.js';
import { registerDecisionHandlers } from './request/decision-handlers.js';
import { local, mustSucceed, notifications } from './request/proxies.js';
import { RequestRun, failureMessage } from './request/request-run.js';

/**
 * One access request, from filing to the end of its access: notify -> wait for decisions (stage by stage) or the
 * lifetime -> grant -> wait for the window or an early revoke -> revoke (always) -> audit exported.
 *
 * The input is trusted only as far as the API's signature over it goes, and the request id only as far as this run
 * owns it: a second run under a used id (started around the API) ends at once, granting nothing.
 */
export async function accessRequestWorkflow(input: NewRequestInput): Promise<AccessRequest> {
  const runId = workflowInfo().firstExecutionRunId;
  const run = new RequestRun(input, runId);
  registerDecisionHandlers(run);
  registerReviewHandler(run);

  let cancelledInTemporal = false;
  try {
    // The worker claims the id and verifies the API's signature over the input (node:crypto, outside the sandbox).
    const begun = await local.beginRequest({ requestId: input.id, runId, input });
    const ownsId = begun.owner === runId;
    run.open(ownsId);
    // A request that will wait for approvers tells them first, before any decision is taken in.
    const toldFirst = ownsId && begun.signed && run.state.status === RequestStatus.pending && !run.state.emergency;
    if (toldFirst) await sendFirstNotice(run);
    run.begun = true;
    if (!ownsId) run.commit(refuseUnauthenticated(run.state, 'request id already used by another run', new Date()));
    else if (!begun.signed) {
      run.commit(refuseUnauthenticated(run.state, 'request was not filed through the Lockbox API', new Date()));
    }
    // Break-glass: only once the API's signature (which covers `emergency`) has verified.
    if (run.state.status === RequestStatus.pending && run.state.emergency) grantEmergency(run);
    if (run.state.status === RequestStatus.pending) await awaitDecisions(run, toldFirst);
    if (run.state.status === RequestStatus.granting) {
      cancelledInTemporal = (await grantAndHold(run)).cancelled;
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelledInTemporal = true;
  }

  await CancellationScope.nonCancellable(async () => {
    run.open(true); // cancelled before the id was claimed: nothing was decided or granted
    if (cancelledInTemporal) run.commit(cancelByOperator(run.state, new Date()));
    // Approver messages still being sent (retried for minutes when a channel is down) hold the trail for a few seconds
    // at most (their own holds), not the end's events.
    if (run.sending > 0) run.endBegins();
    await Promise.all(run.inFlight);
    // Every trail ends with `request.closed` (the sweep writes it for a workflow closed from outside).
    const closed = () => ({ type: AuditEventType.requestClosed, actor: 'system' as const, details: closedDetails(run.state, cancelledInTemporal ? 'cancelled_in_temporal' : 'ended') });
    // Most requests end in one activity: the outcome, then the trail's last batch with `request.closed`.
    const reviewed = !cancelledInTemporal && awaitsReview(run);
    const untold = reviewed ? outcomeMessages(run.state) : await finishAtOnce(run, closed);
    if (untold) {
      // Those not told yet hear the outcome at once (one activity, retried; each group's failure is audited on its
      // own). The trail's last events wait for them (a few seconds at most), so they go out in one batch with
      // `request.closed`.
      const telling = run.holdingAudit(tellTheOutcome(run, untold));
      run.endBegins();
      await telling;
      // An emergency request stays open for its review (or until the review is overdue); not one cancelled in Temporal.
      if (reviewed) await awaitReview(run);
      await condition(allHandlersFinished);
      run.journal.record([closed()]);
    }
    await run.journal.drain();
  });
  return run.state;
}

/** A request's outcome: each group of direct recipients (see `outcomeMessages`), then the tenant's admins. */
interface OutcomeMessages {
  direct: Message[][];
  admins: Message | null;
}

/**
 * The request's end in one activity (`finishRequest`): once no handler runs, the outcome to everyone who hears it,
 * then the trail's last batch, `request.closed` included (a batch the sinks refused goes out the usual way, retried).
 * Null when everyone was told; otherwise `request.closed` is not recorded (an export was in flight, or a group was
 * not told in time) and the answer is who has not been told (every group unless the failure names the ones it could
 * not tell): the workflow goes the usual way with them.
 */
async function finishAtOnce(run: RequestRun, closed: () => AuditDraft): Promise<OutcomeMessages | null> {
  await condition(allHandlersFinished);
  const all = outcomeMessages(run.state);
  let untold = all;
  const done = await run.journal.finishWith(closed(), (events, version) => {
    run.endBegins();
    const record = run.recordAt(version);
    return mustSucceed.finishRequest({ ...all, events, ...(record ? { record } : {}) }).then(
      // The answer crosses from the activity: only `exported: true` counts the batch as out.
      (answer: unknown) => ((answer as { exported?: unknown } | null)?.exported === true ? 'exported' : 'recorded'),
      (err: unknown) => {
        untold = notTold(all, err);
        return null;
      },
    );
  });
  return done ? null : untold;
}

/** The groups of `all` that an outcome activity's failure names as not told; all of them when it names none. */
function notTold(all: OutcomeMessages, err: unknown): OutcomeMessages {
  const failed = failedGroups(err, all.direct.length + (all.admins ? 1 : 0));
  if (!failed) return all;
  const groups = new Set(failed.map((f) => f.group));
  return { direct: all.direct.filter((_, group) => groups.has(group)), admins: all.admins && groups.has(all.direct.length) ? all.admins : null };
}

/** Who hears a request's outcome: the requester; the approvers of a grant that failed; the tenant's admins. */
function outcomeMessages(state: AccessRequest): OutcomeMessages {
  const now = new Date();
  const direct: Message[][] = [[outcome(state, now)]];
  if (state.status === RequestStatus.failed && state.approvedAt !== null) {
    const approvers = [...new Set(state.decisions.filter((d) => d.action === DecisionAction.approve).map((d) => d.actor))];
    direct.push(outcomeFor(state, approvers, now));
  }
  const [admins] = outcomeFor(state, ['tenant admins'], now);
  return { direct: direct.filter((messages) => messages.length > 0), admins: admins ?? null };
}

/**
 * The outcome to those not told yet (at first: the requester, the approvers of a grant that failed, the tenant's
 * admins), in one activity; each group's failure is audited on its own.
 */
async function tellTheOutcome(run: RequestRun, { direct: groups, admins }: OutcomeMessages): Promise<void> {
  if (groups.length === 0 && !admins) return;
  try {
    await notifications.sendOutcome({ direct: groups, admins });
  } catch (err) {
    if (isCancellation(err)) throw err;
    const groupCount = groups.length + (admins ? 1 : 0);
    const audited = (group: number, error: string) => {
      const messages = groups[group];
      if (messages) return { recipients: messages.map((m) => m.recipient), kind: messages[0]?.kind, error };
      return { recipients: ['tenant admins'], kind: admins?.kind ?? 'outcome', error };
    };
    // The activity names each group that failed; a failure without that (a timeout) failed them all.
    const named = failedGroups(err, groupCount) ?? Array.from({ length: groupCount }, (_, group) => ({ group, error: failureMessage(err) }));
    run.journal.record(named.map((f) => ({ type: AuditEventType.notificationFailed, actor: 'system', details: audited(f.group, f.error) })));
  }
}

/**
 * The groups `sendOutcome` named as failed in its last attempt's failure, or null if it did not say (then every group
 * counts as failed: a failure is never left unaudited).
 */
function failedGroups(err: unknown, groupCount: number): OutcomeFailure[] | null {
  const cause = err instanceof ActivityFailure ? err.cause : null;
  if (!(cause instanceof ApplicationFailure) || cause.type !== OUTCOME_NOT_DELIVERED) return null;
  const [failed] = cause.details ?? [];
  if (!Array.isArray(failed)) return null;
  // Details cross from the activity: only well-formed entries count.
  const valid = failed.filter(
    (f): f is OutcomeFailure => Number.isInteger(f?.group) && f.group >= 0 && f.group < groupCount && typeof f?.error === 'string',
  );
  return valid.length > 0 ? valid : null;
}
