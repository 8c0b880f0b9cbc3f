import { isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { AuditEvent } from '../domain/audit.js';
import {
  driftCandidates,
  failedTarget,
  finishReport,
  skippedTarget,
  type ReconcileInput,
  type ReconcileReport,
  type TargetRef,
  type TargetReport,
} from '../domain/reconcile.js';

/** Listing and checking: a few attempts, then the run reports what failed and the next run tries again. */
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
 * One reconcile (docs/reconcile.md), run by the `lockbox-reconciler-<taskQueue>` schedule and on demand: revoke
 * access at each grant target that no running request owns; report (or restore) access an active request lost.
 * A target that fails does not stop the others; the report says what failed, and the run records its outcome.
 */
export async function reconcileWorkflow(input: ReconcileInput = {}): Promise<ReconcileReport> {
  const drift = input.drift ?? 'fail';
  const startedAt = new Date().toISOString();
  const errors: string[] = [];

  const refs = (await attempt(() => checks.reconcileTargets(), 'listing grant targets', errors)) ?? [];
  // Read before any target is listed: a request is active only once its grant exists.
  const active = await attempt(() => checks.listActiveRequests(), 'listing active requests (drift not checked)', errors);

  const reports = new Map<string, TargetReport>();
  const granted: string[] = [];
  const checked: TargetRef[] = [];
  for (const ref of refs) {
    if (ref.skipped) {
      reports.set(ref.key, skippedTarget(ref, ref.skipped));
      continue;
    }
    try {
      const done = await checks.reconcileTarget({ ref });
      await exportEvents(done.events);
      reports.set(ref.key, done.report);
      granted.push(...done.granted);
      if (!done.report.skipped) checked.push(ref);
    } catch (err) {
      if (isCancellation(err)) throw err;
      reports.set(ref.key, failedTarget(ref, messageOf(err)));
    }
  }

  const candidates = active ? driftCandidates(active, granted) : [];
  if (candidates.length > 0 && checked.length > 0) {
    const found = await attempt(() => checks.checkDrift({ candidates, refs: checked, drift }), 'checking drift', errors);
    if (found) {
      await exportEvents(found.events);
      for (const f of found.found) reports.get(f.target)?.drift.push(f.outcome);
      for (const u of found.unsure) reports.get(u.target)?.unsure.push({ requestId: u.requestId, why: u.why });
    }
  }

  // Requests whose workflow was terminated or timed out: their trail is completed and closed.
  const swept = await attempt(() => checks.sweepEndedRequests(), 'sweeping requests closed outside their workflow', errors);
  if (swept) await exportEvents(swept.events);
  // Closed request records past their tenant's retention (docs/records.md); audited by the activity itself.
  await attempt(() => checks.pruneRecords(), 'pruning request records past their retention', errors);

  const report = finishReport({ startedAt, finishedAt: new Date().toISOString(), drift, active: active?.length ?? 0, targets: [...reports.values()], errors });
  await mustSucceed.recordReconcileOutcome(report);
  return report;
}

async function exportEvents(events: AuditEvent[]): Promise<void> {
  if (events.length > 0) await mustSucceed.exportAudit(events);
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
