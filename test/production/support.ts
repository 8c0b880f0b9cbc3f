/**
 * Helpers of the production-shape suite: PostgreSQL databases of the suite's own, a Temporal server on them, and
 * Lockbox's API and worker as separate processes (src/main/run-api.ts, src/main/run-worker.ts).
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Connection } from '@temporalio/client';
import { findFreePort } from '../../src/dev/dev-server.js';
import { dropAbandonedScratchDatabases, dropScratchDatabases, newScratchPrefix, scratchDatabaseUrl, scratchSql } from '../../src/dev/scratch-databases.js';
import { setupTemporalSchema, startTemporalServer, type PostgresTarget, type TemporalServer, type TemporalServerTls } from '../../src/dev/temporal-server.js';
import { startProc, waitForHttp, type Proc } from '../support/process.js';

const execFileAsync = promisify(execFile);

export const ROOT = join(import.meta.dirname, '..', '..');

/** The machine's PostgreSQL (trust authentication for local TCP). */
export const PG: PostgresTarget = {
  host: process.env.LOCKBOX_TEST_PGHOST ?? '127.0.0.1',
  port: Number(process.env.LOCKBOX_TEST_PGPORT ?? 5432),
  user: process.env.LOCKBOX_TEST_PGUSER ?? 'postgres',
};

/** What the global setup hands every file through `inject('production')`. */
export interface ProductionInfo {
  /** The plaintext Temporal server every file but the mTLS one uses. */
  temporalAddress: string;
  /** Database names start with this; teardown drops every database that does. */
  dbPrefix: string;
  /** Lockbox's own PostgreSQL (store, credentials, audit sink), shared by every replica. */
  appDatabaseUrl: string;
  /** The workflow bundle built by the setup (npm run build:workflows) that the workers load. */
  bundlePath: string;
  serverPath: string;
  sqlTool: string;
  /** A scratch directory of the run, removed at teardown. */
  workDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    production: ProductionInfo;
  }
}

const FAMILY = 'lbx_prod_';

export const databaseUrl = (database: string): string => scratchDatabaseUrl(PG, database);

/** Runs SQL on the maintenance database (or `database`). */
export const sql = <T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = [], database = 'postgres'): Promise<T[]> =>
  scratchSql<T>(PG, text, values, database);

/** `lbx_prod_<pid>_<random>`: names of this run; a later run drops those of runs whose process is gone. */
export const newDbPrefix = (): string => newScratchPrefix(FAMILY);

/** Drops every database named `<prefix>...`, closing their sessions first. */
export const dropDatabases = (prefix: string): Promise<void> => dropScratchDatabases(PG, prefix);

/** Databases left by earlier runs on this host whose process died before its teardown. */
export const dropAbandonedDatabases = (): Promise<void> => dropAbandonedScratchDatabases(PG, FAMILY);

/** Two databases with Temporal's schemas (`temporal-sql-tool`), and the server on them. */
export async function provisionTemporal(o: { sqlTool: string; serverPath: string; prefix: string; dir: string; tls?: TemporalServerTls }): Promise<TemporalServer> {
  const databases = { temporal: `${o.prefix}_temporal`, visibility: `${o.prefix}_visibility` };
  await setupTemporalSchema(o.sqlTool, PG, databases.temporal, 'temporal');
  await setupTemporalSchema(o.sqlTool, PG, databases.visibility, 'visibility');
  await mkdir(o.dir, { recursive: true });
  return startTemporalServer({ serverPath: o.serverPath, dir: o.dir, postgres: { ...PG, databases }, tls: o.tls });
}

/** The test's environment without any LOCKBOX_* or TEMPORAL_* the caller happened to have set. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LOCKBOX_') && !k.startsWith('TEMPORAL_')));
}

/** A Lockbox process of one role; its output also goes to `logFile`. */
export interface LockboxProc extends Proc {
  role: 'api' | 'worker';
  url?: string;
  metricsUrl?: string;
  logFile: string;
}

