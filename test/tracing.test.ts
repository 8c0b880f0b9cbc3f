/**
 * OpenTelemetry traces from the HTTP call through the workflow to the activities, received by a real OTLP receiver
 * (the OpenTelemetry Collector's otlpreceiver, test/support/otlp-sink.ts) from a whole Lockbox of the test's own
 * (dev.ts: the API and the worker in one process, as `npm start`) with OTEL_EXPORTER_OTLP_ENDPOINT pointing at it.
 * Personas: eve files, alice (contoso approver) approves.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Resource } from '@opentelemetry/resources';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/config/logger.js';
import { startTracing, tracingEnabled, TraceComponent, WORKFLOW_TRACING_MODULE } from '../src/main/tracing.js';
import { bundleKey, chooseWorkflowSource, SRC_DIR, WORKFLOWS_PATH } from '../src/main/workflow-bundle.js';
import { startOwnStack, type OwnStack } from './support/own-stack.js';
import { startOtlpSink, type OtlpSink, type ReceivedSpan } from './support/otlp-sink.js';

let sink: OtlpSink | undefined;
let stack: OwnStack | undefined;
/** Every request the traced stack ran: their histories are replayed with the interceptors at the end. */
const filed: string[] = [];

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const SERVER = 2; // OTLP SpanKind SPAN_KIND_SERVER

async function call(path: string, token: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack!.apiUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Files a request as eve and has alice approve it; `headers` go with both calls. */
async function fileAndApprove(headers: Record<string, string> = {}): Promise<string> {
  const created = await call('/v1/requests', 'eve-dev-token', { tenant: 'contoso', resource: 'mailbox:x@contoso.com', reason: 'trace', duration: '1h' }, headers);
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  filed.push(id);
  const approved = await call(`/v1/requests/${id}/approve?via=test`, 'alice-dev-token', { comment: 'ok' }, headers);
  expect(approved.status).toBe(200);
  expect(approved.body.status).toBe('active');
  return id;
}

const named = (spans: ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);

describe('traces over OTLP', () => {
  // The receiver's first build (Go module proxy) takes about 2 minutes; later runs reuse the cached binary.
  beforeAll(async () => {
    sink = await startOtlpSink();
    stack = await startOwnStack({ OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint, OTEL_BSP_SCHEDULE_DELAY: '200' }, 'lockbox-tracing-');
  }, 600_000);

  afterAll(async () => {
    await stack?.stop();
    await sink?.stop();
  });

  it('the caller’s trace holds the API calls, the workflow’s update and the grant activity', async () => {
    const traceId = hex(16);
    const callerSpan = hex(8);
    const id = await fileAndApprove({ traceparent: `00-${traceId}-${callerSpan}-01` });

    const inTrace = (spans: ReceivedSpan[]) => spans.filter((s) => s.traceId === traceId);
    const wanted = ['POST /v1/requests', 'StartWorkflow:accessRequestWorkflow', 'POST /v1/requests/:id/approve', 'StartWorkflowUpdate:approve', 'HandleUpdate:approve', 'StartActivity:grantAccessNow', 'RunActivity:grantAccessNow'];
    const spans = inTrace(await sink!.waitFor((all) => wanted.every((n) => named(inTrace(all), n).length > 0), 30_000));

    // The API's server spans: route patterns, never the raw path (request id) or the query; the caller is the parent.
    const [approveCall] = named(spans, 'POST /v1/requests/:id/approve');
    expect(approveCall).toMatchObject({ service: 'lockbox-api', kind: SERVER, parentSpanId: callerSpan });
    expect(approveCall!.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/v1/requests/:id/approve', 'http.response.status_code': 200 });
    expect(named(spans, 'POST /v1/requests')[0]).toMatchObject({ service: 'lockbox-api', parentSpanId: callerSpan });
    for (const s of spans) expect(s.name).not.toMatch(new RegExp(`${id}|via=test`));

    // The update went from the API's client (inside the HTTP span) to the workflow's handler on the worker.
    const [startUpdate] = named(spans, 'StartWorkflowUpdate:approve');
    expect(startUpdate).toMatchObject({ service: 'lockbox-api', parentSpanId: approveCall!.spanId });
    expect(named(spans, 'HandleUpdate:approve')[0]).toMatchObject({ service: 'lockbox-worker', parentSpanId: startUpdate!.spanId });

    // The grant (Lockbox's own store: a local activity of the approving workflow task) ran on the worker, under the
    // workflow's StartActivity span.
    const [startGrant] = named(spans, 'StartActivity:grantAccessNow');
    expect(startGrant).toMatchObject({ service: 'lockbox-worker' });
    expect(named(spans, 'RunActivity:grantAccessNow')[0]).toMatchObject({ service: 'lockbox-worker', parentSpanId: startGrant!.spanId });
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));

    // The API's log line of the call names the trace.
    const logLines = (await readFile(stack!.logFile, 'utf8')).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logLines.filter((l) => l.msg === 'http request' && l.path === `/v1/requests/${id}/approve`)).toEqual([expect.objectContaining({ traceId, status: 200 })]);
  });

  it('without a caller’s trace, each API call starts one: the update joins the approve call’s, the grant the create call’s', async () => {
    const before = new Set(sink!.spans().map((s) => s.spanId));
    await fileAndApprove();
    const fresh = (all: ReceivedSpan[]) => all.filter((s) => !before.has(s.spanId));
    const spans = fresh(
      await sink!.waitFor((all) => ['POST /v1/requests/:id/approve', 'HandleUpdate:approve', 'RunActivity:grantAccessNow'].every((n) => named(fresh(all), n).length > 0), 30_000),
    );
    const [createCall] = named(spans, 'POST /v1/requests');
    const [approveCall] = named(spans, 'POST /v1/requests/:id/approve');
    expect(createCall!.parentSpanId).toBe('');
    expect(approveCall!.parentSpanId).toBe('');
    expect(approveCall!.traceId).not.toBe(createCall!.traceId);
    expect(named(spans, 'HandleUpdate:approve')[0]!.traceId).toBe(approveCall!.traceId);
    // The workflow's main path (waiting, granting) runs in the context it was started in: the create call's.
    expect(named(spans, 'RunActivity:grantAccessNow')[0]!.traceId).toBe(createCall!.traceId);
  });

  it('workflows run with the interceptors replay with them, exporting no span again', async () => {
    // And a rejected one: without tracing, the reject path completes the update before the activity that follows.
    const created = await call('/v1/requests', 'eve-dev-token', { tenant: 'contoso', resource: 'mailbox:x@contoso.com', reason: 'trace', duration: '1h' });
    filed.push(created.body.id as string);
    expect((await call(`/v1/requests/${created.body.id}/reject`, 'alice-dev-token', { reason: 'not now' })).status).toBe(200);
    const require = createRequire(import.meta.url);
    const client = await stack!.temporal();
    const histories = await Promise.all(filed.map(async (workflowId) => ({ workflowId, history: await client.workflow.getHandle(workflowId).fetchHistory() })));
    const exported = new InMemorySpanExporter();
    const failures: string[] = [];
    const options = {
      workflowsPath: WORKFLOWS_PATH,
      interceptors: { workflowModules: [require.resolve(WORKFLOW_TRACING_MODULE)] },
      sinks: { exporter: makeWorkflowExporter(new SimpleSpanProcessor(exported), new Resource({ 'service.name': 'replay' })) },
    };
    for await (const result of Worker.runReplayHistories(options, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(histories.length).toBeGreaterThanOrEqual(2);
    expect(failures).toEqual([]);
    expect(exported.getFinishedSpans()).toEqual([]);
  }, 120_000);

  it('probes are not traced', async () => {
    expect((await fetch(`${stack!.apiUrl}/healthz`)).status).toBe(200);
    await fileAndApprove();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sink!.spans().filter((s) => s.name.includes('/healthz') || s.name.includes('/readyz'))).toEqual([]);
  });
});

