import { TOKENS } from '../http.js';
import { create, oursLifecycle, resource, until, type Ctx } from '../context.js';
import { pool } from '../stats.js';

/** A few lifecycles and creates on both sides, so the first measured ones do not pay for cold caches. */
export async function warmUp(ctx: Ctx): Promise<void> {
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
