import pg from 'pg';
import { safePgError } from './postgres-roles.js';

/** One statement of a transaction, named for error messages; `quiet` keeps the server's message out (passwords). */
export type Step = [name: string, sql: string, quiet?: boolean];

/** The admin connection of a PostgreSQL grant provider, with every failure turned into a safe error. */
export interface AdminConnection {
  /**
   * Runs `fn` on one connection holding a session advisory lock on `key`, so two grants, or a grant and a revoke,
   * of the same request never interleave, across processes. `secrets` are blanked from any error message.
   */
  locked<T>(key: string, secrets: string[], fn: (c: pg.PoolClient) => Promise<T>): Promise<T>;
  /** Runs the steps in one transaction; `beforeCommit` runs last inside it (e.g. storing the credential). */
  tx(c: pg.ClientBase, steps: Step[], secrets: string[], beforeCommit?: () => Promise<void>): Promise<void>;
  /** A single query outside any lock, e.g. for read-only checks. */
  query<R extends pg.QueryResultRow>(step: string, sql: string, params: unknown[]): Promise<R[]>;
  end(): Promise<void>;
}

/** How long an unused admin connection stays open; a target nobody is granting at holds no connection. */
export const ADMIN_IDLE_MS = 30_000;

/**
 * Opens a small pool to `url`; `adminSecrets` (the URL's password) are blanked from every error. Idle connections
 * close after `idleMs` and never keep the process alive; `end()` (the router's close) closes the rest.
 */
export function openAdminConnection(url: string, adminSecrets: string[], idleMs = ADMIN_IDLE_MS): AdminConnection {
  const pool = new pg.Pool({ connectionString: url, max: 4, idleTimeoutMillis: idleMs, allowExitOnIdle: true, application_name: 'lockbox-grants' });
  // A dropped idle connection emits 'error' on the pool; unheard, it would kill the process. pg replaces it.
  pool.on('error', () => undefined);
  const safe = (err: unknown, step: string, secrets: string[] = [], quiet = false) =>
    safePgError(err, step, { secrets: [...adminSecrets, ...secrets], quiet });
  let ended = false;

  return {
    async locked(key, secrets, fn) {
      const c = await pool.connect().catch((err: unknown) => Promise.reject(safe(err, 'connect', secrets)));
      let step = 'lock';
      try {
        await c.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
        step = 'query';
        return await fn(c);
      } catch (err) {
        throw safe(err, step, secrets);
      } finally {
        // Unlock fails only on a broken connection; destroying it then releases the lock server-side.
        await c.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).then(
          () => c.release(),
          () => c.release(true),
        );
      }
    },

    async tx(c, steps, secrets, beforeCommit) {
      let current: Step = ['begin', 'BEGIN'];
      try {
        await c.query('BEGIN');
        for (const step of steps) {
          current = step;
          await c.query(step[1]);
        }
        current = ['before commit', '', false];
        await beforeCommit?.();
        current = ['commit', 'COMMIT'];
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw safe(err, current[0], secrets, current[2] ?? false);
      }
    },

    async query(step, sql, params) {
      try {
        return (await pool.query(sql, params)).rows;
      } catch (err) {
        throw safe(err, step);
      }
    },

    async end() {
      if (ended) return;
      ended = true;
      await pool.end();
    },
  };
}
