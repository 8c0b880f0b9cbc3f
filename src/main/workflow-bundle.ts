/**
 * The workflow code a worker loads, always as a bundle: bundling the sources (webpack) takes seconds and prints a
 * module list, so it happens once per version of the code, not at every start.
 *
 * Which bundle: LOCKBOX_WORKFLOW_BUNDLE when set (an operator's explicit choice); else `dist/workflow-bundle.js`
 * when it was built from the code as it is now (`npm run build:workflows`; its `.json` beside it records the
 * {@link bundleKey}); else the cached bundle for that key in `node_modules/.cache/lockbox/`, built there first when
 * there is none. A bundle built from older code is never run by mistake: the key changes with the code.
 *
 * With tracing on (src/main/tracing.ts) the bundle also registers the OpenTelemetry workflow interceptors: a
 * variant of its own, whose key covers the interceptor module and its package's version, cached beside the plain one
 * under another name, so processes with and without tracing never use or remove each other's bundle.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger as SdkLogger } from '@temporalio/common';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ConfigError } from '../config/index.js';
import type { Logger } from '../config/logger.js';

export const SRC_DIR = fileURLToPath(new URL('..', import.meta.url));
const ROOT_DIR = fileURLToPath(new URL('../..', import.meta.url));
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
export const DEFAULT_BUNDLE_PATH = join(ROOT_DIR, 'dist', 'workflow-bundle.js');
export const BUNDLE_CACHE_DIR = join(ROOT_DIR, 'node_modules', '.cache', 'lockbox');
const requireHere = createRequire(import.meta.url);

/** What a bundle can contain: the workflows and the pure domain they import (activities only as types). */
const BUNDLED_DIRS = ['workflows', 'domain'];
/** The bundler itself: another version may bundle the same sources differently. */
const BUNDLER_PACKAGES = ['@temporalio/worker'];

/**
 * How many stack frames an error or a promise created in workflow code records (V8's default is 10). The SDK captures a
 * stack, mapped through the bundle's source map frame by frame, for every promise a workflow creates (for the Temporal
 * UI's "Stack Trace" tab), and at 10 frames that capture cost about a quarter of the workflow thread's CPU (docs/bench.md,
 * "Issue 17, session 12"). Two of the frames are the SDK's own hook; the rest show where the workflow waits.
 */
export const WORKFLOW_STACK_FRAMES = 5;

/**
 * Runs once, when a worker evaluates the bundle in its workflow context, before the SDK freezes that context's
 * globals: the stack depth is set for every workflow the context runs. Appended after the code (before the source map
 * comment), so the mapped lines do not move. Part of {@link bundleKey}: a bundle built with another prelude is stale.
 */
export const BUNDLE_PRELUDE = `\n;Error.stackTraceLimit = ${WORKFLOW_STACK_FRAMES};\n`;

/** What the worker gives `Worker.create`. */
export type WorkflowSource = { workflowBundle: { codePath: string } | { code: string } };

/** The `.json` written beside a prebuilt bundle. */
export interface BundleMeta {
  sourceHash: string;
  builtAt: string;
}

export const metaPathOf = (bundlePath: string) => bundlePath.replace(/\.js$/, '') + '.json';

/**
 * sha256 over every .ts file under src/workflows and src/domain (path and content) and the installed version of
 * each package they import, plus the bundler's: changes whenever the bundle could.
 */
export async function bundleKey(srcDir = SRC_DIR, rootDir = ROOT_DIR, interceptorModules: readonly string[] = []): Promise<string> {
  const files: string[] = [];
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.name.endsWith('.ts')) files.push(p);
    }
  };
  for (const dir of BUNDLED_DIRS) await walk(join(srcDir, dir));
  const hash = createHash('sha256');
  hash.update(`prelude\0${BUNDLE_PRELUDE}\0`);
  const packages = new Set(BUNDLER_PACKAGES);
  for (const m of interceptorModules) {
    hash.update(`interceptors\0${m}\0`);
    packages.add(packageName(m));
  }
  for (const f of files.sort()) {
    const text = await readFile(f, 'utf8');
    hash.update(`${relative(srcDir, f)}\0${text}\0`);
    for (const [, spec] of text.matchAll(/from\s+'([^.'][^']*)'/g)) packages.add(packageName(spec!));
  }
  for (const name of [...packages].sort()) hash.update(`${name}@${await installedVersion(rootDir, name)}\0`);
  return hash.digest('hex');
}

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

