/**
 * `npm run bench` / `npm run bench:quick`: how fast Lockbox grants and revokes access and how far it scales, next to
 * bare Temporal baselines measured in the same run (issue 8).
 *
 * Starts its own stack (`src/main/dev.ts`: embedded dev server + worker + API, on free ports with a temporary data
 * dir; or worker + API joined to TEMPORAL_ADDRESS when that is set), drives it through the HTTP API only, prints a
 * markdown table and writes `bench-results.json`. Every loop is bounded in count and time; all traffic goes to
 * 127.0.0.1; the stack and the temporary data dir are removed on exit and on Ctrl-C.
 *
 *   npm run bench                    full run (10,000 pending requests; about 25-35 minutes)
 *   npm run bench:quick              quick run (500 pending; under 3 minutes)
 *   npx tsx bench/run.ts --quick --phases create,decision     only some phases (for iterating)
 *   options: --n <pending> --ttl <duration> --out <file> --cpu-prof <dir> --stack-log <file> --keep-data
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { parseDuration } from '../src/domain/duration.js';
import { AuditTail } from './audit-tail.js';
import { startBare, type Bare } from './bare.js';
import { ApiClient, TOKENS, type ApiResponse } from './http.js';
import { markdown, targets, type CpuSample, type HistoryShape, type Results, type ThroughputLevel, type ThroughputSide } from './report.js';
import { cleanupAll, cpuSeconds, descendants, installSignalHandlers, threadCpu, ROOT, rssMiB, startStack, type Stack } from './stack.js';
import { nowMs, percentiles, pool, round, sleep, type Percentiles } from './stats.js';

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------------------------------------------
// Options

interface Plan {
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
  requestTtl: string;
  listCalls: number;
  expirySample: number;
  /** Bare lifecycles left pending to measure the engine's memory floor per pending workflow. */
  barePending: number;
  phases: Set<string>;
  out: string;
  cpuProfDir: string | null;
  keepData: boolean;
  /** Where to write the stack's whole output (stdout + stderr), if anywhere. */
  stackLog: string | null;
}

const ALL_PHASES = ['create', 'decision', 'throughput', 'scale'];

function parseArgs(argv: string[]): Plan {
  const has = (flag: string) => argv.includes(flag);
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const known = new Set(['--quick', '--keep-data', '--n', '--ttl', '--phases', '--out', '--cpu-prof', '--stack-log']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!known.has(a)) throw new Error(`unknown option ${a} (options: ${[...known].join(' ')})`);
    if (!['--quick', '--keep-data'].includes(a)) i += 1;
  }
  const quick = has('--quick');
  const n = value('--n') ? Number(value('--n')) : quick ? 500 : 10_000;
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error('--n must be a whole number between 1 and 100000');
  // The request lifetime must leave room to create all N before the first one expires (creation stops at 60 % of
  // it): 30 s for the quick run's 500 (they are created at 35-100/s here), 12 minutes for 10,000.
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
    requestTtl: ttl,
    listCalls: quick ? 30 : 200,
    expirySample: quick ? 20 : 200,
    barePending: quick ? 100 : 2000,
    phases,
    out: resolve(value('--out') ?? join(ROOT, 'bench-results.json')),
    cpuProfDir: value('--cpu-prof') ? resolve(value('--cpu-prof')!) : null,
    keepData: has('--keep-data'),
    stackLog: value('--stack-log') ? resolve(value('--stack-log')!) : null,
  };
}

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const errText = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
const EMPTY: Percentiles = { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN, n: 0 };

