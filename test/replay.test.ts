import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// The proto package is CommonJS; load it the way the worker does so message classes are the same instances.
const { temporal } = createRequire(import.meta.url)('@temporalio/proto') as typeof import('@temporalio/proto');
const HISTORIES = new URL('./histories/', import.meta.url);
const WORKFLOWS = fileURLToPath(new URL('../src/workflows/index.ts', import.meta.url));

/**
 * Determinism guard: recorded histories (scripts/record-histories.ts) must replay on the current code. Until 1.0
 * they are recorded anew from each workflow change (one live version); from 1.0 on, older recordings are kept and a
 * change that breaks them needs `patched()` or Worker Versioning (docs/versioning.md).
 */
describe('workflow replay', () => {
  it('replays every recorded history on the current workflow code', async () => {
    const files = (await readdir(HISTORIES)).filter((f) => f.endsWith('.json')).sort();
    // Every scenario scripts/record-histories.ts records: each path through the workflow is guarded.
    for (const scenario of ['completed', 'revoked', 'rejected', 'expired', 'cancelled-in-temporal', 'staged', 'extended', 'forged', 'second-run', 'emergency', 'emergency-overdue', 'escalated']) {
      expect(files.some((f) => f.endsWith(`${scenario}.json`)), scenario).toBe(true);
    }
    const histories = await Promise.all(
      files.map(async (f) => ({ workflowId: f, history: temporal.api.history.v1.History.fromObject(JSON.parse(await readFile(new URL(f, HISTORIES), 'utf8'))) })),
    );
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowsPath: WORKFLOWS }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});
