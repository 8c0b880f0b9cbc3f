import type pg from 'pg';
import { closedAtOf } from '../../domain/request-record.js';
import type { RecordStore } from '../../ports/record-store.js';
import { inTransaction } from '../pg-transaction.js';
import { isoUtc } from './postgres-rows.js';
import { checkRecordLimit, eventsFromRows, recordFromRow, recordListWhere } from './records-rows.js';

/** Created with IF NOT EXISTS under the same advisory lock as the other tables on every open. */
export const RECORDS_SCHEMA = `
CREATE TABLE IF NOT EXISTS lockbox_request_records (
  request_id text PRIMARY KEY,
  tenant     text NOT NULL,
  requester  text NOT NULL,
  resource   text NOT NULL,
  status     text NOT NULL,
  created_at timestamptz NOT NULL,
  version    integer NOT NULL,
  closed     boolean NOT NULL DEFAULT false,
  closed_at  timestamptz,
  body       jsonb NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS lockbox_request_records_created ON lockbox_request_records (created_at, request_id);
CREATE INDEX IF NOT EXISTS lockbox_request_records_tenant_created ON lockbox_request_records (tenant, created_at);
CREATE INDEX IF NOT EXISTS lockbox_request_records_requester_created ON lockbox_request_records (requester, created_at);
CREATE INDEX IF NOT EXISTS lockbox_request_records_tenant_closed ON lockbox_request_records (tenant, closed, closed_at);
CREATE TABLE IF NOT EXISTS lockbox_request_events (
  id         text PRIMARY KEY,
  request_id text NOT NULL,
  seq        integer NOT NULL,
  event      jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS lockbox_request_events_request_seq ON lockbox_request_events (request_id, seq);
`;

/** pg parses jsonb with JSON.parse and timestamptz into Date. */
interface RecordRow {
  request_id: string;
  tenant: string;
  body: unknown;
  version: number;
  closed: boolean;
  closed_at: Date | null;
}

const fromRow = (r: RecordRow) => recordFromRow({ ...r, closed_at: r.closed_at ? r.closed_at.toISOString() : null });

/** The record methods over a pool whose database has {@link RECORDS_SCHEMA}. */
export function postgresRecords(pool: pg.Pool): RecordStore {
  return {
    async putRequestRecord(w) {
      const r = w.request;
      const closedAt = closedAtOf(w.events);
      await inTransaction(pool, async (client) => {
        if (w.events.length > 0) {
          await client.query(
            `INSERT INTO lockbox_request_events (id, request_id, seq, event)
             SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::jsonb[]) ON CONFLICT (id) DO NOTHING`,
            [w.events.map((e) => e.id), w.events.map((e) => e.requestId), w.events.map((e) => e.seq), w.events.map((e) => JSON.stringify(e))],
          );
        }
        // A higher version replaces the copy; `closed` is sticky and keeps the first closing time.
        await client.query(
          `INSERT INTO lockbox_request_records (request_id, tenant, requester, resource, status, created_at, version, closed, closed_at, body, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
           ON CONFLICT (request_id) DO UPDATE SET
             status = CASE WHEN excluded.version > lockbox_request_records.version THEN excluded.status ELSE lockbox_request_records.status END,
             body = CASE WHEN excluded.version > lockbox_request_records.version THEN excluded.body ELSE lockbox_request_records.body END,
             version = greatest(lockbox_request_records.version, excluded.version),
             closed = lockbox_request_records.closed OR excluded.closed,
             closed_at = coalesce(lockbox_request_records.closed_at, excluded.closed_at),
             updated_at = excluded.updated_at
           WHERE lockbox_request_records.tenant = excluded.tenant`,
          [r.id, r.tenant, r.requester, r.resource, r.status, isoUtc(r.createdAt, 'createdAt'), w.version, closedAt !== null, closedAt === null ? null : isoUtc(closedAt, 'closedAt'), JSON.stringify(r)],
        );
      });
    },
    async getRequestRecord(requestId) {
      const row = (await pool.query<RecordRow>(`SELECT * FROM lockbox_request_records WHERE request_id = $1`, [requestId])).rows[0];
      return row ? fromRow(row) : null;
    },
    async listRequestRecords(q) {
      const { where, params } = recordListWhere(q, { table: 'lockbox_request_records', ph: (n) => `$${n}`, time: isoUtc });
      const { rows } = await pool.query<RecordRow>(
        `SELECT * FROM lockbox_request_records WHERE ${where} ORDER BY created_at DESC, request_id DESC LIMIT $${params.length + 1}`,
        [...params, checkRecordLimit(q.limit)],
      );
      return rows.flatMap((r) => fromRow(r) ?? []);
    },
    async listRequestEvents(requestId) {
      const { rows } = await pool.query<{ id: string; request_id: string; event: unknown }>(
        `SELECT id, request_id, event FROM lockbox_request_events WHERE request_id = $1 ORDER BY seq, id`,
        [requestId],
      );
      return eventsFromRows(rows);
    },
    async listRecordTenants() {
      const { rows } = await pool.query<{ tenant: string }>(`SELECT DISTINCT tenant FROM lockbox_request_records ORDER BY tenant`);
      return rows.map((r) => r.tenant);
    },
    async findPrunableRecords(q) {
      const { rows } = await pool.query<{ request_id: string }>(
        `SELECT request_id FROM lockbox_request_records WHERE tenant = $1 AND closed AND closed_at < $2 ORDER BY closed_at, request_id LIMIT $3`,
        [q.tenant, isoUtc(q.closedBefore, 'closedBefore'), checkRecordLimit(q.limit)],
      );
      return rows.map((r) => r.request_id);
    },
    async deleteRequestRecords(ids) {
      if (ids.length === 0) return [];
      return inTransaction(pool, async (client) => {
        const { rows } = await client.query<{ request_id: string }>(
          `DELETE FROM lockbox_request_records WHERE request_id = ANY($1::text[]) AND closed RETURNING request_id`,
          [[...ids]],
        );
        const deleted = rows.map((r) => r.request_id).sort();
        if (deleted.length > 0) await client.query(`DELETE FROM lockbox_request_events WHERE request_id = ANY($1::text[])`, [deleted]);
        return deleted;
      });
    },
  };
}
