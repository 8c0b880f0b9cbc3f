import type { AuditEvent } from '../../domain/audit.js';
import type { StoredAuditEvent } from '../../domain/audit-chain.js';

/**
 * The audit table. `id` is the exactly-once key; `(tenant, chain_index)` is unique so that even a bug in the
 * locking could not store a forked chain (the second writer's insert fails and is retried); `cursor` is the
 * pull API's stable position. The event itself is kept whole in `event`; the other columns are copies for
 * filtering and indexing; verify checks that they still agree with it.
 */
export const AUDIT_SCHEMA = `
CREATE TABLE IF NOT EXISTS lockbox_audit_events (
  id          text PRIMARY KEY,
  tenant      text NOT NULL,
  request_id  text NOT NULL,
  seq         integer NOT NULL,
  type        text NOT NULL,
  actor       text NOT NULL,
  time        timestamptz NOT NULL,
  event       jsonb NOT NULL,
  chain_index bigint NOT NULL,
  prev_hash   text NOT NULL,
  hash        text NOT NULL,
  cursor      bigserial NOT NULL UNIQUE,
  UNIQUE (tenant, chain_index)
);
CREATE INDEX IF NOT EXISTS lockbox_audit_events_tenant_cursor ON lockbox_audit_events (tenant, cursor);
CREATE INDEX IF NOT EXISTS lockbox_audit_events_request_seq ON lockbox_audit_events (request_id, seq);
`;

/**
 * Writers hold this advisory lock SHARED for their whole transaction; a reader paging across tenants takes it
 * EXCLUSIVELY for a moment. Cursors are handed out when a row is inserted, not when it commits, so without the
 * fence a reader could see cursor 11 committed, move past it, and never see 10 committing later. Once the reader
 * holds the fence every writer that drew a cursor has finished. Two-int key space, apart from the tenant locks.
 */
export const AUDIT_FENCE = [0x4c6f636b, 0x41756469] as const;
export const ROW_COLUMNS = 'id, tenant, request_id, seq, type, actor, time, event, chain_index, prev_hash, hash, cursor';

/** A row as pg returns it: bigint columns as strings, timestamptz as Date, jsonb parsed. */
export interface AuditRow {
  id: string;
  tenant: string;
  request_id: string;
  seq: number;
  type: string;
  actor: string;
  time: Date;
  event: Record<string, unknown>;
  chain_index: string;
  prev_hash: string;
  hash: string;
  cursor: string;
}

/** The stored event: its JSON, which is what the chain hashes. */
export function storedFromRow(row: AuditRow): StoredAuditEvent {
  return {
    ...(row.event as unknown as AuditEvent),
    chain: { prev: row.prev_hash, hash: row.hash, index: Number(row.chain_index) },
  };
}

/**
 * Whether the indexed columns still say what the event's JSON says. The hash covers only the JSON, so an edit of
 * a column alone (which changes what filters find) is caught here instead.
 */
export function columnsAgree(row: AuditRow): boolean {
  const e = row.event;
  return (
    e.id === row.id &&
    e.tenant === row.tenant &&
    e.requestId === row.request_id &&
    e.seq === row.seq &&
    e.type === row.type &&
    e.actor === row.actor &&
    typeof e.time === 'string' &&
    // Compared as instants: the column has no textual form to compare with the event's ISO string.
    new Date(e.time).getTime() === row.time.getTime()
  );
}

const COLUMNS_PER_ROW = 11;

/** `INSERT ... VALUES` for the given stored events; ON CONFLICT keeps a retried export a no-op. */
export function insertStatement(events: readonly StoredAuditEvent[]): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const tuples = events.map((e, i) => {
    const time = new Date(e.time);
    if (Number.isNaN(time.getTime())) throw new RangeError(`audit event ${e.id}: time is not a valid ISO-8601 time`);
    const { chain, ...event } = e;
    values.push(e.id, e.tenant, e.requestId, e.seq, e.type, e.actor, time, JSON.stringify(event));
    values.push(chain.index, chain.prev, chain.hash);
    const p = Array.from({ length: COLUMNS_PER_ROW }, (_, k) => `$${i * COLUMNS_PER_ROW + k + 1}`);
    return `(${p.join(', ')})`;
  });
  return {
    text:
      'INSERT INTO lockbox_audit_events (id, tenant, request_id, seq, type, actor, time, event, chain_index, ' +
      `prev_hash, hash) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING RETURNING id`,
    values,
  };
}
