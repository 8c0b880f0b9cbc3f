/**
 * Summarises V8 CPU profiles written by `npx tsx bench/run.ts --cpu-prof <dir>` (the stack runs with
 * `--cpu-prof`): self time by area (Lockbox source, Temporal SDK, express, SQLite, tsx/esbuild, node internals, GC,
 * idle) and the top functions.
 *
 *   npx tsx bench/profile-summary.ts <dir or .cpuprofile> [--top 25]
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

function area(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'V8/native (program)';
  if (url.includes('/src/')) return `lockbox ${url.replace(/^.*\/src\//, 'src/').replace(/\/[^/]*$/, '/')}`;
  if (url.includes('@temporalio/')) return `@temporalio/${url.split('@temporalio/')[1]!.split('/')[0]}`;
  if (url.includes('/node_modules/')) return url.split('/node_modules/').pop()!.split('/')[0]!;
  if (url.startsWith('node:') || url === '') return fn.startsWith('(') ? fn : 'node internals';
  return url;
}

async function summarise(file: string, top: number): Promise<void> {
  const p = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + (deltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, v]) => a + v, 0);
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const a = area(n.callFrame.url, n.callFrame.functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
    const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  process.stdout.write(`\n${file}\n  wall ${(total / 1e6).toFixed(1)} s, busy (not idle) ${(busy / 1e6).toFixed(1)} s\n  by area (share of busy time):\n`);
  for (const [a, us] of [...areas].filter(([a]) => a !== 'idle').sort((x, y) => y[1] - x[1]).slice(0, 20)) {
    process.stdout.write(`    ${pct(us)}  ${(us / 1e6).toFixed(2).padStart(6)} s  ${a}\n`);
  }
  process.stdout.write(`  top functions by self time:\n`);
  for (const [f, us] of [...fns].filter(([f]) => !f.startsWith('(idle)')).sort((x, y) => y[1] - x[1]).slice(0, top)) {
    process.stdout.write(`    ${pct(us)}  ${f}\n`);
  }
}

async function main(): Promise<void> {
  const target = process.argv[2];
  if (!target) throw new Error('usage: npx tsx bench/profile-summary.ts <dir or .cpuprofile> [--top N]');
  const i = process.argv.indexOf('--top');
  const top = i > 0 ? Number(process.argv[i + 1]) : 25;
  const files = (await stat(target)).isDirectory()
    ? (await readdir(target)).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(target, f))
    : [target];
  for (const f of files) await summarise(f, top);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
