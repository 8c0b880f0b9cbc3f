/** CPU accounting per phase: our processes from /proc/<pid>/stat, everything else from /proc/stat. */
import { readFileSync } from 'node:fs';
import type { CpuSample } from './report.js';
import { cpuSeconds, descendants, threadCpu, type Stack } from './stack.js';
import { nowMs, round } from './stats.js';

export function machineBusySeconds(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line;
    return (user + nice + system + irq + softirq + steal) / 100;
  } catch {
    return null;
  }
}

export class CpuMeter {
  readonly samples: CpuSample[] = [];
  constructor(private readonly stack: Stack) {}
  /** CPU seconds of a process tree (the root and its living descendants), leaving out `exclude`. */
  private tree(root: number, exclude: number | null): number | null {
    const own = cpuSeconds(root);
    if (own === null) return null;
    return descendants(root)
      .filter((p) => p.pid !== exclude)
      .reduce((sum, p) => sum + (cpuSeconds(p.pid) ?? 0), own);
  }
  snapshot() {
    const u = process.cpuUsage();
    const temporalPid = this.stack.temporalPid;
    // Lockbox: the tsx launcher, the node process running dev.ts and tsx's esbuild helper (not the dev server).
    const apiPid = this.stack.apiPid ?? null;
    const worker = this.tree(this.stack.launcherPid, temporalPid);
    const api = apiPid === null ? 0 : this.tree(apiPid, temporalPid);
    const lockbox = worker === null || api === null ? null : worker + api;
    const temporal = cpuSeconds(temporalPid);
    const benchOwn = (u.user + u.system) / 1e6;
    // The bench's own helpers (tsx's esbuild), outside the stack's tree.
    // --production: the Temporal server is the bench's own child; it has its own column.
    const roots = [this.stack.launcherPid, ...(apiPid === null ? [] : [apiPid]), ...(temporalPid === null ? [] : [temporalPid])];
    const stackPids = new Set(roots.flatMap((r) => [r, ...descendants(r).map((p) => p.pid)]));
    const helpers = descendants(process.pid)
      .filter((p) => !stackPids.has(p.pid))
      .reduce((sum, p) => sum + (cpuSeconds(p.pid) ?? 0), 0);
    return {
      t: nowMs(),
      lockbox,
      temporal,
      bench: benchOwn + helpers,
      busy: machineBusySeconds(),
      threads: threadCpu(this.stack.lockboxPid),
      benchThreads: threadCpu(process.pid),
    };
  }
  async measure<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const a = this.snapshot();
    try {
      return await fn();
    } finally {
      const b = this.snapshot();
      const d = (x: number | null, y: number | null) => (x === null || y === null ? null : y - x);
      const lockbox = d(a.lockbox, b.lockbox);
      const temporal = d(a.temporal, b.temporal);
      const bench = b.bench - a.bench;
      const busy = d(a.busy, b.busy);
      const other = busy === null ? null : Math.max(0, busy - (lockbox ?? 0) - (temporal ?? 0) - bench);
      const diff = (x: Record<string, number> | null, y: Record<string, number> | null) =>
        x && y ? Object.fromEntries(Object.keys(y).map((k) => [k, round((y[k] ?? 0) - (x[k] ?? 0), 2)])) : null;
      const threads = diff(a.threads, b.threads);
      const benchThreads = diff(a.benchThreads, b.benchThreads);
      this.samples.push({
        phase,
        seconds: round((b.t - a.t) / 1000, 1),
        lockbox: lockbox === null ? null : round(lockbox, 2),
        temporal: temporal === null ? null : round(temporal, 2),
        bench: round(bench, 2),
        other: other === null ? null : round(other, 2),
        lockboxThreads: threads,
        benchThreads,
      });
    }
  }
}
