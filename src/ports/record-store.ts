import type { AuditEvent } from '../domain/audit.js';
import type { AccessRequest, RequestStatus } from '../domain/request.js';

/**
 * Lockbox's own record of every request (docs/records.md), part of the Store port: a copy of the request as its
 * workflow last exported it, and its audit trail. Written by the worker from the exactly-once audit export (and by
 * the sweep for a workflow closed from outside), so it outlives the workflow: reads of closed requests never touch
 * Temporal, and still answer after the workflow is deleted or aged out by the namespace's retention.
 */
export interface RequestRecord {
  request: AccessRequest;
  /**
   * How many audit events the request had recorded when this copy was taken. A copy replaces a stored one only
   * when its version is higher, so a late retry of an older export never rolls a record back.
   */
  version: number;
  /** The trail ended with `request.closed`: the record is final. Never goes back to false. */
  closed: boolean;
  /** ISO-8601 UTC: the time of `request.closed`, or null while open. Retention counts from here. */
  closedAt: string | null;
}

/** A copy to store, with the events exported with it (each stored once, by id). */
export interface RecordWrite {
  request: AccessRequest;
  version: number;
  events: readonly AuditEvent[];
}

export interface RecordListQuery {
  /** Restrict to these tenants (OR-ed with `scopeRequester`): the caller's scope. */
  scopeTenants?: string[];
  /** Also include requests made by this person, whatever the tenant. */
  scopeRequester?: string;
  tenant?: string;
  status?: RequestStatus;
  requester?: string;
  resource?: string;
  /** ISO-8601 UTC: created at or after. */
  createdFrom?: string;
  /** ISO-8601 UTC: created before. */
  createdTo?: string;
  /** Newest first; continue after this request id (the last of the previous page). */
  after?: string;
  limit: number;
}

export interface RecordStore {
  /**
   * Stores the events (once per id) and the copy, when no copy is stored or the stored one has a lower version.
   * An event of type `request.closed` among the events closes the record (at that event's time).
   */
  putRequestRecord(w: RecordWrite): Promise<void>;
  getRequestRecord(requestId: string): Promise<RequestRecord | null>;
  /** Newest created first (ties by id, descending). */
  listRequestRecords(q: RecordListQuery): Promise<RequestRecord[]>;
  /** The request's stored audit events in seq order. */
  listRequestEvents(requestId: string): Promise<AuditEvent[]>;
  /** Tenants that have records, sorted. */
  listRecordTenants(): Promise<string[]>;
  /** Up to `limit` ids of `tenant`'s records closed before `closedBefore`, oldest closed first. Never open ones. */
  findPrunableRecords(q: { tenant: string; closedBefore: string; limit: number }): Promise<string[]>;
  /** Deletes these records and their events, if closed; returns the ids deleted (sorted). Deleting twice is a no-op. */
  deleteRequestRecords(requestIds: readonly string[]): Promise<string[]>;
}
