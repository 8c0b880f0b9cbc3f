import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import type { Config } from '../config/index.js';
import type { Logger } from '../config/logger.js';
import { ensureSearchAttributes, startDevServer } from '../dev/dev-server.js';
import { ensureTemporalCli } from '../dev/temporal-cli.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/definitions.js';

const KEYWORDS = Object.fromEntries(SEARCH_ATTRIBUTE_NAMES.map((n) => [n, 'Keyword' as const]));

export interface TemporalEndpoint {
  address: string;
  /** The Temporal UI, when Lockbox started the server. */
  uiUrl: string | null;
  stop(): Promise<void>;
}

/**
 * The Temporal server Lockbox talks to: the one at TEMPORAL_ADDRESS (search attributes registered if missing),
 * else the embedded dev server on a SQLite file in the data dir.
 */
export async function provideTemporal(config: Config, log: Logger): Promise<TemporalEndpoint> {
  if (config.temporalAddress) {
    const connection = await Connection.connect({ address: config.temporalAddress });
    try {
      await ensureSearchAttributes(connection, config.namespace, KEYWORDS);
    } finally {
      await connection.close();
    }
    return { address: config.temporalAddress, uiUrl: null, stop: async () => undefined };
  }
  const cliPath = await ensureTemporalCli({ log: (line) => log.info(line) });
  const server = await startDevServer({
    cliPath,
    port: config.temporalPort,
    uiPort: config.temporalPort + 1000,
    dbFile: join(config.dataDir, 'temporal.db'),
    namespace: config.namespace,
    searchAttributes: KEYWORDS,
    log: (line) => log.info(line),
  });
  return server;
}
