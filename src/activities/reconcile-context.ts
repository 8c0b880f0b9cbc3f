/**
 * What the reconciler's activities share (src/activities/reconcile.ts builds it once per worker): their dependencies,
 * and the audit events their findings become.
 */
import type { Client } from '@temporalio/client';
import type { AuditEvent, AuditEventType } from '../domain/audit.js';
import type { TargetCatalog } from '../domain/resources.js';
import type { ActivityDeps } from './deps.js';
import type { ReconcileMetrics } from './metrics.js';

export interface ReconcileContext {
  deps: ActivityDeps;
  metrics: ReconcileMetrics;
  /** The operator's declared targets (the worker's catalog). */
  catalog: TargetCatalog;
  /** The worker's environment: a target is reconciled only where its connection variable is really set. */
  env: (name: string) => string | undefined;
  /** The worker's own client (activity context), or a test's. */
  temporal: () => Client;
  /** Tells Temporal the activity is alive; nothing outside an activity. */
  heartbeat: () => void;
}

/** `reconcile:<requestId>:orphan|drift`: the same finding by any run is the same event, stored once by every sink. */
export function eventId(requestId: string, kind: 'orphan' | 'drift'): string {
  return `reconcile:${requestId}:${kind}`;
}

/** seq 0: outside the request's own numbered trail (its workflow numbers 1, 2, 3...). */
export function reconcileEvent(kind: 'orphan' | 'drift', type: AuditEventType, tenant: string, requestId: string, details: Record<string, unknown>): AuditEvent {
  return { id: eventId(requestId, kind), seq: 0, time: new Date().toISOString(), type, tenant, requestId, actor: 'system', details };
}
