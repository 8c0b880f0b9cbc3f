/**
 * `npm run bench -- --production`: the same phases against the production shape. The full Temporal server
 * (`temporal-server start`, all services in one process) on this machine's PostgreSQL, Lockbox's store on PostgreSQL
 * too, and Lockbox as two processes: one worker (`src/main/run-worker.ts`, loading the workflow bundle built ahead of
 * time) and one API (`src/main/run-api.ts`). Identities stay the demo tokens (LOCKBOX_MODE=embedded, as the
 * production-shape test suite runs them), so the bench drives it exactly as it drives the embedded stack; sign-in
 * through an identity provider costs nothing per request here (the API checks a token per call either way).
 *
 * Databases are named `lbx_bench_<pid>_<random>_*`, dropped at the end (and, for runs whose process died, at the
 * start of the next one).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findFreePort } from '../src/dev/dev-server.js';
import { dropAbandonedScratchDatabases, dropScratchDatabases, newScratchPrefix, scratchDatabaseUrl, scratchSql } from '../src/dev/scratch-databases.js';
import { ensureTemporalServer, setupTemporalSchema, startTemporalServer, type PostgresTarget } from '../src/dev/temporal-server.js';
import { onCleanup, ROOT, type Stack, type StackOptions } from './stack.js';
import { sleep } from './stats.js';

const PG: PostgresTarget = {
  host: process.env.LOCKBOX_BENCH_PGHOST ?? '127.0.0.1',
  port: Number(process.env.LOCKBOX_BENCH_PGPORT ?? 5432),
  user: process.env.LOCKBOX_BENCH_PGUSER ?? 'postgres',
};
const FAMILY = 'lbx_bench_';

/** One Lockbox process in its own process group, its output kept (and appended to the stack log). */
function spawnLockbox(script: string, env: NodeJS.ProcessEnv, nodeFlags: string[], keep: (c: Buffer) => void) {
  // node with tsx's loader, not the tsx CLI: one process per role, so its pid is the one to measure.
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
    }
    killGroup();
  };
  return { child, stop, killGroup };
}

export async function startProductionStack(opts: StackOptions): Promise<Stack> {
  const say = (l: string) => opts.log(l);
  const { server: serverPath, sqlTool } = await ensureTemporalServer({ log: say });
  await dropAbandonedScratchDatabases(PG, FAMILY);
  const workDir = await mkdtemp(join(tmpdir(), 'lockbox-bench-production-'));
  const dataDir = join(workDir, 'data');
  const prefix = newScratchPrefix(FAMILY);
  onCleanup({
    name: `databases ${prefix}_* and ${workDir}`,
    run: async () => {
      await dropScratchDatabases(PG, prefix);
      if (opts.keepDataDir) say(`data dir kept: ${workDir}`);
      else await rm(workDir, { recursive: true, force: true });
    },
  });

  say('production shape: Temporal schemas on PostgreSQL, the workflow bundle built ahead of time');
  const bundlePath = join(workDir, 'workflow-bundle.js');
  await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/bundle-workflows.ts', bundlePath], { cwd: ROOT, timeout: 180_000 });
  const databases = { temporal: `${prefix}_temporal`, visibility: `${prefix}_visibility` };
  await setupTemporalSchema(sqlTool, PG, databases.temporal, 'temporal');
  await setupTemporalSchema(sqlTool, PG, databases.visibility, 'visibility');
  await scratchSql(PG, `CREATE DATABASE "${prefix}_app"`);
  const server = await startTemporalServer({ serverPath, dir: join(workDir, 'temporal'), postgres: { ...PG, databases }, log: say });
  onCleanup({ name: 'Temporal server', run: server.stop, kill: () => void server.stop() });
  say(`Temporal server ${server.address} (pid ${server.pid}) on PostgreSQL databases ${prefix}_*`);

  const apiPort = await findFreePort();
  const taskQueue = `lockbox-bench-${process.pid}`;
  const base: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LOCKBOX_') && !k.startsWith('TEMPORAL_'))),
    LOCKBOX_MODE: 'embedded', // demo identities: the bench's tokens work
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: opts.namespace,
    LOCKBOX_TASK_QUEUE: taskQueue,
    LOCKBOX_DATABASE_URL: scratchDatabaseUrl(PG, `${prefix}_app`),
    // JSON Lines in the shared data dir: the bench follows audit.jsonl, as on the embedded stack.
    LOCKBOX_AUDIT_SINKS: 'jsonl',
    LOCKBOX_DATA_DIR: dataDir,
    LOCKBOX_WORKFLOW_BUNDLE: bundlePath,
    LOCKBOX_REQUEST_TTL: opts.requestTtl,
    ...opts.extraEnv,
  };
  let out = '';
  const logStream = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : null;
  const keep = (c: Buffer) => {
    out = (out + c.toString()).slice(-30_000);
    logStream?.write(c);
  };
  const worker = spawnLockbox('src/main/run-worker.ts', { ...base, LOCKBOX_WORKER_METRICS_ADDRESS: `127.0.0.1:${await findFreePort()}` }, opts.nodeFlags ?? [], keep);
  onCleanup({ name: 'worker', run: worker.stop, kill: worker.killGroup });
  const api = spawnLockbox('src/main/run-api.ts', { ...base, LOCKBOX_PORT: String(apiPort), LOCKBOX_HOST: '127.0.0.1' }, opts.nodeFlags ?? [], keep);
  onCleanup({ name: 'api', run: api.stop, kill: api.killGroup });

  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    for (const [name, p] of [['worker', worker], ['api', api]] as const) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`the ${name} exited (${p.child.exitCode ?? p.child.signalCode}) before it was ready:\n${out.slice(-4000)}`);
    }
    if (Date.now() > deadline) throw new Error(`the production stack did not become ready within 180 s:\n${out.slice(-4000)}`);
    try {
      const res = await fetch(`${apiUrl}/readyz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  return {
    apiUrl,
    temporalAddress: server.address,
    namespace: opts.namespace,
    taskQueue,
    dataDir,
    embeddedTemporal: false,
    production: true,
    lockboxPid: worker.child.pid!,
    launcherPid: worker.child.pid!,
    apiPid: api.child.pid!,
    temporalPid: server.pid,
    temporalCliPath: null,
    output: () => out,
    stop: async () => {
      await api.stop();
      await worker.stop();
      await server.stop();
    },
  };
}
