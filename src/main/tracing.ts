/**
 * OpenTelemetry traces, off unless OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set: then
 * every process component gets its own tracer provider (service `lockbox-api` or `lockbox-worker`, so the embedded
 * `npm start` shows both names too) exporting over OTLP/HTTP (JSON encoding), and the process gets the W3C trace
 * context propagator and an AsyncLocalStorage context manager, once. When off, nothing here is loaded beyond this
 * file's imports: no provider, no exporter, no interceptors (docs/operations.md, Traces).
 */
import { context, propagation, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  makeWorkflowExporter,
  type OpenTelemetryWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { InjectedSink, WorkerInterceptors } from '@temporalio/worker';
import type { Logger } from '../config/logger.js';

/** Which part of Lockbox a provider traces; the service name is `lockbox-<component>`. */
export const TraceComponent = { api: 'api', worker: 'worker' } as const;
export type TraceComponent = (typeof TraceComponent)[keyof typeof TraceComponent];

/** One component's tracing: its tracer, and what the workflow span exporter needs. */
export interface Tracing {
  readonly serviceName: string;
  readonly tracer: Tracer;
  readonly resource: Resource;
  readonly spanProcessor: SpanProcessor;
  /** Exports what is buffered and stops; later spans are dropped. */
  shutdown(): Promise<void>;
}

/** Whether traces are exported at all: the standard OTLP endpoint variables, unless OTEL_SDK_DISABLED=true. */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
}

const started = new Map<TraceComponent, Tracing>();
let globalsInstalled = false;

/**
 * The component's tracing, started on the first call (later calls return the same), or undefined when tracing is
 * off. `env` decides whether it is on; the exporter and the batch processor read the process's standard
 * OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout) and OTEL_BSP_* variables themselves.
 */
export function startTracing(component: TraceComponent, log?: Logger, env: NodeJS.ProcessEnv = process.env): Tracing | undefined {
  if (!tracingEnabled(env)) return undefined;
  const existing = started.get(component);
  if (existing) return existing;
  if (!globalsInstalled) {
    // Both components of one process share these: the API's context must reach the Temporal client, and the
    // worker's activity interceptor reads the caller's context from headers through the global propagator.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
    globalsInstalled = true;
    const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
    if (protocol && protocol !== 'http/json') log?.warn('traces are sent as OTLP/HTTP with JSON encoding, whatever OTEL_EXPORTER_OTLP_PROTOCOL says', { protocol });
  }
  const serviceName = `lockbox-${component}`;
  const resource = new Resource({ 'service.name': serviceName, 'service.namespace': 'lockbox', 'lockbox.component': component });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  const tracing: Tracing = {
    serviceName,
    tracer: provider.getTracer('lockbox'),
    resource,
    spanProcessor,
    async shutdown() {
      started.delete(component);
      await provider.shutdown();
    },
  };
  started.set(component, tracing);
  log?.info('exporting traces over OTLP/HTTP', {
    service: serviceName,
    endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/$/, '')}/v1/traces`,
  });
  return tracing;
}

/** Flushes and stops every component's tracing this process started (at shutdown); nothing when it is off. */
export async function stopTracing(): Promise<void> {
  await Promise.allSettled([...started.values()].map((t) => t.shutdown()));
}

/** The Temporal client's interceptors: a span per start, update, signal and query, its context sent in headers. */
export function clientTracingInterceptors(tracing: Tracing): { workflow: WorkflowClientInterceptor[] } {
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] };
}

/**
 * The worker's activity interceptors (a `RunActivity:<name>` span under the workflow's `StartActivity:<name>`) and
 * the sink through which the workflow interceptors, bundled into the workflow code (workflow-bundle.ts), export
 * their spans from outside the sandbox.
 */
export function workerTracing(tracing: Tracing): { interceptors: WorkerInterceptors; sinks: { exporter: InjectedSink<OpenTelemetryWorkflowExporter> } } {
  const options = { tracer: tracing.tracer };
  return {
    interceptors: {
      activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx, options), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}

/** The module the workflow bundle registers as workflow interceptors when tracing is on. */
export const WORKFLOW_TRACING_MODULE = '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors';
