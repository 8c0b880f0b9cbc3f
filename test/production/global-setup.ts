/**
 * Global setup of the production-shape suite: finds or builds the Temporal server and its SQL tool (outside any
 * test timeout), builds the workflow bundle the workers load, creates this run's databases on the machine's
 * PostgreSQL, sets up Temporal's schemas with the SQL tool and starts the server on free ports. Lockbox itself is
 * started by each file (its start-up path registers the namespace and the search attributes). Teardown stops the
 * server and drops every database of the run.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { ensureTemporalServer } from '../../src/dev/temporal-server.js';
import { databaseUrl, dropAbandonedDatabases, dropDatabases, newDbPrefix, PG, provisionTemporal, ROOT, sql } from './support.js';

const execFileAsync = promisify(execFile);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const say = (line: string) => process.stderr.write(`[production setup] ${line}\n`);
  const started = Date.now();
  const { server: serverPath, sqlTool } = await ensureTemporalServer({ log: say });
  try {
    await sql('SELECT 1');
  } catch (err) {
    throw new Error(
      `the production-shape suite needs PostgreSQL at ${PG.host}:${PG.port} (user ${PG.user}, trust auth): ${(err as Error).message}. ` +
        'Start it (pg_ctlcluster <version> main start) or point LOCKBOX_TEST_PGHOST/PGPORT/PGUSER at one.',
    );
  }
  await dropAbandonedDatabases();
  const workDir = await mkdtemp(join(tmpdir(), 'lockbox-production-'));
  const dbPrefix = newDbPrefix();
  let stopServer: (() => Promise<void>) | undefined;
  const teardown = async () => {
    await stopServer?.();
    await dropDatabases(dbPrefix);
    // LOCKBOX_TEST_KEEP=1 keeps the processes' logs (and the certificates) for a look afterwards.
    if (process.env.LOCKBOX_TEST_KEEP === '1') say(`kept ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  };
  try {
    const bundlePath = join(workDir, 'workflow-bundle.js');
    await execFileAsync(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/bundle-workflows.ts', bundlePath], { cwd: ROOT, timeout: 120_000 });
    const appDb = `${dbPrefix}_app`;
    await sql(`CREATE DATABASE "${appDb}"`);
    const server = await provisionTemporal({ sqlTool, serverPath, prefix: dbPrefix, dir: join(workDir, 'temporal') });
    stopServer = server.stop;
    say(`Temporal server ${server.address} on PostgreSQL databases ${dbPrefix}_*, ready in ${Date.now() - started} ms`);
    project.provide('production', {
      temporalAddress: server.address,
      dbPrefix,
      appDatabaseUrl: databaseUrl(appDb),
      bundlePath,
      serverPath,
      sqlTool,
      workDir,
    });
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
