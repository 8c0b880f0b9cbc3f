import { AuditEventType, buildAuditEvent, type AuditEvent } from './audit.js';
import type { AccessRequest } from './request.js';

/** How a request's trail came to its end. */
export type ClosedHow = 'ended' | 'cancelled_in_temporal' | 'terminated' | 'timed_out';

/** The `request.closed` draft the workflow records last: the final status and how the request ended. */
export function closedDetails(state: AccessRequest, how: ClosedHow): Record<string, unknown> {
  return { status: state.status, how, endedAt: state.endedAt, failure: state.failure };
}

/**
 * What the sweep exports for a request whose workflow was closed from outside (terminated, timed out) before its
 * trail was complete: every event it had recorded that the sink does not hold (same ids, so a sink that has one
 * keeps it once), then `request.closed` with the next seq. Nothing when the trail already ends with it. Pure.
 */
export function completeTrail(
  recorded: readonly AuditEvent[],
  storedIds: ReadonlySet<string>,
  ended: AccessRequest,
  how: ClosedHow,
  now: Date,
): AuditEvent[] {
  if (recorded.some((e) => e.type === AuditEventType.requestClosed)) return recorded.filter((e) => !storedIds.has(e.id));
  const missing = recorded.filter((e) => !storedIds.has(e.id));
  const last = recorded.at(-1);
  const closed = buildAuditEvent({
    requestId: last?.requestId ?? ended.id,
    tenant: ended.tenant,
    seq: (last?.seq ?? 0) + 1,
    time: now,
    type: AuditEventType.requestClosed,
    actor: 'system',
    details: closedDetails(ended, how),
  });
  return [...missing, closed];
}
