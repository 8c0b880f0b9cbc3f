import type { Client } from '@temporalio/client';
import type { ReconcileInput, ReconcileReport } from '../domain/reconcile.js';

/** The reconciler's schedule: one per task queue, so each Lockbox installation reconciles its own targets. */
export function reconcileScheduleId(taskQueue: string): string {
  return `lockbox-reconciler-${taskQueue}`;
}

/** On-demand runs share one workflow id: a second call while one runs waits for that run instead of starting another. */
export function reconcileNowWorkflowId(taskQueue: string): string {
  return `lockbox-reconcile-now-${taskQueue}`;
}

/** A run finished (its report), or is still going after the wait (look it up by workflow id). */
export type ReconcileNow = { done: true; report: ReconcileReport } | { done: false; workflowId: string };

/**
 * Runs the reconciler now, with the same input as the schedule (so the workers' drift mode applies), and waits up
 * to `waitMs` for its report. Several calls at once share one run.
 */
export async function runReconcileNow(client: Client, taskQueue: string, waitMs: number): Promise<ReconcileNow> {
  const workflowId = reconcileNowWorkflowId(taskQueue);
  const handle = await client.workflow.start('reconcileWorkflow', {
    workflowId,
    taskQueue,
    args: [await scheduledInput(client, taskQueue)],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), waitMs);
  });
  try {
    const report = (await Promise.race([handle.result(), late])) as ReconcileReport | null;
    return report ? { done: true, report } : { done: false, workflowId };
  } finally {
    clearTimeout(timer);
  }
}

/** The schedule's input (set by the workers from their configuration); the default when there is no schedule yet. */
async function scheduledInput(client: Client, taskQueue: string): Promise<ReconcileInput> {
  try {
    const described = await client.schedule.getHandle(reconcileScheduleId(taskQueue)).describe();
    const [input] = described.action.type === 'startWorkflow' ? (described.action.args ?? []) : [];
    return typeof input === 'object' && input !== null ? (input as ReconcileInput) : {};
  } catch {
    return {};
  }
}
