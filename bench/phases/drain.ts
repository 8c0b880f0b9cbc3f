import { until, type Ctx } from '../context.js';
import type { CpuMeter } from '../cpu-meter.js';
import { log } from '../log.js';
import { percentiles, pool, round, sleep, type Percentiles } from '../stats.js';

/** How fast a burst of expiries is worked through: the same due times, Lockbox's requests and bare workflows. */
export interface DrainResult {
  /** Requests (and bare workflows) whose expiry fell due. */
  n: number;
  /** Expired per second, from the first expiresAt to the last expiry (a lower bound when some never expired in time). */
  lockboxPerSec: number | null;
  barePerSec: number | null;
  ratio: number | null;
  /** Due times spread over this many seconds (the creation burst, one lifetime earlier). */
  dueSpreadSec: number;
  bareLatenessMs: Percentiles;
  bareLate: number;
  bareNotExpired: number;
}

/** Expiries per second over [first due, last expiry]; the ones not expired count as expiring when the wait ended. */
export function drainRate(due: number[], expired: Array<number | undefined>, endedAt: number): number | null {
  if (due.length === 0) return null;
  const done = expired.filter((t): t is number => t !== undefined);
  const last = done.length === expired.length ? Math.max(...done) : endedAt;
  const span = (last - Math.min(...due)) / 1000;
  return span > 0 ? done.length / span : null;
}

/**
 * The engine's floor for an expiry burst: as many bare lifecycles as the scale phase had pending requests, left
 * unapproved, each falling due at the same offset from the first as the request it stands for (so the burst has
 * the same shape), started at the scale phase's concurrency with the same lifetime before the first is due. Each
 * does a Lockbox expiry's work (reminder half-way; then the "expired" export, two outcome notifications, the
 * closing export), all no-ops, in the bench's own worker.
 */
export async function bareDrainPhase(ctx: Ctx, cpu: CpuMeter, lockboxDue: number[], lockboxPerSec: number | null): Promise<DrainResult> {
  const sorted = [...lockboxDue].sort((a, b) => a - b);
  const empty = { n: 0, lockboxPerSec, barePerSec: null, ratio: null, dueSpreadSec: 0, bareLatenessMs: percentiles([]), bareLate: 0, bareNotExpired: 0 };
  if (sorted.length === 0) return empty;
  const first = sorted[0]!;
  const firstDue = Date.now() + ctx.ttlMs;
  const due = sorted.map((t) => firstDue + (t - first));
  const ids: string[] = [];
  log(`drain: ${due.length} bare lifecycles falling due like the scale phase's requests (first in ${(ctx.ttlMs / 1000).toFixed(0)} s)`);
  let endedAt = Date.now();
  await cpu.measure(`drain: ${due.length} bare expiries`, async () => {
    await pool(due.length, ctx.plan.scaleConcurrency, firstDue - 1_000, async (i) => {
      ids[i] = await ctx.bare.startPending(ctx.ttlMs, due[i]!);
    });
    const lastDue = due[due.length - 1]!;
    // Up to 2 minutes (quick: 30 s) after the last one fell due; one still pending then counts as expiring then.
    const waitUntil = lastDue + (ctx.plan.mode === 'quick' ? 30_000 : 120_000);
    await sleep(lastDue - Date.now());
    while (Date.now() < waitUntil && ids.some((id) => id !== undefined && ctx.bare.expiredAt(id) === undefined)) await sleep(250);
    endedAt = Date.now();
  });
  const started = due.map((d, i) => ({ due: d, id: ids[i] })).filter((x): x is { due: number; id: string } => x.id !== undefined);
  if (started.length < due.length) ctx.notes.push(`drain: only ${started.length} of ${due.length} bare lifecycles started before the first fell due`);
  const expired = started.map((x) => ctx.bare.expiredAt(x.id));
  const lateness = started.flatMap((x, i) => (expired[i] === undefined ? [] : [expired[i]! - x.due]));
  const notExpired = expired.filter((t) => t === undefined).length;
  // Leftovers would expire during later runs' phases: end them.
  await ctx.bare.terminate(started.filter((_, i) => expired[i] === undefined).map((x) => x.id), 16, until(ctx, 5_000, 60_000));
  const barePerSec = drainRate(started.map((x) => x.due), expired, endedAt);
  return {
    n: started.length,
    lockboxPerSec: lockboxPerSec === null ? null : round(lockboxPerSec, 1),
    barePerSec: barePerSec === null ? null : round(barePerSec, 1),
    ratio: lockboxPerSec !== null && barePerSec ? round(lockboxPerSec / barePerSec, 2) : null,
    dueSpreadSec: round((due[due.length - 1]! - due[0]!) / 1000, 1),
    bareLatenessMs: percentiles(lateness),
    bareLate: lateness.filter((x) => x > 2_000).length + notExpired,
    bareNotExpired: notExpired,
  };
}
