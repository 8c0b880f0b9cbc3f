import Database from 'better-sqlite3';
import type {
  GrantRecord,
  IdempotencyReservation,
  NotificationRecord,
  Store,
} from '../ports/store.js';
import { SETTINGS_USERS_SCHEMA, sqliteSettingsAndUsers } from './store/sqlite-settings-users.js';
import { isoUtc } from './store/sqlite-time.js';
import { toGrant, toNotification, type GrantRow, type NotificationRow, type ReservationRow } from './store/rows.js';
import { SESSIONS_SCHEMA, sqliteSessions } from './store/sqlite-sessions.js';
import { RECORDS_SCHEMA, sqliteRecords } from './store/sqlite-records.js';

/**
 * Tables are created with IF NOT EXISTS inside one IMMEDIATE transaction, so an API process and a worker process
 * opening the same file at once both succeed and neither sees half a schema.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS idempotency_keys (
  principal   TEXT NOT NULL,
  key         TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  request_id  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  PRIMARY KEY (principal, key)
);
CREATE TABLE IF NOT EXISTS request_runs (
  request_id TEXT PRIMARY KEY,
  run_id     TEXT NOT NULL,
  claimed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS emergency_slots (
  request_id TEXT PRIMARY KEY,
  tenant     TEXT NOT NULL,
  requester  TEXT NOT NULL,
  taken_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS emergency_slots_by_person ON emergency_slots (tenant, requester, taken_at);
CREATE TABLE IF NOT EXISTS grants (
  request_id TEXT PRIMARY KEY,
  tenant     TEXT NOT NULL,
  resource   TEXT NOT NULL,
  principal  TEXT NOT NULL,
  granted_at TEXT NOT NULL,
  ends_at    TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS grants_principal_tenant_resource ON grants (principal, tenant, resource);
CREATE TABLE IF NOT EXISTS notifications (
  id         TEXT PRIMARY KEY,
  recipient  TEXT NOT NULL,
  tenant     TEXT NOT NULL,
  request_id TEXT NOT NULL,
  kind       TEXT NOT NULL,
  subject    TEXT NOT NULL,
  body       TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_recipient_created ON notifications (recipient, created_at);
`;

/**
 * Opens (creating if missing) the SQLite store at `file`: the embedded default for a single machine.
 * Several processes may open the same file; WAL lets readers run beside the one writer and `busy_timeout` makes
 * a writer wait for the other process instead of failing.
 */
