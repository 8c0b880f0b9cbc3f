/** `npm run api`: the HTTP API only, against TEMPORAL_ADDRESS (production shape: any number of these). */
import { ConfigError, loadConfig } from '../config/index.js';
import { createLogger } from '../config/logger.js';
import { startApi } from './start-api.js';
import { onShutdown, openAdapters } from './stack.js';
import { provideTemporal } from './temporal.js';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.temporalAddress) throw new ConfigError('invalid configuration:\n  TEMPORAL_ADDRESS: required for an API-only process (npm start runs the embedded server)');
  const log = createLogger('lockbox-api');
  const temporal = await provideTemporal(config, log);
  const adapters = await openAdapters(config, log, 'api');
  const api = await startApi(config, temporal.address, adapters, log);
  log.info('api listening', { url: api.url });
  onShutdown(log, async () => {
    await api.stop();
    await adapters.close();
  });
}

main().catch((err) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : `lockbox api failed: ${err instanceof Error ? err.message : String(err)}`}\n`);
  process.exit(1);
});
