import type { Client } from '@temporalio/client';

/** Where an expiry's lateness comes from, in ms per request sampled. */
export interface ExpiryBreakdown {
  /** How late our workflow set the expiry timer, against the request's expiresAt. */
  timerDueAfterExpiresAtMs: number[];
  /** How late the engine fired it. */
  engineFiredLateMs: number[];
  /** How long until a worker picked up the workflow task the timer caused. */
  pickupAfterFireMs: number[];
}

/** Reads the histories of `requests` (read-only, until `deadline`) and splits each expiry's lateness into its parts. */
export async function expiryBreakdown(client: Client, requests: Array<{ id: string; expiresAt: number }>, deadline: number): Promise<ExpiryBreakdown> {
  const breakdown: ExpiryBreakdown = { timerDueAfterExpiresAtMs: [], engineFiredLateMs: [], pickupAfterFireMs: [] };
  for (const s of requests) {
    if (Date.now() > deadline) break;
    try {
      const events = (await client.workflow.getHandle(s.id).fetchHistory()).events ?? [];
      const at = (e: (typeof events)[number]) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
      let firedIdx = -1;
      events.forEach((e, k) => {
        if (e.timerFiredEventAttributes) firedIdx = k;
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
    } catch {
      // a history we cannot read leaves no sample
    }
  }
  return breakdown;
}
