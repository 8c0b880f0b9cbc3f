import { condition } from '@temporalio/workflow';
import { AuditEventType } from '../../domain/audit.js';
import { expire } from '../../domain/decide.js';
import { escalate, escalationDueAt, escalationNotice, nextReminderAt, stageDeciders } from '../../domain/escalation.js';
import { approvalNeeded } from '../../domain/messages.js';
import type { RequestRun } from './request-run.js';

/**
 * Stage by stage: notify the stage's approvers (the first stage's were told already when `toldFirst`:
 * sendFirstNotice), remind the undecided (the tenant's `reminders`, else once), escalate a stage nobody decides
 * within the tenant's `escalation.after`, expire at the lifetime. Timers follow the policy as
 * last signed (a settings change wakes the wait). Which timer fired decides what happens next, never a re-read of
 * the clock (a worker taking over from a dead one may run an activation with the previous task's time).
 */
export async function awaitDecisions(run: RequestRun, toldFirst: boolean): Promise<void> {
  const sent = { inStage: 0, total: 0 };
  let stageSince = Date.parse(run.state.createdAt);
  if (!toldFirst) notifyStage(run, 'approval_needed');
  while (run.awaitingDecision()) {
    const { stage, decisions } = run.state;
    const policy = run.latestPolicy;
    const expiry = Date.parse(run.state.expiresAt);
    const remindAt = nextReminderAt(run.state, policy, stageSince, sent);
    const escalateAt = escalationDueAt(run.state, policy, stageSince);
    const timer = [
      { what: 'escalate' as const, at: escalateAt },
      { what: 'remind' as const, at: remindAt },
    ].reduce<{ what: 'escalate' | 'remind' | 'expire'; at: number }>((a, t) => (t.at !== null && t.at < a.at ? { what: t.what, at: t.at } : a), { what: 'expire', at: expiry });
    const wait = timer.at - Date.now();
    const changed =
      wait > 0 &&
      (await condition(
        () => !run.awaitingDecision() || run.state.stage !== stage || run.state.decisions !== decisions || run.latestPolicy !== policy,
        wait,
      ));
    if (changed) {
      if (run.awaitingDecision() && run.state.stage !== stage) {
        stageSince = Date.now();
        sent.inStage = 0;
        notifyStage(run, 'approval_needed');
      }
    } else if (timer.what === 'escalate') {
      escalateStage(run);
    } else if (timer.what === 'remind') {
      sent.inStage += 1;
      sent.total += 1;
      notifyStage(run, 'reminder', sent.inStage);
    } else {
      run.commit(expire(run.state, new Date()));
    }
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

function notifyStage(run: RequestRun, kind: 'approval_needed' | 'reminder', seq = 1): void {
  const notice = stageNotice(run, kind, seq);
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
