import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createBuiltinGrantProvider } from '../adapters/builtin-grant-provider.js';
import { openJsonlAuditSink } from '../adapters/jsonl-audit-sink.js';
import { openStore } from '../adapters/open-store.js';
import { createStoreNotifier } from '../adapters/store-notifier.js';
import type { ActivityDeps } from '../activities/index.js';
import type { Config } from '../config/index.js';
import { loadKeys } from '../config/keys.js';
import type { Logger } from '../config/logger.js';
import type { AuditSink } from '../ports/audit-sink.js';
import type { Store } from '../ports/store.js';

/** The adapters a process needs, chosen by configuration, opened once. */
export interface Adapters {
  store: Store;
  audit: AuditSink;
  activityDeps: ActivityDeps;
  close(): Promise<void>;
}

export async function openAdapters(config: Config, log: Logger): Promise<Adapters> {
  await mkdir(config.dataDir, { recursive: true });
  const { trusted } = await loadKeys(config, { signing: false, trusted: true });
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const audit = openJsonlAuditSink(join(config.dataDir, 'audit.jsonl'));
  return {
    store,
    audit,
    activityDeps: {
      store,
      trustedKeys: trusted,
      grants: createBuiltinGrantProvider(store),
      notifier: createStoreNotifier(store),
      audit,
      log,
    },
    async close() {
      await audit.close();
      await store.close();
    },
  };
}

/** Runs `stop` once on SIGINT/SIGTERM, then exits. */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    stop().then(
      () => process.exit(0),
      (err) => {
        log.error('shutdown failed', { error: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => handler('SIGINT'));
  process.once('SIGTERM', () => handler('SIGTERM'));
}