export function openSqliteStore(file: string): Store {
  const db = new Database(file);
  try {
    // busy_timeout first: switching to WAL needs a lock another process may hold right now.
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode loses at most the last commits on power loss, never corrupts; a process crash loses nothing.
    db.pragma('synchronous = NORMAL');
    db.transaction(() => {
      db.exec(SCHEMA);
      db.exec(SETTINGS_USERS_SCHEMA);
      db.exec(SESSIONS_SCHEMA);
      db.exec(RECORDS_SCHEMA);
    }).immediate();
  } catch (err) {
    db.close();
    throw err;
  }

  const insertReservation = db.prepare(
    `INSERT INTO idempotency_keys (principal, key, fingerprint, request_id, created_at)
     VALUES (?, ?, ?, ?, ?) ON CONFLICT (principal, key) DO NOTHING`,
  );
  const selectReservation = db.prepare<[string, string], ReservationRow>(
    `SELECT principal, key, fingerprint, request_id FROM idempotency_keys WHERE principal = ? AND key = ?`,
  );
  const insertRun = db.prepare(`INSERT INTO request_runs (request_id, run_id, claimed_at) VALUES (?, ?, ?) ON CONFLICT (request_id) DO NOTHING`);
  const selectRun = db.prepare<[string], { run_id: string }>(`SELECT run_id FROM request_runs WHERE request_id = ?`);
  const selectSlot = db.prepare<[string], { request_id: string }>(`SELECT request_id FROM emergency_slots WHERE request_id = ?`);
  const countSlots = db.prepare<[string, string, string], { n: number }>(
    `SELECT count(*) AS n FROM emergency_slots WHERE tenant = ? AND requester = ? AND taken_at >= ?`,
  );
  const insertSlot = db.prepare(`INSERT INTO emergency_slots (request_id, tenant, requester, taken_at) VALUES (?, ?, ?, ?)`);
  const takeSlot = db.transaction((q: { tenant: string; requester: string; requestId: string; at: string; since: string; limit: number }) => {
    const used = countSlots.get(q.tenant, q.requester, isoUtc(q.since, 'since'))?.n ?? 0;
    if (selectSlot.get(q.requestId)) return { ok: true, used };
    if (used >= q.limit) return { ok: false, used };
    insertSlot.run(q.requestId, q.tenant, q.requester, isoUtc(q.at, 'at'));
    return { ok: true, used: used + 1 };
  });
  const insertGrant = db.prepare(
    `INSERT INTO grants (request_id, tenant, resource, principal, granted_at, ends_at, revoked_at)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING`,
  );
  const selectGrant = db.prepare<[string], GrantRow<string>>(`SELECT * FROM grants WHERE request_id = ?`);
  const selectUnrevoked = db.prepare<[], { request_id: string }>(`SELECT request_id FROM grants WHERE revoked_at IS NULL ORDER BY request_id`);
  const updateEndsAt = db.prepare(`UPDATE grants SET ends_at = ? WHERE request_id = ? AND revoked_at IS NULL`);
  const updateRevoked = db.prepare(
    `UPDATE grants SET revoked_at = ? WHERE request_id = ? AND revoked_at IS NULL`,
  );
  const selectActive = db.prepare<[string, string, string, string], GrantRow<string>>(
    `SELECT * FROM grants
     WHERE principal = ? AND tenant = ? AND resource = ? AND revoked_at IS NULL AND ends_at > ?
     ORDER BY ends_at DESC, request_id`,
  );
  const insertNotification = db.prepare(
    `INSERT INTO notifications (id, recipient, tenant, request_id, kind, subject, body, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
  );
  const selectNotifications = db.prepare<[string, number], NotificationRow<string>>(
    `SELECT * FROM notifications WHERE recipient = ? ORDER BY created_at DESC, id DESC LIMIT ?`,
  );

  // IMMEDIATE takes the write lock up front: a deferred transaction that upgrades from read to write in WAL mode
  // gets SQLITE_BUSY at once, without the busy timeout, when another process committed in between.
  const reserve = db.transaction((r: IdempotencyReservation) => {
    const { changes } = insertReservation.run(r.principal, r.key, r.fingerprint, r.requestId, new Date().toISOString());
    const row = selectReservation.get(r.principal, r.key);
    if (!row) throw new Error('idempotency key vanished after insert');
    return { principal: row.principal, key: row.key, fingerprint: row.fingerprint, requestId: row.request_id, created: changes === 1 };
  });
  const put = db.transaction((g: GrantRecord) => {
    insertGrant.run(
      g.requestId,
      g.tenant,
      g.resource,
      g.principal,
      isoUtc(g.grantedAt, 'grantedAt'),
      isoUtc(g.endsAt, 'endsAt'),
      g.revokedAt === null ? null : isoUtc(g.revokedAt, 'revokedAt'),
    );
    const row = selectGrant.get(g.requestId);
    if (!row) throw new Error('grant vanished after insert');
    return toGrant(row);
  });

  return {
    ...sqliteSettingsAndUsers(db),
    ...sqliteSessions(db),
    ...sqliteRecords(db),
    async reserveIdempotencyKey(r) {
      return reserve.immediate(r);
    },
    async getRequestRun(requestId) {
      return selectRun.get(requestId)?.run_id ?? null;
    },
    async takeEmergencySlot(q) {
      // IMMEDIATE: the count and the insert under one write lock, across processes too.
      return takeSlot.immediate(q);
    },
    async claimRequestRun(requestId, runId) {
      insertRun.run(requestId, runId, new Date().toISOString());
      const row = selectRun.get(requestId);
      if (!row) throw new Error('request run claim vanished after insert');
      return row.run_id;
    },
    async putGrant(g) {
      return put.immediate(g);
    },
    async getGrant(requestId) {
      const row = selectGrant.get(requestId);
      return row ? toGrant(row) : null;
    },
    async listUnrevokedGrants() {
      return selectUnrevoked.all().map((r) => r.request_id);
    },
    async extendGrant(requestId, endsAt) {
      updateEndsAt.run(isoUtc(endsAt, 'endsAt'), requestId);
      const row = selectGrant.get(requestId);
      return row ? toGrant(row) : null;
    },
    async revokeGrant(requestId, revokedAt) {
      updateRevoked.run(isoUtc(revokedAt, 'revokedAt'), requestId);
    },
    async findActiveGrants(q) {
      return selectActive.all(q.principal, q.tenant, q.resource, isoUtc(q.now, 'now')).map(toGrant);
    },
    async addNotification(n) {
      insertNotification.run(n.id, n.recipient, n.tenant, n.requestId, n.kind, n.subject, n.body, isoUtc(n.createdAt, 'createdAt'));
    },
    async listNotifications(q) {
      return selectNotifications.all(q.recipient, checkLimit(q.limit)).map(toNotification);
    },
    async close() {
      if (db.open) db.close();
    },
  };
}

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError('limit must be a non-negative integer');
  return limit;
}
