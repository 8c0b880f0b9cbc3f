import type { AuditSink } from '../ports/audit-sink.js';
import type { GrantRouter } from '../adapters/grants/grant-router.js';
import type { TargetCatalog } from '../domain/resources.js';
import type { Notification, Notifier } from '../ports/notifier.js';
import type { Logger } from '../config/logger.js';
import type { TrustedKeys } from '../domain/signing.js';
import type { Store } from '../ports/store.js';
import type { GrantMetrics, ReconcileMetrics } from './metrics.js';

/** What the activities need, built once at worker start-up. */
export interface ActivityDeps {
  /** The API's own state (tenant settings here). */
  store: Store;
  /** The grant provider of each request's target. */
  grants: GrantRouter;
  /**
   * The operator's declared targets (the router's catalog): a request's target must be declared here and allowed
   * for its tenant before anything is granted. Absent: none is (built-in grants only).
   */
  targets?: TargetCatalog;
  /** Counters for grants and revokes (a revoke failing again and again must be visible while it is retried). */
  metrics?: GrantMetrics;
  /** The reconciler's counters (docs/reconcile.md); default: on a registry nobody serves. */
  reconcileMetrics?: ReconcileMetrics;
  /** The API's public decision-signing keys (key id -> hex). */
  trustedKeys: TrustedKeys;
  notifier: Notifier;
  audit: AuditSink;
  log: Logger;
}
