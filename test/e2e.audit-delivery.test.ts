/**
 * End to end: audit delivery to real sinks from a whole Lockbox of the test's own (dev.ts on free ports, own data
 * dir) with LOCKBOX_AUDIT_SINKS=jsonl,postgres,http:
 *  - a SIEM (node:http on 127.0.0.2, allow-listed) that checks the HMAC signature and stores events by id, counting re-deliveries;
 *  - the machine's PostgreSQL, in a schema of this file's own, reached through a TCP proxy the test can stop;
 *  - the data dir's audit.jsonl.
 * Nothing lost, nothing twice, in order per request, also while the SIEM or PostgreSQL is down mid-batch; the
 * pull feed (GET /v1/audit) with its cursor and tenant scoping; tamper evidence on a copy of the file.
 * Personas: eve files, alice (contoso approver and admin) approves, bob (approver only), oscar (operator).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyJsonlFile } from '../src/adapters/audit/jsonl-read.js';
import { openPostgresAuditSink } from '../src/adapters/audit/postgres-audit-sink.js';
import type { AuditEvent } from '../src/domain/audit.js';
import type { StoredAuditEvent } from '../src/domain/audit-chain.js';
import { closedPort, freshSchema, tcpProxy } from './audit/pg-support.js';
import { eventually, requestBody } from './support/api.js';
import { startOwnStack, sleep, workflowStatus, type OwnStack } from './support/own-stack.js';
import { personas, type PersonaClient } from './support/personas.js';
import { siemReceiver } from './support/siem-receiver.js';
import { OUTBOUND_ALLOW } from './support/outbound.js';

const SECRET = 'siem-hmac-secret-3e8b1f-do-not-leak';
const WINDOW = '2s';
const ROOT = join(import.meta.dirname, '..');

let stack: OwnStack | undefined;
let schema: Awaited<ReturnType<typeof freshSchema>> | undefined;
let proxy: ReturnType<typeof tcpProxy> | undefined;
const siem = siemReceiver(SECRET);
let who: (p: 'eve' | 'alice' | 'bob' | 'oscar' | 'fiona') => PersonaClient;
const scratch: string[] = [];
/** Every request this file filed, in filing order. */
const filed: string[] = [];
const timings: Record<string, number> = {};

beforeAll(async () => {
  const t0 = Date.now();
  schema = await freshSchema();
  const pgPort = await closedPort();
  proxy = tcpProxy(pgPort);
  await proxy.start();
  await siem.start();
  stack = await startOwnStack(
    {
      LOCKBOX_AUDIT_SINKS: 'jsonl,postgres,http',
      LOCKBOX_AUDIT_DATABASE_URL: schema.url(pgPort),
      LOCKBOX_AUDIT_HTTP_URL: siem.url,
      LOCKBOX_AUDIT_HTTP_SECRET: SECRET,
      LOCKBOX_OUTBOUND_ALLOW: OUTBOUND_ALLOW,
    },
    'lockbox-e2e-audit-',
  );
  who = personas(stack.apiUrl);
  timings.stackStartMs = Date.now() - t0;
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await siem.stop();
  await proxy?.stop();
  await schema?.drop();
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  // The numbers the report asks for: how long things took, how many re-deliveries the SIEM had to drop.
  console.log('[e2e.audit-delivery]', JSON.stringify({ ...timings, siemBatches: siem.stats.batches, siemDuplicateDeliveries: siem.duplicateCount() }));
});

/** eve files a contoso request with a short window; alice approves it (access exists when the call returns). */
async function fileAndApprove(resource: string): Promise<string> {
  const id = await file(resource);
  await approve(id);
  return id;
}
async function file(resource: string, duration = WINDOW): Promise<string> {
  const res = await who('eve').post('/v1/requests', requestBody({ resource, duration }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  filed.push(res.body.id);
  return res.body.id as string;
}
async function approve(id: string): Promise<void> {
  const res = await who('alice').post(`/v1/requests/${id}/approve`, { comment: 'ok' });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.status).toBe('active');
}

/** The workflow completes only once every event reached every sink (the journal drains before it returns). */
async function waitCompleted(ids: readonly string[], timeoutMs: number): Promise<void> {
  const s = stack!;
  for (const id of ids) {
    const status = await eventually(() => workflowStatus(s, id), (v) => v !== 'RUNNING', timeoutMs);
    expect(status, id).toBe('COMPLETED');
  }
}

/** The request's journal, read from the workflow (a query): the complete list, exported or not. */
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
  return (await schema!.admin.query('SELECT id, request_id, seq FROM lockbox_audit_events ORDER BY cursor')).rows;
}

