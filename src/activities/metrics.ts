/**
 * The activities' metrics: what they record, and factories that register them on a registry the process owns
 * (src/main/metrics.ts serves it at /metrics). Activities never reach into the process layer for them.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Grants and revokes as the activities see them; a revoke that keeps failing shows here while it is retried. */
export interface GrantMetrics {
  grants: Counter<'provider' | 'outcome'>;
  revokes: Counter<'provider'>;
  revokeFailures: Counter<'provider'>;
  /** Clean-ups after a failed or stopped grant that could not confirm in time: the reconciler owns them. An alarm. */
  cleanupUnconfirmed?: Counter;
  /** Revokes whose DROP ROLE PostgreSQL refused (objects or privileges left in another database). An alarm. */
  dropRoleFailures?: Counter;
}

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
  /** Targets the last reconcile could not reconcile at all (a webhook target without a list call). */
  notReconcilable: Gauge;
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
    notReconcilable: new Gauge({
      name: 'lockbox_reconcile_targets_not_reconcilable',
      help: 'Grant targets the last reconcile could not reconcile at all (a webhook target without a listUrl): what they granted is never checked',
      registers: [registry],
    }),
  };
}

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
    dropRoleFailures: new Counter({
      name: 'lockbox_drop_role_failures_total',
      help: 'Revokes whose DROP ROLE PostgreSQL refused (the role still owns objects or privileges in another database; login and privileges here are already gone): alarm on any increase, a DBA must clean up',
      registers: [registry],
    }),
    cleanupUnconfirmed: new Counter({
      name: 'lockbox_cleanup_unconfirmed_total',
      help: 'Clean-up revokes after a failed or stopped grant that could not confirm in time (the reconciler owns them): alarm on any increase',
      registers: [registry],
    }),
  };
}
