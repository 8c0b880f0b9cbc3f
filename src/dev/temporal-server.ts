/**
 * The full Temporal server (not the CLI's dev server) on PostgreSQL: for the production-shape tests and for anyone
 * who wants the real thing on one machine.
 *
 * - {@link ensureTemporalServer} finds or builds (once, cached beside the CLI in `~/.cache/lockbox/bin`, under a
 *   lock) the server binary and its SQL schema tool.
 * - {@link setupTemporalSchemas} creates a database and installs Temporal's schema in it with the SQL tool.
 * - {@link startTemporalServer} writes a config (two `postgres12` datastores, optional TLS on the frontend) and
 *   runs the server until {@link TemporalServer.stop}.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { Connection, type TLSConfig } from '@temporalio/client';
import { createServer } from 'node:net';
import { temporalCacheDir } from './temporal-cli.js';

const execFileAsync = promisify(execFile);

/** The server release the CLI v1.5.1 embeds, so both behave alike. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_SERVER_MODULE = `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`;
export const TEMPORAL_SQL_TOOL_MODULE = `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`;

const VERSION_TIMEOUT_MS = 10_000;
const LOCK_HEARTBEAT_MS = 15_000;
const LOCK_STALE_MS = 120_000;
const LOCK_WAIT_MAX_MS = 30 * 60_000;
const PROGRESS_EVERY_MS = 15_000;
const READY_DEADLINE_MS = 90_000;
const STOP_GRACE_MS = 15_000;
const TAIL_LINES = 40;

type Log = (line: string) => void;

/** Paths of the two binaries. */
export interface TemporalServerBinaries {
  /** `temporal-server` (go.temporal.io/server/cmd/server). */
  server: string;
  /** `temporal-sql-tool` (go.temporal.io/server/cmd/tools/sql). */
  sqlTool: string;
}

interface BinarySpec {
  what: string;
  env: string;
  /** Names on PATH (the official images call them so). */
  pathNames: string[];
  /** Name in the cache: what `go install` calls it. */
  cacheName: string;
  module: string;
  versionPattern: RegExp;
}

const SERVER: BinarySpec = {
  what: 'Temporal server',
  env: 'LOCKBOX_TEMPORAL_SERVER',
  pathNames: ['temporal-server'],
  cacheName: 'server',
  module: TEMPORAL_SERVER_MODULE,
  versionPattern: /^temporal version \d/m,
};
const SQL_TOOL: BinarySpec = {
  what: 'Temporal SQL tool',
  env: 'LOCKBOX_TEMPORAL_SQL_TOOL',
  pathNames: ['temporal-sql-tool'],
  cacheName: 'sql',
  module: TEMPORAL_SQL_TOOL_MODULE,
  versionPattern: /^temporal-sql-tool version \d/m,
};

/**
 * Finds or builds both binaries. Order for each: its environment variable (LOCKBOX_TEMPORAL_SERVER,
 * LOCKBOX_TEMPORAL_SQL_TOOL; used as given or an error), the name on PATH, the cache, else `go install` into the
 * cache under `server.build.lock` (one build at a time, across processes; a waiter reuses the result).
 */
export async function ensureTemporalServer(opts: { log?: Log } = {}): Promise<TemporalServerBinaries> {
  const log: Log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
  return { server: await ensureBinary(SERVER, log), sqlTool: await ensureBinary(SQL_TOOL, log) };
}

async function ensureBinary(spec: BinarySpec, log: Log): Promise<string> {
  const fromEnv = process.env[spec.env];
  if (fromEnv) {
    const problem = await verify(spec, fromEnv);
    if (problem) throw new Error(`${spec.env}=${fromEnv} is not a usable ${spec.what}: ${problem}`);
    return fromEnv;
  }
  for (const name of spec.pathNames) {
    for (const candidate of await findOnPath(name)) {
      const problem = await verify(spec, candidate);
      if (!problem) return candidate;
      log(`ignoring ${candidate} on PATH: ${problem}`);
    }
  }
  const cacheDir = temporalCacheDir();
  const cached = join(cacheDir, spec.cacheName);
  if (await isExecutable(cached)) {
    const problem = await verify(spec, cached);
    if (!problem) return cached;
    log(`cached ${spec.what} ${cached} does not work (${problem}); rebuilding it`);
  }
  await mkdir(cacheDir, { recursive: true });
  const release = await acquireLock(join(cacheDir, 'server.build.lock'), spec.what, log);
  try {
    if ((await isExecutable(cached)) && !(await verify(spec, cached))) return cached;
    await goInstall(spec, cacheDir, cached, log);
  } finally {
    await release();
  }
  return cached;
}

