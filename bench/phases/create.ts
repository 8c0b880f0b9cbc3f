import { TOKENS } from '../http.js';
import { create, resource, until, type Ctx } from '../context.js';
import { alternate, percentiles, pool, sleep } from '../stats.js';

/** One round of the create phase: its samples and its own p99 ratio. */
export interface CreateRound {
  samples: number;
  oursP99Ms: number;
  bareP99Ms: number;
  ratio: number;
  /** How long the round took. */
  ms: number;
}

/** Rounds of the create phase: issue 17's target is the median over 3 of the p99 ratio (one p99 is noisy). */
export const CREATE_ROUNDS = 3;

/**
 * The pause before each pair of the "at rest" round: long enough that the previous create's background work (its
 * first workflow tasks, the approvers' notice, the first export: about 50 ms of worker and server CPU) is done.
 */
export const AT_REST_GAP_MS = 300;

/**
 * Create latency against bare `workflow.start`, one at a time, interleaved so drift hits both alike; in
 * {@link CREATE_ROUNDS} rounds of `createSamples` each, so the p99 ratio is a median of three, not one tail.
 */
export async function createPhase(ctx: Ctx) {
  const deadline = until(ctx, 12_000 * CREATE_ROUNDS, 180_000 * CREATE_ROUNDS, true);
  const ours: number[] = [];
  const bare: number[] = [];
  const ids: string[] = [];
  const rounds: CreateRound[] = [];
  for (let round = 0; round < CREATE_ROUNDS && Date.now() < deadline; round++) {
    const started0 = Date.now();
    const { a: created, b: started } = await alternate(
      ctx.plan.createSamples,
      deadline,
      (i) => create(ctx, resource(ctx, `create${round}`, i), '1h'),
      () => ctx.bare.startTrivial(),
    );
    const mine = created.map((c) => c.ms);
    ours.push(...mine);
    bare.push(...started);
    ids.push(...created.map((c) => c.body.id as string));
    const oursP99Ms = percentiles(mine).p99;
    const bareP99Ms = percentiles(started).p99;
    rounds.push({ samples: mine.length, oursP99Ms, bareP99Ms, ratio: Math.round((oursP99Ms / bareP99Ms) * 100) / 100, ms: Date.now() - started0 });
  }
  const wanted = ctx.plan.createSamples * CREATE_ROUNDS;
  if (ours.length < wanted) ctx.notes.push(`create latency: only ${ours.length} of ${wanted} samples in ${rounds.length} rounds (time cap)`);
  // At rest: the same calls, each after a pause, so neither side shares the machine with the previous one's work.
  // Back to back, a create competes with its predecessors' background work (Lockbox's is several tasks, bare's one).
  const restStarted = Date.now();
  const restSamples = Math.max(10, Math.floor(ctx.plan.createSamples / 2));
  const { a: rested, b: restedBare } = await alternate(
    restSamples,
    until(ctx, 30_000, 300_000, true),
    async (i) => {
      await sleep(AT_REST_GAP_MS);
      return create(ctx, resource(ctx, 'create-rest', i), '1h');
    },
    async () => {
      await sleep(AT_REST_GAP_MS);
      return ctx.bare.startTrivial();
    },
  );
  ids.push(...rested.map((c) => c.body.id as string));
  const atRest = { ours: percentiles(rested.map((c) => c.ms)), bare: percentiles(restedBare), gapMs: AT_REST_GAP_MS, ms: Date.now() - restStarted };
  return { ours, bare, ids, rounds, atRest };
}

/** The median of the rounds' p99 ratios (NaN when there is none). */
export function medianRatio(rounds: CreateRound[]): number {
  const r = rounds.map((x) => x.ratio).filter(Number.isFinite).sort((a, b) => a - b);
  if (!r.length) return Number.NaN;
  const mid = Math.floor(r.length / 2);
  return r.length % 2 ? r[mid]! : Math.round(((r[mid - 1]! + r[mid]!) / 2) * 100) / 100;
}

/** Cancels requests left pending by a phase, so they do not expire in the middle of a later one. */
export async function cancelAll(ctx: Ctx, ids: string[]): Promise<void> {
  const results = await pool(ids.length, 8, until(ctx, 15_000, 300_000), (i) => ctx.api.call('POST', `/v1/requests/${ids[i]}/cancel`, TOKENS.engineer, { reason: 'benchmark cleanup' }));
  // A 409 is a request that already ended (its lifetime can be shorter than the phase): nothing left to cancel.
  const bad = results.filter((r) => r.status === 'rejected' || (r.value.status !== 200 && r.value.status !== 409)).length;
  if (bad) ctx.notes.push(`cleanup: ${bad} of ${ids.length} cancels failed`);
}
