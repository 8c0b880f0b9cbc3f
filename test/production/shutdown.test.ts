/**
 * Graceful shutdown of the separate processes: SIGTERM makes the API stop taking connections but answer the requests
 * already in flight (an approve that waits for its grant still gets its 200), then exit 0; a worker drains and exits 0.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { exitOf, lockboxApi, sleep, startLockbox, waitForPollers, waitReady, type LockboxProc } from './support.js';

const info = inject('production');
const NAMESPACE = 'lockbox';
const TASK_QUEUE = 'lockbox-shutdown';
const procs: LockboxProc[] = [];
let worker: LockboxProc;
let api: LockboxProc;

const env = () => ({
  LOCKBOX_MODE: 'embedded',
  TEMPORAL_ADDRESS: info.temporalAddress,
  TEMPORAL_NAMESPACE: NAMESPACE,
  LOCKBOX_TASK_QUEUE: TASK_QUEUE,
  LOCKBOX_DATABASE_URL: info.appDatabaseUrl,
  LOCKBOX_AUDIT_SINKS: 'postgres',
  LOCKBOX_DATA_DIR: join(info.workDir, 'shutdown-data'),
  LOCKBOX_WORKFLOW_BUNDLE: info.bundlePath,
});

beforeAll(async () => {
  const logDir = join(info.workDir, 'shutdown-logs');
  worker = await startLockbox('worker', env(), logDir, 'worker');
  procs.push(worker);
  await waitForPollers(info.temporalAddress, NAMESPACE, TASK_QUEUE, [worker]);
  api = await startLockbox('api', env(), logDir, 'api');
  procs.push(api);
  await waitReady(api);
});

afterAll(async () => {
  if (worker?.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGCONT');
  await Promise.all(procs.map((p) => p.stop()));
});

describe('SIGTERM', () => {
  it('the API stops accepting connections, still answers an approve in flight, then exits 0', async () => {
    const http = lockboxApi(api.url!);
    const resource = `mailbox:sigterm-${Date.now().toString(36)}@contoso.com`;
    const created = await http.eve.post('/v1/requests', { tenant: 'contoso', resource, reason: 'shutdown check', ticket: 'SUP-2', duration: '1h' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);

    // Hold the worker still, so the approve waits inside the API for the update (and the grant) to complete.
    worker.child.kill('SIGSTOP');
    const approving = http.alice.post(`/v1/requests/${created.body.id}/approve`, { comment: 'in flight during SIGTERM' });
    await sleep(1_000);
    api.child.kill('SIGTERM');

    // No new connections once it is shutting down...
    let refused = false;
    for (let i = 0; i < 20 && !refused; i++) {
      await sleep(100);
      refused = await fetch(`${api.url}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
        () => false,
        () => true,
      );
    }
    expect(refused, 'a new connection after SIGTERM was served').toBe(true);
    expect(api.child.exitCode, 'the API exited with a request in flight').toBeNull();

    // ...and the one in flight is answered once the worker carries on.
    worker.child.kill('SIGCONT');
    const approved = await approving;
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.status).toBe('active');
    expect(await exitOf(api, 30_000)).toBe(0);
    // Log lines are JSON (pino): look for the shutdown line by its fields, whatever their order.
    const lines = api.output().split('\n').flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } });
    expect(lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM')).toBe(true);
  });

  it('the worker drains and exits 0', async () => {
    worker.child.kill('SIGTERM');
    expect(await exitOf(worker, 60_000)).toBe(0);
  });
});
