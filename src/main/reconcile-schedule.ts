import { Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Connection, type ScheduleDescription } from '@temporalio/client';
import { reconcileScheduleId } from '../client/reconcile.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../config/logger.js';
import type { ReconcileInput } from '../domain/reconcile.js';
import { connectClient } from './connection.js';

/** A run that takes longer than this is ended, so a stuck run cannot hold the schedule (overlap: skip) forever. */
const RUN_TIMEOUT = '15m';

export interface ReconcileScheduleOptions {
  taskQueue: string;
  intervalMs: number;
  input: ReconcileInput;
}

/**
 * Creates the reconciler's schedule if it does not exist, else brings its interval, overlap policy and input in line
 * with this worker's configuration. Every worker calls it at start-up; the schedule id makes it one per task queue,
 * and overlap SKIP means replicas never run two reconciles of it at once. Returns what it did.
 */
export async function ensureReconcileSchedule(client: Client, opts: ReconcileScheduleOptions): Promise<'created' | 'updated' | 'unchanged'> {
  const scheduleId = reconcileScheduleId(opts.taskQueue);
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'reconcileWorkflow',
    workflowId: scheduleId,
    taskQueue: opts.taskQueue,
    args: [opts.input],
    workflowExecutionTimeout: RUN_TIMEOUT,
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: opts.intervalMs };
  try {
    await client.schedule.create({ scheduleId, spec: { intervals: [{ every: opts.intervalMs }] }, action, policies });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(scheduleId);
  if (isCurrent(await handle.describe(), opts)) return 'unchanged';
  await handle.update((prev) => ({
    ...prev,
    spec: { intervals: [{ every: opts.intervalMs }] },
    action,
    policies: { ...prev.policies, ...policies },
  }));
  return 'updated';
}

function isCurrent(d: ScheduleDescription, opts: ReconcileScheduleOptions): boolean {
  const intervals = d.spec.intervals ?? [];
  return (
    intervals.length === 1 &&
    intervals[0]?.every === opts.intervalMs &&
    (d.spec.calendars ?? []).length === 0 &&
    d.policies.overlap === ScheduleOverlapPolicy.SKIP &&
    d.action.type === 'startWorkflow' &&
    d.action.workflowType === 'reconcileWorkflow' &&
    d.action.taskQueue === opts.taskQueue &&
    JSON.stringify(d.action.args) === JSON.stringify([opts.input])
  );
}

/**
 * Worker start-up: ensures the schedule over its own short-lived connection. A failure is logged loudly and does
 * not stop the worker (requests must keep running); the next start-up tries again.
 */
export async function ensureReconcileScheduleAtStart(config: Config, address: string, log: Logger): Promise<void> {
  let connection: Connection | undefined;
  try {
    connection = await connectClient(config, address);
    const client = new Client({ connection, namespace: config.namespace });
    const { intervalMs, drift } = config.reconcile;
    const did = await ensureReconcileSchedule(client, { taskQueue: config.taskQueue, intervalMs, input: { drift } });
    log.info('reconciler schedule ready', { scheduleId: reconcileScheduleId(config.taskQueue), intervalMs, drift, change: did });
  } catch (err) {
    log.error('reconciler schedule could not be ensured: orphaned access is not reconciled until it is', {
      scheduleId: reconcileScheduleId(config.taskQueue),
      error: err instanceof Error ? err.message : String(err),
    });
  } finally {
    await connection?.close().catch(() => undefined);
  }
}
