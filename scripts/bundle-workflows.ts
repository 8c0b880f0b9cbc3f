/**
 * `npm run build:workflows [-- OUT]`: bundles the workflow code ahead of time (`bundleWorkflowCode`), so a worker
 * starts without bundling at every start. Writes `dist/workflow-bundle.js` (or OUT) and, beside it, a `.json` with a
 * hash of the sources it was built from: a worker uses the default bundle only while that hash matches (see
 * src/main/workflow-bundle.ts); LOCKBOX_WORKFLOW_BUNDLE=OUT makes a worker use OUT regardless.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { DEFAULT_BUNDLE_PATH, metaPathOf, sourceHash, WORKFLOWS_PATH, type BundleMeta } from '../src/main/workflow-bundle.js';

const out = resolve(process.argv[2] ?? DEFAULT_BUNDLE_PATH);
const started = Date.now();
const hash = await sourceHash(); // before bundling: a source changed meanwhile makes the bundle look stale, not fresh
const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ignoreModules: [] });
await mkdir(dirname(out), { recursive: true });
const meta: BundleMeta = { sourceHash: hash, builtAt: new Date().toISOString() };
// Written beside, then renamed: a worker starting meanwhile never reads half a bundle.
await writeFile(`${out}.tmp`, code);
await writeFile(`${metaPathOf(out)}.tmp`, `${JSON.stringify(meta, null, 2)}\n`);
await rename(`${out}.tmp`, out);
await rename(`${metaPathOf(out)}.tmp`, metaPathOf(out));
process.stderr.write(`workflow bundle: ${out} (${Math.round(code.length / 1024)} KiB, ${Date.now() - started} ms)\n`);
