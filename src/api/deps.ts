import type { LockboxClient } from '../client/lockbox-client.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../config/logger.js';
import type { Tenant } from '../domain/directory.js';
import type { Store } from '../ports/store.js';
import type { Authenticator } from './auth.js';

/** Result of the readiness probe: ok only when every dependency answers. */
export interface Readiness {
  ok: boolean;
  checks: Record<string, string>;
}

/** Everything the HTTP API needs, built once at start-up. */
export interface ApiDeps {
  config: Pick<Config, 'requestTtlMs' | 'maxAccessMs'>;
  lockbox: LockboxClient;
  store: Store;
  tenants: { get(id: string): Tenant | undefined };
  auth: Authenticator;
  log: Logger;
  readiness: () => Promise<Readiness>;
  clock?: () => Date;
}
