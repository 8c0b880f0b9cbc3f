import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivities } from '../../src/activities/index.js';
import { createBuiltinGrantProvider } from '../../src/adapters/builtin-grant-provider.js';
import { openSqliteCredentialVault } from '../../src/adapters/credentials/sqlite-credential-vault.js';
import { createGrantRouter, type GrantRouter } from '../../src/adapters/grants/grant-router.js';
import { openSqliteStore } from '../../src/adapters/sqlite-store.js';
import type { Logger } from '../../src/config/logger.js';
import { catalogOf, type DeclaredTarget } from '../../src/domain/resources.js';
import type { Store } from '../../src/ports/store.js';
import { receiverHttp } from '../support/outbound.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

export interface CatalogFixture {
  receiver: WebhookReceiver;
  store: Store;
  router: GrantRouter;
  activities: ReturnType<typeof createActivities>;
  close(): Promise<void>;
}

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The real parts the grant activities run on: the built-in store on SQLite, and a catalog declaring one webhook
 * target for contoso (`contoso-hooks`) whose calls reach a real receiver, all behind a real grant router.
 */
export async function openCatalogFixture(secret: string, prefix: string): Promise<CatalogFixture> {
  const receiver = await startWebhookReceiver(secret);
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const store = openSqliteStore(join(dir, 'lockbox.db'));
  const hooks: DeclaredTarget = { name: 'contoso-hooks', kind: 'webhook', tenants: ['contoso'], grantUrl: `${receiver.url}/grant`, revokeUrl: `${receiver.url}/revoke`, extendUrl: `${receiver.url}/extend`, secret: 'LOCKBOX_TARGET_CONTOSO_HOOK', timeoutMs: 2_000 };
  const targets = catalogOf([hooks]);
  const router = createGrantRouter({
    builtin: createBuiltinGrantProvider(store),
    vault: openSqliteCredentialVault({ file: join(dir, 'vault.db'), key: randomBytes(32).toString('base64') }),
    env: (name) => (name === 'LOCKBOX_TARGET_CONTOSO_HOOK' ? secret : undefined),
    targets,
    http: receiverHttp(),
  });
  const activities = createActivities({ store, trustedKeys: {}, grants: router, targets, notifier: { notify: async () => undefined }, audit: { append: async () => undefined } as never, log: quiet });
  return {
    receiver,
    store,
    router,
    activities,
    async close() {
      await router.close();
      await store.close();
      await receiver.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
