import type Database from 'better-sqlite3';
import type { LoginFlowRecord, SessionRecord, SessionStore } from '../../ports/session-store.js';
import { isoUtc } from './sqlite-time.js';

/** Created with IF NOT EXISTS on every open, in the same IMMEDIATE transaction as the other tables. */
export const SESSIONS_SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id_hash      TEXT PRIMARY KEY,
  principal    TEXT NOT NULL,
  csrf_token   TEXT NOT NULL,
  auth_time    TEXT,
  amr          TEXT NOT NULL,
  acr          TEXT,
  id_token     TEXT,
  created_at   TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  expires_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS login_flows (
  id_hash       TEXT PRIMARY KEY,
  state         TEXT NOT NULL,
  nonce         TEXT NOT NULL,
  code_verifier TEXT NOT NULL,
  return_to     TEXT NOT NULL,
  max_age       INTEGER,
  expires_at    TEXT NOT NULL
);
`;

interface SessionRow {
  id_hash: string;
  principal: string;
  csrf_token: string;
  auth_time: string | null;
  amr: string;
  acr: string | null;
  id_token: string | null;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

interface FlowRow {
  id_hash: string;
  state: string;
  nonce: string;
  code_verifier: string;
  return_to: string;
  max_age: number | null;
  expires_at: string;
}

const toSession = (r: SessionRow): SessionRecord => ({
  idHash: r.id_hash,
  principal: JSON.parse(r.principal) as SessionRecord['principal'],
  csrfToken: r.csrf_token,
  authTime: r.auth_time,
  amr: JSON.parse(r.amr) as string[],
  acr: r.acr,
  idToken: r.id_token,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  expiresAt: r.expires_at,
});

const toFlow = (r: FlowRow): LoginFlowRecord => ({
  idHash: r.id_hash,
  state: r.state,
  nonce: r.nonce,
  codeVerifier: r.code_verifier,
  returnTo: r.return_to,
  maxAge: r.max_age,
  expiresAt: r.expires_at,
});

/** The session methods over an open database whose schema includes {@link SESSIONS_SCHEMA}. */
export function sqliteSessions(db: Database.Database): SessionStore {
  const insertSession = db.prepare(
    `INSERT INTO sessions (id_hash, principal, csrf_token, auth_time, amr, acr, id_token, created_at, last_seen_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const selectSession = db.prepare<[string], SessionRow>(`SELECT * FROM sessions WHERE id_hash = ?`);
  const touch = db.prepare(`UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id_hash = ?`);
  const deleteOne = db.prepare(`DELETE FROM sessions WHERE id_hash = ?`);
  const insertFlow = db.prepare(
    `INSERT INTO login_flows (id_hash, state, nonce, code_verifier, return_to, max_age, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  // DELETE ... RETURNING is one statement: of two callbacks racing with the same cookie, one gets the row.
  const takeFlow = db.prepare<[string], FlowRow>(`DELETE FROM login_flows WHERE id_hash = ? RETURNING *`);
  const purgeSessions = db.prepare(`DELETE FROM sessions WHERE expires_at <= ?`);
  const purgeFlows = db.prepare(`DELETE FROM login_flows WHERE expires_at <= ?`);

  return {
    async createSession(s) {
      insertSession.run(
        s.idHash,
        JSON.stringify(s.principal),
        s.csrfToken,
        s.authTime === null ? null : isoUtc(s.authTime, 'authTime'),
        JSON.stringify(s.amr),
        s.acr,
        s.idToken,
        isoUtc(s.createdAt, 'createdAt'),
        isoUtc(s.lastSeenAt, 'lastSeenAt'),
        isoUtc(s.expiresAt, 'expiresAt'),
      );
    },
    async getSession(idHash) {
      const row = selectSession.get(idHash);
      return row ? toSession(row) : null;
    },
    async touchSession(idHash, lastSeenAt) {
      touch.run(isoUtc(lastSeenAt, 'lastSeenAt'), idHash);
    },
    async deleteSession(idHash) {
      deleteOne.run(idHash);
    },
    async putLoginFlow(f) {
      insertFlow.run(f.idHash, f.state, f.nonce, f.codeVerifier, f.returnTo, f.maxAge, isoUtc(f.expiresAt, 'expiresAt'));
    },
    async takeLoginFlow(idHash) {
      const row = takeFlow.get(idHash);
      return row ? toFlow(row) : null;
    },
    async deleteExpiredSessions(now) {
      const at = isoUtc(now, 'now');
      return db.transaction(() => purgeSessions.run(at).changes + purgeFlows.run(at).changes).immediate();
    },
  };
}
