/** `npm run worker`: a worker process only, against TEMPORAL_ADDRESS (production shape: any number of these). */
import { ConfigError, loadConfig } from '../config/index.js';
import { createLogger } from '../config/logger.js';
import { onShutdown, openAdapters } from './stack.js';
import { provideTemporal } from './temporal.js';
import { createWorker } from './worker.js';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.temporalAddress) throw new ConfigError('invalid configuration:\n  TEMPORAL_ADDRESS: required for a worker-only process (npm start runs the embedded server)');
  const log = createLogger('lockbox-worker');
  const temporal = await provideTemporal(config, log);
  const adapters = await openAdapters(config, log);
  const { worker, connection } = await createWorker(config, temporal.address, adapters.activityDeps);
  onShutdown(log, async () => {
    worker.shutdown();
  });
  await worker.run();
  await connection.close();
  await adapters.close();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : `lockbox worker failed: ${err instanceof Error ? err.message : String(err)}`}\n`);
  process.exit(1);
});
