/**
 * A worker-only process (`npm run worker`, src/main/run-worker.ts) with LOCKBOX_APP_METRICS_ADDRESS serves Lockbox's
 * own metrics (reconciler, audit export backlog) over HTTP, beside the SDK's `temporal_*` exporter, and stops
 * serving them when it shuts down. It joins the shared stack's Temporal server on a task queue of its own.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { reconcileScheduleId } from '../src/client/reconcile.js';
import { findFreePort } from '../src/dev/dev-server.js';
import { startProc, waitForHttp, type Proc } from './support/process.js';

const stack = inject('stack');
const ROOT = join(import.meta.dirname, '..');
const TASK_QUEUE = `lockbox-app-metrics-${Date.now().toString(36)}`;
let worker: Proc;
let dataDir: string;
let appUrl: string;
let sdkUrl: string;

/** The test's environment without any LOCKBOX_* or TEMPORAL_* of its own (no demo CRM: nothing shared is reconciled). */
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LOCKBOX_') && !k.startsWith('TEMPORAL_')));

/** `name{labels} value` lines of a Prometheus text answer, without comments. */
const samples = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#'));
const valueOf = (text: string, series: string) => {
  const line = samples(text).find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'lockbox-app-metrics-'));
  const [appPort, sdkPort] = [await findFreePort(), await findFreePort()];
  appUrl = `http://127.0.0.1:${appPort}`;
  sdkUrl = `http://127.0.0.1:${sdkPort}/metrics`;
  // node with tsx's loader (not the tsx CLI), so SIGTERM reaches the worker itself.
  worker = startProc(
    process.execPath,
    ['--import', 'tsx', 'src/main/run-worker.ts'],
    {
      ...cleanEnv(),
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_NAMESPACE: stack.namespace,
      LOCKBOX_TASK_QUEUE: TASK_QUEUE,
      LOCKBOX_DATA_DIR: dataDir,
      LOCKBOX_RECONCILE_INTERVAL: '2s',
      LOCKBOX_APP_METRICS_ADDRESS: `127.0.0.1:${appPort}`,
      LOCKBOX_WORKER_METRICS_ADDRESS: `127.0.0.1:${sdkPort}`,
    },
    ROOT,
    join(dataDir, 'worker.log'),
  );
  await waitForHttp(`${appUrl}/metrics`, worker, 120_000);
});

afterAll(async () => {
  await worker?.stop();
  // The schedule this worker created would otherwise keep starting runs nobody polls for.
  const connection = await Connection.connect({ address: stack.temporalAddress });
  try {
    await new Client({ connection, namespace: stack.namespace }).schedule.getHandle(reconcileScheduleId(TASK_QUEUE)).delete().catch(() => undefined);
  } finally {
    await connection.close();
  }
  await rm(dataDir, { recursive: true, force: true });
});

describe('a worker-only process with LOCKBOX_APP_METRICS_ADDRESS', () => {
  // Waits for a whole reconcile run in a fresh process (up to 90 s on a loaded machine), hence its own timeout.
  it('serves the audit export backlog and the reconciler metrics of its own reconciles at GET /metrics', { timeout: 120_000 }, async () => {
    let text = '';
    await expect
      .poll(
        async () => {
          const res = await fetch(`${appUrl}/metrics`);
          expect(res.status).toBe(200);
          expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
          text = await res.text();
          // Set only by a reconcile that ran in this process (its schedule fires every 2 s).
          return valueOf(text, 'lockbox_reconcile_last_success_seconds') ?? 0;
        },
        { timeout: 90_000, interval: 500 },
      )
      .toBeGreaterThan(Date.now() / 1000 - 600);
    expect(valueOf(text, 'lockbox_audit_export_backlog_events{sink="jsonl"}')).toBe(0);
    expect(valueOf(text, 'lockbox_audit_export_oldest_pending_seconds{sink="jsonl"}')).toBe(0);
    expect(text).toContain('# TYPE lockbox_orphans_revoked_total counter');
    expect(text).toContain('# TYPE lockbox_grants_total counter');
    // Two listeners, two sets: the SDK's exporter has no Lockbox metric and this one no temporal_* metric.
    expect(samples(text).some((l) => l.startsWith('temporal_'))).toBe(false);
    const sdk = await (await fetch(sdkUrl)).text();
    expect(sdk).toContain('temporal_');
    expect(sdk).not.toContain('lockbox_audit_export');
  });

  it('labels carry only names from a fixed set (no request id, principal, URL or secret)', async () => {
    const text = await (await fetch(`${appUrl}/metrics`)).text();
    const labels = new Set(samples(text).flatMap((l) => [...(/\{(.*)\}/.exec(l)?.[1] ?? '').matchAll(/(\w+)="/g)].map((m) => m[1])));
    expect([...labels].filter((l) => !['provider', 'outcome', 'action', 'stage', 'reason', 'sink'].includes(l!))).toEqual([]);
    expect(text).not.toContain(dataDir);
  });

  it('answers 404 to anything else', async () => {
    expect((await fetch(`${appUrl}/`)).status).toBe(404);
    expect((await fetch(`${appUrl}/metrics/x`)).status).toBe(404);
    expect((await fetch(`${appUrl}/metrics`, { method: 'POST', body: '' })).status).toBe(404);
    expect((await fetch(`${appUrl}/metrics?name=x`)).status).toBe(200);
  });

  it('stops serving when the worker shuts down on SIGTERM, and exits 0', async () => {
    const exited = new Promise<number | null>((resolve) => worker.child.once('exit', (code) => resolve(code)));
    worker.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(fetch(`${appUrl}/metrics`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
  });
});
