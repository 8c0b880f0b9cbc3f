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
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parseDuration } from '../src/domain/duration.js';
import { AuditTail } from './audit-tail.js';
import { startBare } from './bare.js';
import type { Ctx } from './context.js';
import { CpuMeter } from './cpu-meter.js';
import { ApiClient } from './http.js';
import { EMPTY, emptyPending, emptyRead, errText, log } from './log.js';
import { barePendingPhase } from './phases/bare-pending.js';
import { cancelAll, CREATE_ROUNDS, createPhase, medianRatio, type CreateRound } from './phases/create.js';
import { decisionPhase } from './phases/decision.js';
import { bareDrainPhase, type DrainResult } from './phases/drain.js';
import { burstPhase, type BurstResult } from './phases/burst.js';
import { readPhase } from './phases/read.js';
import { scalePhase } from './phases/scale.js';
import { throughputPhase } from './phases/throughput.js';
import { warmUp } from './phases/warm-up.js';
import { parseArgs } from './plan.js';
import { markdown, targets, type HistoryShape, type Results, type ThroughputLevel } from './report.js';
import { historyShape, lastBareLifecycleId, versions } from './run-info.js';
import { startProductionStack } from './production-stack.js';
import { cleanupAll, installSignalHandlers, rssMiB, startStack } from './stack.js';
import { percentiles, round } from './stats.js';

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

  if (plan.production && temporalAddress) throw new Error('--production starts its own Temporal server: unset TEMPORAL_ADDRESS');
  log(
    plan.production
      ? 'starting the production shape (full Temporal server on PostgreSQL, worker and API as separate processes)'
      : temporalAddress
        ? `starting worker + API against TEMPORAL_ADDRESS=${temporalAddress}`
        : 'starting the stack (embedded Temporal dev server, worker, API)',
  );
  const stackOptions = { requestTtl: plan.requestTtl, temporalAddress, namespace, log, keepDataDir: plan.keepData, nodeFlags, logFile: plan.stackLog };
  const stack = plan.production ? await startProductionStack(stackOptions) : await startStack(stackOptions);
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

    let createRes: { ours: number[]; bare: number[]; rounds: CreateRound[]; atRest: Results['createAtRest'] } = { ours: [], bare: [], rounds: [], atRest: null };
    if (plan.phases.has('create')) {
      log(`create latency: ${CREATE_ROUNDS} rounds of ${plan.createSamples} POST /v1/requests vs ${plan.createSamples} bare workflow.start, one at a time`);
      const r = await cpu.measure('create latency', () => createPhase(ctx));
      createRes = r;
      // The rounds after the first have their own time budget: the later phases keep theirs (as the read phase's).
      const extra = r.rounds.slice(1).reduce((sum, x) => sum + x.ms, 0) + r.atRest.ms;
      ctx.preScaleDeadline += extra;
      ctx.hardDeadline += extra;
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

    let read: Results['read'] | null = null;
    if (plan.phases.has('read')) {
      const readStarted = Date.now();
      read = await readPhase(ctx, client, cpu);
      // The read phase has its own time budget: the scale test keeps all of its own (the quick run is longer by it).
      ctx.hardDeadline += Date.now() - readStarted;
    }

    let scale: (Results['pending'] & { dueTimes?: number[] }) | null = null;
    if (plan.phases.has('scale')) {
      log(`scale: ${plan.scaleN} pending requests, ${plan.scaleConcurrency} at a time${plan.scaleRate !== null ? `, at most ${plan.scaleRate} a second` : ''}`);
      scale = await scalePhase(ctx, client, cpu, bareFloor);
    }
    let drain: DrainResult | null = null;
    if (plan.phases.has('drain') && scale?.dueTimes?.length) {
      // Its own time budget, like the read phase's: the bare burst needs one lifetime plus the drain.
      const drainStarted = Date.now();
      // The bare burst must not share the machine with Lockbox's own backlog: wait (bounded) until none is open.
      const open = await waitUntilClosed(client, stack.taskQueue, plan.mode === 'quick' ? 30_000 : 15 * 60_000, 'drain');
      if (open !== 0) notes.push(`drain: ${open ?? 'an unknown number of'} Lockbox requests were still open when the bare burst started, so the two sides shared the machine; the drain ratio is not comparable`);
      ctx.hardDeadline = Math.max(ctx.hardDeadline, Date.now() + ctx.ttlMs + 60_000);
      drain = await bareDrainPhase(ctx, cpu, scale.dueTimes, scale.drainPerSec ?? null);
      if (open !== 0) drain.ratio = null;
      ctx.hardDeadline += Date.now() - drainStarted;
    }
    if (scale) delete scale.dueTimes; // the schedule was for the drain phase, not the results file
    let burst: BurstResult | null = null;
    if (plan.phases.has('burst')) {
      const burstStarted = Date.now();
      const open = await waitUntilClosed(client, stack.taskQueue, plan.mode === 'quick' ? 30_000 : 5 * 60_000, 'burst');
      if (open !== 0) notes.push(`burst: ${open ?? 'an unknown number of'} Lockbox requests were still open when it started; they shared the machine with it`);
      log(`burst: ${plan.burstN} windows ending in the same second, built-in provider, then PostgreSQL roles, then bare`);
      burst = await burstPhase(ctx, cpu);
      ctx.hardDeadline += Date.now() - burstStarted;
    }

    const createMs = percentiles(createRes.ours);
    const bareStartMs = percentiles(createRes.bare);
    const peakOurs = tp.levels.length ? Math.max(...tp.levels.map((l) => l.ours.perSec)) : Number.NaN;
    const peakBare = tp.levels.length ? Math.max(...tp.levels.map((l) => l.bare.perSec)) : Number.NaN;
    Object.assign(results, {
      createMs,
      bareStartMs,
      createP99Ratio: medianRatio(createRes.rounds),
      createRounds: createRes.rounds,
      createAtRest: createRes.atRest,
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
      read: read ?? emptyRead(),
      drain,
      burst,
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
      production: stack.production ?? false,
      temporalAddress: stack.temporalAddress,
      namespace,
      requestTtl: plan.requestTtl,
      lockboxProcess: stack.production
        ? 'worker (src/main/run-worker.ts) and API (src/main/run-api.ts) are separate processes: the RSS figures are the worker\'s (apiRssMiB is the API\'s), the CPU figures both together (the thread split is the worker\'s)'
        : 'worker and API run in one process (src/main/dev.ts), so workerRssMiB and apiRssMiB are the same number',
      rssAtReadyMiB: {
        lockbox: rssAtReady.lockbox === null ? null : round(rssAtReady.lockbox, 0),
        temporal: rssAtReady.temporal === null ? null : round(rssAtReady.temporal, 0),
      },
    },
    createMs: EMPTY,
    bareStartMs: EMPTY,
    createP99Ratio: Number.NaN,
    createRounds: [],
    createAtRest: null,
    approveMs: EMPTY,
    decisionToAccessMs: EMPTY,
    revocationLagMs: { ...EMPTY, pollEveryMs: plan.pollEveryMs, windowMs: plan.revokeWindowMs },
    revokeActivityLagMs: EMPTY,
    throughputPerSec: Number.NaN,
    bareThroughputPerSec: Number.NaN,
    throughputRatio: Number.NaN,
    throughputExportedPerSec: Number.NaN,
    throughput: { windowMs: plan.lifecycleWindowMs, levels: [], definition: '' },
    read: emptyRead(),
    drain: null,
    burst: null,
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

/** Polls visibility until no request workflow of `taskQueue` is running, or `boundMs` passes; the count left. */
async function waitUntilClosed(client: Client, taskQueue: string, boundMs: number, phase: string): Promise<number | null> {
  const query = `WorkflowType = 'accessRequestWorkflow' AND TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`;
  const deadline = Date.now() + boundMs;
  for (;;) {
    let open: number | null = null;
    try {
      open = Number((await client.workflow.count(query)).count);
    } catch {
      // visibility unavailable: say so by returning null at the deadline
    }
    if (open === 0 || Date.now() > deadline) return open;
    log(`${phase}: waiting for ${open ?? '?'} Lockbox requests to close first`);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
}

main().catch(async (err) => {
  const usage = err instanceof Error && /^(unknown option|--)/.test(err.message);
  log(`failed: ${err instanceof Error ? (usage ? err.message : err.stack) : String(err)}`);
  await cleanupAll();
  process.exit(1);
});