function emptyPending(): Results['pending'] {
  return {
    count: 0, requested: 0, createSeconds: 0, createPerSec: Number.NaN, createMs: EMPTY, workerRssMiB: null, apiRssMiB: null,
    workerAndApiSameProcess: true, lockboxIdleRssMiB: null, lockboxPeakRssMiB: null, temporalRssMiB: null, temporalPeakRssMiB: null,
    extrapolatedRssMiBAt10k: null, listMs: EMPTY, listP99Ms: Number.NaN, listReturned: 0, visibilityPendingCount: null, lateExpiries: 0,
    expirySampled: 0, expiryLatenessMs: EMPTY, notExpiredInSample: 0, closedLateByCloseTime: null, closedCheckedByCloseTime: null,
    stillPendingAfterExpiry: null, checkedAfterLastExpiryMs: null, apiReadBack: { sampled: 0, agrees: 0, disagrees: 0, failed: 0 }, rssPeaksMiB: {}, createErrors: 0, rssPerPendingKiB: null, bareRssPerPendingKiB: null, barePendingCount: 0,
    expiryBreakdownMs: { timerDueAfterExpiresAt: EMPTY, engineFiredLate: EMPTY, pickupAfterFire: EMPTY },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// CPU accounting per phase: our processes from /proc/<pid>/stat, everything else from /proc/stat.

function machineBusySeconds(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line;
    return (user + nice + system + irq + softirq + steal) / 100;
  } catch {
    return null;
  }
}

class CpuMeter {
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
    const lockbox = this.tree(this.stack.launcherPid, temporalPid);
    const temporal = cpuSeconds(temporalPid);
    const benchOwn = (u.user + u.system) / 1e6;
    // The bench's own helpers (tsx's esbuild), outside the stack's tree.
    const stackPids = new Set([this.stack.launcherPid, ...descendants(this.stack.launcherPid).map((p) => p.pid)]);
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

// ---------------------------------------------------------------------------------------------------------------
// The run

interface Ctx {
  plan: Plan;
  stack: Stack;
  api: ApiClient;
  bare: Bare;
  tail: AuditTail;
  runId: string;
  notes: string[];
  ttlMs: number;
  /** Quick runs: phases before the scale test stop starting work after this (epoch ms), so the run stays under 3 minutes. */
  preScaleDeadline: number;
  /** Quick runs: nothing starts after this (epoch ms); what is measured by then is reported. */
  hardDeadline: number;
}

/** A deadline `quickMs` (quick) or `fullMs` (full) from now; before the scale test, never past `preScaleDeadline`. */
function until(ctx: Ctx, quickMs: number, fullMs: number, preScale = false): number {
  const d = Math.min(Date.now() + (ctx.plan.mode === 'quick' ? quickMs : fullMs), ctx.hardDeadline);
  return preScale ? Math.min(d, ctx.preScaleDeadline) : d;
}

const resource = (ctx: Ctx, kind: string, i: number) => `mailbox:bench-${ctx.runId}-${kind}-${i}@contoso.com`;

async function create(ctx: Ctx, res: string, duration: string): Promise<ApiResponse> {
  return ctx.api.expect(201, 'POST', '/v1/requests', TOKENS.engineer, { tenant: 'contoso', resource: res, reason: 'benchmark', duration });
}

async function approve(ctx: Ctx, id: string): Promise<ApiResponse> {
  const a = await ctx.api.call('POST', `/v1/requests/${id}/approve`, TOKENS.approver, {});
  if (a.status !== 200 || a.body?.status !== 'active' || !a.body?.access?.endsAt) {
    throw new Error(`approve of ${id} answered ${a.status} ${JSON.stringify(a.body).slice(0, 300)}`);
  }
  return a;
}

const check = (ctx: Ctx, res: string) =>
  ctx.api.expect<{ allowed: boolean }>(200, 'GET', `/v1/access/check?tenant=contoso&resource=${encodeURIComponent(res)}`, TOKENS.engineer);

/** One full Lockbox lifecycle: create -> approve (returns after the grant) -> window -> revoke -> access.revoked exported. */
async function oursLifecycle(ctx: Ctx, kind: string, i: number, windowMs: number): Promise<{ ms: number; approveMs: number; id: string }> {
  const t0 = nowMs();
  const c = await create(ctx, resource(ctx, kind, i), `${windowMs / 1000}s`);
  const id: string = c.body.id;
  const a = await approve(ctx, id);
  const endsAt = Date.parse(a.body.access.endsAt);
  const inFile = await ctx.tail.waitFor(id, 'access.revoked', Math.max(0, endsAt - Date.now()) + 30_000);
  if (!inFile) throw new Error(`${id}: access.revoked not in audit.jsonl within 30 s after endsAt`);
  const exportedMs = nowMs() - t0;
  try {
    for (let k = 0; ; k++) {
      const au = await ctx.api.expect(200, 'GET', `/v1/requests/${id}/audit`, TOKENS.engineer);
      if ((au.body.events as Array<{ type: string }>).some((e) => e.type === 'access.revoked')) break;
      if (k >= 40) throw new Error(`${id}: access.revoked in the file but not in GET /audit`);
      await sleep(50);
    }
  } catch (err) {
    throw new ConfirmError(errText(err), exportedMs);
  }
  return { ms: nowMs() - t0, approveMs: a.ms, id };
}

/** The lifecycle finished (access.revoked is in audit.jsonl) but reading it back through the API failed. */
class ConfirmError extends Error {
  constructor(message: string, readonly exportedMs: number) {
    super(message);
  }
}

async function warmUp(ctx: Ctx): Promise<void> {
  const n = ctx.plan.warmup;
  await pool(n, 2, until(ctx, 10_000, 60_000, true), (i) => oursLifecycle(ctx, 'warm', i, 1000));
  await pool(n, 2, until(ctx, 10_000, 60_000, true), () => ctx.bare.lifecycle(1000, ctx.ttlMs, 30_000));
  const deadline = until(ctx, 5_000, 30_000, true);
  for (let i = 0; i < n * 2 && Date.now() < deadline; i++) {
    const c = await create(ctx, resource(ctx, 'warmc', i), '1h');
    await ctx.bare.startTrivial();
    await ctx.api.call('POST', `/v1/requests/${c.body.id}/cancel`, TOKENS.engineer, {});
  }
}

/** Create latency against bare `workflow.start`, one at a time, interleaved so drift hits both alike. */
async function createPhase(ctx: Ctx) {
  const ours: number[] = [];
  const bare: number[] = [];
  const ids: string[] = [];
  const deadline = until(ctx, 12_000, 180_000, true);
  for (let i = 0; i < ctx.plan.createSamples && Date.now() < deadline; i++) {
    const oursFirst = i % 2 === 0;
    if (!oursFirst) bare.push(await ctx.bare.startTrivial());
    const c = await create(ctx, resource(ctx, 'create', i), '1h');
    ours.push(c.ms);
    ids.push(c.body.id);
    if (oursFirst) bare.push(await ctx.bare.startTrivial());
  }
  if (ours.length < ctx.plan.createSamples) ctx.notes.push(`create latency: only ${ours.length} of ${ctx.plan.createSamples} samples (time cap)`);
  return { ours, bare, ids };
}

/** Cancels requests left pending by a phase, so they do not expire in the middle of a later one. */
async function cancelAll(ctx: Ctx, ids: string[]): Promise<void> {
  const results = await pool(ids.length, 8, until(ctx, 15_000, 300_000), (i) => ctx.api.call('POST', `/v1/requests/${ids[i]}/cancel`, TOKENS.engineer, { reason: 'benchmark cleanup' }));
  const bad = results.filter((r) => r.status === 'rejected' || r.value.status !== 200).length;
  if (bad) ctx.notes.push(`cleanup: ${bad} of ${ids.length} cancels failed`);
}

/** Decision-to-access and revocation lag, with 2 s windows. */
async function decisionPhase(ctx: Ctx) {
  const approveMs: number[] = [];
  const dta: number[] = [];
  const lag: number[] = [];
  const grants: Array<{ id: string; endsAt: number }> = [];
  const errors: string[] = [];
  const { decisionSamples, decisionConcurrency, revokeWindowMs, pollEveryMs } = ctx.plan;
  await pool(decisionSamples, decisionConcurrency, until(ctx, 20_000, 300_000, true), async (i) => {
    try {
      const res = resource(ctx, 'decision', i);
      const c = await create(ctx, res, `${revokeWindowMs / 1000}s`);
      const a = await approve(ctx, c.body.id);
      approveMs.push(a.ms);
      // Decision-to-access: the approve call has returned; first check answering allowed.
      let granted = false;
      for (let k = 0; k < 500 && nowMs() - a.doneAt < 5_000; k++) {
        const ch = await check(ctx, res);
        if (ch.body.allowed) {
          dta.push(ch.doneAt - a.doneAt);
          granted = true;
          break;
        }
        await sleep(2);
      }
      if (!granted) throw new Error(`${c.body.id}: access check never answered allowed within 5 s of the approval`);
      const endsAt = Date.parse(a.body.access.endsAt);
      grants.push({ id: c.body.id, endsAt });
      // Revocation lag: poll every ~20 ms from shortly before endsAt until the check denies.
      await sleep(endsAt - 150 - Date.now());
      let next = nowMs();
      for (;;) {
        if (Date.now() > endsAt + 10_000) throw new Error(`${c.body.id}: access still allowed 10 s after endsAt`);
        const ch = await check(ctx, res);
        if (!ch.body.allowed) {
          lag.push(ch.doneEpoch - endsAt);
          break;
        }
        next += pollEveryMs;
        await sleep(next - nowMs());
      }
    } catch (err) {
      errors.push(errText(err));
    }
  });
  // When did the revoke activity itself run? (It is what a real grant provider would wait for.)
  const revokeLag: number[] = [];
  await sleep(1_000);
  await pool(grants.length, 4, until(ctx, 5_000, 30_000), async (i) => {
    const g = grants[i]!;
    for (let k = 0; k < 20; k++) {
      const r = await ctx.api.expect(200, 'GET', `/v1/requests/${g.id}`, TOKENS.engineer);
      const revokedAt = r.body.access?.revokedAt;
      if (revokedAt) {
        revokeLag.push(Date.parse(revokedAt) - Date.parse(r.body.access.endsAt));
        return;
      }
      await sleep(250);
    }
  });
  if (errors.length) ctx.notes.push(`decision/revocation: ${errors.length} samples failed, e.g. ${errors[0]}`);
  if (lag.some((x) => x < 0)) ctx.notes.push(`revocation: ${lag.filter((x) => x < 0).length} checks denied before endsAt`);
  return { approveMs, dta, lag, revokeLag };
}

async function runSide(
  concurrency: number,
  count: number,
  deadline: number,
  one: (i: number) => Promise<{ ms: number; approveMs: number }>,
): Promise<ThroughputSide> {
  const lat: number[] = [];
  const appr: number[] = [];
  const errors: string[] = [];
  let lastDone = 0;
  let lastExported = 0;
  let exportedOnly = 0;
  let started = 0;
  const t0 = nowMs();
  await pool(count, concurrency, deadline, async (i) => {
    started += 1;
    try {
      const r = await one(i);
      lat.push(r.ms);
      appr.push(r.approveMs);
      lastDone = nowMs();
      lastExported = lastDone;
    } catch (err) {
      if (err instanceof ConfirmError) {
        exportedOnly += 1;
        lastExported = Math.max(lastExported, t0 + err.exportedMs);
      }
      if (errors.length < 5) errors.push(errText(err));
      throw err;
    }
  });
  const seconds = lat.length ? (lastDone - t0) / 1000 : (nowMs() - t0) / 1000;
  const exported = lat.length + exportedOnly;
  const exportedSeconds = exported ? (lastExported - t0) / 1000 : seconds;
  return {
    started,
    completed: lat.length,
    failed: started - lat.length,
    seconds: round(seconds, 2),
    perSec: round(lat.length / seconds, 2),
    exported,
    exportedPerSec: round(exported / exportedSeconds, 2),
    lifecycleMs: percentiles(lat),
    approveMs: percentiles(appr),
    errors,
  };
}

/** Full lifecycles per second at rising concurrency, Lockbox vs the bare lifecycle. */
async function throughputPhase(ctx: Ctx, cpu: CpuMeter): Promise<{ levels: ThroughputLevel[]; oursIds: string[] }> {
  const levels: ThroughputLevel[] = [];
  const oursIds: string[] = [];
  const w = ctx.plan.lifecycleWindowMs;
  for (const c of ctx.plan.levels) {
    // Both sides of a level or neither: a level needs up to two level caps.
    if (Date.now() + 2 * ctx.plan.levelCapMs > ctx.preScaleDeadline + ctx.plan.levelCapMs) {
      ctx.notes.push(`throughput: concurrency ${c} skipped to keep the quick run under 3 minutes`);
      continue;
    }
    const count = Math.max(10, c * ctx.plan.roundsPerLane);
    log(`throughput: concurrency ${c}, ${count} lifecycles each`);
    const ours = await cpu.measure(`throughput c=${c} Lockbox`, () =>
      runSide(c, count, until(ctx, ctx.plan.levelCapMs, ctx.plan.levelCapMs), async (i) => {
        const r = await oursLifecycle(ctx, `tp${c}`, i, w);
        oursIds.push(r.id);
        return r;
      }),
    );
    await sleep(1_000); // let the last workflows finish their outcome notification and final export
    const bare = await cpu.measure(`throughput c=${c} bare`, () => runSide(c, count, until(ctx, ctx.plan.levelCapMs, ctx.plan.levelCapMs), () => ctx.bare.lifecycle(w, ctx.ttlMs, 30_000)));
    await sleep(500);
    for (const [who, side] of [['Lockbox', ours], ['bare', bare]] as const) {
      if (side.failed) ctx.notes.push(`throughput c=${c} ${who}: ${side.failed} of ${side.started} lifecycles failed, e.g. ${side.errors[0] ?? '?'}`);
      if (side.started < count) ctx.notes.push(`throughput c=${c} ${who}: only ${side.started} of ${count} started (time cap)`);
    }
    levels.push({ concurrency: c, ours, bare, ratio: round(ours.perSec / bare.perSec, 2) });
  }
  return { levels, oursIds };
}

/**
 * The engine's floor for memory: bare lifecycles left pending in the bench's own worker (same SDK, same default
 * worker options); the bench process's RSS growth per workflow, compared with Lockbox's in the scale test.
 */
async function barePendingPhase(ctx: Ctx, cpu: CpuMeter): Promise<{ perWorkflowKiB: number | null; count: number }> {
  const bareN = Math.min(ctx.plan.scaleN, ctx.plan.barePending);
  const bareIds: string[] = [];
  const before = rssMiB(process.pid);
  let after: number | null = null;
  await cpu.measure(`${bareN} bare pending (memory floor)`, async () => {
    const ready0 = ctx.bare.pendingReady();
    await pool(bareN, ctx.plan.scaleConcurrency, until(ctx, 10_000, 120_000, true), async () => {
      bareIds.push(await ctx.bare.startPending(3_600_000));
    });
    const readyBy = until(ctx, 8_000, 30_000);
    while (ctx.bare.pendingReady() - ready0 < bareIds.length && Date.now() < readyBy) await sleep(200);
    await sleep(1_000);
    after = rssMiB(process.pid);
  });
  await cpu.measure('terminate bare pending', () => ctx.bare.terminate(bareIds, 16, until(ctx, 5_000, 60_000)));
  const perWorkflowKiB = before !== null && after !== null && bareIds.length ? ((after - before) * 1024) / bareIds.length : null;
  return { perWorkflowKiB, count: bareIds.length };
}

/** N pending requests at once: memory, listing, and that every one expires on time. */
async function scalePhase(ctx: Ctx, client: Client, cpu: CpuMeter, bareFloor: { perWorkflowKiB: number | null; count: number }) {
  const { scaleN: n, scaleConcurrency, listCalls, expirySample } = ctx.plan;
  const tq = ctx.stack.taskQueue;
  const pendingQuery = `WorkflowType = 'accessRequestWorkflow' AND TaskQueue = '${tq}' AND LockboxStatus = 'pending'`;
  const countPending = async () => {
    try {
      return Number((await client.workflow.count(pendingQuery)).count);
    } catch (err) {
      ctx.notes.push(`visibility count failed: ${errText(err)}`);
      return null;
    }
  };
  const idle = rssMiB(ctx.stack.lockboxPid);
  let peakLockbox = idle ?? 0;
  let peakTemporal = rssMiB(ctx.stack.temporalPid) ?? 0;
  /** Peak RSS per step of the phase, sampled every 250 ms. */
  const peaks: Record<string, { lockbox: number; temporal: number }> = {};
  let step = 'create';
  const sampler = setInterval(() => {
    const l = rssMiB(ctx.stack.lockboxPid) ?? 0;
    const t = rssMiB(ctx.stack.temporalPid) ?? 0;
    peakLockbox = Math.max(peakLockbox, l);
    peakTemporal = Math.max(peakTemporal, t);
    const p = (peaks[step] ??= { lockbox: 0, temporal: 0 });
    p.lockbox = Math.max(p.lockbox, Math.round(l));
    p.temporal = Math.max(p.temporal, Math.round(t));
  }, 250);
  try {
    // 1. Create N at bounded concurrency; stop early rather than let the first ones expire before the last exist.
    const created: Array<{ id: string; expiresAt: number }> = [];
    const createMs: number[] = [];
    const createErrors: string[] = [];
    const idleAtCreate = rssMiB(ctx.stack.lockboxPid);
    const t0 = nowMs();
    const firstExpiryGuard = Date.now() + ctx.ttlMs * 0.6;
    let lastProgress = Date.now();
    await cpu.measure(`scale: create ${n} pending`, () =>
      pool(n, scaleConcurrency, firstExpiryGuard, async (i) => {
        let c: ApiResponse;
        try {
          c = await create(ctx, resource(ctx, 'scale', i), '1h');
        } catch (err) {
          createErrors.push(errText(err));
          return;
        }
        created.push({ id: c.body.id, expiresAt: Date.parse(c.body.expiresAt) });
        createMs.push(c.ms);
        if (Date.now() - lastProgress > 5_000) {
          lastProgress = Date.now();
          log(`scale: ${created.length} of ${n} created`);
        }
      }),
    );
    const createSeconds = (nowMs() - t0) / 1000;
    if (createErrors.length) ctx.notes.push(`scale: ${createErrors.length} of ${n} creates failed, e.g. ${createErrors[0]}`);
    if (created.length + createErrors.length < n) {
      ctx.notes.push(`scale: only ${created.length + createErrors.length} of ${n} creates attempted before 60 % of the request lifetime (${ctx.plan.requestTtl}) had passed; raise --ttl`);
    }
    log(`scale: ${created.length} pending created in ${createSeconds.toFixed(1)} s; measuring memory and listing`);
    await sleep(2_000); // the last ones finish their first workflow tasks (notification, first export)
    const lockboxRss = rssMiB(ctx.stack.lockboxPid);
    const temporalRss = rssMiB(ctx.stack.temporalPid);
    const visibilityPending = await countPending();

    // 2. Listing a tenant's pending requests, as its approver.
    step = 'list';
    const listMs: number[] = [];
    let listReturned = 0;
    const firstExpiry = Math.min(...created.map((c) => c.expiresAt));
    await cpu.measure('scale: list pending', async () => {
      const listUntil = Math.min(firstExpiry - 1_000, until(ctx, 5_000, 120_000));
      for (let i = 0; i < listCalls && Date.now() < listUntil; i++) {
        const r = await ctx.api.expect(200, 'GET', '/v1/requests?tenant=contoso&status=pending&limit=100', TOKENS.approver);
        listMs.push(r.ms);
        listReturned = (r.body.requests as unknown[]).length;
      }
    });
    if (listMs.length < listCalls) ctx.notes.push(`scale: only ${listMs.length} of ${listCalls} list calls before the first expiry`);

    // 3. Wait for every one to expire, then check on time.
    const lastExpiry = Math.max(...created.map((c) => c.expiresAt));
    log(`scale: waiting ${((lastExpiry - Date.now()) / 1000).toFixed(0)} s for the last expiry`);
    let stillPending: number | null = null;
    step = 'expiries';
    await cpu.measure('scale: expiries', async () => {
      await sleep(Math.min(lastExpiry + 2_500, ctx.hardDeadline - 15_000) - Date.now());
      // Late ones: wait (bounded) until every request.expired has reached audit.jsonl.
      const pollUntil = until(ctx, 8_000, 120_000);
      for (let k = 0; k < 1_000 && Date.now() < pollUntil; k++) {
        await ctx.tail.refresh();
        if (created.every((c) => c.expiresAt > Date.now() - 2_000 || ctx.tail.has(c.id, 'request.expired'))) break;
        await sleep(250);
      }
      stillPending = await countPending();
    });
    const checkedAfterLastExpiryMs = Date.now() - lastExpiry;

    // 3a. Every one, by visibility: workflow close time vs expiresAt (an upper bound: closing comes after the
    // outcome notification and the last audit export).
    let closedLate: number | null = null;
    let closedChecked: number | null = null;
    try {
      const expiresById = new Map(created.map((c) => [c.id, c.expiresAt]));
      let late = 0;
      let checked = 0;
      const deadline = until(ctx, 5_000, 120_000);
      for await (const info of client.workflow.list({ query: `WorkflowType = 'accessRequestWorkflow' AND TaskQueue = '${tq}' AND LockboxStatus = 'expired'`, pageSize: 1000 })) {
        const exp = expiresById.get(info.workflowId);
        if (exp === undefined) continue;
        checked += 1;
        if (!info.closeTime || info.closeTime.getTime() - exp > 2_000) late += 1;
        if (Date.now() > deadline) break;
      }
      closedLate = late + (created.length - checked);
      closedChecked = created.length;
    } catch (err) {
      ctx.notes.push(`scale: visibility list of expired requests failed: ${errText(err)}`);
    }

    // Only requests whose lifetime is over by now (all of them, unless the quick run's time budget cut the wait).
    const due = created.filter((c) => c.expiresAt + 2_000 < Date.now());
    if (due.length < created.length) ctx.notes.push(`scale: only ${due.length} of ${created.length} requests were past their expiry when the time budget ended the wait; lateness is measured on those`);

    // 3b. Every one, by the audit trail as exported to audit.jsonl: request.expired event time vs expiresAt.
    await ctx.tail.refresh();
    const lateness: number[] = [];
    let notExpired = 0;
    for (const c of due) {
      const t = ctx.tail.timeOf(c.id, 'request.expired');
      if (t) lateness.push(Date.parse(t) - c.expiresAt);
      else notExpired += 1;
    }
    // 3b'. A sample read back through the API (GET /v1/requests/{id}/audit): it must tell the same story.
    const stride = Math.max(1, due.length / Math.min(expirySample, due.length));
    const sample = Array.from({ length: Math.min(expirySample, due.length) }, (_, k) => due[Math.floor(k * stride)]!);
    let apiAgrees = 0;
    let apiDisagrees = 0;
    const sampleErrors: string[] = [];
    step = 'audit-sample';
    const sampleUntil = until(ctx, 8_000, 300_000);
    await cpu.measure('scale: audit read-back sample', () =>
      pool(sample.length, 4, sampleUntil, async (i) => {
        const s = sample[i]!;
        const left = sampleUntil - Date.now();
        if (left < 500) return;
        let au: ApiResponse;
        try {
          au = await ctx.api.expect(200, 'GET', `/v1/requests/${s.id}/audit`, TOKENS.engineer, undefined, left);
        } catch (err) {
          sampleErrors.push(errText(err));
          return;
        }
        const ev = (au.body.events as Array<{ type: string; time: string }>).find((e) => e.type === 'request.expired');
        if ((ev?.time ?? undefined) === ctx.tail.timeOf(s.id, 'request.expired')) apiAgrees += 1;
        else apiDisagrees += 1;
      }),
    );
    if (sampleErrors.length) ctx.notes.push(`scale: ${sampleErrors.length} audit read-backs of expired requests failed or timed out, e.g. ${sampleErrors[0]}`);
    if (apiDisagrees) ctx.notes.push(`scale: for ${apiDisagrees} requests GET /audit and audit.jsonl disagree about request.expired`);

    // 3c. Where the lateness comes from, for a few of them, from their histories (read-only): how late the expiry
    // timer was set (our workflow), how late the engine fired it, how long until a worker picked up the task.
    const breakdown = { timerDueAfterExpiresAtMs: [] as number[], engineFiredLateMs: [] as number[], pickupAfterFireMs: [] as number[] };
    const histories = ctx.plan.mode === 'quick' ? 20 : 50;
    const spread = sample.filter((_, k) => k % Math.max(1, Math.floor(sample.length / histories)) === 0).slice(0, histories);
    const historiesUntil = until(ctx, 4_000, 60_000);
    for (const s of spread) {
      if (Date.now() > historiesUntil) break;
      try {
        const events = (await client.workflow.getHandle(s.id).fetchHistory()).events ?? [];
        const at = (e: (typeof events)[number]) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
        let firedIdx = -1;
        events.forEach((e, k) => {
          if (e.timerFiredEventAttributes) firedIdx = k;
        });
        if (firedIdx < 0) continue;
        const fired = events[firedIdx]!;
        const started = events.find((e) => Number(e.eventId) === Number(fired.timerFiredEventAttributes!.startedEventId));
        const wft = events.slice(firedIdx).find((e) => !!e.workflowTaskStartedEventAttributes);
        const timeout = started?.timerStartedEventAttributes?.startToFireTimeout;
        if (!started || !wft || !timeout) continue;
        const due = at(started) + Number(timeout.seconds ?? 0) * 1000 + Math.floor((timeout.nanos ?? 0) / 1e6);
        breakdown.timerDueAfterExpiresAtMs.push(due - s.expiresAt);
        breakdown.engineFiredLateMs.push(at(fired) - due);
        breakdown.pickupAfterFireMs.push(at(wft) - at(fired));
      } catch {
        // a history we cannot read leaves no sample
      }
    }
    const sampled = lateness.length + notExpired;
    const lateExpiries = lateness.filter((x) => x > 2_000).length + notExpired;
    const idleBeforeCreate = idleAtCreate;
    const perRequest = lockboxRss !== null && idleBeforeCreate !== null && created.length ? (lockboxRss - idleBeforeCreate) / created.length : null;
    return {
      count: created.length,
      requested: n,
      createSeconds: round(createSeconds, 1),
      createPerSec: round(created.length / createSeconds, 1),
      createMs: percentiles(createMs),
      workerRssMiB: lockboxRss === null ? null : round(lockboxRss, 0),
      apiRssMiB: lockboxRss === null ? null : round(lockboxRss, 0),
      workerAndApiSameProcess: true,
      lockboxIdleRssMiB: idle === null ? null : round(idle, 0),
      lockboxPeakRssMiB: round(peakLockbox, 0),
      temporalRssMiB: temporalRss === null ? null : round(temporalRss, 0),
      temporalPeakRssMiB: ctx.stack.temporalPid === null ? null : round(peakTemporal, 0),
      extrapolatedRssMiBAt10k: perRequest === null || idleBeforeCreate === null ? null : round(idleBeforeCreate + perRequest * 10_000, 0),
      rssPerPendingKiB: perRequest === null ? null : round(perRequest * 1024, 0),
      bareRssPerPendingKiB: bareFloor.perWorkflowKiB === null ? null : round(bareFloor.perWorkflowKiB, 0),
      barePendingCount: bareFloor.count,
      listMs: percentiles(listMs),
      listP99Ms: percentiles(listMs).p99,
      listReturned,
      visibilityPendingCount: visibilityPending,
      lateExpiries,
      expirySampled: sampled,
      expiryLatenessMs: percentiles(lateness),
      notExpiredInSample: notExpired,
      checkedAfterLastExpiryMs: round(checkedAfterLastExpiryMs, 0),
      apiReadBack: { sampled: sample.length, agrees: apiAgrees, disagrees: apiDisagrees, failed: sampleErrors.length },
      closedLateByCloseTime: closedLate,
      closedCheckedByCloseTime: closedChecked,
      stillPendingAfterExpiry: stillPending,
      rssPeaksMiB: peaks,
      createErrors: createErrors.length,
      expiryBreakdownMs: {
        timerDueAfterExpiresAt: percentiles(breakdown.timerDueAfterExpiresAtMs),
        engineFiredLate: percentiles(breakdown.engineFiredLateMs),
        pickupAfterFire: percentiles(breakdown.pickupAfterFireMs),
      },
    };
  } finally {
    clearInterval(sampler);
  }
}

async function historyShape(client: Client, workflowId: string): Promise<HistoryShape | null> {
  try {
    const h = await client.workflow.getHandle(workflowId).fetchHistory();
    const events = h.events ?? [];
    const count = (pred: (e: (typeof events)[number]) => boolean) => events.filter(pred).length;
    return {
      workflowId,
      events: events.length,
      workflowTasks: count((e) => !!e.workflowTaskCompletedEventAttributes),
      activities: count((e) => !!e.activityTaskScheduledEventAttributes),
      localActivities: count((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity'),
      timers: count((e) => !!e.timerStartedEventAttributes),
      updates: count((e) => !!e.workflowExecutionUpdateAcceptedEventAttributes),
      searchAttributeUpserts: count((e) => !!e.upsertWorkflowSearchAttributesEventAttributes),
    };
  } catch {
    return null;
  }
}

async function lastBareLifecycleId(client: Client, taskQueue: string): Promise<string | null> {
  try {
    for await (const info of client.workflow.list({ query: `WorkflowType = 'bareLifecycleWorkflow' AND TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`, pageSize: 1 })) {
      return info.workflowId;
    }
  } catch {
    // visibility may lag; no shape then
  }
  return null;
}

async function versions(stack: Stack, client: Client) {
  const sdk = JSON.parse(await readFile(join(ROOT, 'node_modules', '@temporalio', 'client', 'package.json'), 'utf8')).version as string;
  const lockbox = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version as string;
  let cli: string | null = null;
  if (stack.temporalCliPath) {
    try {
      cli = (await execFileAsync(stack.temporalCliPath, ['--version'], { timeout: 10_000 })).stdout.trim();
    } catch {
      cli = null;
    }
  }
  let server: string | null = null;
  try {
    server = (await client.workflowService.getSystemInfo({})).serverVersion || null;
  } catch {
    server = null;
  }
  let commit: string | null = null;
  try {
    const head = (await execFileAsync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, timeout: 10_000 })).stdout.trim();
    const dirty = (await execFileAsync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, timeout: 10_000 })).stdout.trim() !== '';
    commit = `${head}${dirty ? ' (src/ has uncommitted changes)' : ''}`;
  } catch {
    commit = null;
  }
  return { node: process.version, temporalSdk: sdk, temporalCli: cli, temporalServer: server, lockbox, commit };
}