describe('off unless an OTLP endpoint is set', () => {
  it('starts nothing without OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or with OTEL_SDK_DISABLED', () => {
    expect(tracingEnabled({})).toBe(false);
    expect(startTracing(TraceComponent.api, undefined, {})).toBeUndefined();
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBe(false);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe(true);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
  });

  it('the traced workflow bundle has a key and a cache name of its own, and the plain one stays', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'lockbox-traced-bundle-'));
    try {
      const log = createLogger('test', { quiet: true });
      expect(await bundleKey(SRC_DIR, undefined, [WORKFLOW_TRACING_MODULE])).not.toBe(await bundleKey());
      const plain = await chooseWorkflowSource(undefined, log, cache);
      const traced = await chooseWorkflowSource(undefined, log, cache, [WORKFLOW_TRACING_MODULE]);
      const pathOf = (s: typeof plain) => ('codePath' in s.workflowBundle ? s.workflowBundle.codePath : '');
      expect(pathOf(traced)).toMatch(new RegExp(`^${cache}/workflow-bundle-traced-[0-9a-f]{16}\\.js$`));
      expect(await readFile(pathOf(traced), 'utf8')).toContain('OpenTelemetryInboundInterceptor');
      // The plain bundle (cached here, or dist/ when built from this code) has no interceptors and was not removed.
      expect(await readFile(pathOf(plain), 'utf8')).not.toContain('OpenTelemetryInboundInterceptor');
      expect(await chooseWorkflowSource(undefined, log, cache)).toEqual(plain);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  }, 180_000);
});

