/**
 * The stack under test: `src/main/dev.ts` spawned through tsx on free ports with a temporary data dir (the embedded
 * dev server), or joined to `TEMPORAL_ADDRESS` when that is set. Also: process discovery under /proc (RSS, CPU time)
 * and cleanup of everything the benchmark started, on normal exit and on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort, findFreeTemporalPort } from '../src/dev/dev-server.js';
import { ensureTemporalCli } from '../src/dev/temporal-cli.js';
import { sleep } from './stats.js';

export const ROOT = join(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

// ---------------------------------------------------------------------------------------------------------------
// Cleanup: one registry, run once, newest first, on normal end, error, SIGINT/SIGTERM; last resort on 'exit'.

type Cleanup = { name: string; run: () => Promise<void>; kill?: () => void };
const cleanups: Cleanup[] = [];
let cleaning: Promise<void> | null = null;

export function onCleanup(c: Cleanup): void {
  cleanups.push(c);
}

export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c.run();
      } catch (err) {
        process.stderr.write(`[bench] cleanup of ${c.name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
  })();
  return cleaning;
}

export function installSignalHandlers(): void {
  let signalled = 0;
  const handler = (signal: NodeJS.Signals) => {
    signalled += 1;
    if (signalled > 1) {
      // Second Ctrl-C: stop waiting, kill hard.
      for (const c of cleanups) c.kill?.();
      process.exit(130);
    }
    process.stderr.write(`\n[bench] ${signal}: stopping the stack and removing temporary files...\n`);
    const hardStop = setTimeout(() => {
      for (const c of cleanups) c.kill?.();
      process.exit(130);
    }, 30_000);
    hardStop.unref();
    void cleanupAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  // Whatever happens, do not leave a process group behind.
  process.on('exit', () => {
    for (const c of cleanups) c.kill?.();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// /proc helpers (Linux).

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const rest = stat.slice(close + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, ppid: Number(rest[1]), comm, cmdline };
  } catch {
    return null;
  }
}

/** All living descendants of `root` (not including it). */
export function descendants(root: number): ProcInfo[] {
  const all: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) all.push(p);
  }
  const out: ProcInfo[] = [];
  const frontier = [root];
  while (frontier.length) {
    const parent = frontier.pop()!;
    for (const p of all) {
      if (p.ppid === parent) {
        out.push(p);
        frontier.push(p.pid);
      }
    }
  }
  return out;
}

