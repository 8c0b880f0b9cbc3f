import { TOKENS } from '../http.js';
import { create, resource, until, type Ctx } from '../context.js';
import { alternate, pool } from '../stats.js';

/** Create latency against bare `workflow.start`, one at a time, interleaved so drift hits both alike. */
export async function createPhase(ctx: Ctx) {
  const deadline = until(ctx, 12_000, 180_000, true);
  const { a: created, b: bare } = await alternate(
    ctx.plan.createSamples,
    deadline,
    (i) => create(ctx, resource(ctx, 'create', i), '1h'),
    () => ctx.bare.startTrivial(),
  );
  const ours = created.map((c) => c.ms);
  const ids: string[] = created.map((c) => c.body.id);
  if (ours.length < ctx.plan.createSamples) ctx.notes.push(`create latency: only ${ours.length} of ${ctx.plan.createSamples} samples (time cap)`);
  return { ours, bare, ids };
}

/** Cancels requests left pending by a phase, so they do not expire in the middle of a later one. */
export async function cancelAll(ctx: Ctx, ids: string[]): Promise<void> {
  const results = await pool(ids.length, 8, until(ctx, 15_000, 300_000), (i) => ctx.api.call('POST', `/v1/requests/${ids[i]}/cancel`, TOKENS.engineer, { reason: 'benchmark cleanup' }));
  const bad = results.filter((r) => r.status === 'rejected' || r.value.status !== 200).length;
  if (bad) ctx.notes.push(`cleanup: ${bad} of ${ids.length} cancels failed`);
}
