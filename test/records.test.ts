/**
 * Request records (issue 16, docs/records.md): Lockbox keeps its own record of every request, so a closed request
 * still answers, with its whole audit trail, after its workflow is deleted from Temporal (or aged out by the
 * namespace's retention); and records past their tenant's retention are pruned, the pruning audited first.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openJsonlAuditSink } from '../src/adapters/jsonl-audit-sink.js';
import { openSqliteStore } from '../src/adapters/sqlite-store.js';
import { createRecordActivities } from '../src/activities/records.js';
import { buildAuditEvent, type AuditEvent } from '../src/domain/audit.js';
import type { AccessRequest } from '../src/domain/request.js';
import type { Store, TenantSettings } from '../src/ports/store.js';
import { filedRequest } from './support/records-fixtures.js';
import { api, eventually, requestBody } from './support/api.js';
import { runLockbox } from './support/cli.js';
import { useStackTemporal } from './support/temporal.js';

const stack = inject('stack');
const temporal = useStackTemporal();
const run = ulid().slice(-8).toLowerCase();
const resource = (name: string) => `mailbox:records-${run}-${name}@contoso.com`;

/** `lockbox <args>` (the real binary) against `url` as eve. */
function cli(args: string[], url: string) {
  return runLockbox(args, { ...process.env, LOCKBOX_URL: url, LOCKBOX_TOKEN: 'eve-dev-token' });
}

/** Waits until the request's trail has closed (its record is final), then answers its view and trail. */
async function closed(url: string, id: string) {
  const eve = api(url).as('eve');
  const trail = await eventually(() => eve.get(`/v1/requests/${id}/audit`), (r) => r.body.events?.at(-1)?.type === 'request.closed', 30_000);
  return { view: (await eve.get(`/v1/requests/${id}`)).body as AccessRequest, events: trail.body.events as AuditEvent[] };
}

async function deleteWorkflow(id: string): Promise<void> {
  await temporal().workflowService.deleteWorkflowExecution({ namespace: stack.namespace, workflowExecution: { workflowId: id } });
  await eventually(() => temporal().workflow.getHandle(id).describe().then(() => false, () => true), (gone) => gone, 30_000);
}

