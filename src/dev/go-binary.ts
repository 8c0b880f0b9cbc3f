/**
 * Finds or builds a Go binary the dev tools run (the Temporal CLI, the full server, its SQL tool): an explicit path
 * from the environment, the name on PATH, the cache outside the checkout (CI clones fresh; the binaries are big),
 * else a one-time `go install` into the cache under a lock, with progress lines while it builds.
 */
import { execFile, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { acquireBuildLock } from './build-lock.js';
import { pipeLines } from './child.js';

const execFileAsync = promisify(execFile);

const VERSION_TIMEOUT_MS = 10_000;
const PROGRESS_EVERY_MS = 15_000;
const TAIL_LINES = 40;

export type Log = (line: string) => void;

/** One binary: where to look for it and how to build it. */
export interface GoBinarySpec {
  /** For messages: "Temporal CLI". */
  what: string;
  /** The environment variable holding an explicit path: used as given, or an error. */
  env: string;
  /** Names on PATH. */
  pathNames: string[];
  /** Its name in the cache: what `go install` calls it. */
  cacheName: string;
  /** `module/path/cmd@version`; with `dir`, a package path inside that module (`.`). */
  module: string;
  /**
   * A Go module directory to build in (a tool of the tests' own, whose go.mod and go.sum pin what it builds from);
   * without it the build runs in the cache directory, outside any go.mod.
   */
  dir?: string;
  /** What `<binary> --version` prints when it is the right thing. */
  versionPattern: RegExp;
  /** The lock file in the cache; binaries built together share one. */
  lockName: string;
  /** What a build under that lock makes, for the waiting line: "the Temporal CLI". */
  lockSubject: string;
  /** Said when the build starts, after "Building the X once (module) into dir: ". */
  buildNote: string;
  /** The `go` directive of the module's go.mod: older toolchains refuse to build it. */
  minGo: readonly [number, number];
}

/** Directory holding the cached binaries: `${XDG_CACHE_HOME ?? ~/.cache}/lockbox/bin`. */
export function temporalCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'lockbox', 'bin');
}

/**
 * Returns the path of a working binary, building and caching it once if none is found.
 * @throws Error when the explicit path does not work, or naming what to install when Go is missing or too old.
 */
export async function ensureGoBinary(spec: GoBinarySpec, log: Log): Promise<string> {
  const fromEnv = process.env[spec.env];
  if (fromEnv) {
    // An explicit choice must not silently fall back to something else.
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
  const release = await acquireBuildLock(join(cacheDir, spec.lockName), spec.lockSubject, log);
  try {
    // Another process may have finished the build while we waited.
    if ((await isExecutable(cached)) && !(await verify(spec, cached))) return cached;
    await goInstall(spec, cacheDir, cached, log);
  } finally {
    await release();
  }
  return cached;
}

/** Runs `<path> --version`; returns undefined when it works, else why not. */
async function verify(spec: GoBinarySpec, path: string): Promise<string | undefined> {
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

/** Checks `go version` against the spec's minimum; throws a message saying what to install. */
async function checkGo(spec: GoBinarySpec, cacheDir: string): Promise<void> {
  const need = `Go >= ${spec.minGo.join('.')}`;
  const alternatives = `, or put a ${spec.what} binary named \`${spec.pathNames[0]}\` on PATH, or set ${spec.env} to the path of one.`;
  let out: string;
  try {
    out = (await execFileAsync('go', ['env', 'GOVERSION'], { timeout: VERSION_TIMEOUT_MS })).stdout.trim();
  } catch {
    throw new Error(
      `No ${spec.what} found (not in ${spec.env}, not on PATH as ${spec.pathNames.join(' or ')}, not in ${cacheDir}) ` +
        `and \`go\` is not installed to build it. Install ${need} (https://go.dev/dl/, or your package manager)${alternatives}`,
    );
  }
  const match = /go(\d+)\.(\d+)/.exec(out);
  const [major, minor] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  const [needMajor, needMinor] = spec.minGo;
  if (major < needMajor || (major === needMajor && minor < needMinor)) {
    throw new Error(`No ${spec.what} found and the installed Go (${out || 'unknown version'}) is too old to build ${spec.module}. Install ${need}${alternatives}`);
  }
}

/** Builds into a private GOBIN, then renames into place so no reader ever sees a half-written binary. */
async function goInstall(spec: GoBinarySpec, cacheDir: string, target: string, log: Log): Promise<void> {
  await checkGo(spec, cacheDir);
  // Holding the lock, any other staging directory of this binary is left over from a build that was killed.
  const stagePrefix = `.build-${spec.cacheName}-`;
  for (const entry of await readdir(cacheDir)) {
    if (entry.startsWith(stagePrefix)) await rm(join(cacheDir, entry), { recursive: true, force: true });
  }
  const stage = join(cacheDir, `${stagePrefix}${process.pid}`);
  await mkdir(stage, { recursive: true });
  log(`Building the ${spec.what} once (${spec.module}) into ${cacheDir}: ${spec.buildNote}`);

  const started = Date.now();
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)}s`;
  const tail: string[] = [];
  let downloads = 0;
  let packages = 0;
  let lastLine = '';
  const child = spawn('go', ['install', '-v', spec.module], {
    cwd: spec.dir ?? cacheDir, // else outside any go.mod, so the checkout's state cannot interfere
    env: { ...process.env, GOBIN: stage },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onLine = (line: string) => {
    if (!line.trim()) return;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    if (line.startsWith('go: downloading')) downloads += 1;
    else if (!/\s/.test(line)) packages += 1; // `go install -v` prints each package path alone on a line
    else log(`go: ${line}`); // anything else is unusual (warnings, errors): pass it through
    lastLine = line;
  };
  pipeLines(child.stdout, onLine);
  pipeLines(child.stderr, onLine);
  const progress = setInterval(() => {
    log(`building the ${spec.what}: ${elapsed()} elapsed, ${downloads} modules downloaded, ${packages} packages compiled (${lastLine})`);
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
  if (problem) throw new Error(`built ${spec.what} at ${target} but it does not run: ${problem}`);
  log(`built the ${spec.what} in ${elapsed()}: ${target}`);
}
