import { isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  failedTarget,
  finishReport,
  skippedTarget,
  type HeldAccess,
  type ReconcileInput,
  type ReconcileReport,
  type TargetRef,
  type TargetReport,
} from '../domain/reconcile.js';

/** Listing and checking one target: a few attempts, then the run reports it failed and the next run tries again. */
const checks = proxyActivities<Activities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '2s', maximumInterval: '20s', maximumAttempts: 3 },
});
/** Audit export retries until it succeeds: a revoked orphan's event must not be lost while a sink is down. */
const mustSucceed = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s', backoffCoefficient: 2 },
});

/**
 * One reconcile (docs/reconcile.md), run by the `lockbox-reconciler-<taskQueue>` schedule and on demand: for each
 * grant target in use, revoke access no running request owns, report (or restore) access an active request lost.
 * A target that fails does not stop the others; the report says what failed, and the run records its outcome.
 */
export async function reconcileWorkflow(input: ReconcileInput = {}): Promise<ReconcileReport> {
  const drift = input.drift ?? 'fail';
  const startedAt = new Date().toISOString();
  const errors: string[] = [];
  const targets: TargetReport[] = [];

  const refs = await attempt(() => checks.reconcileTargets(), 'listing grant targets', errors);
  // Read before any target is listed, so access granted in between is never taken for drift.
  const held = await attempt(() => checks.listHeldAccess(), 'listing active requests (drift not checked)', errors);

  for (const ref of refs ?? []) {
    if (ref.skipped) {
      targets.push(skippedTarget(ref, ref.skipped));
      continue;
    }
    targets.push(await reconcileOne(ref, held ? held.filter((h) => h.target === ref.key) : null));
  }

  const report = finishReport({ startedAt, finishedAt: new Date().toISOString(), drift, targets, errors });
  await mustSucceed.recordReconcileOutcome(report);
  return report;

  async function reconcileOne(ref: TargetRef, heldHere: HeldAccess[] | null): Promise<TargetReport> {
    try {
      const { report: done, events } = await checks.reconcileTarget({ ref, held: heldHere, drift });
      if (events.length > 0) await mustSucceed.exportAudit(events);
      return done;
    } catch (err) {
      if (isCancellation(err)) throw err;
      return failedTarget(ref, messageOf(err));
    }
  }
}

async function attempt<T>(fn: () => Promise<T>, what: string, errors: string[]): Promise<T | null> {
  try {
    return await fn();
  } catch (err) {
    if (isCancellation(err)) throw err;
    errors.push(`${what}: ${messageOf(err)}`);
    return null;
  }
}

/** An activity failure's own message (the cause's), not Temporal's "Activity task failed" wrapper. */
function messageOf(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
