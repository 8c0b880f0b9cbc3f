import type Database from 'better-sqlite3';
import { closedAtOf } from '../../domain/request-record.js';
import type { RecordStore, RecordWrite } from '../../ports/record-store.js';
import { checkRecordLimit, eventsFromRows, recordFromRow, recordListWhere } from './records-rows.js';
import { isoUtc } from './sqlite-time.js';

/** Created with IF NOT EXISTS on every open, in the same IMMEDIATE transaction as the other tables. */
export const RECORDS_SCHEMA = `
CREATE TABLE IF NOT EXISTS request_records (
  request_id TEXT PRIMARY KEY,
  tenant     TEXT NOT NULL,
  requester  TEXT NOT NULL,
  resource   TEXT NOT NULL,
  status     TEXT NOT NULL,
  created_at TEXT NOT NULL,
  version    INTEGER NOT NULL,
  closed     INTEGER NOT NULL DEFAULT 0,
  closed_at  TEXT,
  body       TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS request_records_created ON request_records (created_at, request_id);
CREATE INDEX IF NOT EXISTS request_records_tenant_created ON request_records (tenant, created_at);
CREATE INDEX IF NOT EXISTS request_records_requester_created ON request_records (requester, created_at);
CREATE INDEX IF NOT EXISTS request_records_tenant_closed ON request_records (tenant, closed, closed_at);
CREATE TABLE IF NOT EXISTS request_events (
  id         TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  event      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS request_events_request_seq ON request_events (request_id, seq);
`;

interface RecordRow {
  request_id: string;
  tenant: string;
  body: string;
  version: number;
  closed: number;
  closed_at: string | null;
}

const fromRow = (r: RecordRow) =>
  recordFromRow({ request_id: r.request_id, tenant: r.tenant, body: parseJson(r.body), version: r.version, closed: r.closed === 1, closed_at: r.closed_at });

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** The record methods over an open database whose schema includes {@link RECORDS_SCHEMA}. */
export function sqliteRecords(db: Database.Database): RecordStore {
  const insertEvent = db.prepare(`INSERT INTO request_events (id, request_id, seq, event) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`);
  // A higher version replaces the copy; `closed` is sticky and keeps the first closing time.
  const upsert = db.prepare(
    `INSERT INTO request_records (request_id, tenant, requester, resource, status, created_at, version, closed, closed_at, body, updated_at)
     VALUES (@id, @tenant, @requester, @resource, @status, @createdAt, @version, @closed, @closedAt, @body, @now)
     ON CONFLICT (request_id) DO UPDATE SET
       status = CASE WHEN excluded.version > request_records.version THEN excluded.status ELSE request_records.status END,
       body = CASE WHEN excluded.version > request_records.version THEN excluded.body ELSE request_records.body END,
       version = max(request_records.version, excluded.version),
       closed = max(request_records.closed, excluded.closed),
       closed_at = coalesce(request_records.closed_at, excluded.closed_at),
       updated_at = excluded.updated_at
     WHERE request_records.tenant = excluded.tenant`,
  );
  const write = db.transaction((w: RecordWrite) => {
    for (const e of w.events) insertEvent.run(e.id, e.requestId, e.seq, JSON.stringify(e));
    const r = w.request;
    const closedAt = closedAtOf(w.events);
    upsert.run({
      id: r.id,
      tenant: r.tenant,
      requester: r.requester,
      resource: r.resource,
      status: r.status,
      createdAt: isoUtc(r.createdAt, 'createdAt'),
      version: w.version,
      closed: closedAt === null ? 0 : 1,
      closedAt: closedAt === null ? null : isoUtc(closedAt, 'closedAt'),
      body: JSON.stringify(r),
      now: new Date().toISOString(),
    });
  });
  const selectOne = db.prepare<[string], RecordRow>(`SELECT * FROM request_records WHERE request_id = ?`);
  const selectEvents = db.prepare<[string], { id: string; request_id: string; event: string }>(
    `SELECT id, request_id, event FROM request_events WHERE request_id = ? ORDER BY seq, id`,
  );
  const selectTenants = db.prepare<[], { tenant: string }>(`SELECT DISTINCT tenant FROM request_records ORDER BY tenant`);
  const selectPrunable = db.prepare<[string, string, number], { request_id: string }>(
    `SELECT request_id FROM request_records WHERE tenant = ? AND closed = 1 AND closed_at < ? ORDER BY closed_at, request_id LIMIT ?`,
  );
  const deleteRecord = db.prepare(`DELETE FROM request_records WHERE request_id = ? AND closed = 1`);
  const deleteEvents = db.prepare(`DELETE FROM request_events WHERE request_id = ?`);
  const remove = db.transaction((ids: readonly string[]) => {
    const deleted = ids.filter((id) => deleteRecord.run(id).changes === 1);
    for (const id of deleted) deleteEvents.run(id);
    return [...new Set(deleted)].sort();
  });

  return {
    async putRequestRecord(w) {
      write.immediate(w);
    },
    async getRequestRecord(requestId) {
      const row = selectOne.get(requestId);
      return row ? fromRow(row) : null;
    },
    async listRequestRecords(q) {
      const { where, params } = recordListWhere(q, { table: 'request_records', ph: () => '?', time: isoUtc });
      const rows = db
        .prepare<unknown[], RecordRow>(`SELECT * FROM request_records WHERE ${where} ORDER BY created_at DESC, request_id DESC LIMIT ?`)
        .all(...params, checkRecordLimit(q.limit));
      return rows.flatMap((r) => fromRow(r) ?? []);
    },
    async listRequestEvents(requestId) {
      return eventsFromRows(selectEvents.all(requestId).map((r) => ({ ...r, event: parseJson(r.event) })));
    },
    async listRecordTenants() {
      return selectTenants.all().map((r) => r.tenant);
    },
    async findPrunableRecords(q) {
      return selectPrunable.all(q.tenant, isoUtc(q.closedBefore, 'closedBefore'), checkRecordLimit(q.limit)).map((r) => r.request_id);
    },
    async deleteRequestRecords(ids) {
      return remove.immediate(ids);
    },
  };
}
