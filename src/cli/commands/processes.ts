import { Command } from 'commander';

/**
 * The process commands run the same entry points as the npm scripts, in this process (dynamic import: each entry
 * point starts itself when loaded, and the API commands never pay for loading Temporal's worker).
 * Configuration is the environment (README, "Configuration"), parsed once by the entry point.
 */
const PROCESSES = [
  ['dev', 'run everything on the embedded default: Temporal dev server, worker and API (= npm start)', () => import('../../main/dev.js')],
  ['worker', 'run a worker only, against TEMPORAL_ADDRESS (= npm run worker)', () => import('../../main/run-worker.js')],
  ['api', 'run the HTTP API only, against TEMPORAL_ADDRESS (= npm run api)', () => import('../../main/run-api.js')],
] as const;

export function processCommands(): Command[] {
  return PROCESSES.map(([name, description, load]) =>
    new Command(name)
      .description(description)
      .addHelpText('after', '\nConfigured by environment variables (LOCKBOX_PORT, LOCKBOX_DATA_DIR, TEMPORAL_ADDRESS, ...): see README.md.')
      .action(async () => {
        await load();
      }),
  );
}