async function verify(spec: BinarySpec, path: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync(path, ['--version'], { timeout: VERSION_TIMEOUT_MS });
    if (!spec.versionPattern.test(stdout)) return `unexpected --version output: ${stdout.trim().split('\n')[0]?.slice(0, 200)}`;
    return undefined;
  } catch (err) {
    return `\`${path} --version\` failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function findOnPath(name: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && (await isExecutable(join(dir, name)))) found.push(join(dir, name));
  }
  return found;
}

async function acquireLock(lockPath: string, what: string, log: Log): Promise<() => Promise<void>> {
  const started = Date.now();
  let announced = false;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
      await handle.close();
      const heartbeat = setInterval(() => {
        const now = new Date();
        utimes(lockPath, now, now).catch(() => undefined);
      }, LOCK_HEARTBEAT_MS);
      heartbeat.unref();
      return async () => {
        clearInterval(heartbeat);
        await rm(lockPath, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner: { pid?: number; host?: string } = {};
    try {
      owner = JSON.parse(await readFile(lockPath, 'utf8')) as typeof owner;
    } catch {
      // being written, or garbage: judged by age alone
    }
    let mtimeMs = Date.now();
    try {
      mtimeMs = (await stat(lockPath)).mtimeMs;
    } catch {
      continue; // gone: try again
    }
    const deadOwner = owner.host === hostname() && typeof owner.pid === 'number' && !isAlive(owner.pid);
    if (deadOwner || Date.now() - mtimeMs > LOCK_STALE_MS) {
      log(`removing stale Temporal server build lock ${lockPath}`);
      await rm(lockPath, { force: true });
      continue;
    }
    if (!announced) {
      log(`another process (pid ${owner.pid ?? '?'}) is building the Temporal server binaries; waiting for it before using the ${what}`);
      announced = true;
    }
    if (Date.now() - started > LOCK_WAIT_MAX_MS) {
      throw new Error(`gave up after ${LOCK_WAIT_MAX_MS / 60_000} minutes waiting for ${lockPath}; if no build is running, delete that file`);
    }
    await sleep(2_000);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `go install` into a private GOBIN, then a rename into place: nobody ever runs a half-written binary. */
async function goInstall(spec: BinarySpec, cacheDir: string, target: string, log: Log): Promise<void> {
  try {
    await execFileAsync('go', ['env', 'GOVERSION'], { timeout: VERSION_TIMEOUT_MS });
  } catch {
    throw new Error(
      `No ${spec.what} found (not in ${spec.env}, not on PATH as ${spec.pathNames.join(' or ')}, not in ${cacheDir}) and \`go\` ` +
        `is not installed to build it. Install Go >= 1.25, or set ${spec.env} to the path of a ${spec.what} binary.`,
    );
  }
  const stage = join(cacheDir, `.build-server-${process.pid}`);
  await rm(stage, { recursive: true, force: true });
  for (const entry of await readdir(cacheDir)) {
    if (entry.startsWith('.build-server-')) await rm(join(cacheDir, entry), { recursive: true, force: true });
  }
  await mkdir(stage, { recursive: true });
  log(`Building the ${spec.what} once (${spec.module}) into ${cacheDir}: a few minutes the first time, cached afterwards.`);
  const started = Date.now();
  const tail: string[] = [];
  let packages = 0;
  const child = spawn('go', ['install', '-v', spec.module], {
    cwd: cacheDir,
    env: { ...process.env, GOBIN: stage },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onLine = (line: string) => {
    if (!line.trim()) return;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    if (!/\s/.test(line)) packages += 1;
  };
  pipeLines(child.stdout, onLine);
  pipeLines(child.stderr, onLine);
  const progress = setInterval(() => {
    log(`building the ${spec.what}: ${Math.round((Date.now() - started) / 1000)}s elapsed, ${packages} packages compiled`);
  }, PROGRESS_EVERY_MS);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  }).finally(() => clearInterval(progress));
  const built = join(stage, spec.cacheName);
  if (code !== 0 || !(await isExecutable(built))) {
    await rm(stage, { recursive: true, force: true });
    throw new Error(`\`go install ${spec.module}\` failed (exit ${code}). Last output:\n${tail.join('\n')}`);
  }
  await rename(built, target);
  await rm(stage, { recursive: true, force: true });
  const problem = await verify(spec, target);
  if (problem) throw new Error(`built ${target} but it does not run: ${problem}`);
  log(`built the ${spec.what} in ${Math.round((Date.now() - started) / 1000)}s: ${target}`);
}

