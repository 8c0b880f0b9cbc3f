import Database from 'better-sqlite3';
import type { CredentialVault } from '../../ports/credential-vault.js';
import { createSealer } from './seal.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS credentials (
  request_id TEXT PRIMARY KEY,
  key_id     TEXT NOT NULL,
  sealed     BLOB NOT NULL,
  stored_at  TEXT NOT NULL
);
`;

interface Row {
  key_id: string;
  sealed: Buffer;
}

/**
 * Opens (creating if missing) an encrypted credential vault in the SQLite file `file`, which may be the Store's
 * own file: the table name does not clash. `key` is the base64 of a 32-byte AES-256-GCM key; a malformed key fails
 * here, at start-up, not at the first grant.
 */
export function openSqliteCredentialVault(opts: { file: string; key: string }): CredentialVault {
  const sealer = createSealer(opts.key);
  const db = new Database(opts.file);
  try {
    // Same settings as the SQLite store: several processes may share the file.
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.transaction(() => db.exec(SCHEMA)).immediate();
  } catch (err) {
    db.close();
    throw err;
  }
  const upsert = db.prepare(
    `INSERT INTO credentials (request_id, key_id, sealed, stored_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (request_id) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, stored_at = excluded.stored_at`,
  );
  const select = db.prepare<[string], Row>(`SELECT key_id, sealed FROM credentials WHERE request_id = ?`);
  const remove = db.prepare(`DELETE FROM credentials WHERE request_id = ?`);

  return {
    async put(requestId, secret) {
      const { keyId, sealed } = sealer.seal(requestId, secret);
      upsert.run(requestId, keyId, sealed, new Date().toISOString());
    },
    async get(requestId) {
      const row = select.get(requestId);
      return row ? sealer.open(requestId, { keyId: row.key_id, sealed: row.sealed }) : null;
    },
    async delete(requestId) {
      remove.run(requestId);
    },
    async close() {
      if (db.open) db.close();
    },
  };
}
