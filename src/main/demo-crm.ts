import pg from 'pg';
import { DEMO_CRM } from '../config/demo.js';
import type { Logger } from '../config/logger.js';

/**
 * The demo's customer database behind `db:crm`: a database with a `crm` schema and a few rows, made at start-up
 * where the PostgreSQL at the demo target's URL can be reached. Best effort: without it, `db:crm` requests fail
 * with a clear reason and everything else works.
 */
export async function prepareDemoCrm(adminUrl: string, log: Logger): Promise<void> {
  const url = new URL(adminUrl);
  const database = decodeURIComponent(url.pathname.slice(1)) || DEMO_CRM.database;
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  try {
    await withClient(maintenance.toString(), async (c) => {
      const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (exists.rowCount === 0) await c.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`).catch(ignoreDuplicate);
    });
    await withClient(url.toString(), async (c) => {
      const schema = pg.escapeIdentifier(DEMO_CRM.schema);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${schema}.customers (id int PRIMARY KEY, name text NOT NULL, plan text NOT NULL)`);
      await c.query(
        `INSERT INTO ${schema}.customers VALUES (1, 'Contoso Ltd', 'enterprise'), (2, 'Contoso Labs', 'team'), (3, 'Contoso Retail', 'team') ON CONFLICT DO NOTHING`,
      );
    });
    log.info('demo resource db:crm ready', { host: url.hostname, port: url.port || '5432', database });
  } catch (err) {
    // pg's own errors never include the URL's password.
    log.warn('demo resource db:crm unavailable: its requests will fail', { error: err instanceof Error ? err.message : String(err) });
  }
}

async function withClient(url: string, fn: (c: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

function ignoreDuplicate(err: { code?: string }): void {
  if (err.code !== '42P04' && err.code !== '23505') throw err;
}
