/**
 * The process's Prometheus metrics. `registry` is what an HTTP `/metrics` endpoint serves
 * (`res.type(registry.contentType).send(await registry.metrics())`); every metric Lockbox defines is registered on
 * it, never on prom-client's global default registry, so a test or a second app in the process cannot collide.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { GrantMetrics } from '../activities/index.js';

/** What the reconciler reports (docs/reconcile.md). */
export interface ReconcileMetrics {
  /** Access that no running request owned, revoked at its target. */
  orphansRevoked: Counter<'provider'>;
  /** Active requests whose access was missing at the target; `action`: reported, restored, restore_failed. */
  driftDetected: Counter<'provider' | 'action'>;
  /** Failed reconciles: `stage` target (one target could not be checked), orphan (a revoke failed), run. */
  failures: Counter<'stage'>;
  /** Unix time (seconds) of the last reconcile that checked every target without a failure. */
  lastSuccess: Gauge;
}

/** Registers the reconciler's metrics on `registry`. */
export function createReconcileMetrics(registry: Registry): ReconcileMetrics {
  return {
    orphansRevoked: new Counter({
      name: 'lockbox_orphans_revoked_total',
      help: 'Access found at a grant target that no running request owned, revoked by the reconciler',
      labelNames: ['provider'] as const,
      registers: [registry],
    }),
    driftDetected: new Counter({
      name: 'lockbox_drift_detected_total',
      help: 'Active requests whose access was missing at the grant target (first detection per request)',
      labelNames: ['provider', 'action'] as const,
      registers: [registry],
    }),
    failures: new Counter({
      name: 'lockbox_reconcile_failures_total',
      help: 'Reconciles that failed: a target that could not be checked, an orphan that could not be revoked, a run that failed',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: 'lockbox_reconcile_last_success_seconds',
      help: 'Unix time of the last reconcile that checked every grant target without a failure (0: none yet in this process)',
      registers: [registry],
    }),
  };
}

/** The process's registry: mount it at `/metrics`. */
export const registry = new Registry();

/** The reconciler's metrics on the process's registry (the worker's activities record them). */
export const reconcileMetrics = createReconcileMetrics(registry);

export function createGrantMetrics(registry: Registry): GrantMetrics {
  return {
    grants: new Counter({
      name: 'lockbox_grants_total',
      help: 'Grant attempts at a target, by outcome (ok, failed)',
      labelNames: ['provider', 'outcome'] as const,
      registers: [registry],
    }),
    revokes: new Counter({ name: 'lockbox_revokes_total', help: 'Revokes done and verified at a target', labelNames: ['provider'] as const, registers: [registry] }),
    revokeFailures: new Counter({
      name: 'lockbox_revoke_failures_total',
      help: 'Revoke attempts that failed or left access behind (each is retried until it succeeds)',
      labelNames: ['provider'] as const,
      registers: [registry],
    }),
  };
}

/** The activities' grant metrics on the process's registry. */
export const grantMetrics = createGrantMetrics(registry);
