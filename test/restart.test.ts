import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findFreePort, findFreeTemporalPort } from '../src/dev/dev-server.js';
import { api, eventually, requestBody } from './support/api.js';
import { startProc, waitForHttp, type Proc } from './support/process.js';

const ROOT = join(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
let proc: Proc | undefined;
let dataDir = '';

afterAll(async () => {
  await proc?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** `npm start` as a user runs it, on its own ports and data dir. */
async function startStack(env: Record<string, string>): Promise<Proc> {
  const p = startProc(TSX, ['src/main/dev.ts'], { ...process.env, ...env }, ROOT);
  await waitForHttp(`http://127.0.0.1:${env.LOCKBOX_PORT}/readyz`, p, 120_000);
  return p;
}

describe('a restart of the whole stack', () => {
  it('keeps pending and active requests, grants, idempotency keys and the audit trail', { timeout: 180_000 }, async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lockbox-restart-'));
    const env = { LOCKBOX_DATA_DIR: dataDir, LOCKBOX_PORT: String(await findFreePort()), LOCKBOX_TEMPORAL_PORT: String(await findFreeTemporalPort()) };
    const http = api(`http://127.0.0.1:${env.LOCKBOX_PORT}`);
    const [eve, alice] = [http.as('eve'), http.as('alice')];

    proc = await startStack(env);
    const resource = 'mailbox:restart@contoso.com';
    const active = (await eve.post('/v1/requests', requestBody({ resource, duration: '30s' }), { 'idempotency-key': 'restart-1' })).body;
    const pending = (await eve.post('/v1/requests', requestBody({ resource: 'mailbox:later@contoso.com' }))).body;
    const approved = await alice.post(`/v1/requests/${active.id}/approve`, {});
    expect(approved.body.status).toBe('active');
    await proc.stop();

    proc = await startStack(env);
    expect((await eve.get(`/v1/requests/${active.id}`)).body.status).toBe('active');
    expect((await eve.get(`/v1/access/check?tenant=contoso&resource=${resource}`)).body).toMatchObject({ allowed: true, requestId: active.id });
    const replay = await eve.post('/v1/requests', requestBody({ resource, duration: '30s' }), { 'idempotency-key': 'restart-1' });
    expect(replay.body.id).toBe(active.id);
    expect((await alice.post(`/v1/requests/${pending.id}/approve`, {})).body.status).toBe('active');

    // The window timer set before the restart still fires.
    // (30 s window: a restart on a loaded 2-core machine can take 15 s, and access must still be in force after it.)
    const done = await eventually(() => eve.get(`/v1/requests/${active.id}`), (r) => r.body.status === 'completed', 90_000);
    expect(done.body.status).toBe('completed');
    expect((await eve.get(`/v1/access/check?tenant=contoso&resource=${resource}`)).body.allowed).toBe(false);

    const read = async () => (await readFile(join(dataDir, 'audit.jsonl'), 'utf8')).split('\n').filter((l) => l.includes(active.id));
    // Created, notified, approved, granted, revoked, closed: each once, in order, across the restart.
    const lines = await eventually(read, (ls) => ls.some((l) => l.includes('request.closed')));
    const ids = lines.map((l) => JSON.parse(l).id as string);
    expect(ids).toEqual([1, 2, 3, 4, 5, 6].map((n) => `${active.id}:${n}`));
  });
});
