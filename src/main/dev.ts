/**
 * `npm start`: the whole system on its embedded default — the Temporal dev server (unless TEMPORAL_ADDRESS is
 * set), the worker and the HTTP API, in one command.
 */
import { ConfigError, loadConfig } from '../config/index.js';
import { DEMO_CRM, DEMO_TARGET_ENV, DEMO_TOKENS } from '../config/demo.js';
import { describeRoles } from '../domain/directory.js';
import { prepareDemoCrm } from './demo-crm.js';
import { createLogger } from '../config/logger.js';
import { startApi } from './start-api.js';
import { startDemoSignIn } from '../dev/demo-sign-in.js';
import { onShutdown, openAdapters } from './stack.js';
import { provideTemporal } from './temporal.js';
import { createWorker } from './worker.js';
import { ensureReconcileScheduleAtStart } from './reconcile-schedule.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('lockbox');
  const temporal = await provideTemporal(config, log);
  const adapters = await openAdapters(config, log);
  if (config.mode === 'embedded') await prepareDemoCrm(process.env[DEMO_CRM.env] ?? DEMO_TARGET_ENV[DEMO_CRM.env] ?? '', log);
  const { worker, connection } = await createWorker(config, temporal.address, adapters.activityDeps);
  const running = worker.run();
  await ensureReconcileScheduleAtStart(config, temporal.address, log);
  // Embedded default: a local OpenID provider with the demo people, so the portal signs in for real.
  const demoSignIn = await startDemoSignIn(config, log);
  const api = await startApi(demoSignIn?.config ?? config, temporal.address, adapters, log, {
    extraAuth: demoSignIn ? [demoSignIn.bearer] : [],
    workerConnection: connection,
  });

  onShutdown(log, async () => {
    await api.stop();
    await demoSignIn?.provider.stop();
    // The SDK stops the worker on SIGINT/SIGTERM by itself; ask only if it has not begun.
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
    await connection.close();
    await adapters.close();
    await temporal.stop();
  });
  running.catch((err) => {
    log.error('worker stopped', { error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  });

  const lines = [
    '',
    'Lockbox is running.',
    `  API          ${api.url}`,
    `  Temporal     ${temporal.address} (namespace ${config.namespace})`,
    ...(temporal.uiUrl ? [`  Temporal UI  ${temporal.uiUrl}/namespaces/${config.namespace}/workflows`] : []),
    `  Data         ${config.dataDir}`,
    ...(demoSignIn?.banner ?? []),
    ...(config.mode === 'embedded'
      ? ['  Demo identities (Authorization: Bearer <token>):', ...Object.entries(DEMO_TOKENS).map(([t, p]) => `    ${t.padEnd(16)} ${p.id} (${describeRoles(p)})`)]
      : []),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : `lockbox failed to start: ${err instanceof Error ? err.message : String(err)}`}\n`);
  process.exit(1);
});
