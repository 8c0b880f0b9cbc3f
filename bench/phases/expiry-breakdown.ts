import type { Client } from '@temporalio/client';

/** Where an expiry's lateness comes from, in ms per request sampled. */
export interface ExpiryBreakdown {
  /** How late our workflow set the expiry timer, against the request's expiresAt. */
  timerDueAfterExpiresAtMs: number[];
  /** How late the engine fired it. */
  engineFiredLateMs: number[];
  /** How long until a worker picked up the workflow task the timer caused. */
  pickupAfterFireMs: number[];
  /**
   * How long the workflow task that set the expiry timer ran (started -> completed on the server's clock): the server
   * starts a timer when its task completes, so a timer set from the task's time is due late by up to this much.
   */
  settingTaskMs: number[];
}

/** Reads the histories of `requests` (read-only, until `deadline`) and splits each expiry's lateness into its parts. */
export async function expiryBreakdown(client: Client, requests: Array<{ id: string; expiresAt: number }>, deadline: number): Promise<ExpiryBreakdown> {
  const breakdown: ExpiryBreakdown = { timerDueAfterExpiresAtMs: [], engineFiredLateMs: [], pickupAfterFireMs: [], settingTaskMs: [] };
  for (const s of requests) {
    if (Date.now() > deadline) break;
    try {
      const events = (await client.workflow.getHandle(s.id).fetchHistory()).events ?? [];
      const at = (e: (typeof events)[number]) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
      // The expiry's timer: the last one fired before the task that set the status to expired (later timers are the
      // audit trail's holds, which fire when the outcome notification is slow).
      const expiredIdx = events.findIndex((e) => statusSet(e) === 'expired');
      let firedIdx = -1;
      events.forEach((e, k) => {
        if (e.timerFiredEventAttributes && (expiredIdx < 0 || k < expiredIdx)) firedIdx = k;
      });
      if (firedIdx < 0) continue;
      const fired = events[firedIdx]!;
      const started = events.find((e) => Number(e.eventId) === Number(fired.timerFiredEventAttributes!.startedEventId));
      const wft = events.slice(firedIdx).find((e) => !!e.workflowTaskStartedEventAttributes);
      const timeout = started?.timerStartedEventAttributes?.startToFireTimeout;
      if (!started || !wft || !timeout) continue;
      const due = at(started) + Number(timeout.seconds ?? 0) * 1000 + Math.floor((timeout.nanos ?? 0) / 1e6);
      breakdown.timerDueAfterExpiresAtMs.push(due - s.expiresAt);
      breakdown.engineFiredLateMs.push(at(fired) - due);
      breakdown.pickupAfterFireMs.push(at(wft) - at(fired));
      const completedId = Number(started.timerStartedEventAttributes!.workflowTaskCompletedEventId);
      const completed = events.find((e) => Number(e.eventId) === completedId);
      const taskStarted = events.find((e) => Number(e.eventId) === Number(completed?.workflowTaskCompletedEventAttributes?.startedEventId));
      if (completed && taskStarted) breakdown.settingTaskMs.push(at(completed) - at(taskStarted));
    } catch {
      // a history we cannot read leaves no sample
    }
  }
  return breakdown;
}

/** The LockboxStatus an upsert of search attributes sets, if it is one. */
function statusSet(e: { upsertWorkflowSearchAttributesEventAttributes?: { searchAttributes?: { indexedFields?: Record<string, { data?: Uint8Array | null }> | null } | null } | null }): string | null {
  const data = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.LockboxStatus?.data;
  if (!data) return null;
  try {
    return JSON.parse(Buffer.from(data).toString('utf8')) as string;
  } catch {
    return null;
  }
}
