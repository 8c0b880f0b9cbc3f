import { DefaultLogger, NativeConnection, Runtime, Worker, type LogEntry } from '@temporalio/worker';
import type { Logger } from '../config/logger.js';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import type { Config } from '../config/index.js';
import { connectNative } from './connection.js';
import { startTracing, TraceComponent, WORKFLOW_TRACING_MODULE, workerTracing } from './tracing.js';
import { BUNDLE_CACHE_DIR, chooseWorkflowSource } from './workflow-bundle.js';

let runtimeInstalled = false;

/**
 * A worker for the request workflow; `run()` resolves once it has shut down. Connects with TEMPORAL_TLS_* /
 * TEMPORAL_API_KEY against TEMPORAL_ADDRESS, loads the workflow code as a bundle (built once, see workflow-bundle.ts), and serves the SDK's
 * runtime metrics for Prometheus at LOCKBOX_WORKER_METRICS_ADDRESS when set. With OTEL_EXPORTER_OTLP_ENDPOINT set, workflows
 * and activities are traced as `lockbox-worker` (tracing.ts); otherwise no interceptor is installed.
 */
export async function createWorker(config: Config, address: string, deps: ActivityDeps): Promise<{
  worker: Worker;
  connection: NativeConnection;
}> {
  // The runtime must be configured before the first native connection creates the default one.
  if (!runtimeInstalled) {
    Runtime.install({
      logger: sdkLogger(deps.log),
      ...(config.workerMetricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: config.workerMetricsAddress } } } } : {}),
    });
    runtimeInstalled = true;
  }
  const tracing = startTracing(TraceComponent.worker, deps.log);
  const source = await chooseWorkflowSource(config.workflowBundle, deps.log, BUNDLE_CACHE_DIR, tracing ? [WORKFLOW_TRACING_MODULE] : []);
  const connection = await connectNative(config, address);
  const worker = await Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    ...source,
    ...config.workerSizing,
    activities: createActivities(deps),
    ...(tracing ? workerTracing(tracing) : {}),
  });
  return { worker, connection };
}

/**
 * The SDK's own logs (worker state, workflow and activity loggers) as our JSON lines, warnings and errors only: its
 * info lines (worker started, stopping) say what our own lines already say.
 */
function sdkLogger(log: Logger): DefaultLogger {
  return new DefaultLogger('WARN', ({ level, message, meta }: LogEntry) => {
    const fields = { source: 'temporal-sdk', ...meta };
    if (level === 'ERROR') log.error(message, fields);
    else log.warn(message, fields);
  });
}
