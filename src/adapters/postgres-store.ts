import pg from 'pg';
import type {
  GrantRecord,
  IdempotencyReservation,
  NotificationRecord,
  Store,
} from '../ports/store.js';
import { SETTINGS_USERS_SCHEMA, postgresSettingsAndUsers } from './store/postgres-settings-users.js';
import { SESSIONS_SCHEMA, postgresSessions } from './store/postgres-sessions.js';
import { RECORDS_SCHEMA, postgresRecords } from './store/postgres-records.js';
import { isoUtc } from './store/postgres-rows.js';
import { toGrant, toNotification, type GrantRow, type NotificationRow, type ReservationRow } from './store/rows.js';
import { inTransaction } from './pg-transaction.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS lockbox_idempotency_keys (
  principal   text NOT NULL,
  key         text NOT NULL,
  fingerprint text NOT NULL,
  request_id  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (principal, key)
);
CREATE TABLE IF NOT EXISTS lockbox_request_runs (
  request_id text PRIMARY KEY,
  run_id     text NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS lockbox_emergency_slots (
  request_id text PRIMARY KEY,
  tenant     text NOT NULL,
  requester  text NOT NULL,
  taken_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS lockbox_emergency_slots_by_person ON lockbox_emergency_slots (tenant, requester, taken_at);
CREATE TABLE IF NOT EXISTS lockbox_grants (
  request_id text PRIMARY KEY,
  tenant     text NOT NULL,
  resource   text NOT NULL,
  principal  text NOT NULL,
  granted_at timestamptz NOT NULL,
  ends_at    timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS lockbox_grants_principal_tenant_resource ON lockbox_grants (principal, tenant, resource);
CREATE TABLE IF NOT EXISTS lockbox_notifications (
  id         text PRIMARY KEY,
  recipient  text NOT NULL,
  tenant     text NOT NULL,
  request_id text NOT NULL,
  kind       text NOT NULL,
  subject    text NOT NULL,
  body       text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS lockbox_notifications_recipient_created ON lockbox_notifications (recipient, created_at);
`;

/**
 * Creates the tables unless they exist. CREATE TABLE IF NOT EXISTS alone is not safe when two processes start at
 * once (both pass the existence check, one fails on the catalog's unique index), so the DDL runs under a
 * transaction-scoped advisory lock keyed by the target schema: replicas wait for each other, other schemas do not.
 */
async function migrate(pool: pg.Pool): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('lockbox:schema:' || coalesce(current_schema(), '')))`);
    for (const ddl of [SCHEMA, SETTINGS_USERS_SCHEMA, SESSIONS_SCHEMA, RECORDS_SCHEMA]) await client.query(ddl);
  });
}

/**
 * Opens the PostgreSQL store at `url` and creates its `lockbox_` tables if missing. A `search_path` passed in the
 * URL (`?options=-csearch_path%3Dmyschema`) selects the schema. The URL may hold a password: it is never put into
 * an error or log line.
 */