async function main(): Promise<void> {
  installSignalHandlers();
  const plan = parseArgs(process.argv.slice(2));
  const startedAt = Date.now();
  const loadAvgStart = loadavg();
  const notes: string[] = [];
  log(`${plan.mode} run: phases ${[...plan.phases].join(', ')}; ${plan.scaleN} pending for the scale test, request lifetime ${plan.requestTtl}`);
  if (loadAvgStart[0]! > cpus().length * 0.5) {
    notes.push(`the machine was already busy when the run started (load average ${loadAvgStart.map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} cores); see "other processes" in the CPU table`);
  }
  const temporalAddress = process.env.TEMPORAL_ADDRESS || undefined;
  const namespace = process.env.TEMPORAL_NAMESPACE || 'lockbox';
  const nodeFlags: string[] = [];
  if (plan.cpuProfDir) {
    await mkdir(plan.cpuProfDir, { recursive: true });
    // Written when the stack exits (the bench stops it with SIGTERM, dev.ts then exits cleanly).
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${plan.cpuProfDir}`);
  }

  log(temporalAddress ? `starting worker + API against TEMPORAL_ADDRESS=${temporalAddress}` : 'starting the stack (embedded Temporal dev server, worker, API)');
  const stack = await startStack({ requestTtl: plan.requestTtl, temporalAddress, namespace, log, keepDataDir: plan.keepData, nodeFlags, logFile: plan.stackLog });
  log(`stack ready at ${stack.apiUrl} (Lockbox pid ${stack.lockboxPid}, Temporal ${stack.temporalPid ? `pid ${stack.temporalPid}` : 'external'}); starting the bare worker`);
  const bare = await startBare(stack.temporalAddress, namespace);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection, namespace });
  const api = new ApiClient(stack.apiUrl);
  const tail = new AuditTail(join(stack.dataDir, 'audit.jsonl'), 20);
  tail.start();
  const ctx: Ctx = {
    plan,
    stack,
    api,
    bare,
    tail,
    runId: Date.now().toString(36),
    notes,
    ttlMs: parseDuration(plan.requestTtl)!,
    // Quick: the scale test (about 75 s with a 30 s request lifetime) starts by 95 s into the run at the latest.
    preScaleDeadline: plan.mode === 'quick' ? startedAt + 85_000 : Number.POSITIVE_INFINITY,
    hardDeadline: plan.mode === 'quick' ? startedAt + 168_000 : Number.POSITIVE_INFINITY,
  };
  const cpu = new CpuMeter(stack);
  const rssAtReady = { lockbox: rssMiB(stack.lockboxPid), temporal: rssMiB(stack.temporalPid) };
  let complete = true;

  const results: Partial<Results> = {};
  try {
    log('warming up');
    await cpu.measure('warm-up', () => warmUp(ctx));

    let createRes = { ours: [] as number[], bare: [] as number[] };
    if (plan.phases.has('create')) {
      log(`create latency: ${plan.createSamples} POST /v1/requests vs ${plan.createSamples} bare workflow.start, one at a time`);
      const r = await cpu.measure('create latency', () => createPhase(ctx));
      createRes = r;
      log('cancelling the requests the create phase left pending');
      await cpu.measure('cleanup (cancel)', () => cancelAll(ctx, r.ids));
    }
    let dec = { approveMs: [] as number[], dta: [] as number[], lag: [] as number[], revokeLag: [] as number[] };
    if (plan.phases.has('decision')) {
      log(`decision-to-access and revocation lag: ${plan.decisionSamples} requests, ${plan.revokeWindowMs / 1000} s windows, ${plan.decisionConcurrency} at a time`);
      dec = await cpu.measure('decision + revocation', () => decisionPhase(ctx));
    }
    let bareFloor: { perWorkflowKiB: number | null; count: number } = { perWorkflowKiB: null, count: 0 };
    if (plan.phases.has('scale')) {
      log(`memory floor: ${Math.min(plan.scaleN, plan.barePending)} bare lifecycles left pending in the bench's worker`);
      bareFloor = await barePendingPhase(ctx, cpu);
    }
    let tp: { levels: ThroughputLevel[]; oursIds: string[] } = { levels: [], oursIds: [] };
    if (plan.phases.has('throughput')) tp = await throughputPhase(ctx, cpu);
    let ours: HistoryShape | null = null;
    let bareShape: HistoryShape | null = null;
    if (tp.oursIds.length) ours = await historyShape(client, tp.oursIds[tp.oursIds.length - 1]!);
    const bareId = await lastBareLifecycleId(client, bare.taskQueue);
    if (bareId) bareShape = await historyShape(client, bareId);

    let scale: Results['pending'] | null = null;
    if (plan.phases.has('scale')) {
      log(`scale: ${plan.scaleN} pending requests, ${plan.scaleConcurrency} at a time`);
      scale = await scalePhase(ctx, client, cpu, bareFloor);
    }

    const createMs = percentiles(createRes.ours);
    const bareStartMs = percentiles(createRes.bare);
    const peakOurs = tp.levels.length ? Math.max(...tp.levels.map((l) => l.ours.perSec)) : Number.NaN;
    const peakBare = tp.levels.length ? Math.max(...tp.levels.map((l) => l.bare.perSec)) : Number.NaN;
    Object.assign(results, {
      createMs,
      bareStartMs,
      createP99Ratio: round(createMs.p99 / bareStartMs.p99, 2),
      approveMs: percentiles(dec.approveMs),
      decisionToAccessMs: percentiles(dec.dta),
      revocationLagMs: { ...percentiles(dec.lag), pollEveryMs: plan.pollEveryMs, windowMs: plan.revokeWindowMs },
      revokeActivityLagMs: percentiles(dec.revokeLag),
      throughputPerSec: peakOurs,
      bareThroughputPerSec: peakBare,
      throughputRatio: round(peakOurs / peakBare, 2),
      throughputExportedPerSec: tp.levels.length ? Math.max(...tp.levels.map((l) => l.ours.exportedPerSec)) : Number.NaN,
      throughput: {
        windowMs: plan.lifecycleWindowMs,
        levels: tp.levels,
        definition:
          'completed lifecycles / seconds from the first start to the last completion, per concurrency level; the top-level numbers are the peak over levels for each side',
      },
      histories: { ours, bare: bareShape },
      pending:
        scale ??
emptyPending(),
      versions: await versions(stack, client),
    });
  } catch (err) {
    complete = false;
    notes.push(`the run stopped early: ${errText(err)}`);
    log(`error: ${err instanceof Error ? err.stack : String(err)}`);
    log(`stack output (tail):\n${stack.output().slice(-3000)}`);
  }

  await tail.stop();
  api.close();
  await connection.close().catch(() => undefined);
  log('stopping the stack');
  await cleanupAll();

  const cpuModel = cpus()[0]?.model ?? 'unknown';
  const full: Results = {
    version: 1,
    date: new Date(startedAt).toISOString(),
    command: `npm run ${plan.mode === 'quick' ? 'bench:quick' : 'bench'}${process.argv.slice(2).filter((a) => a !== '--quick').length ? ` -- ${process.argv.slice(2).filter((a) => a !== '--quick').join(' ')}` : ''}`,
    mode: plan.mode,
    complete,
    durationSec: round((Date.now() - startedAt) / 1000, 1),
    stack: {
      embeddedTemporal: stack.embeddedTemporal,
      temporalAddress: stack.temporalAddress,
      namespace,
      requestTtl: plan.requestTtl,
      lockboxProcess: 'worker and API run in one process (src/main/dev.ts), so workerRssMiB and apiRssMiB are the same number',
      rssAtReadyMiB: {
        lockbox: rssAtReady.lockbox === null ? null : round(rssAtReady.lockbox, 0),
        temporal: rssAtReady.temporal === null ? null : round(rssAtReady.temporal, 0),
      },
    },
    createMs: EMPTY,
    bareStartMs: EMPTY,
    createP99Ratio: Number.NaN,
    approveMs: EMPTY,
    decisionToAccessMs: EMPTY,
    revocationLagMs: { ...EMPTY, pollEveryMs: plan.pollEveryMs, windowMs: plan.revokeWindowMs },
    revokeActivityLagMs: EMPTY,
    throughputPerSec: Number.NaN,
    bareThroughputPerSec: Number.NaN,
    throughputRatio: Number.NaN,
    throughputExportedPerSec: Number.NaN,
    throughput: { windowMs: plan.lifecycleWindowMs, levels: [], definition: '' },
    pending: undefined as unknown as Results['pending'],
    histories: { ours: null, bare: null },
    cpu: cpu.samples,
    machine: {
      cores: cpus().length,
      memoryGiB: round(totalmem() / 2 ** 30, 1),
      cpuModel,
      kernel: release(),
      loadAvgStart: loadAvgStart.map((x) => round(x, 2)),
      loadAvgEnd: loadavg().map((x) => round(x, 2)),
    },
    versions: { node: process.version, temporalSdk: '?', temporalCli: null, temporalServer: null, lockbox: '?', commit: null },
    targets: [],
    notes,
    ...results,
  };
  full.pending ??= emptyPending();
  full.targets = targets(full);
  await writeFile(plan.out, `${JSON.stringify(full, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  process.stdout.write(`${markdown(full)}\n\nResults written to ${plan.out}\n`);
  process.exit(complete ? 0 : 1);
}

main().catch(async (err) => {
  const usage = err instanceof Error && /^(unknown option|--)/.test(err.message);
  log(`failed: ${err instanceof Error ? (usage ? err.message : err.stack) : String(err)}`);
  await cleanupAll();
  process.exit(1);
});
