/**
 * The PostgreSQL audit sink against the machine's real PostgreSQL, in a schema of its own per run (dropped after).
 * Outages are real too: the sink talks through a TCP proxy that the test stops and starts.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/adapters/audit/cursor.js';
import { AUDIT_FENCE, insertStatement } from '../../src/adapters/audit/postgres-audit-rows.js';
import { openPostgresAuditSink, type PostgresAuditSink } from '../../src/adapters/audit/postgres-audit-sink.js';
import { AuditEventType, buildAuditEvent, type AuditEvent } from '../../src/domain/audit.js';
import { ChainBreakReason, linkEvent, type StoredAuditEvent } from '../../src/domain/audit-chain.js';
import { InvalidAuditCursorError } from '../../src/ports/audit-sink.js';
import { closedPort, freshSchema, tcpProxy } from './pg-support.js';

const TYPES = [AuditEventType.requestCreated, AuditEventType.approversNotified, AuditEventType.requestApproved,
  AuditEventType.accessGranted, AuditEventType.accessRevoked] as const;

function event(tenant: string, requestId: string, seq: number): AuditEvent {
  return buildAuditEvent({
    requestId,
    tenant,
    seq,
    time: new Date(Date.UTC(2030, 0, 1, 9, 0, seq)),
    type: TYPES[(seq - 1) % TYPES.length] ?? AuditEventType.requestCreated,
    actor: seq === 1 ? 'eve' : seq === 3 ? 'alice' : 'system',
    details: { note: `step ${seq} — ünïcødé "quoted"`, nested: { n: seq * 1.5, list: [seq, null, true] } },
  });
}
const events = (tenant: string, requestId: string, from: number, to: number): AuditEvent[] =>
  Array.from({ length: to - from + 1 }, (_, i) => event(tenant, requestId, from + i));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What Temporal does with a failing export activity: retry with backoff until it succeeds. */
async function exportWithRetry(sink: PostgresAuditSink, batch: AuditEvent[], failures: { n: number }): Promise<void> {
  for (;;) {
    try {
      return await sink.append(batch);
    } catch {
      failures.n += 1;
      await sleep(25);
    }
  }
}

let db: Awaited<ReturnType<typeof freshSchema>>;
const sinks: PostgresAuditSink[] = [];
function sink(port?: number): PostgresAuditSink {
  const s = openPostgresAuditSink(db.url(port), { connectionTimeoutMs: 2_000 });
  sinks.push(s);
  return s;
}

/** Rows of one tenant in cursor order, as the table holds them. */
async function rowsOf(tenant: string): Promise<{ id: string; chain_index: string }[]> {
  const { rows } = await db.admin.query<{ id: string; chain_index: string }>(
    'SELECT id, chain_index FROM lockbox_audit_events WHERE tenant = $1 ORDER BY cursor',
    [tenant],
  );
  return rows;
}
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1));

beforeAll(async () => {
  db = await freshSchema();
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await db.drop();
});

