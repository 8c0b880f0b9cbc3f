/** `npm run worker`: a worker process only, against TEMPORAL_ADDRESS (production shape: any number of these). */
import { ConfigError, loadConfig } from '../config/index.js';
import { createLogger } from '../config/logger.js';
import { onShutdown, openAdapters } from './stack.js';
import { provideTemporal } from './temporal.js';
import { createWorker } from './worker.js';
import { ensureReconcileScheduleAtStart } from './reconcile-schedule.js';
import { serveAppMetrics } from './app-metrics-server.js';
import { registry } from './metrics.js';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.temporalAddress) throw new ConfigError('invalid configuration:\n  TEMPORAL_ADDRESS: required for a worker-only process (npm start runs the embedded server)');
  const log = createLogger('lockbox-worker');
  // Served from the start, so a scrape sees the process up while the worker is still connecting.
  const appMetrics = config.appMetricsAddress ? await serveAppMetrics(registry, config.appMetricsAddress, log) : undefined;
  const temporal = await provideTemporal(config, log);
  const adapters = await openAdapters(config, log, 'worker');
  const { worker, connection } = await createWorker(config, temporal.address, adapters.activityDeps);
  const running = worker.run();
  await ensureReconcileScheduleAtStart(config, temporal.address, log);
  const drain = async () => {
    await running;
    await connection.close();
    await adapters.close();
    // Last: the backlog and reconciler metrics stay scrapable while activities in flight finish.
    await appMetrics?.close();
  };
  // Drain on SIGTERM: activities in flight finish (or are handed back) before the process exits.
  onShutdown(log, async () => {
    // The SDK stops the worker on SIGINT/SIGTERM by itself; ask only if it has not begun.
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await drain();
  });
  await running;
  // The worker ended without a signal: the listener must not keep the process alive.
  await appMetrics?.close();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : `lockbox worker failed: ${err instanceof Error ? err.message : String(err)}`}\n`);
  process.exit(1);
});
