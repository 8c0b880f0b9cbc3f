/**
 * `npm run build:workflows [-- OUT]`: bundles the workflow code ahead of time (`bundleWorkflowCode`), for an image
 * whose workers should not bundle at all. Writes `dist/workflow-bundle.js` (or OUT) and, beside it, a `.json` with
 * the key of the code it was built from: a worker uses the default bundle only while that key matches (see
 * src/main/workflow-bundle.ts); LOCKBOX_WORKFLOW_BUNDLE=OUT makes a worker use OUT regardless.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { bundleKey, buildWorkflowBundle, DEFAULT_BUNDLE_PATH, metaPathOf, writeAtomically, type BundleMeta } from '../src/main/workflow-bundle.js';
import { createLogger } from '../src/config/logger.js';

const out = resolve(process.argv[2] ?? DEFAULT_BUNDLE_PATH);
const started = Date.now();
const key = await bundleKey(); // before bundling: a source changed meanwhile makes the bundle look stale, not fresh
const code = await buildWorkflowBundle(createLogger('build-workflows'));
await mkdir(dirname(out), { recursive: true });
const meta: BundleMeta = { sourceHash: key, builtAt: new Date().toISOString() };
// The bundle first: a worker starting meanwhile never pairs a new key with an old bundle.
await writeAtomically(out, code);
await writeAtomically(metaPathOf(out), `${JSON.stringify(meta, null, 2)}\n`);
process.stderr.write(`workflow bundle: ${out} (${Math.round(code.length / 1024)} KiB, ${Date.now() - started} ms)\n`);
