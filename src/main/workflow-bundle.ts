/**
 * The workflow code a worker loads: a bundle built ahead of time (`npm run build:workflows`, `bundleWorkflowCode`)
 * starts a worker in well under a second instead of bundling the sources at every start.
 *
 * Which one: LOCKBOX_WORKFLOW_BUNDLE when set (an operator's explicit choice); else `dist/workflow-bundle.js` when it
 * was built from the sources as they are now (its `.json` beside it records a hash of `src/`), so a bundle left over
 * from older code is never run by mistake; else the sources (`workflowsPath`).
 */
import { createHash } from 'node:crypto';
import { access, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/index.js';
import type { Logger } from '../config/logger.js';

export const SRC_DIR = fileURLToPath(new URL('..', import.meta.url));
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
export const DEFAULT_BUNDLE_PATH = fileURLToPath(new URL('../../dist/workflow-bundle.js', import.meta.url));

/** What the worker gives `Worker.create`: one of the two. */
export type WorkflowSource = { workflowBundle: { codePath: string } } | { workflowsPath: string };

/** The `.json` written beside a bundle. */
export interface BundleMeta {
  sourceHash: string;
  builtAt: string;
}

export const metaPathOf = (bundlePath: string) => bundlePath.replace(/\.js$/, '') + '.json';

/** sha256 over every .ts file under src/ (path and content): changes whenever code a workflow could import does. */
export async function sourceHash(dir = SRC_DIR): Promise<string> {
  const files: string[] = [];
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.name.endsWith('.ts')) files.push(p);
    }
  };
  await walk(dir);
  const hash = createHash('sha256');
  for (const f of files.sort()) hash.update(`${relative(dir, f)}\0`).update(await readFile(f)).update('\0');
  return hash.digest('hex');
}

export async function chooseWorkflowSource(explicit: string | undefined, log: Logger): Promise<WorkflowSource> {
  if (explicit) {
    try {
      await access(explicit);
    } catch {
      throw new ConfigError(`invalid configuration:\n  LOCKBOX_WORKFLOW_BUNDLE: no file at ${explicit} (build it with npm run build:workflows)`);
    }
    log.info('loading the prebuilt workflow bundle', { bundle: explicit });
    return { workflowBundle: { codePath: explicit } };
  }
  let meta: BundleMeta;
  try {
    meta = JSON.parse(await readFile(metaPathOf(DEFAULT_BUNDLE_PATH), 'utf8')) as BundleMeta;
    await access(DEFAULT_BUNDLE_PATH);
  } catch {
    return { workflowsPath: WORKFLOWS_PATH };
  }
  if (meta.sourceHash !== (await sourceHash())) {
    log.warn('ignoring dist/workflow-bundle.js: it was built from other sources; bundling from src/ (run npm run build:workflows)', { builtAt: meta.builtAt });
    return { workflowsPath: WORKFLOWS_PATH };
  }
  log.info('loading the prebuilt workflow bundle', { bundle: DEFAULT_BUNDLE_PATH, builtAt: meta.builtAt });
  return { workflowBundle: { codePath: DEFAULT_BUNDLE_PATH } };
}
