/**
 * A real OTLP receiver for tests: the OpenTelemetry Collector's `otlpreceiver` (v0.165.0, from the Go module proxy),
 * wrapped by test/support/otlp-sink/main.go so that every batch of spans it accepts comes out as a line of OTLP JSON.
 * Built once into the cache beside the Temporal CLI (src/dev/go-binary.ts: lock, staging, progress lines), about
 * 2 minutes on 2 cores; LOCKBOX_OTLP_SINK names a prebuilt one.
 */
import { join } from 'node:path';
import { ensureGoBinary, type GoBinarySpec } from '../../src/dev/go-binary.js';
import { findFreePort } from '../../src/dev/dev-server.js';
import { startProc, type Proc } from './process.js';

const SINK: GoBinarySpec = {
  what: 'OTLP test receiver',
  env: 'LOCKBOX_OTLP_SINK',
  pathNames: ['lockbox-otlp-sink'],
  cacheName: 'lockbox-otlp-sink',
  module: '.',
  dir: join(import.meta.dirname, 'otlp-sink'),
  versionPattern: /^lockbox-otlp-sink 1 /,
  lockName: 'otlp-sink.build.lock',
  lockSubject: 'the OTLP test receiver',
  buildNote: "the OpenTelemetry Collector's OTLP receiver for the trace test, about 2 minutes on 2 cores, once.",
  minGo: [1, 26],
};

/** One span as received, flattened: hex ids, its service's name, attributes as plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  service: string;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
}

export interface OtlpSink {
  /** `http://127.0.0.1:<port>`: what OTEL_EXPORTER_OTLP_ENDPOINT is set to. */
  endpoint: string;
  spans(): ReceivedSpan[];
  /** Resolves with the spans once `done` holds for them; fails with what arrived after `ms`. */
  waitFor(done: (spans: ReceivedSpan[]) => boolean, ms: number): Promise<ReceivedSpan[]>;
  stop(): Promise<void>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type KeyValue = { key: string; value?: AnyValue };
interface OtlpJson {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind?: number; attributes?: KeyValue[]; status?: ReceivedSpan['status'] }[] }[];
  }[];
}

const valueOf = (v: AnyValue | undefined): unknown => v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : (v?.boolValue ?? v?.doubleValue));
const attrs = (kvs: KeyValue[] | undefined): Record<string, unknown> => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, valueOf(kv.value)]));

/** Builds the receiver if needed and starts it on a free port; resolves once it listens. */
export async function startOtlpSink(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<OtlpSink> {
  const binary = await ensureGoBinary(SINK, log);
  const port = await findFreePort();
  const proc: Proc = startProc(binary, [`127.0.0.1:${port}`], process.env, import.meta.dirname);
  const received: ReceivedSpan[] = [];
  let partial = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines.filter((l) => l.trim())) {
      const batch = JSON.parse(line) as OtlpJson;
      for (const rs of batch.resourceSpans ?? []) {
        const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '');
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            received.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind ?? 0, service, attributes: attrs(s.attributes), status: s.status ?? {} });
          }
        }
      }
    }
  });
  const until = Date.now() + 15_000;
  while (!proc.output().includes('listening on')) {
    if (proc.child.exitCode !== null || Date.now() > until) throw new Error(`the OTLP receiver did not start:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    async waitFor(done, ms) {
      const deadline = Date.now() + ms;
      while (!done([...received])) {
        if (Date.now() > deadline) throw new Error(`spans received so far:\n${received.map((s) => `${s.service} ${s.name} trace=${s.traceId}`).join('\n')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      return [...received];
    },
    stop: () => proc.stop(),
  };
}
