/**
 * Issue 18: audit sinks that go down lose nothing. A whole Lockbox of this file's own (dev.ts on free ports, own data
 * dir) with LOCKBOX_AUDIT_SINKS=jsonl,postgres,http, and two real outages of a minute each while requests are filed,
 * approved and revoked:
 *  - the SIEM (node:http on 127.0.0.2, checks the HMAC signature, stores events by id) answers 500 for 60 s;
 *  - the PostgreSQL sink's database (a private cluster of this file's own) is shut down for 60 s and started again.
 * Meanwhile `lockbox_audit_export_backlog_events{sink}` on /metrics is above 0; afterwards every event is in every
 * sink exactly once (the same ids as the workflows' own trails, GET /v1/requests/{id}/audit), in seq order per
 * request, the PostgreSQL chain verifies, and the backlog is back to 0. About 2.5 minutes; it needs no shared stack:
 * LOCKBOX_TEST_NO_STACK=1 npx vitest run test/audit/sink-outage.test.ts
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openPostgresAuditSink } from '../../src/adapters/audit/postgres-audit-sink.js';
import { verifySignature } from '../../src/adapters/http-signing.js';
import type { AuditEvent } from '../../src/domain/audit.js';
import type { StoredAuditEvent } from '../../src/domain/audit-chain.js';
import { requestBody } from '../support/api.js';
import { OUTBOUND_ALLOW, RECEIVER_HOST } from '../support/outbound.js';
import { startOwnStack, sleep, workflowStatus, type OwnStack } from '../support/own-stack.js';
import { personas, type PersonaClient } from '../support/personas.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';

const SECRET = 'siem-hmac-secret-outage-7c1d-do-not-leak';
/** The outage. */
const OUTAGE_MS = 60_000;
/** Enough for the export's retry (at most 30 s apart) to get through after the outage, on a busy machine. */
const CATCH_UP_MS = 90_000;

/** A SIEM collector that can be told to fail: answers 500 (storing nothing) while `failing`, else stores by id. */
function flakySiem(secret: string) {
  const stored = new Map<string, AuditEvent>();
  const stats = { batches: 0, refused: 0, redelivered: 0, badSignatures: 0 };
  let server: http.Server | null = null;
  let port = 0;
  const siem = {
    stored,
    stats,
    failing: false,
    get url() {
      return `http://${RECEIVER_HOST}:${port}/siem/collect`;
    },
    eventsOf: (requestId: string) => [...stored.values()].filter((e) => e.requestId === requestId),
    async start(): Promise<void> {
      const s = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (siem.failing) {
            stats.refused += 1;
            res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"error":"indexer unavailable"}');
            return;
          }
          const ok = verifySignature({
            secret,
            body,
            timestamp: req.headers['x-lockbox-timestamp'] as string | undefined,
            signature: req.headers['x-lockbox-signature'] as string | undefined,
          });
          if (!ok) {
            stats.badSignatures += 1;
            res.writeHead(401).end();
            return;
          }
          stats.batches += 1;
          for (const e of JSON.parse(body) as AuditEvent[]) {
            if (stored.has(e.id)) stats.redelivered += 1;
            else stored.set(e.id, e);
          }
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
        });
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, RECEIVER_HOST, resolve);
      });
      port = (s.address() as AddressInfo).port;
      server = s;
    },
    async stop(): Promise<void> {
      const s = server;
      server = null;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  return siem;
}

let stack: OwnStack | undefined;
let db: PrivatePostgres | undefined;
let admin: pg.Client | undefined;
const siem = flakySiem(SECRET);
let who: (p: 'eve' | 'alice' | 'oscar') => PersonaClient;
const timings: Record<string, number> = {};

beforeAll(async () => {
  const t0 = Date.now();
  db = await startPrivatePostgres();
  await siem.start();
  stack = await startOwnStack(
    {
      LOCKBOX_AUDIT_SINKS: 'jsonl,postgres,http',
      LOCKBOX_AUDIT_DATABASE_URL: db.adminUrl,
      LOCKBOX_AUDIT_HTTP_URL: siem.url,
      LOCKBOX_AUDIT_HTTP_SECRET: SECRET,
      LOCKBOX_OUTBOUND_ALLOW: OUTBOUND_ALLOW,
    },
    'lockbox-sink-outage-',
  );
  who = personas(stack.apiUrl);
  timings.stackStartMs = Date.now() - t0;
}, 180_000);