/** Where Temporal keeps its data: a PostgreSQL server reachable over TCP. */
export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  /** Passed to the tools through the environment, never on a command line. */
  password?: string;
}

/**
 * Creates `database` (unless it exists) and installs Temporal's `temporal` or `visibility` schema in it at the
 * newest version, with `temporal-sql-tool --plugin postgres12`.
 */
export async function setupTemporalSchema(sqlTool: string, pg: PostgresTarget, database: string, schema: 'temporal' | 'visibility'): Promise<void> {
  const base = ['--plugin', 'postgres12', '--endpoint', pg.host, '--port', String(pg.port), '--user', pg.user, '--database', database];
  const env = { ...process.env, ...(pg.password ? { SQL_PASSWORD: pg.password } : {}) };
  const run = async (args: string[], okIf?: RegExp) => {
    try {
      await execFileAsync(sqlTool, [...base, ...args], { env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      const output = `${e.stdout ?? ''}\n${e.stderr ?? ''}`;
      if (okIf?.test(output)) return;
      throw new Error(`temporal-sql-tool ${args[0]} on database ${database} failed: ${lastLines(output || e.message, 8)}`);
    }
  };
  await run(['create-database'], /already exists/);
  await run(['setup-schema', '-v', '0.0']);
  await run(['update-schema', '--schema-name', `postgresql/v12/${schema}`]);
}

/** Drops a database made by {@link setupTemporalSchema}; a missing one is fine. */
export async function dropTemporalDatabase(sqlTool: string, pg: PostgresTarget, database: string): Promise<void> {
  const args = ['--plugin', 'postgres12', '--endpoint', pg.host, '--port', String(pg.port), '--user', pg.user, '--database', database, 'drop-database', '--force'];
  const env = { ...process.env, ...(pg.password ? { SQL_PASSWORD: pg.password } : {}) };
  await execFileAsync(sqlTool, args, { env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }).catch(() => undefined);
}

/** TLS on the frontend: what the server presents, whom it accepts, and what its own system worker presents. */
export interface TemporalServerTls {
  /** PEM files. */
  serverCertFile: string;
  serverKeyFile: string;
  /** CAs whose client certificates the frontend accepts. */
  clientCaFiles: string[];
  /** Default true: a client without a certificate signed by `clientCaFiles` is refused. */
  requireClientAuth?: boolean;
  /** The name in the server certificate that internal clients check, e.g. `localhost`. */
  serverName: string;
  /** CAs that internal clients use to check the server certificate. */
  rootCaFiles: string[];
  /** The certificate the server's own system worker (and the readiness check) presents. */
  clientCertFile: string;
  clientKeyFile: string;
}

/** Options for {@link startTemporalServer}. */
export interface TemporalServerOptions {
  serverPath: string;
  /** Working directory: the config is written here; it must exist or will be created. */
  dir: string;
  postgres: PostgresTarget & { databases: { temporal: string; visibility: string } };
  /** Frontend gRPC port; a free one by default. The other services get free ports of their own. */
  port?: number;
  tls?: TemporalServerTls;
  /** Server log level (default warn). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  log?: Log;
}

/** A running server. */
export interface TemporalServer {
  /** Frontend gRPC, `127.0.0.1:<port>`. */
  address: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 15 s; resolves once the process has exited. Safe to call twice. */
  stop(): Promise<void>;
  /** The last lines it printed. */
  output(): string;
}

/** Dynamic config: new search attributes are visible at once, namespaces are picked up within a second. */
const DYNAMIC_CONFIG = `
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
system.namespaceCacheRefreshInterval:
  - value: 1s
frontend.enableUpdateWorkflowExecution:
  - value: true
frontend.enableUpdateWorkflowExecutionAsyncAccepted:
  - value: true
`;

/** The server's config file, `config/development.yaml` under the working directory. */
export function temporalServerConfig(o: {
  ports: { frontend: number; frontendHttp: number; history: number; matching: number; worker: number; membership: [number, number, number, number] };
  postgres: TemporalServerOptions['postgres'];
  tls?: TemporalServerTls;
  logLevel: string;
  dynamicConfigFile: string;
}): string {
  const q = (s: string) => JSON.stringify(s); // JSON strings are valid YAML scalars
  const store = (db: string, conns: number) => [
    '      sql:',
    '        pluginName: "postgres12"',
    `        databaseName: ${q(db)}`,
    `        connectAddr: ${q(`${o.postgres.host}:${o.postgres.port}`)}`,
    '        connectProtocol: "tcp"',
    `        user: ${q(o.postgres.user)}`,
    `        password: ${q(o.postgres.password ?? '')}`,
    `        maxConns: ${conns}`,
    `        maxIdleConns: ${conns}`,
    '        maxConnLifetime: "1h"',
  ];
  const list = (files: string[]) => `[${files.map(q).join(', ')}]`;
  const tls = o.tls
    ? [
        '  tls:',
        '    frontend:',
        '      server:',
        `        certFile: ${q(o.tls.serverCertFile)}`,
        `        keyFile: ${q(o.tls.serverKeyFile)}`,
        `        requireClientAuth: ${o.tls.requireClientAuth ?? true}`,
        `        clientCaFiles: ${list(o.tls.clientCaFiles)}`,
        '      client:',
        `        serverName: ${q(o.tls.serverName)}`,
        `        rootCaFiles: ${list(o.tls.rootCaFiles)}`,
        '    systemWorker:',
        `      certFile: ${q(o.tls.clientCertFile)}`,
        `      keyFile: ${q(o.tls.clientKeyFile)}`,
        '      client:',
        `        serverName: ${q(o.tls.serverName)}`,
        `        rootCaFiles: ${list(o.tls.rootCaFiles)}`,
      ]
    : [];
  const service = (name: string, grpc: number, membership: number, http?: number) => [
    `  ${name}:`,
    '    rpc:',
    `      grpcPort: ${grpc}`,
    `      membershipPort: ${membership}`,
    '      bindOnLocalHost: true',
    ...(http ? [`      httpPort: ${http}`] : []),
  ];
  const [mFrontend, mHistory, mMatching, mWorker] = o.ports.membership;
  return [
    'log:',
    '  stdout: true',
    `  level: ${o.logLevel}`,
    'persistence:',
    '  defaultStore: postgres-default',
    '  visibilityStore: postgres-visibility',
    '  numHistoryShards: 4',
    '  datastores:',
    '    postgres-default:',
    ...store(o.postgres.databases.temporal, 20),
    '    postgres-visibility:',
    ...store(o.postgres.databases.visibility, 4),
    'global:',
    '  membership:',
    '    maxJoinDuration: 30s',
    '    broadcastAddress: "127.0.0.1"',
    ...tls,
    'services:',
    ...service('frontend', o.ports.frontend, mFrontend, o.ports.frontendHttp),
    ...service('history', o.ports.history, mHistory),
    ...service('matching', o.ports.matching, mMatching),
    ...service('worker', o.ports.worker, mWorker),
    'clusterMetadata:',
    '  enableGlobalNamespace: false',
    '  failoverVersionIncrement: 10',
    '  masterClusterName: "active"',
    '  currentClusterName: "active"',
    '  clusterInformation:',
    '    active:',
    '      enabled: true',
    '      initialFailoverVersion: 1',
    '      rpcName: "frontend"',
    `      rpcAddress: ${q(`127.0.0.1:${o.ports.frontend}`)}`,
    'dcRedirectionPolicy:',
    '  policy: "noop"',
    'dynamicConfigClient:',
    `  filepath: ${q(o.dynamicConfigFile)}`,
    '  pollInterval: "10s"',
    '',
  ].join('\n');
}

/**
 * Starts `temporal-server start` (all four services in one process) on free ports and resolves once the frontend
 * answers (over TLS with the system worker's certificate when `tls` is set).
 * @throws Error with the server's last output when it exits or does not answer within 90 s.
 */
export async function startTemporalServer(opts: TemporalServerOptions): Promise<TemporalServer> {
  const log = opts.log ?? (() => undefined);
  // Temporal stores its services' ports in a smallint column (cluster_membership.rpc_port): stay below 32768,
  // under the kernel's ephemeral range, where a port found free stays free.
  const taken = new Set<number>();
  const free = async () => {
    const port = await findFreeLowPort(taken);
    taken.add(port);
    return port;
  };
  const ports = {
    frontend: opts.port ?? (await free()),
    frontendHttp: await free(),
    history: await free(),
    matching: await free(),
    worker: await free(),
    membership: [await free(), await free(), await free(), await free()] as [number, number, number, number],
  };
  const configDir = join(opts.dir, 'config');
  await mkdir(configDir, { recursive: true });
  const dynamicConfigFile = join(opts.dir, 'dynamicconfig.yaml');
  await writeFile(dynamicConfigFile, DYNAMIC_CONFIG);
  await writeFile(
    join(configDir, 'development.yaml'),
    temporalServerConfig({ ports, postgres: opts.postgres, tls: opts.tls, logLevel: opts.logLevel ?? 'warn', dynamicConfigFile }),
    { mode: 0o600 }, // it holds the database password
  );

  const child = spawn(opts.serverPath, ['--root', opts.dir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'], {
    cwd: opts.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const onLine = (line: string) => {
    if (!line.trim()) return;
    tail.push(shortLine(line));
    if (tail.length > TAIL_LINES) tail.shift();
  };
  pipeLines(child.stdout, onLine);
  pipeLines(child.stderr, onLine);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    await stopChild(child, exited);
  };
  const address = `127.0.0.1:${ports.frontend}`;
  const fail = (why: string) => new Error(`Temporal server (${opts.serverPath}) ${why}. Last output:\n${tail.join('\n') || '(none)'}`);

  try {
    const tls = opts.tls ? await readinessTls(opts.tls) : undefined;
    const deadline = Date.now() + READY_DEADLINE_MS;
    let lastError = 'no answer';
    for (;;) {
      if (spawnError) throw fail(`could not be started: ${spawnError.message}`);
      if (child.exitCode !== null || child.signalCode !== null) throw fail(`exited (code ${child.exitCode ?? child.signalCode}) before it was ready`);
      if (Date.now() > deadline) throw fail(`did not answer at ${address} within ${READY_DEADLINE_MS / 1000} s (${lastError})`);
      try {
        const connection = await Promise.race([Connection.connect({ address, tls, connectTimeout: 2_000 }), exited.then(() => undefined)]);
        if (connection) {
          try {
            await connection.workflowService.getSystemInfo({});
            // The server creates its own system namespace at start-up; once it is listed, namespaces can be registered.
            const { namespaces } = await connection.workflowService.listNamespaces({});
            if (namespaces.some((n) => n.namespaceInfo?.name === 'temporal-system')) break;
            lastError = 'system namespace not there yet';
          } finally {
            await connection.close();
          }
        }
      } catch (err) {
        lastError = (err as Error).message;
      }
      await sleep(300);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  log(`Temporal server ready at ${address}${opts.tls ? ' (mTLS)' : ''}`);
  return { address, pid: child.pid!, stop, output: () => tail.join('\n') };
}

async function readinessTls(tls: TemporalServerTls): Promise<TLSConfig> {
  return {
    serverNameOverride: tls.serverName,
    serverRootCACertificate: Buffer.concat(await Promise.all(tls.rootCaFiles.map((f) => readFile(f)))),
    clientCertPair: { crt: await readFile(tls.clientCertFile), key: await readFile(tls.clientKeyFile) },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const graceful = await Promise.race([
    exited.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), STOP_GRACE_MS))),
  ]);
  clearTimeout(timer);
  if (!graceful) {
    child.kill('SIGKILL');
    await exited;
  }
}

function pipeLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    lines.forEach(onLine);
  });
  stream.on('end', () => buffered && onLine(buffered));
}

/** A JSON log line without its Go stack trace, at most 1000 characters. */
function shortLine(line: string): string {
  let out = line;
  if (line.startsWith('{')) {
    try {
      const { stacktrace: _drop, ...rest } = JSON.parse(line) as Record<string, unknown>;
      out = JSON.stringify(rest);
    } catch {
      // not JSON after all
    }
  }
  return out.length > 1000 ? `${out.slice(0, 1000)}...` : out;
}

/** A free TCP port on 127.0.0.1 between 20000 and 32767 (not in `taken`). */
export async function findFreeLowPort(taken: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    if (taken.has(port)) continue;
    const ok = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free TCP port found between 20000 and 32767');
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
