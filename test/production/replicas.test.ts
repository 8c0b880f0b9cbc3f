/**
 * The production shape on the real Temporal server (PostgreSQL persistence and visibility): two API replicas and
 * two worker replicas as separate processes, sharing Lockbox's PostgreSQL (store, credentials, audit sink). Requests
 * are filed on one API and decided on the other; one worker is SIGKILLed in the middle of the batch. Every request
 * still ends as it should, no access outlives its window, every audit event is stored exactly once and in order, and
 * the histories this produced replay on the current workflow code.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { exitOf, lockboxApi, ROOT, sleep, sql, startLockbox, waitForPollers, waitReady, type LockboxProc } from './support.js';

const { temporal } = createRequire(import.meta.url)('@temporalio/proto') as typeof import('@temporalio/proto');
const WORKFLOWS = fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url));

const NAMESPACE = 'lockbox';
const TASK_QUEUE = 'lockbox-replicas';
const info = inject('production');
const procs: LockboxProc[] = [];
let workers: LockboxProc[] = [];
let apis: ReturnType<typeof lockboxApi>[] = [];
let client: { connection: Connection; client: Client } | undefined;
const dataDir = join(info.workDir, 'replicas-data');
const logDir = join(info.workDir, 'replicas-logs');
/** Every request this file made, for the audit and replay checks. */
const requestIds: string[] = [];
const run = Date.now().toString(36);

beforeAll(async () => {
  const env = {
    LOCKBOX_MODE: 'embedded', // demo identities, so the demo tokens work
    TEMPORAL_ADDRESS: info.temporalAddress,
    TEMPORAL_NAMESPACE: NAMESPACE,
    LOCKBOX_TASK_QUEUE: TASK_QUEUE,
    LOCKBOX_DATABASE_URL: info.appDatabaseUrl,
    LOCKBOX_AUDIT_SINKS: 'postgres',
    // One data dir for all: every replica signs and verifies with the same embedded key.
    LOCKBOX_DATA_DIR: dataDir,
    LOCKBOX_WORKFLOW_BUNDLE: info.bundlePath,
  };
  // Both workers at once: they race to register the namespace and the search attributes.
  workers = await Promise.all([startLockbox('worker', env, logDir, 'worker-1'), startLockbox('worker', env, logDir, 'worker-2')]);
  procs.push(...workers);
  await waitForPollers(info.temporalAddress, NAMESPACE, TASK_QUEUE, workers);
  const [a, b] = await Promise.all([startLockbox('api', env, logDir, 'api-a'), startLockbox('api', env, logDir, 'api-b')]);
  procs.push(a, b);
  await Promise.all([waitReady(a), waitReady(b)]);
  apis = [lockboxApi(a.url!), lockboxApi(b.url!)];
  const connection = await Connection.connect({ address: info.temporalAddress });
  client = { connection, client: new Client({ connection, namespace: NAMESPACE }) };
});

afterAll(async () => {
  await client?.connection.close();
  await Promise.all(procs.map((p) => p.stop()));
});

