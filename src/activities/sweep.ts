import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { AuditEvent } from '../domain/audit.js';
import { completeTrail, type ClosedHow } from '../domain/closing.js';
import { endedOutsideWorkflow } from '../domain/reconcile.js';
import type { AccessRequest } from '../domain/request.js';
import * as defs from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { keepRecord } from './records.js';

/** Tells Temporal the sweep is alive; outside an activity (a test calling it directly) there is nobody to tell. */
function heartbeat(progress: number): void {
  try {
    Context.current().heartbeat(progress);
  } catch {
    // not in an activity
  }
}

/** How far back the sweep looks for requests closed from outside (well inside the namespace's retention). */
const LOOK_BACK_MS = 7 * 24 * 3_600_000;
/** At most this many such requests per run; the next run takes the rest. */
const MAX_PER_RUN = 200;

/**
 * The sweep (part of each reconcile): a request whose workflow was terminated or timed out in Temporal stopped
 * before it exported all of its trail and before `request.closed`. Its recorded events are still readable (a query
 * replays the closed workflow's history), so the sweep exports whatever the sink lacks, with the same ids, and then
 * `request.closed` (how: terminated / timed_out). A request whose trail already ends is skipped.
 */
export function createSweepActivities(deps: Pick<ActivityDeps, 'audit' | 'log' | 'store'>, opts: { temporal?: () => Client; taskQueue?: () => string } = {}) {
  const temporal = opts.temporal ?? (() => Context.current().client);
  // Only this deployment's requests (its task queue), as the reconciler's own listing: another deployment's
  // workflows in the namespace are not ours to close, export or record, and nobody here can replay them.
  const taskQueue = opts.taskQueue ?? (() => Context.current().info.taskQueue);
  return {
    async sweepEndedRequests(): Promise<{ events: AuditEvent[]; swept: string[] }> {
      const client = temporal();
      const since = new Date(Date.now() - LOOK_BACK_MS).toISOString();
      const queue = taskQueue();
      if (!/^[\w.:/@+-]+$/.test(queue)) throw new Error('unsafe task queue name in visibility query');
      const query = `WorkflowType = 'accessRequestWorkflow' AND TaskQueue = '${queue}' AND ExecutionStatus IN ('Terminated', 'TimedOut') AND CloseTime > '${since}'`;
      const events: AuditEvent[] = [];
      const swept: string[] = [];
      for await (const info of client.workflow.list({ query, pageSize: 100 })) {
        if (swept.length >= MAX_PER_RUN) break;
        const stored = await deps.audit.listByRequest(info.workflowId);
        if (stored.some((e) => e.type === 'request.closed')) continue;
        const handle = client.workflow.getHandle(info.workflowId, info.runId);
        // A workflow nobody can replay now (its task queue has no worker: another deployment's, or a test's) is
        // left for a later run; it must not stop the others from being closed.
        const read = await Promise.all([handle.query(defs.getAuditQuery), handle.query(defs.getRequestQuery)]).catch((err: unknown) => {
          deps.log.warn('sweep: could not read a closed request', { requestId: info.workflowId, error: err instanceof Error ? err.message : String(err) });
          return null;
        });
        if (!read) continue;
        const [recorded, state] = read;
        const how: ClosedHow = info.status.name === 'TIMED_OUT' ? 'timed_out' : 'terminated';
        const ended: AccessRequest = endedOutsideWorkflow(state, { status: info.status.name, closedAt: info.closeTime?.toISOString() ?? null });
        const completed = completeTrail(recorded, new Set(stored.map((e) => e.id)), ended, how, info.closeTime ?? new Date());
        events.push(...completed);
        // The record closes with the trail, holding every event the workflow recorded (the store keeps each once).
        const closing = completed.filter((e) => !recorded.some((r) => r.id === e.id));
        await keepRecord(deps, [...recorded, ...closing], { request: ended, version: recorded.length + closing.length }, null);
        swept.push(info.workflowId);
        heartbeat(swept.length);
      }
      if (swept.length > 0) deps.log.info('swept requests closed outside their workflow', { count: swept.length });
      return { events, swept };
    },
  };
}