describe('records outlive the workflow', () => {
  it('revoked, rejected and expired requests answer the same from the API and the CLI after their workflows are deleted', async () => {
    const main = api().as('eve');
    const alice = api().as('alice');
    const revoked = (await main.post('/v1/requests', requestBody({ resource: resource('revoked') }))).body.id as string;
    expect((await alice.post(`/v1/requests/${revoked}/approve`, {})).body.status).toBe('active');
    expect((await alice.post(`/v1/requests/${revoked}/revoke`, { reason: 'case closed' })).body.status).toBe('revoked');
    const rejected = (await main.post('/v1/requests', requestBody({ resource: resource('rejected') }))).body.id as string;
    expect((await alice.post(`/v1/requests/${rejected}/reject`, { reason: 'not needed' })).body.status).toBe('rejected');
    // The second stack's requests expire after 3 s.
    const shortUrl = stack.shortTtlApiUrl;
    const expired = (await api(shortUrl).as('eve').post('/v1/requests', requestBody({ resource: resource('expired') }))).body.id as string;

    const cases = [
      { id: revoked, url: stack.apiUrl, status: 'revoked' },
      { id: rejected, url: stack.apiUrl, status: 'rejected' },
      { id: expired, url: shortUrl, status: 'expired' },
    ];
    const before = new Map<string, Awaited<ReturnType<typeof closed>>>();
    for (const c of cases) before.set(c.id, await closed(c.url, c.id));
    for (const c of cases) await deleteWorkflow(c.id);

    for (const c of cases) {
      const eve = api(c.url).as('eve');
      const seen = before.get(c.id)!;
      const view = await eve.get(`/v1/requests/${c.id}`);
      expect(view.status, JSON.stringify(view.body)).toBe(200);
      expect(view.body).toEqual(seen.view);
      expect(view.body.status).toBe(c.status);
      const trail = (await eve.get(`/v1/requests/${c.id}/audit`)).body.events as AuditEvent[];
      expect(trail).toEqual(seen.events);
      expect(trail.map((e) => e.seq)).toEqual(trail.map((_, i) => i + 1));
      expect(trail[0]!.type).toBe('request.created');

      const listed = await eve.get(`/v1/requests?resource=${encodeURIComponent(resource(c.status))}`);
      expect(listed.body.requests.map((r: { id: string; status: string }) => [r.id, r.status])).toEqual([[c.id, c.status]]);
      expect(listed.body.requests[0].closedAt).toEqual(expect.any(String));

      const shown = await cli(['request', 'show', c.id], c.url);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toContain(c.id);
      expect(shown.stdout).toContain(c.status);
      const listedByCli = await cli(['request', 'list', '--json', '--resource', resource(c.status)], c.url);
      expect(listedByCli.code, listedByCli.stderr).toBe(0);
      expect(JSON.parse(listedByCli.stdout).requests.map((r: { id: string }) => r.id)).toEqual([c.id]);
      const tail = await cli(['audit', 'tail', '--request', c.id], c.url);
      expect(tail.code, tail.stderr).toBe(0);
      for (const e of seen.events) expect(tail.stdout).toContain(e.type);
    }

    // Deciding on a request whose workflow is gone is a conflict that says how it ended, not "not found".
    const late = await alice.post(`/v1/requests/${revoked}/revoke`, { reason: 'again' });
    expect(late.status).toBe(409);
    expect(late.body.detail).toBe('request is revoked');
    // Others still cannot see what is not theirs: fiona (fabrikam) gets 404, as before.
    expect((await api().call('GET', `/v1/requests/${revoked}`, { token: 'fiona-dev-token' })).status).toBe(404);
  }, 180_000);

  it('lists newest first in pages: `next` leads to the rest, a period narrows it, a bad period names the field', async () => {
    const eve = api().as('eve');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await eve.post('/v1/requests', requestBody({ resource: resource('paged') }))).body.id as string);
    const q = `resource=${encodeURIComponent(resource('paged'))}`;
    const first = await eve.get(`/v1/requests?${q}&limit=2`);
    expect(first.body.requests.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[1]]);
    expect(first.body.next).toBe(ids[1]);
    const rest = await eve.get(`/v1/requests?${q}&limit=2&after=${first.body.next}`);
    expect(rest.body.requests.map((r: { id: string }) => r.id)).toEqual([ids[0]]);
    expect(rest.body.next).toBeNull();
    const createdAt = (await eve.get(`/v1/requests/${ids[1]}`)).body.createdAt as string;
    const narrowed = await eve.get(`/v1/requests?${q}&from=${encodeURIComponent(createdAt)}&to=${encodeURIComponent(new Date(Date.parse(createdAt) + 1).toISOString())}`);
    expect(narrowed.body.requests.map((r: { id: string }) => r.id)).toEqual([ids[1]]);
    const bad = await eve.get(`/v1/requests?${q}&from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z`);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(JSON.stringify(bad.body)).toContain('"to"');
    expect((await eve.get(`/v1/requests?after=not-an-id`)).status).toBe(400);
    for (const id of ids) await eve.post(`/v1/requests/${id}/cancel`, {});
  });
});