describe('Lockbox on a Temporal cluster with PostgreSQL, 2 API and 2 worker replicas', () => {
  it('registered the namespace (30 days retention) and the search attributes through its own start-up path', async () => {
    const ns = await client!.connection.workflowService.describeNamespace({ namespace: NAMESPACE });
    expect(Number(ns.config?.workflowExecutionRetentionTtl?.seconds)).toBe(720 * 3600);
    const { customAttributes } = await client!.connection.operatorService.listSearchAttributes({ namespace: NAMESPACE });
    expect(Object.keys(customAttributes)).toEqual(expect.arrayContaining(['LockboxTenant', 'LockboxStatus', 'LockboxRequester', 'LockboxResource']));
    // Whoever lost the registration race said nothing alarming and kept running.
    for (const w of workers) expect(w.child.exitCode).toBeNull();
  });

  it('runs lifecycles through both APIs alternately and finishes them all after a worker is SIGKILLed mid-batch', async () => {
    type Plan = 'complete' | 'reject' | 'cancel' | 'revoke';
    const plans: Plan[] = ['complete', 'reject', 'complete', 'cancel', 'complete', 'revoke'];
    const N = 12;
    const items = Array.from({ length: N }, (_, i) => ({
      i,
      plan: plans[i % plans.length]!,
      resource: `mailbox:prod-${run}-${i}@contoso.com`,
      creator: apis[i % 2]!,
      decider: apis[(i + 1) % 2]!,
      id: '',
    }));
    const expected: Record<Plan, string> = { complete: 'completed', reject: 'rejected', cancel: 'cancelled', revoke: 'revoked' };

    // File them all, alternately on API A and API B.
    for (const it of items) {
      const res = await it.creator.eve.post('/v1/requests', {
        tenant: 'contoso',
        resource: it.resource,
        reason: `production-shape batch ${run}`,
        ticket: 'SUP-9',
        // Short windows that end by themselves; a long one for those revoked early, so an approve that answers late
        // (a worker died under it) still finds the access in force to revoke.
        duration: it.plan === 'revoke' ? '10m' : `${6 + (it.i % 3) * 2}s`,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      it.id = res.body.id;
      requestIds.push(it.id);
    }
    // The other API sees each one at once (Temporal, not the API's memory, holds it).
    for (const it of items) expect((await it.decider.alice.get(`/v1/requests/${it.id}`)).body.status).toBe('pending');

    const decide = async (it: (typeof items)[number]) => {
      if (it.plan === 'reject') return it.decider.bob.post(`/v1/requests/${it.id}/reject`, { reason: 'not now' });
      if (it.plan === 'cancel') return it.creator.eve.post(`/v1/requests/${it.id}/cancel`, { reason: 'solved' });
      let approved = await it.decider.alice.post(`/v1/requests/${it.id}/approve`, { comment: 'ok' });
      expect([200, 202], JSON.stringify(approved.body)).toContain(approved.status);
      // With a worker dying, the grant can take longer than the approve waits (8 s): 202 `granting`; follow it.
      for (let i = 0; approved.body.status === 'granting' && i < 600; i++) {
        await sleep(200);
        approved = await it.decider.alice.get(`/v1/requests/${it.id}`);
      }
      expect(approved.body.status, JSON.stringify(approved.body)).toBe('active');
      // Granted before the approve answered: the access is there, on either API, until its window ends (with a
      // worker dying, an approve can answer late, near or past the end of a short window).
      const check = await it.creator.eve.get(`/v1/access/check?tenant=contoso&resource=${encodeURIComponent(it.resource)}`);
      const endsAt = Date.parse(approved.body.access.endsAt);
      if (Date.now() < endsAt - 250) expect(check.body).toMatchObject({ allowed: true, requestId: it.id });
      if (Date.now() > endsAt + 50) expect(check.body.allowed).toBe(false);
      if (it.plan === 'revoke') return it.creator.bob.post(`/v1/requests/${it.id}/revoke`, { reason: 'done early' });
      return approved;
    };

    // First half decided with both workers up...
    const firstHalf = items.slice(0, N / 2);
    for (const res of await Promise.all(firstHalf.map(decide))) expect(res.status, JSON.stringify(res.body)).toBe(200);
    // ...then the second half, and while those decisions, grants and audit exports are in flight one worker dies
    // without warning. Its workflow tasks time out and move to the other worker; its activities are retried there
    // after their start-to-close timeout.
    const secondHalf = items.slice(N / 2).map(decide);
    await sleep(250);
    const victim = workers[0]!;
    victim.child.kill('SIGKILL');
    expect(await exitOf(victim, 10_000)).toBe('SIGKILL');
    for (const res of await Promise.all(secondHalf)) expect(res.status, JSON.stringify(res.body)).toBe(200);

    // Every request reaches its end. An activity that was running on the dead worker is retried after its 30 s
    // start-to-close timeout, so allow for that. Meanwhile: access whose window has ended is denied at once, even
    // while its revoke is still waiting to be retried.
    const lateAccess: string[] = [];
    const deadline = Date.now() + 150_000;
    const final = new Map<string, any>();
    while (final.size < N && Date.now() < deadline) {
      for (const it of items) {
        if (final.has(it.id)) continue;
        const api = apis[Math.floor(Math.random() * 2)]!;
        const r = (await api.eve.get(`/v1/requests/${it.id}`)).body;
        const endsAt = r.access?.endsAt ? Date.parse(r.access.endsAt) : undefined;
        if (endsAt !== undefined && Date.now() > endsAt + 50) {
          const check = await api.eve.get(`/v1/access/check?tenant=contoso&resource=${encodeURIComponent(it.resource)}`);
          if (check.body.allowed) lateAccess.push(`${it.id} allowed ${Date.now() - endsAt} ms after its window ended (status ${r.status})`);
        }
        if (['completed', 'rejected', 'cancelled', 'revoked', 'failed', 'expired'].includes(r.status)) final.set(it.id, r);
      }
      await sleep(500);
    }
    expect(lateAccess).toEqual([]);
    for (const it of items) expect(final.get(it.id)?.status, `${it.id} (${it.plan})`).toBe(expected[it.plan]);

    // The workflows themselves complete once every audit event is exported.
    const closed = new Map<string, string>();
    while (closed.size < N && Date.now() < deadline + 60_000) {
      for (const it of items) {
        if (closed.has(it.id)) continue;
        const status = (await client!.client.workflow.getHandle(it.id).describe()).status.name;
        if (status !== 'RUNNING') closed.set(it.id, status);
      }
      if (closed.size < N) await sleep(500);
    }
    expect(items.map((it) => closed.get(it.id))).toEqual(items.map(() => 'COMPLETED'));

    // No access outlives its window: every grant of the batch is revoked at the store, and the check denies them all.
    const grants = await sql<{ request_id: string; ends_at: Date; revoked_at: Date | null }>(
      'SELECT request_id, ends_at, revoked_at FROM lockbox_grants WHERE request_id = ANY($1)',
      [items.map((it) => it.id)],
      new URL(info.appDatabaseUrl).pathname.slice(1),
    );
    const granted = items.filter((it) => it.plan === 'complete' || it.plan === 'revoke');
    expect(grants.map((g) => g.request_id).sort()).toEqual(granted.map((it) => it.id).sort());
    for (const g of grants) expect(g.revoked_at, g.request_id).not.toBeNull();
    for (const it of items) {
      const check = await apis[it.i % 2]!.eve.get(`/v1/access/check?tenant=contoso&resource=${encodeURIComponent(it.resource)}`);
      expect(check.body.allowed, it.id).toBe(false);
    }
    // Completed ones ran their whole window; revoked ones ended early and say so.
    for (const it of granted) {
      const r = final.get(it.id);
      expect(r.access.revokedAt, it.id).toBeTruthy();
      if (it.plan === 'revoke') expect(Date.parse(r.access.revokedAt)).toBeLessThan(Date.parse(r.access.endsAt));
    }

    // Every audit event stored exactly once, in order, in the PostgreSQL sink: the same ids as the workflow's own
    // journal, nothing missing, nothing twice, seq 1..n in the order the sink stored them.
    const rows = await sql<{ id: string; request_id: string; seq: number; type: string }>(
      'SELECT id, request_id, seq, type FROM lockbox_audit_events WHERE request_id = ANY($1) ORDER BY cursor',
      [items.map((it) => it.id)],
      new URL(info.appDatabaseUrl).pathname.slice(1),
    );
    for (const it of items) {
      const stored = rows.filter((r) => r.request_id === it.id);
      const journal = (await apis[(it.i + 1) % 2]!.eve.get(`/v1/requests/${it.id}/audit`)).body.events as Array<{ id: string; seq: number; type: string }>;
      expect(stored.map((r) => r.id), it.id).toEqual(journal.map((e) => e.id));
      expect(new Set(stored.map((r) => r.id)).size).toBe(stored.length);
      expect(stored.map((r) => r.seq)).toEqual(stored.map((_, k) => k + 1));
      const types = stored.map((r) => r.type);
      expect(types[0]).toBe('request.created');
      if (it.plan === 'complete' || it.plan === 'revoke') {
        expect(types.filter((t) => t === 'access.granted')).toHaveLength(1);
        expect(types.filter((t) => t === 'access.revoked')).toHaveLength(1);
      } else {
        expect(types).not.toContain('access.granted');
      }
    }
  });

  it('serves Prometheus metrics: HTTP by route pattern and status, decisions, the reconciler; worker runtime metrics', async () => {
    // Operators only: the scraper holds an operator's token.
    expect((await fetch(`${apis[0]!.url}/metrics`)).status).toBe(401);
    const text = await (await fetch(`${apis[0]!.url}/metrics`, { headers: { authorization: 'Bearer oscar-dev-token' } })).text();
    expect(text).toMatch(/^lockbox_http_requests_total\{method="POST",route="\/v1\/requests",status="201"\} [1-9]/m);
    expect(text).toMatch(/^lockbox_http_request_duration_seconds_bucket\{le="0\.1",method="GET",route="\/v1\/requests\/:id",status="200"\} \d+/m);
    expect(text).toMatch(/^lockbox_decisions_total\{action="(approve|reject|cancel|revoke)",outcome="accepted"\} [1-9]/m);
    expect(text).toContain('lockbox_reconcile_last_success_seconds');
    expect(text).toContain('process_resident_memory_bytes');
    // Route patterns, never raw paths: no request id in any label.
    expect(text).not.toMatch(/route="[^"]*req-/);
    const survivor = workers[1]!;
    const res = await fetch(survivor.metricsUrl!);
    expect(res.status).toBe(200);
    const worker = await res.text();
    expect(worker).toMatch(/temporal_\w+/);
    expect(worker).toContain(`task_queue="${TASK_QUEUE}"`);
  });

  it('records the histories of this suite and replays them on the current workflow code', async () => {
    expect(requestIds.length).toBeGreaterThan(0);
    const dir = join(ROOT, 'test-results', 'production-histories');
    await rm(dir, { recursive: true, force: true }); // this run's histories only
    await mkdir(dir, { recursive: true });
    const histories = [];
    for (const id of requestIds) {
      // Recorded as scripts/record-histories.ts records them, and replayed from the file as test/replay.test.ts does.
      const file = join(dir, `${id}.json`);
      await writeFile(file, JSON.stringify(await client!.client.workflow.getHandle(id).fetchHistory()));
      histories.push({ workflowId: id, history: temporal.api.history.v1.History.fromObject(JSON.parse(await readFile(file, 'utf8'))) });
    }
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowsPath: WORKFLOWS }, histories)) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(requestIds.length);
  });
});
