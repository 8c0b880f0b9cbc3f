import pg from 'pg';
import type { CredentialVault } from '../../ports/credential-vault.js';
import { createSealer } from './seal.js';
import { inTransaction } from '../pg-transaction.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS lockbox_credentials (
  request_id text PRIMARY KEY,
  key_id     text NOT NULL,
  sealed     bytea NOT NULL,
  stored_at  timestamptz NOT NULL DEFAULT now()
);
`;

interface Row {
  key_id: string;
  sealed: Buffer;
}

/**
 * CREATE TABLE IF NOT EXISTS races when two processes start at once (both pass the check, one fails on the
 * catalog's unique index), so the DDL runs under a transaction-scoped advisory lock keyed by the schema, as the
 * PostgreSQL store does.
 */
async function migrate(pool: pg.Pool): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('lockbox:credentials:' || coalesce(current_schema(), '')))`);
    await client.query(SCHEMA);
  });
}

/**
 * Opens an encrypted credential vault in PostgreSQL (table `lockbox_credentials`, created if missing; a
 * `search_path` in the URL's `options` selects the schema). `key` is the base64 of a 32-byte AES-256-GCM key.
 * The URL may hold a password: it is never put into an error.
 */
export async function openPostgresCredentialVault(opts: { url: string; key: string }): Promise<CredentialVault> {
  const sealer = createSealer(opts.key);
  const pool = new pg.Pool({ connectionString: opts.url, max: 4 });
  // A dropped idle connection emits 'error' on the pool; unheard, it would kill the process. pg replaces it.
  pool.on('error', () => undefined);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  let closed = false;

  return {
    async put(requestId, secret) {
      const { keyId, sealed } = sealer.seal(requestId, secret);
      await pool.query(
        `INSERT INTO lockbox_credentials (request_id, key_id, sealed) VALUES ($1, $2, $3)
         ON CONFLICT (request_id) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, stored_at = now()`,
        [requestId, keyId, sealed],
      );
    },
    async get(requestId) {
      const { rows } = await pool.query<Row>(`SELECT key_id, sealed FROM lockbox_credentials WHERE request_id = $1`, [requestId]);
      const row = rows[0];
      return row ? sealer.open(requestId, { keyId: row.key_id, sealed: row.sealed }) : null;
    },
    async delete(requestId) {
      await pool.query(`DELETE FROM lockbox_credentials WHERE request_id = $1`, [requestId]);
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
