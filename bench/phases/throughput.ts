import { ConfirmError, oursLifecycle, until, type Ctx } from '../context.js';
import type { CpuMeter } from '../cpu-meter.js';
import { errText, log } from '../log.js';
import type { ThroughputLevel, ThroughputSide } from '../report.js';
import { nowMs, percentiles, pool, round, sleep } from '../stats.js';

/** One side (Lockbox or bare) of a throughput level: `count` lifecycles, `concurrency` at a time. */
export async function runSide(
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
export async function throughputPhase(ctx: Ctx, cpu: CpuMeter): Promise<{ levels: ThroughputLevel[]; oursIds: string[] }> {
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