describe('record retention', () => {
  it('is a tenant setting: shown with its default, set as a duration, refused out of bounds naming the field, reset with null', async () => {
    const alice = api().as('alice');
    const put = async (recordRetention: unknown) => {
      const current = (await alice.get('/v1/tenants/contoso/settings')).body;
      const { tenant: _t, version: _v, updatedAt: _u, updatedBy: _b, recordRetention: _r, ...body } = current;
      return api().call('PUT', '/v1/tenants/contoso/settings', { token: 'alice-dev-token', body: { ...body, recordRetention }, headers: { 'if-match': `"${current.version}"` } });
    };
    // Other test files save contoso's settings too: retry on a lost race (412).
    const putSettled = async (v: unknown) => {
      for (let i = 0; i < 5; i++) {
        const r = await put(v);
        if (r.status !== 412) return r;
      }
      throw new Error('settings kept changing');
    };
    try {
      expect((await putSettled('730d')).body.recordRetention).toBe('730d');
      expect((await alice.get('/v1/tenants/contoso/settings')).body.recordRetention).toBe('730d');
      const bad = await putSettled('12h');
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain('recordRetention');
      expect((await alice.get('/v1/tenants/contoso/settings')).body.recordRetention).toBe('730d');
    } finally {
      expect((await putSettled(null)).body.recordRetention).toBe('400d');
    }
  });

  const DAY = 86_400_000;
  let dir = '';
  let store: Store;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lockbox-records-'));
    store = openSqliteStore(join(dir, 'lockbox.db'));
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const tenantSettings = (over: Partial<TenantSettings> = {}): TenantSettings => ({
    customerApproval: true,
    approvers: ['alice@contoso.com'],
    quorum: 1,
    requestTtlMs: 12 * 3_600_000,
    maxAccessMs: 8 * 3_600_000,
    requireTicket: false,
    internalApproval: false,
    ...over,
  });

  /** A request of `tenant` whose trail closed `daysAgo` days ago (or still open). */
  async function record(tenant: string, daysAgo: number | null): Promise<string> {
    const createdAt = new Date(Date.now() - ((daysAgo ?? 0) + 1) * DAY);
    const state = filedRequest({ tenant, createdAt });
    const ev = (seq: number, type: 'request.created' | 'request.closed', at: Date) => buildAuditEvent({ requestId: state.id, tenant, seq, time: at, type, actor: 'system' });
    const events = [ev(1, 'request.created', createdAt), ...(daysAgo === null ? [] : [ev(2, 'request.closed', new Date(Date.now() - daysAgo * DAY))])];
    await store.putRequestRecord({ request: state, version: events.length, events });
    return state.id;
  }

  const audited = async (file: string) =>
    (await readFile(file, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.type === 'records.pruned');

  it('prunes each tenant by its own retention (default 400 days), audits it first, and keeps open records', async () => {
    const short = `short-${run}`;
    const plain = `plain-${run}`;
    await store.putTenantSettings({ tenant: short, settings: tenantSettings({ recordRetentionMs: 30 * DAY }), expectedVersion: 0, updatedAt: new Date().toISOString(), updatedBy: 'alice@contoso.com' });
    const ids = {
      shortOld: await record(short, 31),
      shortKept: await record(short, 29),
      shortOpen: await record(short, null),
      plainOld: await record(plain, 401),
      plainKept: await record(plain, 399),
    };
    const file = join(dir, 'audit-1.jsonl');
    const sink = openJsonlAuditSink(file);
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    try {
      const prune = createRecordActivities({ store, audit: sink, log }).pruneRecords;
      expect(await prune()).toEqual({ pruned: 2 });
      for (const id of [ids.shortOld, ids.plainOld]) expect(await store.getRequestRecord(id), id).toBeNull();
      for (const id of [ids.shortKept, ids.shortOpen, ids.plainKept]) expect(await store.getRequestRecord(id), id).not.toBeNull();
      const events = await audited(file);
      expect(events.map((e) => [e.tenant, e.details.requestIds, e.details.retention])).toEqual([
        [plain, [ids.plainOld], '400d'],
        [short, [ids.shortOld], '30d'],
      ]);
      expect(events.every((e) => e.actor === 'system' && e.seq === 0)).toBe(true);
      // Nothing left to prune: nothing more is audited.
      expect(await prune()).toEqual({ pruned: 0 });
      expect(await audited(file)).toHaveLength(2);
    } finally {
      await sink.close();
    }
  });

  it('a crash between the audit event and the deletion audits the pruning once, then deletes', async () => {
    const tenant = `crash-${run}`;
    const old = await record(tenant, 500);
    const file = join(dir, 'audit-2.jsonl');
    const sink = openJsonlAuditSink(file);
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    try {
      const failing: Store = { ...store, deleteRequestRecords: async () => Promise.reject(new Error('worker killed')) };
      await expect(createRecordActivities({ store: failing, audit: sink, log }).pruneRecords()).rejects.toThrow('worker killed');
      expect(await store.getRequestRecord(old)).not.toBeNull();
      expect((await createRecordActivities({ store, audit: sink, log }).pruneRecords()).pruned).toBeGreaterThanOrEqual(1);
      expect(await store.getRequestRecord(old)).toBeNull();
      const events = (await audited(file)).filter((e) => e.tenant === tenant);
      expect(events).toHaveLength(1);
      expect(events[0]!.details.requestIds).toEqual([old]);
    } finally {
      await sink.close();
    }
  });
});
