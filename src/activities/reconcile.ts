import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { DriftMode, ReconcileReport, TargetRef } from '../domain/reconcile.js';
import { EMPTY_CATALOG } from '../domain/resources.js';
import { Registry } from 'prom-client';
import type { ActivityDeps } from './deps.js';
import { createReconcileMetrics, type ReconcileMetrics } from './metrics.js';
import type { ReconcileContext } from './reconcile-context.js';
import { checkDrift } from './reconcile-drift.js';
import { listActiveRequestIds } from './reconcile-lookup.js';
import { reconcileTarget, reconcileTargets } from './reconcile-targets.js';

/** At most this many active requests are checked for drift per run. */
const MAX_ACTIVE = 5_000;

export interface ReconcileOptions {
  metrics?: ReconcileMetrics;
  /** The worker's environment: a target is reconciled only where its connection variable is really set. */
  env?: (name: string) => string | undefined;
  /** Test seam; default the worker's own client (activity context). */
  temporal?: () => Client;
}

/**
 * The reconciler's activities (docs/reconcile.md). They compare what Lockbox granted at each target with the
 * requests that really hold access, revoke what nobody owns (verified, audited `access.orphan_revoked` under a
 * deterministic id, so concurrent runs audit it once) and report drift (`access.drift_detected`).
 * The target side is in reconcile-targets.ts, the drift check in reconcile-drift.ts.
 */
export function createReconcileActivities(deps: ActivityDeps, opts: ReconcileOptions = {}) {
  const ctx: ReconcileContext = {
    deps,
    metrics: opts.metrics ?? deps.reconcileMetrics ?? createReconcileMetrics(new Registry()),
    catalog: deps.targets ?? EMPTY_CATALOG,
    env: opts.env ?? ((name: string) => process.env[name]),
    temporal: opts.temporal ?? (() => Context.current().client),
    heartbeat: () => {
      try {
        Context.current().heartbeat();
      } catch {
        // Outside an activity (tests): nothing to report to.
      }
    },
  };

  return {
    /** Lockbox's built-in store plus every declared target (reconcile-targets.ts). */
    reconcileTargets: async (): Promise<TargetRef[]> => reconcileTargets(ctx),
    /** Ids of this task queue's running requests that visibility lists as active (read BEFORE any target is listed). */
    listActiveRequests: async (): Promise<string[]> => listActiveRequestIds(ctx.temporal(), Context.current().info.taskQueue, MAX_ACTIVE),
    /** Lists what Lockbox granted at one target and revokes what no running request owns. */
    reconcileTarget: async (input: { ref: TargetRef }) => reconcileTarget(ctx, input),
    /** Active requests no target listed, checked for drift (reconcile-drift.ts). */
    checkDrift: async (input: { candidates: string[]; refs: TargetRef[]; drift: DriftMode }) => checkDrift(ctx, input),
    recordReconcileOutcome: async (report: ReconcileReport): Promise<void> => recordReconcileOutcome(ctx, report),
  };
}

/** Metrics and a summary log line per run; a failed run is an error line and a counted failure, every time. */
async function recordReconcileOutcome({ deps, metrics }: ReconcileContext, report: ReconcileReport): Promise<void> {
  const failedTargets = report.targets.filter((t) => t.error);
  const failedOrphans = report.targets.flatMap((t) => t.orphans.filter((o) => o.outcome === 'failed'));
  if (failedTargets.length) metrics.failures.inc({ stage: 'target' }, failedTargets.length);
  if (failedOrphans.length) metrics.failures.inc({ stage: 'orphan' }, failedOrphans.length);
  if (report.errors.length) metrics.failures.inc({ stage: 'run' }, report.errors.length);
  const summary = {
    targets: report.targets.length,
    orphansRevoked: report.targets.reduce((n, t) => n + t.orphans.filter((o) => o.outcome === 'revoked').length, 0),
    drift: report.targets.reduce((n, t) => n + t.drift.length, 0),
  };
  metrics.notReconcilable.set(report.targets.filter((t) => t.notReconcilable).length);
  if (report.ok) {
    metrics.lastSuccess.set(Date.parse(report.finishedAt) / 1000);
    deps.log.info('reconcile done', summary);
  } else {
    deps.log.error('reconcile failed', {
      ...summary,
      errors: [...report.errors, ...failedTargets.map((t) => `${t.target}: ${t.error}`), ...failedOrphans.map((o) => `${o.requestId}: ${o.error}`)],
    });
  }
}