/** VmRSS of a process in MiB, from /proc/<pid>/status; null when it is gone. */
export function rssMiB(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

const CLK_TCK = 100;

/** User + system CPU seconds a process has used so far, from /proc/<pid>/stat; null when it is gone. */
export function cpuSeconds(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) are at indexes 11 and 12 after the comm field.
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * CPU seconds of one node process by thread group, from /proc/<pid>/task: the main JS thread (HTTP API, activities,
 * SDK glue), the workflow thread (a node thread started after the Temporal core's tokio threads: where workflow code
 * runs; identified heuristically), the Temporal core (Rust, `tokio-runtime-w`), and the rest (V8 GC/compiler
 * helpers, libuv pool).
 */
export function threadCpu(pid: number | null): Record<string, number> | null {
  if (pid === null) return null;
  try {
    const threads = readdirSync(`/proc/${pid}/task`)
      .map(Number)
      .sort((a, b) => a - b)
      .flatMap((tid) => {
        let stat: string;
        try {
          stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        } catch {
          return []; // the thread ended while we looked
        }
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return [{ tid, comm, cpu: (Number(rest[11]) + Number(rest[12])) / CLK_TCK }];
      });
    const firstTokio = threads.find((t) => t.comm.startsWith('tokio'))?.tid ?? Number.POSITIVE_INFINITY;
    const out: Record<string, number> = { main: 0, workflowThread: 0, temporalCore: 0, other: 0 };
    for (const t of threads) {
      if (t.tid === pid) out.main! += t.cpu;
      else if (t.comm.startsWith('tokio') || t.comm.startsWith('temporal') || t.comm.startsWith('workflow-proces')) out.temporalCore! += t.cpu;
      else if (t.comm === 'node' && t.tid > firstTokio) out.workflowThread! += t.cpu;
      else out.other! += t.cpu;
    }
    return out;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The stack.

export interface Stack {
  apiUrl: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  dataDir: string;
  /** True when the benchmark started the Temporal dev server itself. */
  embeddedTemporal: boolean;
  /** The node process running dev.ts (worker + API in one process). */
  lockboxPid: number;
  /** The tsx launcher in front of it (a thin node process that relays signals). */
  launcherPid: number;
  /** The Temporal dev server, when embedded; the full server with --production. */
  temporalPid: number | null;
  /** --production: the API is a process of its own (lockboxPid is then the worker). */
  apiPid?: number | null;
  /** --production: the full Temporal server on PostgreSQL, Lockbox's store on PostgreSQL, worker and API apart. */
  production?: boolean;
  temporalCliPath: string | null;
  output(): string;
  stop(): Promise<void>;
}

export interface StackOptions {
  requestTtl: string;
  /** Set to join an existing Temporal server instead of starting the embedded one. */
  temporalAddress?: string;
  namespace: string;
  log: (line: string) => void;
  keepDataDir?: boolean;
  /** Extra environment for the stack. */
  extraEnv?: NodeJS.ProcessEnv;
  /** Node flags for the stack process (tsx passes them on), e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** Append the stack's whole output to this file. */
  logFile?: string | null;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const cliPath = opts.temporalAddress ? null : await ensureTemporalCli({ log: (l) => opts.log(l) });
  const dataDir = await mkdtemp(join(tmpdir(), 'lockbox-bench-'));
  onCleanup({
    name: `data dir ${dataDir}`,
    run: async () => {
      if (opts.keepDataDir) opts.log(`data dir kept: ${dataDir}`);
      else await rm(dataDir, { recursive: true, force: true });
    },
  });
  const apiPort = await findFreePort();
  // The dev server's UI takes port + 1000: a pair that is free.
  const temporalPort = await findFreeTemporalPort();
  const taskQueue = `lockbox-bench-${process.pid}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOCKBOX_PORT: String(apiPort),
    LOCKBOX_HOST: '127.0.0.1',
    LOCKBOX_DATA_DIR: dataDir,
    LOCKBOX_REQUEST_TTL: opts.requestTtl,
    LOCKBOX_TASK_QUEUE: taskQueue,
    LOCKBOX_MODE: 'embedded',
    TEMPORAL_NAMESPACE: opts.namespace,
    ...(cliPath ? { LOCKBOX_TEMPORAL_CLI: cliPath } : {}),
    ...opts.extraEnv,
  };
  // Node flags for the stack only (e.g. a V8 heap limit, docs/capacity.md), not for the bench process itself.
  if (process.env.BENCH_STACK_NODE_OPTIONS) env.NODE_OPTIONS = process.env.BENCH_STACK_NODE_OPTIONS;
  if (opts.temporalAddress) env.TEMPORAL_ADDRESS = opts.temporalAddress;
  else {
    delete env.TEMPORAL_ADDRESS;
    env.LOCKBOX_TEMPORAL_PORT = String(temporalPort);
  }

  // Own process group, so the whole tree (launcher, node, dev server) can be stopped by its group id.
  const child: ChildProcess = spawn(TSX, [...(opts.nodeFlags ?? []), 'src/main/dev.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const logStream = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : null;
  const keep = (c: Buffer) => {
    out = (out + c.toString()).slice(-30_000);
    logStream?.write(c);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pgid = child.pid!;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pgid, signal);
    } catch {
      // already gone
    }
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      // The launcher relays SIGTERM to dev.ts, which stops the API, the worker and the dev server in order.
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
    }
    // Whatever is left in the group (a dev server that did not stop in time) is killed.
    killGroup('SIGKILL');
  };
  let groupGone = false;
  onCleanup({
    name: 'stack',
    run: async () => {
      await stop();
      groupGone = true;
    },
    kill: () => {
      if (!groupGone) killGroup('SIGKILL');
    },
  });

  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the stack exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${out.slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`the stack did not become ready within 180 s:\n${out.slice(-4000)}`);
    try {
      const res = await fetch(`${apiUrl}/readyz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }

  const tree = descendants(child.pid!);
  const nodes = tree.filter((p) => p.comm.startsWith('node') || /\bnode\b/.test(p.cmdline.split(' ')[0] ?? ''));
  const lockbox = nodes.find((p) => p.cmdline.includes('src/main/dev.ts') && p.ppid === child.pid) ?? nodes.find((p) => p.cmdline.includes('src/main/dev.ts'));
  const temporal = tree.find((p) => p.comm === 'temporal' || /\btemporal server start-dev\b/.test(p.cmdline)) ?? null;
  return {
    apiUrl,
    temporalAddress: opts.temporalAddress ?? `127.0.0.1:${temporalPort}`,
    namespace: opts.namespace,
    taskQueue,
    dataDir,
    embeddedTemporal: !opts.temporalAddress,
    lockboxPid: lockbox?.pid ?? child.pid!,
    launcherPid: child.pid!,
    temporalPid: temporal?.pid ?? null,
    temporalCliPath: cliPath,
    output: () => out,
    stop,
  };
}
