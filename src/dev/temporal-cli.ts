/**
 * Finds or builds the Temporal CLI binary that runs the embedded dev server.
 *
 * Order: `LOCKBOX_TEMPORAL_CLI`, `temporal` on PATH, the cached build, else a one-time `go install` into the
 * cache. The cache lives outside the checkout (CI clones fresh, and the binary is 250 MB), and a lock file
 * makes sure two processes (test setup and `npm start`, say) never build at once.
 */
import { execFile, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The newest CLI tag whose go.mod has no `replace` directive; later tags cannot be `go install`ed. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
/** The `go` directive of that tag's go.mod: older toolchains refuse to build it. */
export const MIN_GO_VERSION: readonly [number, number] = [1, 25];

const VERSION_TIMEOUT_MS = 10_000;
const LOCK_HEARTBEAT_MS = 15_000;
/** A lock whose holder stopped refreshing it for this long is abandoned (holder crashed, or another host). */
const LOCK_STALE_MS = 120_000;
const LOCK_WAIT_MAX_MS = 30 * 60_000;
const PROGRESS_EVERY_MS = 15_000;

type Log = (line: string) => void;

/** Options for {@link ensureTemporalCli}. */
export interface EnsureTemporalCliOptions {
  /** Receives human-readable progress lines; defaults to stderr. */
  log?: Log;
}

/** Directory holding the cached CLI: `${XDG_CACHE_HOME ?? ~/.cache}/lockbox/bin`. */
export function temporalCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'lockbox', 'bin');
}

/**
 * Returns the path of a working `temporal` binary, building and caching it once if none is found.
 * @throws Error naming what to install when no binary is found and Go is missing or too old.
 */
export async function ensureTemporalCli(opts: EnsureTemporalCliOptions = {}): Promise<string> {
  const log: Log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));

  const fromEnv = process.env.LOCKBOX_TEMPORAL_CLI;
  if (fromEnv) {
    // An explicit choice must not silently fall back to something else.
    const problem = await verifyTemporal(fromEnv);
    if (problem) throw new Error(`LOCKBOX_TEMPORAL_CLI=${fromEnv} is not a usable Temporal CLI: ${problem}`);
    return fromEnv;
  }

  for (const candidate of await findOnPath('temporal')) {
    const problem = await verifyTemporal(candidate);
    if (!problem) return candidate;
    log(`ignoring ${candidate} on PATH: ${problem}`);
  }

  const cacheDir = temporalCacheDir();
  const cached = join(cacheDir, 'temporal');
  if (await isExecutable(cached)) {
    const problem = await verifyTemporal(cached);
    if (!problem) return cached;
    log(`cached Temporal CLI ${cached} does not work (${problem}); rebuilding it`);
  }

  await buildWithLock(cacheDir, cached, log);
  return cached;
}

/** Runs `temporal --version`; returns undefined when it works, else why not. */
async function verifyTemporal(path: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync(path, ['--version'], { timeout: VERSION_TIMEOUT_MS });
    if (!/temporal version/i.test(stdout)) return `unexpected --version output: ${stdout.trim().split('\n')[0]?.slice(0, 200)}`;
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
    if (!dir) continue;
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) found.push(candidate);
  }
  return found;
}

/** Takes the build lock (waiting for another builder if needed), then builds unless that builder already did. */
async function buildWithLock(cacheDir: string, target: string, log: Log): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const lockPath = join(cacheDir, 'temporal.build.lock');
  const release = await acquireLock(lockPath, log);
  try {
    // Another process may have finished the build while we waited.
    if ((await isExecutable(target)) && !(await verifyTemporal(target))) return;
    await goInstall(cacheDir, target, log);
  } finally {
    await release();
  }
}

interface LockOwner {
  pid: number;
  host: string;
}

async function acquireLock(lockPath: string, log: Log): Promise<() => Promise<void>> {
  const started = Date.now();
  let announced = false;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
      await handle.close();
      // Refresh the mtime so waiters on other hosts or PID namespaces can tell a live build from a dead one.
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

    const owner = await readLockOwner(lockPath);
    if (await isStale(lockPath, owner)) {
      log(`removing stale Temporal CLI build lock ${lockPath}`);
      await rm(lockPath, { force: true });
      continue;
    }
    if (!announced) {
      log(`another process (pid ${owner?.pid ?? '?'}) is building the Temporal CLI; waiting for it to finish`);
      announced = true;
    }
    if (Date.now() - started > LOCK_WAIT_MAX_MS) {
      throw new Error(
        `gave up after ${LOCK_WAIT_MAX_MS / 60_000} minutes waiting for the Temporal CLI build lock ${lockPath}; ` +
          'if no build is running, delete that file',
      );
    }
    await sleep(2_000);
  }
}