afterAll(async () => {
  await admin?.end().catch(() => undefined);
  await stack?.stop();
  await siem.stop();
  await db?.stop();
  console.log('[sink-outage]', JSON.stringify({ ...timings, siem: siem.stats }));
});

/** The sink's current value of a per-sink metric on the stack's /metrics (operators only). */
async function metric(name: string, sink: string): Promise<number> {
  const res = await who('oscar').get('/metrics');
  expect(res.status).toBe(200);
  const line = String(res.body).split('\n').find((l) => l.startsWith(`${name}{sink="${sink}"} `));
  expect(line, `${name}{sink="${sink}"} on /metrics`).toBeDefined();
  return Number(line!.split(' ')[1]);
}
const backlog = (sink: string) => metric('lockbox_audit_export_backlog_events', sink);

/** eve files, alice approves and then revokes `n` requests; returns their ids. */
async function fileApproveRevoke(label: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await who('eve').post('/v1/requests', requestBody({ resource: `mailbox:outage-${label}-${i}@contoso.com`, duration: '30m' }));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    ids.push(res.body.id as string);
  }
  for (const id of ids) {
    // Access does not wait for the audit: granted and revoked while a sink is down.
    const approved = await who('alice').post(`/v1/requests/${id}/approve`, { comment: 'ok' });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.status).toBe('active');
  }
  for (const id of ids) {
    const revoked = await who('alice').post(`/v1/requests/${id}/revoke`, { reason: 'done' });
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(revoked.body.status).toBe('revoked');
  }
  return ids;
}

/** The request's own trail, read from its workflow (a query): complete whether exported or not. */
async function journal(id: string): Promise<AuditEvent[]> {
  const res = await who('eve').get(`/v1/requests/${id}/audit`);
  expect(res.status).toBe(200);
  return res.body.events as AuditEvent[];
}

async function jsonlLines(): Promise<StoredAuditEvent[]> {
  const text = await readFile(join(stack!.dataDir, 'audit.jsonl'), 'utf8');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StoredAuditEvent);
}

async function pgRows(): Promise<Array<{ id: string; request_id: string; seq: number }>> {
  if (!admin) {
    admin = new pg.Client({ connectionString: db!.adminUrl });
    admin.on('error', () => undefined);
    await admin.connect();
  }
  return (await admin.query('SELECT id, request_id, seq FROM lockbox_audit_events ORDER BY cursor')).rows;
}

/** The workflow completes only once its last event reached every sink (the journal drains before it returns). */
async function expectAllCompleted(ids: readonly string[]): Promise<void> {
  await expect
    .poll(async () => Promise.all(ids.map((id) => workflowStatus(stack!, id))), { timeout: CATCH_UP_MS, interval: 1_000 })
    .toEqual(ids.map(() => 'COMPLETED'));
}

/** Every event of every request in each sink exactly once, in seq order per request, as the workflow recorded it. */
async function expectDeliveredExactlyOnce(ids: readonly string[]): Promise<void> {
  const [lines, rows] = [await jsonlLines(), await pgRows()];
  for (const id of ids) {
    const trail = await journal(id);
    const expected = trail.map((e) => e.id);
    expect(trail.map((e) => e.type), `journal of ${id}`).toEqual(expect.arrayContaining(['request.created', 'request.approved', 'access.granted', 'access.revoked']));
    expect(expected).toEqual(expected.map((_, i) => `${id}:${i + 1}`));
    // SIEM: stored once each (re-deliveries are counted apart), first arrivals in seq order, exactly as recorded.
    expect(siem.eventsOf(id), `SIEM ${id}`).toEqual(trail);
    // audit.jsonl: one line per event, in file order.
    expect(lines.filter((e) => e.requestId === id).map((e) => e.id), `jsonl ${id}`).toEqual(expected);
    // PostgreSQL: one row per event, in cursor (insertion) order.
    expect(rows.filter((r) => r.request_id === id).map((r) => r.id), `postgres ${id}`).toEqual(expected);
  }
  // Nothing anywhere twice, whatever request.
  expect(new Set(lines.map((e) => e.id)).size).toBe(lines.length);
  expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  expect(siem.stats.badSignatures).toBe(0);
  const sink = openPostgresAuditSink(db!.adminUrl);
  try {
    expect(await sink.verify()).toMatchObject({ ok: true, count: rows.length });
  } finally {
    await sink.close();
  }
}