/** Starts `src/main/run-api.ts` or `src/main/run-worker.ts` with `env` (on a clean environment). */
export async function startLockbox(role: 'api' | 'worker', env: Record<string, string>, logDir: string, name: string): Promise<LockboxProc> {
  const extra: Record<string, string> = {};
  let url: string | undefined;
  let metricsUrl: string | undefined;
  if (role === 'api') {
    const port = await findFreePort();
    extra.LOCKBOX_PORT = String(port);
    url = `http://127.0.0.1:${port}`;
  } else {
    const port = await findFreePort();
    extra.LOCKBOX_WORKER_METRICS_ADDRESS = `127.0.0.1:${port}`;
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
  }
  await mkdir(logDir, { recursive: true });
  const logFile = join(logDir, `${name}.log`);
  // node itself with tsx's loader, not the tsx CLI: the tsx CLI runs node as a child of its own, so a SIGKILL would
  // hit the wrapper and leave the real process running.
  const script = role === 'api' ? 'src/main/run-api.ts' : 'src/main/run-worker.ts';
  const proc = startProc(process.execPath, ['--import', 'tsx', script], { ...cleanEnv(), ...env, ...extra }, ROOT, logFile);
  return Object.assign(proc, { role, url, metricsUrl, logFile });
}

/** Resolves once every worker in `workers` polls the task queue (identity `<pid>@<host>`). */
export async function waitForPollers(address: string, namespace: string, taskQueue: string, workers: LockboxProc[], deadlineMs = 90_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  const wanted = workers.map((w) => `${w.child.pid}@${hostname()}`);
  let seen: string[] = [];
  while (Date.now() < until) {
    for (const w of workers) {
      if (w.child.exitCode !== null) throw new Error(`worker exited (${w.child.exitCode}):\n${w.output()}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        const tq = await connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue, kind: 1 }, taskQueueType: 1 });
        seen = (tq.pollers ?? []).map((p) => p.identity ?? '');
        if (wanted.every((id) => seen.includes(id))) return;
      } finally {
        await connection.close();
      }
    } catch {
      // namespace not there yet, server busy: try again
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`workers ${wanted.join(', ')} not polling ${taskQueue} after ${deadlineMs} ms (pollers: ${seen.join(', ') || 'none'}):\n${workers.map((w) => w.output().slice(-3000)).join('\n---\n')}`);
}

export async function waitReady(api: LockboxProc, deadlineMs = 90_000): Promise<void> {
  await waitForHttp(`${api.url}/readyz`, api, deadlineMs);
}

/** Waits for a process to exit; its exit code (or the signal name), or 'timeout'. */
export function exitOf(p: Proc, timeoutMs: number): Promise<number | string> {
  if (p.child.exitCode !== null) return Promise.resolve(p.child.exitCode);
  if (p.child.signalCode !== null) return Promise.resolve(p.child.signalCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs);
    p.child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal ?? 'unknown');
    });
  });
}

/** CA, a server certificate for 127.0.0.1 / localhost, a client certificate, and a second CA nobody trusts. */
export interface TestCerts {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  wrongCaCert: string;
}

/** Makes the certificates with `openssl` (EC P-256, one day). */
export async function makeCerts(dir: string): Promise<TestCerts> {
  await mkdir(dir, { recursive: true });
  const f = (name: string) => join(dir, name);
  const openssl = (args: string[]) => execFileAsync('openssl', args, { cwd: dir, timeout: 30_000 });
  const key = (name: string) => openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f(name)]);
  const ca = async (name: string, cn: string) => {
    await key(`${name}.key`);
    await openssl(['req', '-x509', '-new', '-key', f(`${name}.key`), '-sha256', '-days', '1', '-subj', `/CN=${cn}`, '-out', f(`${name}.pem`),
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  };
  const leaf = async (name: string, cn: string, ext: string) => {
    await key(`${name}.key`);
    await openssl(['req', '-new', '-key', f(`${name}.key`), '-subj', `/CN=${cn}`, '-out', f(`${name}.csr`)]);
    await writeFile(f(`${name}.ext`), ext);
    await openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-sha256',
      '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`)]);
  };
  await ca('ca', 'Lockbox test CA');
  await ca('wrong-ca', 'Somebody else');
  await leaf('server', 'localhost', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await leaf('client', 'lockbox-client', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    wrongCaCert: f('wrong-ca.pem'),
  };
}

/** A tiny API client with the demo identities. */
export function lockboxApi(baseUrl: string) {
  const call = async (token: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // keep the text
    }
    return { status: res.status, body: parsed };
  };
  const as = (token: string) => ({
    get: (path: string) => call(token, 'GET', path),
    post: (path: string, body: unknown = {}) => call(token, 'POST', path, body),
  });
  return { url: baseUrl, eve: as('eve-dev-token'), alice: as('alice-dev-token'), bob: as('bob-dev-token') };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