export async function openPostgresStore(url: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url });
  // An idle client whose connection drops emits 'error' on the pool; without a listener that kills the process.
  // pg already discards the broken client and the next query opens a fresh one, so there is nothing more to do.
  pool.on('error', () => undefined);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  let closed = false;

  return {
    ...postgresSettingsAndUsers(pool),
    ...postgresSessions(pool),
    ...postgresRecords(pool),
    async getRequestRun(requestId: string) {
      const row = (await pool.query<{ run_id: string }>(`SELECT run_id FROM lockbox_request_runs WHERE request_id = $1`, [requestId])).rows[0];
      return row?.run_id ?? null;
    },

    async takeEmergencySlot(q) {
      return inTransaction(pool, async (client) => {
        // One responder at one tenant at a time (replicas too): the count and the insert cannot interleave.
        await client.query(`SELECT pg_advisory_xact_lock(hashtext('lockbox:emergency:' || $1 || '/' || $2))`, [q.tenant, q.requester]);
        const used = Number(
          (await client.query<{ n: string }>(`SELECT count(*) AS n FROM lockbox_emergency_slots WHERE tenant = $1 AND requester = $2 AND taken_at >= $3`, [q.tenant, q.requester, q.since])).rows[0]?.n ?? 0,
        );
        const held = (await client.query(`SELECT 1 FROM lockbox_emergency_slots WHERE request_id = $1`, [q.requestId])).rowCount ?? 0;
        let result = { ok: true, used };
        if (held === 0) {
          if (used >= q.limit) result = { ok: false, used };
          else {
            await client.query(`INSERT INTO lockbox_emergency_slots (request_id, tenant, requester, taken_at) VALUES ($1, $2, $3, $4)`, [q.requestId, q.tenant, q.requester, q.at]);
            result = { ok: true, used: used + 1 };
          }
        }
        return result;
      });
    },

    async claimRequestRun(requestId: string, runId: string) {
      // As with idempotency keys: ON CONFLICT waits for a concurrent claimer, so the SELECT then sees the winner.
      await pool.query(
        `INSERT INTO lockbox_request_runs (request_id, run_id) VALUES ($1, $2) ON CONFLICT (request_id) DO NOTHING`,
        [requestId, runId],
      );
      const row = (await pool.query<{ run_id: string }>(`SELECT run_id FROM lockbox_request_runs WHERE request_id = $1`, [requestId])).rows[0];
      if (!row) throw new Error('request run claim vanished after insert');
      return row.run_id;
    },

    async reserveIdempotencyKey(r: IdempotencyReservation) {
      // ON CONFLICT DO NOTHING waits for a concurrent inserter of the same key to commit, so when no row comes
      // back, the stored row is visible to the next statement (READ COMMITTED takes a fresh snapshot per statement).
      const inserted = await pool.query<ReservationRow>(
        `INSERT INTO lockbox_idempotency_keys (principal, key, fingerprint, request_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT (principal, key) DO NOTHING
         RETURNING principal, key, fingerprint, request_id`,
        [r.principal, r.key, r.fingerprint, r.requestId],
      );
      const created = inserted.rows[0] !== undefined;
      const row =
        inserted.rows[0] ??
        (
          await pool.query<ReservationRow>(
            `SELECT principal, key, fingerprint, request_id FROM lockbox_idempotency_keys
             WHERE principal = $1 AND key = $2`,
            [r.principal, r.key],
          )
        ).rows[0];
      if (!row) throw new Error('idempotency key vanished after insert');
      return { principal: row.principal, key: row.key, fingerprint: row.fingerprint, requestId: row.request_id, created };
    },

    async putGrant(g: GrantRecord) {
      const inserted = await pool.query<GrantRow<Date>>(
        `INSERT INTO lockbox_grants (request_id, tenant, resource, principal, granted_at, ends_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id) DO NOTHING RETURNING *`,
        [
          g.requestId,
          g.tenant,
          g.resource,
          g.principal,
          isoUtc(g.grantedAt, 'grantedAt'),
          isoUtc(g.endsAt, 'endsAt'),
          g.revokedAt === null ? null : isoUtc(g.revokedAt, 'revokedAt'),
        ],
      );
      const row =
        inserted.rows[0] ??
        (await pool.query<GrantRow<Date>>(`SELECT * FROM lockbox_grants WHERE request_id = $1`, [g.requestId])).rows[0];
      if (!row) throw new Error('grant vanished after insert');
      return toGrant(row);
    },

    async getGrant(requestId) {
      const { rows } = await pool.query<GrantRow<Date>>(`SELECT * FROM lockbox_grants WHERE request_id = $1`, [requestId]);
      return rows[0] ? toGrant(rows[0]) : null;
    },

    async listUnrevokedGrants() {
      const { rows } = await pool.query<{ request_id: string }>(`SELECT request_id FROM lockbox_grants WHERE revoked_at IS NULL ORDER BY request_id`);
      return rows.map((r) => r.request_id);
    },

    async extendGrant(requestId, endsAt) {
      await pool.query(`UPDATE lockbox_grants SET ends_at = $1 WHERE request_id = $2 AND revoked_at IS NULL`, [isoUtc(endsAt, 'endsAt'), requestId]);
      const { rows } = await pool.query<GrantRow<Date>>(`SELECT * FROM lockbox_grants WHERE request_id = $1`, [requestId]);
      return rows[0] ? toGrant(rows[0]) : null;
    },

    async revokeGrant(requestId, revokedAt) {
      await pool.query(`UPDATE lockbox_grants SET revoked_at = $1 WHERE request_id = $2 AND revoked_at IS NULL`, [
        isoUtc(revokedAt, 'revokedAt'),
        requestId,
      ]);
    },

    async findActiveGrants(q) {
      const { rows } = await pool.query<GrantRow<Date>>(
        `SELECT * FROM lockbox_grants
         WHERE principal = $1 AND tenant = $2 AND resource = $3 AND revoked_at IS NULL AND ends_at > $4
         ORDER BY ends_at DESC, request_id`,
        [q.principal, q.tenant, q.resource, isoUtc(q.now, 'now')],
      );
      return rows.map(toGrant);
    },

    async addNotification(n: NotificationRecord) {
      await pool.query(
        `INSERT INTO lockbox_notifications (id, recipient, tenant, request_id, kind, subject, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
        [n.id, n.recipient, n.tenant, n.requestId, n.kind, n.subject, n.body, isoUtc(n.createdAt, 'createdAt')],
      );
    },

    async listNotifications(q) {
      if (!Number.isInteger(q.limit) || q.limit < 0) throw new RangeError('limit must be a non-negative integer');
      const { rows } = await pool.query<NotificationRow<Date>>(
        `SELECT * FROM lockbox_notifications WHERE recipient = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
        [q.recipient, q.limit],
      );
      return rows.map(toNotification);
    },

    async close() {
      // pool.end() rejects when called twice; close() is idempotent like the SQLite adapter's.
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