describe('audit sinks down for a minute lose nothing (issue 18)', () => {
  it('the SIEM answers 500 for 60 s: the backlog shows meanwhile, then every event arrives once, in order', { timeout: 240_000 }, async ({ onTestFinished }) => {
    onTestFinished(() => {
      siem.failing = false;
    });
    expect(await backlog('http')).toBe(0);
    const failuresBefore = await metric('lockbox_audit_export_failures_total', 'http');
    siem.failing = true;
    const downAt = Date.now();
    const ids = await fileApproveRevoke('siem', 3);

    // The exports are failing and retried: the backlog shows them (at least each request's stuck batch), and how
    // long they have waited.
    await expect.poll(() => backlog('http'), { timeout: 30_000, interval: 500 }).toBeGreaterThanOrEqual(ids.length);
    await expect.poll(() => metric('lockbox_audit_export_oldest_pending_seconds', 'http'), { timeout: 30_000, interval: 500 }).toBeGreaterThan(1);
    expect(await metric('lockbox_audit_export_failures_total', 'http')).toBeGreaterThan(failuresBefore);
    expect(siem.stats.refused).toBeGreaterThan(0);
    // The other sinks are fine, and nothing reached the SIEM.
    expect(await backlog('postgres')).toBe(0);
    expect(await backlog('jsonl')).toBe(0);
    for (const id of ids) expect(siem.eventsOf(id), id).toEqual([]);

    await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));
    // Still down at the end of the minute: the workflows hold the events (in their history) and wait.
    expect(await backlog('http')).toBeGreaterThan(0);
    for (const id of ids) expect(await workflowStatus(stack!, id), id).toBe('RUNNING');
    siem.failing = false;
    timings.siemDownMs = Date.now() - downAt;
    const upAt = Date.now();

    await expectAllCompleted(ids);
    timings.siemCatchUpMs = Date.now() - upAt;
    await expectDeliveredExactlyOnce(ids);
    await expect.poll(() => backlog('http'), { timeout: 15_000, interval: 500 }).toBe(0);
    expect(await metric('lockbox_audit_export_oldest_pending_seconds', 'http')).toBe(0);
  });

  it('the PostgreSQL sink\'s database is shut down for 60 s: the backlog shows meanwhile, then every event arrives once, in order', { timeout: 240_000 }, async ({ onTestFinished }) => {
    onTestFinished(() => db!.resume());
    expect(await backlog('postgres')).toBe(0);
    await admin?.end().catch(() => undefined);
    admin = undefined;
    const failuresBefore = await metric('lockbox_audit_export_failures_total', 'postgres');
    await db!.pause(); // pg_ctl stop -m fast: every session ended, the port closed
    const downAt = Date.now();
    const probe = new pg.Client({ connectionString: db!.adminUrl, connectionTimeoutMillis: 5_000 });
    probe.on('error', () => undefined);
    await expect(probe.connect()).rejects.toThrow(); // really down
    const ids = await fileApproveRevoke('pg', 3);

    await expect.poll(() => backlog('postgres'), { timeout: 30_000, interval: 500 }).toBeGreaterThanOrEqual(ids.length);
    await expect.poll(() => metric('lockbox_audit_export_oldest_pending_seconds', 'postgres'), { timeout: 30_000, interval: 500 }).toBeGreaterThan(1);
    expect(await metric('lockbox_audit_export_failures_total', 'postgres')).toBeGreaterThan(failuresBefore);
    expect(await backlog('http')).toBe(0);

    await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));
    expect(await backlog('postgres')).toBeGreaterThan(0);
    for (const id of ids) expect(await workflowStatus(stack!, id), id).toBe('RUNNING');
    await db!.resume(); // the same port, the same data
    timings.postgresDownMs = Date.now() - downAt;
    const upAt = Date.now();

    await expectAllCompleted(ids);
    timings.postgresCatchUpMs = Date.now() - upAt;
    await expectDeliveredExactlyOnce(ids);
    await expect.poll(() => backlog('postgres'), { timeout: 15_000, interval: 500 }).toBe(0);
    expect(await metric('lockbox_audit_export_oldest_pending_seconds', 'postgres')).toBe(0);
  });
});
