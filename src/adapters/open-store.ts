import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../ports/store.js';
import { openPostgresStore } from './postgres-store.js';
import { openSqliteStore } from './sqlite-store.js';

/**
 * Opens the process's Store: PostgreSQL when `databaseUrl` is set (replicas share it), otherwise SQLite at
 * `<dataDir>/lockbox.db`, creating the data dir if needed. Call once at start-up and pass the Store down.
 */
export async function openStore(opts: { dataDir: string; databaseUrl?: string }): Promise<Store> {
  // An empty string is treated as unset: an empty env var should not mean "connect to PostgreSQL's defaults".
  if (opts.databaseUrl) return openPostgresStore(opts.databaseUrl);
  await mkdir(opts.dataDir, { recursive: true });
  return openSqliteStore(join(opts.dataDir, 'lockbox.db'));
}
