/**
 * The process's Prometheus metrics. `registry` is what an HTTP `/metrics` endpoint serves
 * (`res.type(registry.contentType).send(await registry.metrics())`); every metric Lockbox defines is registered on
 * it, never on prom-client's global default registry, so a test or a second app in the process cannot collide.
 */
import { Registry } from 'prom-client';
import { createGrantMetrics, createReconcileMetrics } from '../activities/metrics.js';

export { createGrantMetrics, createReconcileMetrics, type ReconcileMetrics } from '../activities/metrics.js';

/** The process's registry: mount it at `/metrics`. */
export const registry = new Registry();

/** The reconciler's metrics on the process's registry (the worker's activities record them). */
export const reconcileMetrics = createReconcileMetrics(registry);

/** The activities' grant metrics on the process's registry. */
export const grantMetrics = createGrantMetrics(registry);