/** Every event of every request in each of the three sinks exactly once, in seq order per request. */
async function expectDeliveredExactlyOnce(ids: readonly string[]): Promise<void> {
  const [lines, rows] = [await jsonlLines(), await pgRows()];
  for (const id of ids) {
    const expected = (await journal(id)).map((e) => e.id);
    expect(expected.length, `journal of ${id}`).toBeGreaterThanOrEqual(5);
    expect(expected).toEqual(expected.map((_, i) => `${id}:${i + 1}`));
    // SIEM: stored once each (re-deliveries are counted apart), first arrivals in seq order.
    expect(siem.eventsOf(id).map((e) => e.id), `SIEM ${id}`).toEqual(expected);
    // audit.jsonl: one line per event, in file order.
    expect(lines.filter((e) => e.requestId === id).map((e) => e.id), `jsonl ${id}`).toEqual(expected);
    // PostgreSQL: one row per event, in cursor (insertion) order.
    expect(rows.filter((r) => r.request_id === id).map((r) => r.id), `postgres ${id}`).toEqual(expected);
  }
  // The SIEM got the events exactly as the workflow recorded them.
  for (const id of ids) expect(siem.eventsOf(id)).toEqual(await journal(id));
  // Nothing anywhere twice, whatever request.
  expect(new Set(lines.map((e) => e.id)).size).toBe(lines.length);
  expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  expect(siem.stats.badSignatures).toBe(0);
}

async function verifyPostgresChains(): Promise<void> {
  const sink = openPostgresAuditSink(schema!.url());
  try {
    const verdict = await sink.verify();
    expect(verdict).toMatchObject({ ok: true, count: (await pgRows()).length });
  } finally {
    await sink.close();
  }
}

