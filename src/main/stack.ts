import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createBuiltinGrantProvider } from '../adapters/builtin-grant-provider.js';
import { openStore } from '../adapters/open-store.js';
import type { ActivityDeps } from '../activities/index.js';
import type { Config } from '../config/index.js';
import { loadCredentialKey, loadKeys } from '../config/keys.js';
import { openPostgresCredentialVault } from '../adapters/credentials/postgres-credential-vault.js';
import { openSqliteCredentialVault } from '../adapters/credentials/sqlite-credential-vault.js';
import { createGrantRouter } from '../adapters/grants/grant-router.js';
import type { CredentialVault } from '../ports/credential-vault.js';
import { DEMO_TARGET_ENV } from '../config/demo.js';
import { openAuditSinks, openNotifier } from './channels.js';
import { grantMetrics, outboundRefused, reconcileMetrics, targetSessionSweepFailures, targetSessionsEnded } from './metrics.js';
import { startSessionSweep } from './session-sweep.js';
import { createGuardedHttp } from '../adapters/http/guarded-http.js';
import type { Logger } from '../config/logger.js';
import type { AuditSink } from '../ports/audit-sink.js';
import type { Store } from '../ports/store.js';
import { stopTracing } from './tracing.js';

/** The adapters a process needs, chosen by configuration, opened once. */
export interface Adapters {
  store: Store;
  audit: AuditSink;
  /** Issued credentials, encrypted; the requester fetches theirs through the API. */
  vault: CredentialVault;
  activityDeps: ActivityDeps;
  close(): Promise<void>;
}

/** `role`: an API-only process needs no trusted keys (it signs; workers verify). */
export async function openAdapters(config: Config, log: Logger, role: 'worker' | 'api' | 'both' = 'both'): Promise<Adapters> {
  await mkdir(config.dataDir, { recursive: true });
  const { trusted } = await loadKeys(config, { signing: false, trusted: role !== 'api' });
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const vault = await openCredentialVault(config);
  // The one way out for HTTP: every webhook, notification and audit delivery goes through it.
  const http = createGuardedHttp({ allow: config.outboundAllow, onFailure: (reason) => outboundRefused.inc({ reason }) });
  const audit = openAuditSinks(config, http);
  const notify = openNotifier(config, store, http);
  const grants = createGrantRouter({ builtin: createBuiltinGrantProvider(store), vault, env: targetEnv(config), targets: config.targets, http });
  // A worker cuts sessions that outlive their window at PostgreSQL targets, whatever the revokes' backlog.
  const hasPostgres = [...config.targets.values()].some((t) => t.kind === 'postgres');
  const sweep =
    role !== 'api' && hasPostgres && config.targetSessionSweepMs > 0
      ? startSessionSweep(grants, { intervalMs: config.targetSessionSweepMs, log, ended: targetSessionsEnded, failures: targetSessionSweepFailures })
      : null;
  return {
    store,
    audit,
    vault,
    activityDeps: { store, trustedKeys: trusted, grants, targets: config.targets, notifier: notify.notifier, audit, log, metrics: grantMetrics, reconcileMetrics },
    async close() {
      await sweep?.stop();
      await grants.close();
      await notify.close();
      await audit.close();
      await vault.close();
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
    // Buffered spans are exported last, so the shutdown's own spans go too (nothing when tracing is off).
    stop().then(stopTracing).then(
      () => process.exit(0),
      (err) => {
        log.error('shutdown failed', { error: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => handler('SIGINT'));
  process.once('SIGTERM', () => handler('SIGTERM'));
  // `npm start` stopped with SIGTERM to the npm process itself: npm and its shell exit without passing the signal
  // on, and this process would live on as an orphan holding the ports. So an orphan stops as if told to.
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid !== parent) handler('parent exited');
  }, PARENT_CHECK_MS);
  watch.unref();
}

/** How often a process checks that whoever started it is still there. */
const PARENT_CHECK_MS = 500;

/** Beside the Store: the same PostgreSQL when replicas share one, else the SQLite file in the data dir. */
async function openCredentialVault(config: Config): Promise<CredentialVault> {
  const key = await loadCredentialKey(config);
  return config.databaseUrl
    ? openPostgresCredentialVault({ url: config.databaseUrl, key })
    : openSqliteCredentialVault({ file: join(config.dataDir, 'lockbox.db'), key });
}

/** Target secrets come from the worker's environment; the embedded demo has a default for its CRM database. */
function targetEnv(config: Config): (name: string) => string | undefined {
  return (name) => process.env[name] ?? (config.mode === 'embedded' ? DEMO_TARGET_ENV[name] : undefined);
}
