import { CancellationScope, condition, sleep } from '@temporalio/workflow';
import { AuditEventType } from '../../domain/audit.js';
import { expire } from '../../domain/decide.js';
import { escalate, escalationDueAt, escalationNotice, nextReminderAt, stageDeciders } from '../../domain/escalation.js';
import { approvalNeeded } from '../../domain/messages.js';
import type { RequestRun } from './request-run.js';

/**
 * Stage by stage: notify the stage's approvers (the first stage's were told already when `toldFirst`:
 * sendFirstNotice), remind the undecided (the tenant's `reminders`, else once), escalate a stage nobody decides
 * within the tenant's `escalation.after`, expire at the lifetime. Reminders and escalations follow the policy as
 * last signed (a settings change wakes the wait). The expiry has a timer of its own ({@link ExpiryTimer}), set once
 * in the first task and kept while the others come and go. Which timer fired decides what happens next, never a
 * re-read of the clock: a worker taking over from a dead one may run the activation of a timer that fired with the
 * previous task's time, which a replay does not (found by test/production/replicas.test.ts), so a branch on the
 * clock there would not replay.
 */
export async function awaitDecisions(run: RequestRun, toldFirst: boolean): Promise<void> {
  const sent = { inStage: 0, total: 0 };
  let stageSince = Date.parse(run.state.createdAt);
  let stage = run.state.stage;
  if (!toldFirst) notifyStage(run);
  const expiry = new ExpiryTimer(Date.parse(run.state.expiresAt));
  try {
    while (run.awaitingDecision()) {
      if (expiry.due) {
        run.commit(expire(run.state, new Date()));
        return;
      }
      const { decisions } = run.state;
      const policy = run.latestPolicy;
      const nudge = nextNudge(run, policy, stageSince, sent, expiry.at);
      // No reminder or escalation before the expiry: no timer here (the expiry's own wakes the wait).
      const wait = nudge === null ? null : Math.max(0, nudge.at - Date.now());
      const changed =
        wait !== 0 &&
        ((await condition(
          () => expiry.due || !run.awaitingDecision() || run.state.stage !== stage || run.state.decisions !== decisions || run.latestPolicy !== policy,
          wait ?? undefined,
        )) ??
          true);
      if (changed) {
        if (run.awaitingDecision() && run.state.stage !== stage) {
          stage = run.state.stage;
          stageSince = Date.now();
          sent.inStage = 0;
          notifyStage(run);
        }
      } else if (nudge?.what === 'escalate') {
        escalateStage(run);
      } else {
        sent.inStage += 1;
        sent.total += 1;
        await remindNow(run, sent.inStage);
      }
    }
  } finally {
    expiry.cancel();
  }
}

/** The stage's next reminder or escalation, whichever is first, if it comes before the expiry; else null. */
function nextNudge(run: RequestRun, policy: RequestRun['latestPolicy'], stageSince: number, sent: { inStage: number; total: number }, expiresAt: number) {
  const remindAt = nextReminderAt(run.state, policy, stageSince, sent);
  const escalateAt = escalationDueAt(run.state, policy, stageSince);
  const due = [
    { what: 'escalate' as const, at: escalateAt },
    { what: 'remind' as const, at: remindAt },
  ].filter((t): t is { what: 'escalate' | 'remind'; at: number } => t.at !== null && t.at < expiresAt);
  return due.reduce<(typeof due)[number] | null>((a, t) => (a === null || t.at < a.at ? t : a), null);
}

/**
 * A pending request's expiry: one timer, set in the request's first task and kept while reminders and escalations
 * come and go. Set again from a later task, it would fall due late by that task's length (the server starts a timer
 * when its task completes; its length counts from the task's start), and a burst of reminders makes those tasks
 * seconds long. Counted from workflow time (the server's clock), it never fires before `expiresAt`.
 */
class ExpiryTimer {
  /** The timer fired (or `expiresAt` had passed when it was to be set). */
  due = false;
  private readonly scope = new CancellationScope();

  constructor(readonly at: number) {
    this.due = Date.now() >= at;
    if (this.due) return;
    this.scope.run(() => sleep(at - Date.now())).then(
      () => {
        this.due = true;
      },
      () => undefined, // cancelled: the wait is over, or the workflow was cancelled (handled where it waits)
    );
  }

  /** The request no longer waits: a timer still running is cancelled (in the task that ends the wait). */
  cancel(): void {
    this.scope.cancel();
  }
}

/** `request.escalated` once for the stage; its escalation list (minus the requester and who decided) is told. */
function escalateStage(run: RequestRun): void {
  run.commit(escalate(run.state, run.latestPolicy, new Date()));
  const { state } = run;
  const latest = state.escalations?.at(-1);
  if (!state.stage || !latest || latest.stage !== state.stage) return;
  const decided = new Set(state.decisions.map((d) => d.actor));
  const recipients = latest.to.filter((a) => !decided.has(a));
  run.send(escalationNotice(state, recipients, new Date()), {
    type: AuditEventType.approversNotified,
    actor: 'system',
    details: { kind: 'escalated', stage: state.stage, recipients },
  });
}

/**
 * The first stage's approvers hear of the request before the workflow takes in any decision, at once (a local
 * activity in the request's first workflow task: RequestRun.sendNow).
 */
export async function sendFirstNotice(run: RequestRun): Promise<void> {
  const notice = stageNotice(run, 'approval_needed');
  if (notice) await run.sendNow(notice.messages, notice.onSuccess);
}

/**
 * A reminder from the workflow task its timer fired in (a local activity, like the first notice: RequestRun.sendNow),
 * so that it costs one workflow task and one export instead of three workflow tasks and two activities. A decision
 * arriving meanwhile waits for it (at most FIRST_NOTICE_WITHIN_MS, on a slow channel).
 */
async function remindNow(run: RequestRun, seq: number): Promise<void> {
  const notice = stageNotice(run, 'reminder', seq);
  if (notice) await run.sendNow(notice.messages, notice.onSuccess, new Date().toISOString());
}

/** The stage's approvers told in the background (a stage reached after the first; the first when not told at once). */
function notifyStage(run: RequestRun): void {
  const notice = stageNotice(run, 'approval_needed');
  if (notice) run.send(notice.messages, notice.onSuccess);
}

/**
 * Who may decide the current stage (policy as last known, with its escalation list once escalated), minus the
 * requester and, for reminders, those who decided; the messages and the event their delivery records.
 */
function stageNotice(run: RequestRun, kind: 'approval_needed' | 'reminder', seq = 1) {
  const { state } = run;
  if (!state.stage) return null;
  const decided = new Set(state.decisions.map((d) => d.actor));
  const recipients = stageDeciders(state, run.latestPolicy, state.stage).filter(
    (a) => a !== state.requester && (kind === 'approval_needed' || !decided.has(a)),
  );
  const type = kind === 'reminder' ? AuditEventType.approversReminded : AuditEventType.approversNotified;
  const details = { stage: state.stage, recipients, ...(seq > 1 ? { reminder: seq } : {}) };
  return { messages: approvalNeeded(state, recipients, new Date(), kind, seq), onSuccess: { type, actor: 'system' as const, details } };
}