describe('audit delivery to a SIEM, PostgreSQL and the JSON Lines file, end to end', () => {
  it('a full lifecycle: every event in all three sinks exactly once, in order; both chains verify', async () => {
    const t0 = Date.now();
    const id = await fileAndApprove('mailbox:e2e-audit-1@contoso.com');
    // The window ends by itself; the request completes and its last events are exported.
    const done = await eventually(() => who('eve').get(`/v1/requests/${id}`), (r) => r.body.status === 'completed', 20_000);
    expect(done.body.status).toBe('completed');
    await waitCompleted([id], 20_000);
    timings.lifecycleMs = Date.now() - t0;

    const types = (await journal(id)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['request.created', 'approvers.notified', 'request.approved', 'access.granted', 'access.revoked']));
    expect(types[0]).toBe('request.created');
    await expectDeliveredExactlyOnce([id]);

    const jsonl = await verifyJsonlFile(join(stack!.dataDir, 'audit.jsonl'));
    expect(jsonl).toMatchObject({ ok: true, count: (await jsonlLines()).length });
    await verifyPostgresChains();
  });

  it('the SIEM goes down in the middle of a batch of lifecycles: events wait in Temporal, then arrive once each, in order', async ({ onTestFinished }) => {
    const t0 = Date.now();
    const ids: string[] = [];
    // A window long enough that the first two are still active when the SIEM goes, even on a busy machine.
    for (let i = 0; i < 5; i++) ids.push(await file(`mailbox:e2e-batch-${i}@contoso.com`, '4s'));
    await Promise.all([approve(ids[0]!), approve(ids[1]!)]);

    await siem.stop();
    onTestFinished(() => (siem.listening ? undefined : siem.start()));
    const downAt = Date.now();
    for (const id of ids.slice(2)) await approve(id);
    // Every window ends while the SIEM is down: the revokes happen, their events cannot reach it.
    for (const id of ids) {
      const done = await eventually(() => who('eve').get(`/v1/requests/${id}`), (r) => r.body.status === 'completed', 20_000);
      expect(done.body.status).toBe('completed');
    }
    await sleep(1_000); // a few more export attempts fail meanwhile
    for (const id of ids) {
      // Not finished: the workflow holds the events the SIEM has not taken yet (in its history, not in memory).
      expect(await workflowStatus(stack!, id)).toBe('RUNNING');
      const missing = (await journal(id)).filter((e) => !siem.stored.has(e.id));
      expect(missing.map((e) => e.type), id).toContain('access.revoked');
    }
    // The approvals given while it was down (seq 3 of the last three) have not reached it.
    for (const id of ids.slice(2)) expect(siem.stored.has(`${id}:3`), id).toBe(false);

    await siem.start(); // the same port
    timings.siemDownMs = Date.now() - downAt;
    const upAt = Date.now();
    await waitCompleted(ids, 60_000);
    timings.siemCatchUpMs = Date.now() - upAt;
    timings.siemBatchMs = Date.now() - t0;
    await expectDeliveredExactlyOnce(ids);
    expect(await verifyJsonlFile(join(stack!.dataDir, 'audit.jsonl'))).toMatchObject({ ok: true });
    await verifyPostgresChains();
  });

  it('PostgreSQL goes away mid-lifecycle: events wait, then arrive exactly once when it is back', async ({ onTestFinished }) => {
    const t0 = Date.now();
    const id = await file('mailbox:e2e-pg-down@contoso.com');
    await proxy!.stop();
    let down = true;
    onTestFinished(async () => {
      if (down) await proxy!.start(); // back for the tests after, whatever happened here
    });
    const downAt = Date.now();
    await approve(id); // access does not wait for the audit
    // The window (2 s) ends meanwhile.
    const done = await eventually(() => who('eve').get(`/v1/requests/${id}`), (r) => r.body.status === 'completed', 20_000);
    expect(done.body.status).toBe('completed');
    await sleep(2_000); // a few more export attempts fail meanwhile
    expect(await workflowStatus(stack!, id)).toBe('RUNNING');
    const events = await journal(id);
    const inPg = new Set((await pgRows()).map((r) => r.id));
    expect(events.some((e) => e.type === 'access.revoked' && !inPg.has(e.id))).toBe(true);
    // The batch being retried already reached the SIEM and the file (the export goes to every sink each time, and
    // they de-duplicate); the batches after it wait their turn, in order.
    const stuck = events.find((e) => !inPg.has(e.id))!;
    expect(siem.stored.has(stuck.id)).toBe(true);
    expect((await jsonlLines()).map((e) => e.id)).toContain(stuck.id);

    await proxy!.start(); // PostgreSQL is back, on the same address
    down = false;
    timings.postgresDownMs = Date.now() - downAt;
    const upAt = Date.now();
    await waitCompleted([id], 60_000);
    timings.postgresCatchUpMs = Date.now() - upAt;
    timings.postgresCaseMs = Date.now() - t0;
    await expectDeliveredExactlyOnce(filed);
    await verifyPostgresChains();
  });

  it('the pull feed: tenant admins page through their own tenant with a stable cursor, operators see all', async () => {
    // A fabrikam request too, so there is something alice must not see.
    const fab = await who('eve').post('/v1/requests', requestBody({ tenant: 'fabrikam', resource: 'mailbox:x@fabrikam.com', duration: WINDOW }));
    expect(fab.status, JSON.stringify(fab.body)).toBe(201);
    expect((await who('eve').post(`/v1/requests/${fab.body.id}/cancel`, { reason: 'wrong tenant' })).status).toBe(200);
    await waitCompleted([fab.body.id], 30_000);
    const fabIds = (await journal(fab.body.id)).map((e) => e.id);

    // alice, page by page.
    const pages: StoredAuditEvent[][] = [];
    let cursor: string | undefined;
    for (let guard = 0; guard < 100; guard++) {
      const res = await who('alice').get(`/v1/audit?limit=4${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      pages.push(res.body.events);
      expect(res.body.next).toEqual(expect.any(String));
      cursor = res.body.next;
      if (!res.body.more) break;
      expect(res.body.events).toHaveLength(4);
    }
    expect(pages.length).toBeGreaterThan(3);
    const seen = pages.flat();
    expect(seen.every((e) => e.tenant === 'contoso')).toBe(true);
    expect(seen.map((e) => e.id)).not.toEqual(expect.arrayContaining([fabIds[0]]));
    // No gap, no repeat: contoso's chain positions 1..N, and every event this file filed is there.
    expect(seen.map((e) => e.chain.index)).toEqual(seen.map((_, i) => i + 1));
    for (const id of filed) {
      const mine = seen.filter((e) => e.requestId === id);
      expect(mine.map((e) => e.id)).toEqual((await journal(id)).map((e) => e.id));
    }
    // The last cursor, polled again: nothing new, still a cursor to poll with.
    const again = await who('alice').get(`/v1/audit?limit=4&after=${encodeURIComponent(cursor!)}`);
    expect(again.body).toMatchObject({ events: [], more: false });
    expect(again.body.next).toEqual(expect.any(String));
    // A type filter.
    const approvals = await who('alice').get('/v1/audit?type=request.approved&limit=1000');
    expect(approvals.body.events.length).toBe(filed.length);
    expect(approvals.body.events.every((e: AuditEvent) => e.type === 'request.approved')).toBe(true);

    // alice asking for fabrikam: refused, nothing of it shown.
    const foreign = await who('alice').get('/v1/audit?tenant=fabrikam');
    expect(foreign.status).toBe(403);
    expect(JSON.stringify(foreign.body)).not.toContain(fab.body.id);
    // fiona, fabrikam's admin, sees only fabrikam.
    const fiona = await who('fiona').get('/v1/audit?limit=1000');
    expect(fiona.status).toBe(200);
    expect(fiona.body.events.map((e: AuditEvent) => e.id)).toEqual(fabIds);
    // bob is an approver, not an admin.
    const bob = await who('bob').get('/v1/audit');
    expect(bob.status).toBe(403);
    expect(bob.headers.get('content-type')).toMatch(/application\/problem\+json/);
    // oscar, the operator, sees every tenant: exactly the file's events, in its order.
    const oscar = await who('oscar').get('/v1/audit?limit=1000');
    expect(oscar.status).toBe(200);
    expect(oscar.body.events.map((e: AuditEvent) => e.id)).toEqual((await jsonlLines()).map((e) => e.id));
    expect(new Set(oscar.body.events.map((e: AuditEvent) => e.tenant))).toEqual(new Set(['contoso', 'fabrikam']));

    // A cursor the feed never issued: 400 naming `after`.
    for (const garbage of ['not a cursor!', 'Zm9vOmJhcg', Buffer.from('pg:5').toString('base64url'), Buffer.from('jsonl:99999999').toString('base64url')]) {
      const bad = await who('alice').get(`/v1/audit?after=${encodeURIComponent(garbage)}`);
      expect(bad.status, garbage).toBe(400);
      expect(bad.body.errors).toEqual([expect.objectContaining({ field: 'after' })]);
    }
  });

  it('tamper evidence: an edited or deleted line in a copy of audit.jsonl is named by verify and the CLI', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lockbox-e2e-tamper-'));
    scratch.push(dir);
    const original = join(stack!.dataDir, 'audit.jsonl');
    const copy = join(dir, 'audit.jsonl');
    await copyFile(original, copy);
    expect(await verifyJsonlFile(copy)).toMatchObject({ ok: true });

    const lines = (await readFile(copy, 'utf8')).split('\n');
    const victim = `${filed[0]}:3`;
    const at = lines.findIndex((l) => l.includes(`"id":"${victim}"`));
    expect(at).toBeGreaterThan(0);
    const edited = JSON.parse(lines[at]!) as StoredAuditEvent;
    expect(edited.type).toBe('request.approved');
    edited.actor = 'mallory@contoso.com';
    await writeFile(copy, [...lines.slice(0, at), JSON.stringify(edited), ...lines.slice(at + 1)].join('\n'));
    const verdict = await verifyJsonlFile(copy);
    expect(verdict).toMatchObject({ ok: false, brokenAt: { id: victim, tenant: 'contoso', reason: 'hash_mismatch' } });

    // `lockbox audit verify <file>` says the same, and exits non-zero.
    const cli = await promisify(execFile)(process.execPath, [join(ROOT, 'bin', 'lockbox.js'), 'audit', 'verify', copy], { cwd: ROOT }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
    expect(cli.code).not.toBe(0);
    expect(cli.out).toContain(victim);

    // A deleted line: the next contoso event no longer lines up.
    await writeFile(copy, [...lines.slice(0, at), ...lines.slice(at + 1)].join('\n'));
    const gap = await verifyJsonlFile(copy);
    expect(gap.ok).toBe(false);
    const next = lines.slice(at + 1).map((l) => (l ? (JSON.parse(l) as StoredAuditEvent) : null)).find((e) => e?.tenant === 'contoso');
    expect(gap).toMatchObject({ brokenAt: { id: next!.id, reason: 'index_mismatch' } });

    // The real file is untouched and still verifies.
    expect(await verifyJsonlFile(original)).toMatchObject({ ok: true, count: (await jsonlLines()).length });
  });
});
