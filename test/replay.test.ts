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
 * Determinism guard: histories recorded from earlier workflow code (scripts/record-histories.ts) must replay on the
 * current code. A change that breaks this would break every request running during a deploy: use `patched()`.
 */
describe('workflow replay', () => {
  it('replays every recorded history on the current workflow code', async () => {
    const files = (await readdir(HISTORIES)).filter((f) => f.endsWith('.json')).sort();
    expect(files.filter((f) => f.startsWith("v1-"))).toHaveLength(6);
    expect(files.filter((f) => f.startsWith("v2-")).length).toBeGreaterThanOrEqual(8);
    expect(files.filter((f) => f.startsWith("v3-")).length).toBeGreaterThanOrEqual(8);
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
