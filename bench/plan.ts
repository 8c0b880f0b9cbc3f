/** The bench's options: `--quick` or full, the phases to run, sizes and limits of each. */
import { join, resolve } from 'node:path';
import { parseDuration } from '../src/domain/duration.js';
import { ROOT } from './stack.js';

export interface Plan {
  mode: 'quick' | 'full';
  warmup: number;
  createSamples: number;
  decisionSamples: number;
  decisionConcurrency: number;
  revokeWindowMs: number;
  pollEveryMs: number;
  levels: number[];
  roundsPerLane: number;
  lifecycleWindowMs: number;
  levelCapMs: number;
  scaleN: number;
  scaleConcurrency: number;
  /** The scale phase's creates per second at most (`--scale-rate`); null: as fast as `scaleConcurrency` goes. */
  scaleRate: number | null;
  requestTtl: string;
  listCalls: number;
  /** Read path: closed requests read both ways (API from the record, Temporal query), and list calls both ways. */
  readGets: number;
  readLists: number;
  expirySample: number;
  /** Bare lifecycles left pending to measure the engine's memory floor per pending workflow. */
  barePending: number;
  /** Burst phase: requests approved with one shared end, per target (built-in, PostgreSQL) and bare. */
  burstN: number;
  /** The production shape instead of the embedded stack (bench/production-stack.ts). */
  production: boolean;
  phases: Set<string>;
  out: string;
  cpuProfDir: string | null;
  keepData: boolean;
  /** Where to write the stack's whole output (stdout + stderr), if anywhere. */
  stackLog: string | null;
}

export const ALL_PHASES = ['create', 'decision', 'throughput', 'read', 'scale', 'drain', 'burst'];

export function parseArgs(argv: string[]): Plan {
  const has = (flag: string) => argv.includes(flag);
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const known = new Set(['--quick', '--keep-data', '--n', '--ttl', '--phases', '--out', '--cpu-prof', '--stack-log', '--burst-n', '--scale-rate', '--production']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!known.has(a)) throw new Error(`unknown option ${a} (options: ${[...known].join(' ')})`);
    if (!['--quick', '--keep-data', '--production'].includes(a)) i += 1;
  }
  const quick = has('--quick');
  const n = value('--n') ? Number(value('--n')) : quick ? 500 : 10_000;
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error('--n must be a whole number between 1 and 100000');
  // The request lifetime must leave room to create all N before the first one expires (creation stops at 60 % of
  // it): 30 s for the quick run's 500 (they are created at 35-100/s here), 12 minutes for 10,000.
  const burstN = value('--burst-n') ? Number(value('--burst-n')) : quick ? 100 : 1000;
  if (!Number.isInteger(burstN) || burstN < 1 || burstN > 10_000) throw new Error('--burst-n must be a whole number between 1 and 10000');
  const scaleRate = value('--scale-rate') ? Number(value('--scale-rate')) : null;
  if (scaleRate !== null && !(Number.isFinite(scaleRate) && scaleRate > 0 && scaleRate <= 10_000)) throw new Error('--scale-rate must be a number of creates per second above 0');
  const ttl = value('--ttl') ?? (quick ? `${Math.max(30, Math.ceil(n / 24))}s` : `${Math.max(2, Math.ceil(n / 15 / 60))}m`);
  if (parseDuration(ttl) === null) throw new Error(`--ttl ${ttl} is not a duration`);
  const phases = new Set((value('--phases') ?? ALL_PHASES.join(',')).split(',').map((s) => s.trim()).filter(Boolean));
  for (const p of phases) if (!ALL_PHASES.includes(p)) throw new Error(`unknown phase ${p} (phases: ${ALL_PHASES.join(', ')})`);
  return {
    mode: quick ? 'quick' : 'full',
    warmup: quick ? 2 : 20,
    createSamples: quick ? 100 : 1000,
    decisionSamples: quick ? 20 : 200,
    decisionConcurrency: 5,
    revokeWindowMs: 2000,
    pollEveryMs: 20,
    levels: [5, 20, 50],
    roundsPerLane: quick ? 1 : 6,
    lifecycleWindowMs: 1000,
    levelCapMs: quick ? 10_000 : 120_000,
    scaleN: n,
    scaleConcurrency: quick ? 8 : 16,
    scaleRate,
    requestTtl: ttl,
    listCalls: quick ? 30 : 200,
    readGets: quick ? 60 : 300,
    readLists: quick ? 30 : 200,
    expirySample: quick ? 20 : 200,
    barePending: quick ? 100 : 2000,
    burstN,
    production: has('--production'),
    phases,
    out: resolve(value('--out') ?? join(ROOT, 'bench-results.json')),
    cpuProfDir: value('--cpu-prof') ? resolve(value('--cpu-prof')!) : null,
    keepData: has('--keep-data'),
    stackLog: value('--stack-log') ? resolve(value('--stack-log')!) : null,
  };
}
