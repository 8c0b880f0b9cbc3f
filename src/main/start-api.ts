import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app.js';
import { staticTokenAuthenticator } from '../api/auth.js';
import { createLockboxClient } from '../client/lockbox-client.js';
import type { Config } from '../config/index.js';
import { DEMO_TENANTS, DEMO_TOKENS } from '../config/demo.js';
import type { Logger } from '../config/logger.js';
import type { Store } from '../ports/store.js';
import { temporalReadiness } from './readiness.js';

/** Starts the HTTP API; resolves once it listens. */
export async function startApi(config: Config, address: string, store: Store, log: Logger): Promise<{
  url: string;
  stop(): Promise<void>;
}> {
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: config.namespace });
  // Production identities (OIDC) are not built yet: production mode knows nobody and refuses every call.
  const tokens = config.mode === 'embedded' ? DEMO_TOKENS : {};
  const tenants = new Map((config.mode === 'embedded' ? DEMO_TENANTS : []).map((t) => [t.id, t]));
  const app = createApp({
    config,
    lockbox: createLockboxClient(client, config.taskQueue),
    store,
    tenants,
    auth: staticTokenAuthenticator(tokens),
    log,
    readiness: temporalReadiness(client, config.namespace, config.taskQueue),
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  return {
    url: `http://${config.host}:${port}`,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await connection.close();
    },
  };
}
