import type { Client } from '@temporalio/client';
import type { Readiness } from '../api/deps.js';

/** Proto enum values (TASK_QUEUE_KIND_NORMAL, TASK_QUEUE_TYPE_WORKFLOW); the proto package is CommonJS-only. */
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;

/** A worker that polled within this window counts as alive. */
const POLLER_FRESH_MS = 90_000;

/** Ready when Temporal answers and some worker polls the task queue. */
export function temporalReadiness(client: Client, namespace: string, taskQueue: string): () => Promise<Readiness> {
  return async () => {
    const checks: Record<string, string> = {};
    try {
      await client.workflowService.getSystemInfo({});
      checks.temporal = 'ok';
      const tq = await client.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
        taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
      });
      const fresh = (tq.pollers ?? []).some((p) => {
        const seconds = Number(p.lastAccessTime?.seconds ?? 0);
        return Date.now() - seconds * 1000 < POLLER_FRESH_MS;
      });
      checks.worker = fresh ? 'ok' : 'no worker polls the task queue';
    } catch (err) {
      checks.temporal ??= `unreachable: ${err instanceof Error ? err.message.slice(0, 200) : 'error'}`;
    }
    return { ok: checks.temporal === 'ok' && checks.worker === 'ok', checks };
  };
}
