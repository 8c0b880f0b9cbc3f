import type { AuditEvent } from '../domain/audit.js';

/** Where audit events are exported. Appending an event whose id is already stored is a no-op (exactly once). */
export interface AuditSink {
  append(events: readonly AuditEvent[]): Promise<void>;
  /** Events of one request in seq order (used by tests and the pull API). */
  listByRequest(requestId: string): Promise<AuditEvent[]>;
  close(): Promise<void>;
}
