import type { GrantRecord, NotificationRecord } from '../../ports/store.js';

/** Rows of the PostgreSQL store's older tables as pg returns them, and what they mean. */

/** pg parses timestamptz into Date (millisecond precision, which is all we ever write). */
export interface GrantRow {
  request_id: string;
  tenant: string;
  resource: string;
  principal: string;
  granted_at: Date;
  ends_at: Date;
  revoked_at: Date | null;
}

export interface NotificationRow {
  id: string;
  recipient: string;
  tenant: string;
  request_id: string;
  kind: string;
  subject: string;
  body: string;
  created_at: Date;
}

export interface ReservationRow {
  principal: string;
  key: string;
  fingerprint: string;
  request_id: string;
}

/** Rejects unparsable times here, with the field's name, rather than as a PostgreSQL cast error. */
export function isoUtc(value: string, field: string): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new RangeError(`${field} is not a valid ISO-8601 time`);
  return d.toISOString();
}

export function toGrant(row: GrantRow): GrantRecord {
  return {
    requestId: row.request_id,
    tenant: row.tenant,
    resource: row.resource,
    principal: row.principal,
    grantedAt: row.granted_at.toISOString(),
    endsAt: row.ends_at.toISOString(),
    revokedAt: row.revoked_at ? row.revoked_at.toISOString() : null,
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
    createdAt: row.created_at.toISOString(),
  };
}
