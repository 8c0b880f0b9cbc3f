import type { AuditEvent } from '../domain/audit.js';
import type { ChainVerdict, StoredAuditEvent } from '../domain/audit-chain.js';

/**
 * Where audit events are sent. Appending an event whose id was already delivered is a no-op (exactly once), so a
 * retried export is safe. A failed append throws, and nothing is kept in memory: the events wait in Temporal and
 * the activity retries. Write-only destinations (an HTTP SIEM endpoint) implement just this.
 */
export interface AuditExporter {
  append(events: readonly AuditEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** A page query of the pull API. */
export interface AuditListQuery {
  tenant?: string;
  /** Opaque cursor from a previous page's `next`; omitted: from the beginning. */
  after?: string;
  /** Exact event type, e.g. `request.approved`. */
  type?: string;
  /** At most this many events (at least 1). */
  limit: number;
}

/** One page of the pull API. */
export interface AuditPage {
  /** In stored order, which per tenant is chain order and per request is export order. */
  events: StoredAuditEvent[];
  /**
   * Where to continue: pass it as `after` to get what follows, now or when polling later. It moves past
   * everything this call looked at, including events the filters skipped. Null only when the call saw nothing at
   * all and had no cursor (polling again without one is the same query).
   */
  next: string | null;
  /** True when the page was cut at `limit`, so more may follow right away. */
  more: boolean;
}

/**
 * A sink that also stores: it chains each tenant's events (tamper evidence) and serves the pull API.
 * Appending an event whose id is already stored is a no-op (exactly once) and does not advance the chain.
 */
export interface AuditSink extends AuditExporter {
  /** Events of one request in seq order, as they were exported (without the chain link). */
  listByRequest(requestId: string): Promise<AuditEvent[]>;
  /** A page of stored events with their chain links, in stored order; a cursor stays valid forever. */
  list(q: AuditListQuery): Promise<AuditPage>;
  /** Checks every tenant's chain (or one tenant's) in stored order. */
  verify(q?: { tenant?: string }): Promise<ChainVerdict>;
}

/** A cursor that this sink did not issue, or that is malformed: a client error (400), not a sink failure. */
export class InvalidAuditCursorError extends Error {
  constructor() {
    super('invalid audit cursor');
    this.name = 'InvalidAuditCursorError';
  }
}
