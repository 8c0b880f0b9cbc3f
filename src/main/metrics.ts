/**
 * The process's Prometheus metrics. `registry` is what an HTTP `/metrics` endpoint serves
 * (`res.type(registry.contentType).send(await registry.metrics())`); every metric Lockbox defines is registered on
 * it, never on prom-client's global default registry, so a test or a second app in the process cannot collide.
 */
import { Counter, Registry } from 'prom-client';
import { createGrantMetrics, createReconcileMetrics } from '../activities/metrics.js';
import { createAuditBacklog } from '../adapters/audit/backlog-tracking-sink.js';

export { createGrantMetrics, createReconcileMetrics, type ReconcileMetrics } from '../activities/metrics.js';

/** The process's registry: mount it at `/metrics`. */
export const registry = new Registry();

/** The reconciler's metrics on the process's registry (the worker's activities record them). */
export const reconcileMetrics = createReconcileMetrics(registry);

/** The activities' grant metrics on the process's registry. */
export const grantMetrics = createGrantMetrics(registry);

/** Outbound HTTP calls (webhooks, notifications, the audit HTTP sink) that gave no usable answer, by reason code. */
export const outboundRefused = new Counter({
  name: 'lockbox_outbound_refused_total',
  help: 'Outbound HTTP calls refused or failed by the guarded client, by reason (destination_refused, redirect_refused, response_too_large, timeout, unreachable, invalid_url)',
  labelNames: ['reason'] as const,
  registers: [registry],
});

/** Audit export backlog per sink: events whose export failed and waits for a retry (docs/operations.md). */
export const auditBacklog = createAuditBacklog(registry);

/** Sessions the worker ended at a PostgreSQL target because their role's window had ended (src/main/session-sweep.ts). */
export const targetSessionsEnded = new Counter({
  name: 'lockbox_target_sessions_ended_total',
  help: "Open sessions of a Lockbox PostgreSQL role ended by the worker's sweep because the role's window had ended, by target",
  labelNames: ['target'] as const,
  registers: [registry],
});

/** Sweeps of a target that failed (unreachable, not configured on this worker): its sessions then wait for the revoke. */
export const targetSessionSweepFailures = new Counter({
  name: 'lockbox_target_session_sweep_failures_total',
  help: 'Passes of the session sweep that could not reach or query a PostgreSQL target, by target',
  labelNames: ['target'] as const,
  registers: [registry],
});
