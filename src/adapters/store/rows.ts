import type { GrantRecord, NotificationRecord } from '../../ports/store.js';

/**
 * Rows of the stores' older tables and what they mean, shared by both stores: SQLite gives times as the ISO text it
 * stored, pg gives a timestamptz as a Date (millisecond precision, which is all we ever write).
 */
type Time = string | Date;
const iso = (t: Time): string => (typeof t === 'string' ? t : t.toISOString());

export interface GrantRow<T extends Time = Time> {
  request_id: string;
  tenant: string;
  resource: string;
  principal: string;
  granted_at: T;
  ends_at: T;
  revoked_at: T | null;
}

export interface NotificationRow<T extends Time = Time> {
  id: string;
  recipient: string;
  tenant: string;
  request_id: string;
  kind: string;
  subject: string;
  body: string;
  created_at: T;
}

export interface ReservationRow {
  principal: string;
  key: string;
  fingerprint: string;
  request_id: string;
}

export function toGrant(row: GrantRow): GrantRecord {
  return {
    requestId: row.request_id,
    tenant: row.tenant,
    resource: row.resource,
    principal: row.principal,
    grantedAt: iso(row.granted_at),
    endsAt: iso(row.ends_at),
    revokedAt: row.revoked_at === null ? null : iso(row.revoked_at),
  };
}

export function toNotification(row: NotificationRow): NotificationRecord {
  return {
    id: row.id,
    recipient: row.recipient,
    tenant: row.tenant,
    requestId: row.request_id,
    kind: row.kind,
    subject: row.subject,
    body: row.body,
    createdAt: iso(row.created_at),
  };
}
