import type pg from 'pg';
import type { LoginFlowRecord, SessionRecord, SessionStore } from '../../ports/session-store.js';

/** Created with IF NOT EXISTS under the same advisory lock as the other tables on every open. */
export const SESSIONS_SCHEMA = `
CREATE TABLE IF NOT EXISTS lockbox_sessions (
  id_hash      text PRIMARY KEY,
  principal    jsonb NOT NULL,
  csrf_token   text NOT NULL,
  auth_time    timestamptz,
  amr          text[] NOT NULL,
  acr          text,
  id_token     text,
  created_at   timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS lockbox_sessions_expires ON lockbox_sessions (expires_at);
CREATE TABLE IF NOT EXISTS lockbox_login_flows (
  id_hash       text PRIMARY KEY,
  state         text NOT NULL,
  nonce         text NOT NULL,
  code_verifier text NOT NULL,
  return_to     text NOT NULL,
  max_age       integer,
  expires_at    timestamptz NOT NULL
);
`;

interface SessionRow {
  id_hash: string;
  principal: SessionRecord['principal'];
  csrf_token: string;
  auth_time: Date | null;
  amr: string[];
  acr: string | null;
  id_token: string | null;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
}

interface FlowRow {
  id_hash: string;
  state: string;
  nonce: string;
  code_verifier: string;
  return_to: string;
  max_age: number | null;
  expires_at: Date;
}

/** Rejects unparsable times here, with the field's name, rather than as a PostgreSQL cast error. */
function isoUtc(value: string, field: string): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new RangeError(`${field} is not a valid ISO-8601 time`);
  return d.toISOString();
}

const toSession = (r: SessionRow): SessionRecord => ({
  idHash: r.id_hash,
  principal: r.principal,
  csrfToken: r.csrf_token,
  authTime: r.auth_time ? r.auth_time.toISOString() : null,
  amr: r.amr,
  acr: r.acr,
  idToken: r.id_token,
  createdAt: r.created_at.toISOString(),
  lastSeenAt: r.last_seen_at.toISOString(),
  expiresAt: r.expires_at.toISOString(),
});

const toFlow = (r: FlowRow): LoginFlowRecord => ({
  idHash: r.id_hash,
  state: r.state,
  nonce: r.nonce,
  codeVerifier: r.code_verifier,
  returnTo: r.return_to,
  maxAge: r.max_age,
  expiresAt: r.expires_at.toISOString(),
});

/** The session methods over a pool whose database has {@link SESSIONS_SCHEMA}. */
export function postgresSessions(pool: pg.Pool): SessionStore {
  return {
    async createSession(s) {
      await pool.query(
        `INSERT INTO lockbox_sessions (id_hash, principal, csrf_token, auth_time, amr, acr, id_token, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          s.idHash,
          JSON.stringify(s.principal),
          s.csrfToken,
          s.authTime === null ? null : isoUtc(s.authTime, 'authTime'),
          s.amr,
          s.acr,
          s.idToken,
          isoUtc(s.createdAt, 'createdAt'),
          isoUtc(s.lastSeenAt, 'lastSeenAt'),
          isoUtc(s.expiresAt, 'expiresAt'),
        ],
      );
    },
    async getSession(idHash) {
      const { rows } = await pool.query<SessionRow>(`SELECT * FROM lockbox_sessions WHERE id_hash = $1`, [idHash]);
      return rows[0] ? toSession(rows[0]) : null;
    },
    async touchSession(idHash, lastSeenAt) {
      await pool.query(`UPDATE lockbox_sessions SET last_seen_at = greatest(last_seen_at, $1) WHERE id_hash = $2`, [isoUtc(lastSeenAt, 'lastSeenAt'), idHash]);
    },
    async deleteSession(idHash) {
      await pool.query(`DELETE FROM lockbox_sessions WHERE id_hash = $1`, [idHash]);
    },
    async putLoginFlow(f) {
      await pool.query(
        `INSERT INTO lockbox_login_flows (id_hash, state, nonce, code_verifier, return_to, max_age, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [f.idHash, f.state, f.nonce, f.codeVerifier, f.returnTo, f.maxAge, isoUtc(f.expiresAt, 'expiresAt')],
      );
    },
    async takeLoginFlow(idHash) {
      const { rows } = await pool.query<FlowRow>(`DELETE FROM lockbox_login_flows WHERE id_hash = $1 RETURNING *`, [idHash]);
      return rows[0] ? toFlow(rows[0]) : null;
    },
    async deleteExpiredSessions(now) {
      const at = isoUtc(now, 'now');
      const a = await pool.query(`DELETE FROM lockbox_sessions WHERE expires_at <= $1`, [at]);
      const b = await pool.query(`DELETE FROM lockbox_login_flows WHERE expires_at <= $1`, [at]);
      return (a.rowCount ?? 0) + (b.rowCount ?? 0);
    },
  };
}