describe('PostgreSQL audit sink', () => {
  it('stores each event once under retries; a retry does not advance the chain', async () => {
    const s = sink();
    await s.append(events('t-once', 'req-a', 1, 3));
    await s.append(events('t-once', 'req-a', 2, 5));
    await s.append([event('t-once', 'req-a', 5), event('t-once', 'req-a', 5)]);
    await s.append(events('t-once', 'req-a', 1, 5));
    const rows = await rowsOf('t-once');
    expect(rows.map((r) => r.id)).toEqual(events('t-once', 'req-a', 1, 5).map((e) => e.id));
    expect(rows.map((r) => r.chain_index)).toEqual(oneTo(5));
    // The stored JSON reads back as the exported event, so its hash verifies.
    expect(await s.listByRequest('req-a')).toEqual(events('t-once', 'req-a', 1, 5));
    expect(await s.verify({ tenant: 't-once' })).toMatchObject({ ok: true, count: 5 });
  });

  it('several sink instances appending for one tenant at once build one unbroken chain', async () => {
    const instances = [sink(), sink(), sink(), sink()];
    const batches = Array.from({ length: 30 }, (_, i) => events('t-race', `req-r${i}`, 1, 3));
    // Every batch goes through two instances at once, so the same ids race as well as the chain head.
    await Promise.all(
      batches.flatMap((batch, i) => [
        instances[i % 4]?.append(batch),
        instances[(i + 1) % 4]?.append(batch),
      ]),
    );
    const rows = await rowsOf('t-race');
    expect(rows).toHaveLength(90);
    expect(new Set(rows.map((r) => r.id)).size).toBe(90);
    expect(rows.map((r) => r.chain_index)).toEqual(oneTo(90));
    expect(await instances[0]?.verify({ tenant: 't-race' })).toMatchObject({ ok: true, count: 90 });
  });

  it('pages with a stable cursor, by tenant and by type, while new events arrive', async () => {
    const s = sink();
    const drain = async (q: { tenant?: string; type?: string }, after?: string) => {
      const seen: StoredAuditEvent[] = [];
      let cursor = after;
      for (;;) {
        const page = await s.list({ ...q, limit: 2, ...(cursor === undefined ? {} : { after: cursor }) });
        seen.push(...page.events);
        cursor = page.next ?? undefined;
        if (!page.more) return { ids: seen.map((e) => e.id), seen, cursor };
      }
    };
    // The schema is shared with the other tests: start after what they stored.
    const before = (await drain({})).cursor;
    await s.append([...events('t-page-a', 'req-pa', 1, 5), ...events('t-page-b', 'req-pb', 1, 4)]);
    const a = await drain({ tenant: 't-page-a' });
    expect(a.ids).toEqual(events('t-page-a', 'req-pa', 1, 5).map((e) => e.id));
    expect(a.seen.map((e) => e.chain.index)).toEqual([1, 2, 3, 4, 5]);
    const approvals = await drain({ type: AuditEventType.requestApproved }, before);
    expect(approvals.ids).toEqual(['req-pa:3', 'req-pb:3']);

    await s.append(events('t-page-a', 'req-pa', 5, 7)); // 5 is a retry
    const later = await drain({ tenant: 't-page-a' }, a.cursor);
    expect(later.ids).toEqual(['req-pa:6', 'req-pa:7']);
    // Past the last event of t-page-a is past every event of t-page-b: an empty page keeps the cursor.
    const idle = await s.list({ tenant: 't-page-b', limit: 2, after: later.cursor as string });
    expect(idle).toEqual({ events: [], next: later.cursor, more: false });

    await expect(s.list({ limit: 2, after: 'garbage!' })).rejects.toBeInstanceOf(InvalidAuditCursorError);
    await expect(s.list({ limit: 2, after: encodeCursor('jsonl', 3) })).rejects.toBeInstanceOf(InvalidAuditCursorError);
  });

  it('a reader across tenants waits for a writer that drew a lower cursor, so it never skips it', async () => {
    const s = sink();
    await s.migrate();
    const start = await s.list({ limit: 1000 });
    // A writer of tenant t-slow that has drawn its cursor but not committed yet, exactly as the sink's append does.
    const slow = new pg.Client({ connectionString: db.url() });
    await slow.connect();
    try {
      await slow.query('BEGIN');
      await slow.query('SELECT pg_advisory_xact_lock_shared($1, $2)', [...AUDIT_FENCE]);
      await slow.query(insertStatement([linkEvent(undefined, event('t-slow', 'req-slow', 1))]));
      await s.append([event('t-fast', 'req-fast', 1)]); // commits a HIGHER cursor first
      let settled = false;
      const page = s.list({ limit: 10, ...(start.next ? { after: start.next } : {}) }).finally(() => {
        settled = true;
      });
      await sleep(300);
      expect(settled).toBe(false);
      await slow.query('COMMIT');
      expect((await page).events.map((e) => e.id)).toEqual(['req-slow:1', 'req-fast:1']);
    } finally {
      await slow.end();
    }
  });

  it('verify finds an UPDATE of the event, an UPDATE of an indexed column, and a DELETE made by SQL', async () => {
    const s = sink();
    for (const t of ['t-edit', 't-column', 't-delete']) await s.append(events(t, `req-${t}`, 1, 4));
    expect(await s.verify()).toMatchObject({ ok: true });

    await db.admin.query(
      `UPDATE lockbox_audit_events SET event = jsonb_set(event, '{details,note}', '"nothing to see"') WHERE id = 'req-t-edit:2'`,
    );
    expect(await s.verify({ tenant: 't-edit' })).toEqual({
      ok: false,
      count: 1,
      brokenAt: { id: 'req-t-edit:2', tenant: 't-edit', index: 2, reason: ChainBreakReason.hashMismatch },
    });

    await db.admin.query(`UPDATE lockbox_audit_events SET actor = 'bob' WHERE id = 'req-t-column:3'`);
    expect(await s.verify({ tenant: 't-column' })).toMatchObject({
      ok: false,
      brokenAt: { id: 'req-t-column:3', reason: ChainBreakReason.hashMismatch },
    });

    await db.admin.query(`DELETE FROM lockbox_audit_events WHERE id = 'req-t-delete:2'`);
    expect(await s.verify({ tenant: 't-delete' })).toMatchObject({
      ok: false,
      count: 1,
      brokenAt: { id: 'req-t-delete:3', reason: ChainBreakReason.indexMismatch },
    });
    // Without a tenant, verify stops at the first break in cursor order.
    expect(await s.verify()).toMatchObject({ ok: false, brokenAt: { id: 'req-t-edit:2' } });
  });

  it('throws while PostgreSQL is unreachable (closed port) and works once it is there', async () => {
    const port = await closedPort();
    const s = sink(port);
    await expect(s.append(events('t-down', 'req-d', 1, 2))).rejects.toThrow(/ECONNREFUSED|connect/);
    await expect(s.list({ limit: 1 })).rejects.toThrow();
    const proxy = tcpProxy(port);
    await proxy.start();
    try {
      await s.append(events('t-down', 'req-d', 1, 2));
      expect(await s.verify({ tenant: 't-down' })).toMatchObject({ ok: true, count: 2 });
    } finally {
      await proxy.stop();
    }
  });

  it('loses nothing and stores nothing twice when PostgreSQL goes away in the middle of a batch of lifecycles', async () => {
    const port = await closedPort();
    const proxy = tcpProxy(port);
    await proxy.start();
    const s = sink(port);
    const failures = { n: 0 };
    let outage: Promise<void> = Promise.resolve();
    try {
      // 20 lifecycles of 5 events, 4 at a time, each exported in two batches like the workflow's journal does.
      for (let i = 0; i < 20; i += 4) {
        if (i === 8) {
          // PostgreSQL goes away now, with connections open, and comes back 400 ms later.
          await proxy.stop();
          outage = sleep(400).then(() => proxy.start());
        }
        await Promise.all(
          [i, i + 1, i + 2, i + 3].map(async (k) => {
            await exportWithRetry(s, events('t-outage', `req-o${k}`, 1, 2), failures);
            await sleep(30);
            await exportWithRetry(s, events('t-outage', `req-o${k}`, 1, 5), failures); // overlaps: a retry's shape
          }),
        );
      }
      await outage;
    } finally {
      await proxy.stop();
    }
    expect(failures.n).toBeGreaterThan(0); // the outage really hit the exports
    const rows = await rowsOf('t-outage');
    expect(rows).toHaveLength(100);
    expect(new Set(rows.map((r) => r.id)).size).toBe(100);
    expect(rows.map((r) => r.chain_index)).toEqual(oneTo(100));
    const check = sink();
    expect(await check.verify({ tenant: 't-outage' })).toMatchObject({ ok: true, count: 100 });
    expect((await check.listByRequest('req-o7')).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  }, 30_000);
});
