/**
 * Scratch databases on a PostgreSQL server for runs that provision their own (the production-shape suite, the
 * benchmark's --production): named `<family><pid>_<random>_*`, dropped at the end of the run, and by a later run of
 * the same family when the process that made them is gone.
 */
import pg from 'pg';
import type { PostgresTarget } from './temporal-server.js';

export function scratchDatabaseUrl(target: PostgresTarget, database: string): string {
  return `postgres://${encodeURIComponent(target.user)}@${target.host}:${target.port}/${database}`;
}

/** Runs SQL on the maintenance database (or `database`). */
export async function scratchSql<T extends pg.QueryResultRow = pg.QueryResultRow>(target: PostgresTarget, text: string, values: unknown[] = [], database = 'postgres'): Promise<T[]> {
  const client = new pg.Client({ connectionString: scratchDatabaseUrl(target, database), ...(target.password ? { password: target.password } : {}) });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** `<family><pid>_<random>`: the names of this run. */
export function newScratchPrefix(family: string): string {
  return `${family}${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Drops every database named `<prefix>...`, closing their sessions first. */
export async function dropScratchDatabases(target: PostgresTarget, prefix: string): Promise<void> {
  const rows = await scratchSql<{ datname: string }>(target, 'SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [prefix]);
  for (const { datname } of rows) await scratchSql(target, `DROP DATABASE IF EXISTS "${datname.replace(/"/g, '""')}" WITH (FORCE)`);
}

/** Databases of `family` left by earlier runs on this host whose process died before it could drop them. */
export async function dropAbandonedScratchDatabases(target: PostgresTarget, family: string): Promise<void> {
  const rows = await scratchSql<{ datname: string }>(target, 'SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [family]);
  const pids = new Set(rows.map((r) => Number(/^(\d+)_/.exec(r.datname.slice(family.length))?.[1])).filter((p) => p > 0));
  for (const pid of pids) {
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) await dropScratchDatabases(target, `${family}${pid}_`);
  }
}
