import { AuditEventType, type AuditEvent } from './audit.js';
import { RequestStatus, type AccessRequest } from './request.js';

const STATUSES: ReadonlySet<string> = new Set(Object.values(RequestStatus));

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isTime = (v: unknown): v is string => isString(v) && !Number.isNaN(Date.parse(v));

/**
 * A request copy read back from the store is trusted only as far as it has the shape the workflow writes and
 * belongs to the row it was read from (id and tenant): a row edited or mixed up in the database is refused (null)
 * rather than shown. Pure.
 */
export function readStoredRequest(value: unknown, row: { id: string; tenant: string }): AccessRequest | null {
  if (!isObject(value)) return null;
  const v = value;
  const ok =
    v.id === row.id &&
    v.tenant === row.tenant &&
    isString(v.resource) &&
    isString(v.requester) &&
    isString(v.reason) &&
    (v.ticket === null || isString(v.ticket)) &&
    isString(v.duration) &&
    typeof v.durationMs === 'number' &&
    isString(v.status) &&
    STATUSES.has(v.status) &&
    isTime(v.createdAt) &&
    isTime(v.expiresAt) &&
    Array.isArray(v.decisions) &&
    Array.isArray(v.stages) &&
    (v.access === null || isObject(v.access)) &&
    isObject(v.policy) &&
    isObject(v.target) &&
    (v.endedAt === null || isTime(v.endedAt));
  return ok ? (value as unknown as AccessRequest) : null;
}

/** The time of the `request.closed` event among these, if there is one: the record is final from then on. */
export function closedAtOf(events: readonly AuditEvent[]): string | null {
  return events.find((e) => e.type === AuditEventType.requestClosed)?.time ?? null;
}

const EVENT_TYPES: ReadonlySet<string> = new Set(Object.values(AuditEventType));

/** An audit event read back from the store, checked like a request copy: null unless well-formed and the row's. */
export function readStoredEvent(value: unknown, row: { id: string; requestId: string }): AuditEvent | null {
  if (!isObject(value)) return null;
  const ok =
    value.id === row.id &&
    value.requestId === row.requestId &&
    Number.isInteger(value.seq) &&
    isTime(value.time) &&
    isString(value.type) &&
    EVENT_TYPES.has(value.type) &&
    isString(value.tenant) &&
    isString(value.actor) &&
    isObject(value.details);
  return ok ? (value as unknown as AuditEvent) : null;
}
