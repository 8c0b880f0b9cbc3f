/**
 * How big a worker is allowed to get (docs/capacity.md): the LOCKBOX_WORKER_* settings, part of the one
 * configuration schema (index.ts takes {@link WorkerSizingEnv} in). Left unset, the SDK's defaults apply, which size
 * the workflow cache from the heap limit and can hold far more workflows than a small machine has memory for.
 */
import { z } from 'zod';
import { unsetIfEmpty } from './env-values.js';

/** What the worker is created with; absent fields: the SDK's default. */
export interface WorkerSizing {
  /** Workflows kept in memory between tasks (sticky cache); others replay from history on their next task. */
  maxCachedWorkflows?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentLocalActivityExecutions?: number;
}

/**
 * Memory a cached request workflow takes in the worker, measured by `npm run bench` (docs/bench.md, "10,000
 * pending"): about 350 KiB per pending request on top of the process; rounded up for margin.
 */
export const CACHED_WORKFLOW_BYTES = 512 * 1024;
/**
 * What the process needs besides the cache: V8, the SDK's core, the workflow bundle, the activities (and the API when
 * it shares the process, as `npm start` runs it). The test suite's stacks run at 250-420 MiB RSS with a few hundred
 * workflows cached, so the budget keeps 256 MiB aside.
 */
export const WORKER_BASE_BYTES = 256 * 1024 * 1024;

const count = (max: number) => z.preprocess(unsetIfEmpty, z.coerce.number().int('must be a whole number').min(1).max(max).optional());

export const WorkerSizingEnv = {
  /** Worker: the memory the worker may use, in MiB; the workflow cache is sized from it (docs/capacity.md). */
  LOCKBOX_WORKER_MEMORY_MB: z.preprocess(unsetIfEmpty, z.coerce.number().int('must be a whole number of MiB').min(384, 'must be at least 384 (MiB)').max(1_048_576).optional()),
  /** Worker: workflows kept in memory; overrides what LOCKBOX_WORKER_MEMORY_MB gives. */
  LOCKBOX_WORKER_MAX_CACHED_WORKFLOWS: count(1_000_000),
  /** Worker: workflow tasks run at once. */
  LOCKBOX_WORKER_WORKFLOW_TASKS: count(10_000),
  /** Worker: activities (grants, revokes, notifications, audit export) run at once. */
  LOCKBOX_WORKER_ACTIVITIES: count(10_000),
  /** Worker: local activities run at once. */
  LOCKBOX_WORKER_LOCAL_ACTIVITIES: count(10_000),
};

type SizingValues = { [K in keyof typeof WorkerSizingEnv]?: number };

/** The worker's sizing from its settings: an explicit cache size wins, else the memory budget gives one. Pure. */
export function workerSizingOf(e: SizingValues): WorkerSizing {
  const fromBudget =
    e.LOCKBOX_WORKER_MEMORY_MB === undefined
      ? undefined
      : Math.max(1, Math.floor((e.LOCKBOX_WORKER_MEMORY_MB * 1024 * 1024 - WORKER_BASE_BYTES) / CACHED_WORKFLOW_BYTES));
  const cached = e.LOCKBOX_WORKER_MAX_CACHED_WORKFLOWS ?? fromBudget;
  return {
    ...(cached !== undefined ? { maxCachedWorkflows: cached } : {}),
    ...(e.LOCKBOX_WORKER_WORKFLOW_TASKS !== undefined ? { maxConcurrentWorkflowTaskExecutions: e.LOCKBOX_WORKER_WORKFLOW_TASKS } : {}),
    ...(e.LOCKBOX_WORKER_ACTIVITIES !== undefined ? { maxConcurrentActivityTaskExecutions: e.LOCKBOX_WORKER_ACTIVITIES } : {}),
    ...(e.LOCKBOX_WORKER_LOCAL_ACTIVITIES !== undefined ? { maxConcurrentLocalActivityExecutions: e.LOCKBOX_WORKER_LOCAL_ACTIVITIES } : {}),
  };
}
