import pg from 'pg';
import type { AuditEvent } from '../../domain/audit.js';
import { ChainBreakReason, createChainVerifier, linkEvents, type ChainHead } from '../../domain/audit-chain.js';
import type { AuditListQuery, AuditPage, AuditSink } from '../../ports/audit-sink.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { AUDIT_FENCE, AUDIT_SCHEMA, ROW_COLUMNS, columnsAgree, insertStatement, storedFromRow, type AuditRow } from './postgres-audit-rows.js';
import { inTransaction } from '../pg-transaction.js';

const INSERT_CHUNK = 500;
const VERIFY_PAGE = 1000;

/** A PostgreSQL audit sink; `migrate` creates its table now rather than on first use (e.g. to fail fast). */
export type PostgresAuditSink = AuditSink & { migrate(): Promise<void> };

export interface PostgresAuditSinkOptions {
  /** Gives up on an unreachable server after this long, so the activity fails and is retried. Default 10 s. */
  connectionTimeoutMs?: number;
  /** Pool size. Default 5. */
  maxConnections?: number;
}

function uniqueById(events: readonly AuditEvent[]): AuditEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => !seen.has(e.id) && Boolean(seen.add(e.id)));
}

/**
 * The PostgreSQL audit sink, table `lockbox_audit_events`; a `search_path` in the URL
 * (`?options=-csearch_path%3Dmyschema`) selects the schema. Exactly once by event id; each tenant's chain is
 * extended under a transaction-scoped advisory lock on the tenant, so any number of workers and replicas append
 * concurrently without forking it. Opening never touches the database: while it is unreachable every call throws
 * (the activity retries, the events wait in Temporal) and the table is created on the first call that gets through.
 * The URL may hold a password: it is never put into an error.
 */
export function openPostgresAuditSink(url: string, opts: PostgresAuditSinkOptions = {}): PostgresAuditSink {
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 10_000,
    max: opts.maxConnections ?? 5,
  });
  // A dropped idle connection emits 'error' on the pool; pg discards that client, the next query opens a new one.
  pool.on('error', () => undefined);
  let ready: Promise<void> | null = null;
  let closing: Promise<void> | null = null;

  /** The DDL runs under a schema-wide advisory lock (as the store's does): replicas starting at once wait in turn. */
  function migrate(): Promise<void> {
    ready ??= inTransaction(pool, async (c) => {
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('lockbox:schema:' || coalesce(current_schema(), '')))`);
      await c.query(AUDIT_SCHEMA);
    }).catch((err: unknown) => {
      ready = null; // try again on the next call
      throw err;
    });
    return ready;
  }

  async function run<T>(begin: string, op: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (closing) throw new Error('audit sink is closed');
    await migrate();
    return inTransaction(pool, op, begin);
  }

  async function listPage(q: AuditListQuery): Promise<AuditPage> {
    const after = q.after === undefined ? '0' : decodeCursor('pg', q.after);
    const limit = Math.max(1, Math.floor(q.limit));
    const params: unknown[] = [after, limit];
    let where = 'cursor > $1';
    if (q.tenant !== undefined) where += ` AND tenant = $${params.push(q.tenant)}`;
    if (q.type !== undefined) where += ` AND type = $${params.push(q.type)}`;
    const sql = `SELECT ${ROW_COLUMNS} FROM lockbox_audit_events WHERE ${where} ORDER BY cursor LIMIT $2`;
    const rows = await run('BEGIN', async (c) => {
      // One tenant's rows get cursors in commit order already (its writers queue on the tenant lock).
      if (q.tenant === undefined) await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...AUDIT_FENCE]);
      return (await c.query<AuditRow>(sql, params)).rows;
    });
    const last = rows.at(-1);
    return {
      events: rows.map(storedFromRow),
      next: last ? encodeCursor('pg', last.cursor) : (q.after ?? null),
      more: rows.length === limit,
    };
  }

  return {
    migrate,

    async append(events) {
      const batch = uniqueById(events);
      if (batch.length === 0) return;
      await run('BEGIN', async (c) => {
        await c.query('SELECT pg_advisory_xact_lock_shared($1, $2)', [...AUDIT_FENCE]);
        // Sorted, so two batches spanning the same tenants cannot deadlock.
        for (const tenant of [...new Set(batch.map((e) => e.tenant))].sort()) {
          await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`lockbox:audit:${tenant}`]);
        }
        const { rows: known } = await c.query<{ id: string }>(
          'SELECT id FROM lockbox_audit_events WHERE id = ANY($1::text[])',
          [batch.map((e) => e.id)],
        );
        const stored = new Set(known.map((r) => r.id));
        const fresh = batch.filter((e) => !stored.has(e.id));
        if (fresh.length === 0) return; // a retried export: nothing inserted, the chain does not move
        const heads = new Map<string, ChainHead>();
        for (const tenant of new Set(fresh.map((e) => e.tenant))) {
          const { rows } = await c.query<{ hash: string; chain_index: string }>(
            'SELECT hash, chain_index FROM lockbox_audit_events WHERE tenant = $1 ORDER BY chain_index DESC LIMIT 1',
            [tenant],
          );
          if (rows[0]) heads.set(tenant, { hash: rows[0].hash, index: Number(rows[0].chain_index) });
        }
        const linked = linkEvents(heads, fresh);
        for (let i = 0; i < linked.length; i += INSERT_CHUNK) {
          const chunk = linked.slice(i, i + INSERT_CHUNK);
          const { rowCount } = await c.query(insertStatement(chunk));
          // Only an id stored meanwhile under ANOTHER tenant's lock gets here; linking past it would fork the
          // chain, so give up this attempt: the retry sees the id and skips it.
          if (rowCount !== chunk.length) throw new Error('audit event id stored concurrently; retry the export');
        }
      });
    },

    async listByRequest(requestId) {
      const rows = await run('BEGIN', async (c) =>
        (await c.query<{ event: AuditEvent }>(
          'SELECT event FROM lockbox_audit_events WHERE request_id = $1 ORDER BY seq',
          [requestId],
        )).rows,
      );
      return rows.map((r) => r.event);
    },

    list: listPage,

    async verify(q = {}) {
      // One snapshot for every page: a tenant's chain is then a consistent prefix, whatever commits meanwhile.
      return run('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (c) => {
        const verifier = createChainVerifier();
        const params: unknown[] = ['0', VERIFY_PAGE];
        const byTenant = q.tenant === undefined ? '' : ` AND tenant = $${params.push(q.tenant)}`;
        const sql = `SELECT ${ROW_COLUMNS} FROM lockbox_audit_events WHERE cursor > $1${byTenant} ORDER BY cursor LIMIT $2`;
        for (;;) {
          const { rows } = await c.query<AuditRow>(sql, params);
          for (const row of rows) {
            const event = storedFromRow(row);
            if (!columnsAgree(row)) verifier.fail(event, ChainBreakReason.hashMismatch);
            if (!verifier.push(event)) return verifier.result();
          }
          const last = rows.at(-1);
          if (!last || rows.length < VERIFY_PAGE) return verifier.result();
          params[0] = last.cursor;
        }
      });
    },

    close() {
      closing ??= pool.end();
      return closing;
    },
  };
}
