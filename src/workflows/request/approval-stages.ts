import { condition } from '@temporalio/workflow';
import { AuditEventType } from '../../domain/audit.js';
import { expire } from '../../domain/decide.js';
import { approvalNeeded } from '../../domain/messages.js';
import { reminderAt, stageRule } from '../../domain/policy.js';
import type { RequestRun } from './request-run.js';

/**
 * Stage by stage: notify the stage's approvers, remind the undecided once, expire at the lifetime. Which timer
 * fired decides what happens next, never a re-read of the clock (a worker taking over from a dead one may run an
 * activation with the previous task's time).
 */
export async function awaitDecisions(run: RequestRun): Promise<void> {
  let reminded = false;
  notifyStage(run, 'approval_needed');
  while (run.awaitingDecision()) {
    const stage = run.state.stage;
    const expiry = Date.parse(run.state.expiresAt);
    const remindAt = reminded ? expiry : Math.min(expiry, reminderAt(run.state.createdAt, run.state.expiresAt));
    const reminderTimer = !reminded && remindAt < expiry;
    const wait = remindAt - Date.now();
    const changed = wait > 0 && (await condition(() => !run.awaitingDecision() || run.state.stage !== stage, wait));
    if (changed) {
      if (run.awaitingDecision()) notifyStage(run, 'approval_needed');
    } else if (reminderTimer) {
      reminded = true;
      notifyStage(run, 'reminder');
    } else {
      run.commit(expire(run.state, new Date()));
    }
  }
}

/** Approvers of the current stage (policy as last known), minus the requester and, for reminders, those who decided. */
function notifyStage(run: RequestRun, kind: 'approval_needed' | 'reminder'): void {
  const { state } = run;
  if (!state.stage) return;
  const decided = new Set(state.decisions.map((d) => d.actor));
  const recipients = stageRule(run.latestPolicy, state.stage).approvers.filter(
    (a) => a !== state.requester && (kind === 'approval_needed' || !decided.has(a)),
  );
  const type = kind === 'reminder' ? AuditEventType.approversReminded : AuditEventType.approversNotified;
  run.send(approvalNeeded(state, recipients, new Date(), kind), { type, actor: 'system', details: { stage: state.stage, recipients } });
}