async function installedVersion(rootDir: string, name: string): Promise<string> {
  if (name.startsWith('node:')) return 'builtin';
  try {
    return (JSON.parse(await readFile(join(rootDir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'missing';
  }
}

/** Bundles the workflow code (with `interceptorModules` as workflow interceptors); webpack's output goes to `log` only when it warns or fails. */
export async function buildWorkflowBundle(log?: Logger, interceptorModules: readonly string[] = []): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    ignoreModules: [],
    logger: quietBundlerLogger(log),
    // Resolved here, from this package's node_modules: the bundler would look beside the workflow sources.
    ...(interceptorModules.length ? { workflowInterceptorModules: interceptorModules.map((m) => requireHere.resolve(m)) } : {}),
  });
  return withPrelude(code);
}

/** `code` with {@link BUNDLE_PRELUDE} after the code and before its inline source map. */
function withPrelude(code: string): string {
  const at = code.lastIndexOf('//# sourceMappingURL=');
  if (at < 0) throw new Error('the workflow bundle has no inline source map to keep last');
  return code.slice(0, at) + BUNDLE_PRELUDE + code.slice(at);
}

function quietBundlerLogger(log: Logger | undefined): SdkLogger {
  const drop = () => undefined;
  const warn = (message: string, meta?: Record<string, unknown>) => log?.warn(`workflow bundler: ${message}`, meta);
  const error = (message: string, meta?: Record<string, unknown>) => log?.error(`workflow bundler: ${message}`, meta);
  return {
    log: (level, message, meta) => (level === 'WARN' ? warn(message, meta) : level === 'ERROR' ? error(message, meta) : undefined),
    trace: drop,
    debug: drop,
    info: drop,
    warn,
    error,
  };
}

/** Writes `content` to `path` through a temporary file and a rename: a reader never sees half of it. */
export async function writeAtomically(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

export async function chooseWorkflowSource(
  explicit: string | undefined,
  log: Logger,
  cacheDir = BUNDLE_CACHE_DIR,
  interceptorModules: readonly string[] = [],
): Promise<WorkflowSource> {
  if (explicit) {
    try {
      await access(explicit);
    } catch {
      throw new ConfigError(`invalid configuration:\n  LOCKBOX_WORKFLOW_BUNDLE: no file at ${explicit} (build it with npm run build:workflows)`);
    }
    log.info('loading the prebuilt workflow bundle', { bundle: explicit });
    // An operator's bundle is used as it is: workflow spans appear only if it was built with the interceptors.
    if (interceptorModules.length) log.warn('tracing is on, but LOCKBOX_WORKFLOW_BUNDLE is used as built: workflow spans only if it registers the OpenTelemetry workflow interceptors', { bundle: explicit });
    return { workflowBundle: { codePath: explicit } };
  }
  const key = await bundleKey(SRC_DIR, ROOT_DIR, interceptorModules);
  if (interceptorModules.length) return cachedBundle(key, cacheDir, log, interceptorModules);
  const meta = await readMeta(DEFAULT_BUNDLE_PATH);
  if (meta?.sourceHash === key) {
    log.info('loading the prebuilt workflow bundle', { bundle: DEFAULT_BUNDLE_PATH, builtAt: meta.builtAt });
    return { workflowBundle: { codePath: DEFAULT_BUNDLE_PATH } };
  }
  if (meta) log.warn('ignoring dist/workflow-bundle.js: it was built from other code (run npm run build:workflows)', { builtAt: meta.builtAt });
  return cachedBundle(key, cacheDir, log);
}

async function readMeta(bundlePath: string): Promise<BundleMeta | undefined> {
  try {
    const meta = JSON.parse(await readFile(metaPathOf(bundlePath), 'utf8')) as BundleMeta;
    await access(bundlePath);
    return meta;
  } catch {
    return undefined;
  }
}

/** The cache's bundle for `key`, built first if missing; older ones are removed. */
async function cachedBundle(key: string, cacheDir: string, log: Logger, interceptorModules: readonly string[] = []): Promise<WorkflowSource> {
  const prefix = interceptorModules.length ? 'workflow-bundle-traced-' : 'workflow-bundle-';
  const path = join(cacheDir, `${prefix}${key.slice(0, 16)}.js`);
  try {
    await access(path);
    log.info('loading the cached workflow bundle', { bundle: path });
    return { workflowBundle: { codePath: path } };
  } catch {
    // not built yet for this code
  }
  const started = Date.now();
  const code = await buildWorkflowBundle(log, interceptorModules);
  const sameVariant = new RegExp(`^${prefix}[0-9a-f]{16}\\.js$`);
  try {
    await mkdir(cacheDir, { recursive: true });
    await writeAtomically(path, code);
    for (const entry of await readdir(cacheDir)) {
      if (sameVariant.test(entry) && join(cacheDir, entry) !== path) await rm(join(cacheDir, entry), { force: true });
    }
  } catch (err) {
    // A read-only install (an image's node_modules): run from memory, bundle again next start.
    log.warn('could not cache the workflow bundle; using it from memory', { cache: cacheDir, error: err instanceof Error ? err.message : String(err) });
    return { workflowBundle: { code } };
  }
  log.info('bundled the workflow code; cached until it changes', { bundle: path, ms: Date.now() - started });
  return { workflowBundle: { codePath: path } };
}