async function readLockOwner(lockPath: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(lockPath, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return { pid: parsed.pid, host: parsed.host };
  } catch {
    // Being written right now, or garbage: judged by its age alone.
  }
  return undefined;
}

async function isStale(lockPath: string, owner: LockOwner | undefined): Promise<boolean> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(lockPath)).mtimeMs;
  } catch {
    return false; // gone already; the next open() will tell
  }
  if (owner && owner.host === hostname() && !isAlive(owner.pid)) return true;
  return Date.now() - mtimeMs > LOCK_STALE_MS;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Checks `go version` against {@link MIN_GO_VERSION}; throws a message saying what to install. */
async function checkGo(): Promise<void> {
  const need = `Go >= ${MIN_GO_VERSION.join('.')}`;
  const alternatives =
    `, or put a Temporal CLI binary named \`temporal\` on PATH, ` +
    `or set LOCKBOX_TEMPORAL_CLI to the path of one`;
  let out: string;
  try {
    out = (await execFileAsync('go', ['env', 'GOVERSION'], { timeout: VERSION_TIMEOUT_MS })).stdout.trim();
  } catch {
    throw new Error(
      `No Temporal CLI found (not in LOCKBOX_TEMPORAL_CLI, not on PATH, not in ${temporalCacheDir()}) ` +
        `and \`go\` is not installed to build it. Install ${need} (https://go.dev/dl/, or your package manager)` +
        alternatives +
        '.',
    );
  }
  const match = /go(\d+)\.(\d+)/.exec(out);
  const [major, minor] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  const [needMajor, needMinor] = MIN_GO_VERSION;
  if (major < needMajor || (major === needMajor && minor < needMinor)) {
    throw new Error(
      `No Temporal CLI found and the installed Go (${out || 'unknown version'}) is too old to build ` +
        `${TEMPORAL_CLI_MODULE}. Install ${need}` +
        alternatives +
        '.',
    );
  }
}

/** Builds into a private GOBIN, then renames into place so no reader ever sees a half-written binary. */
async function goInstall(cacheDir: string, target: string, log: Log): Promise<void> {
  await checkGo();
  // Holding the lock, any other staging directory is left over from a build that was killed.
  for (const entry of await readdir(cacheDir)) {
    if (entry.startsWith('.build-')) await rm(join(cacheDir, entry), { recursive: true, force: true });
  }
  const stage = join(cacheDir, `.build-${process.pid}`);
  await mkdir(stage, { recursive: true });

  log(
    `Building the Temporal CLI once (${TEMPORAL_CLI_MODULE}) into ${cacheDir}: about 5-6 minutes on 2 cores, ` +
      'cached for every later start, test and CI run. Why: the CLI download site is unreachable from here, ' +
      'so it is compiled from the Go module proxy.',
  );

  const started = Date.now();
  const tail: string[] = [];
  let downloads = 0;
  let packages = 0;
  let lastLine = '';
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)}s`;

  const child = spawn('go', ['install', '-v', TEMPORAL_CLI_MODULE], {
    cwd: cacheDir, // outside any go.mod, so the checkout's state cannot interfere
    env: { ...process.env, GOBIN: stage },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onLine = (line: string) => {
    if (!line.trim()) return;
    tail.push(line);
    if (tail.length > 40) tail.shift();
    if (line.startsWith('go: downloading')) downloads += 1;
    else if (!/\s/.test(line)) packages += 1; // `go install -v` prints each package path alone on a line
    else log(`go: ${line}`); // anything else is unusual (warnings, errors): pass it through
    lastLine = line;
  };
  splitLines(child.stdout, onLine);
  splitLines(child.stderr, onLine);
  const progress = setInterval(() => {
    log(`building the Temporal CLI: ${elapsed()} elapsed, ${downloads} modules downloaded, ${packages} packages compiled (${lastLine})`);
  }, PROGRESS_EVERY_MS);

  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  }).finally(() => clearInterval(progress));

  const built = join(stage, 'temporal');
  if (code !== 0 || !(await isExecutable(built))) {
    await rm(stage, { recursive: true, force: true });
    throw new Error(`\`go install ${TEMPORAL_CLI_MODULE}\` failed (exit ${code}). Last output:\n${tail.join('\n')}`);
  }
  await rename(built, target);
  await rm(stage, { recursive: true, force: true });
  const problem = await verifyTemporal(target);
  if (problem) throw new Error(`built Temporal CLI at ${target} but it does not run: ${problem}`);
  log(`built the Temporal CLI in ${elapsed()}: ${target}`);
}

function splitLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    lines.forEach(onLine);
  });
  stream.on('end', () => {
    if (buffered) onLine(buffered);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
