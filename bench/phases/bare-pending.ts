import { until, type Ctx } from '../context.js';
import type { CpuMeter } from '../cpu-meter.js';
import { rssMiB } from '../stack.js';
import { pool, sleep } from '../stats.js';

/**
 * The engine's floor for memory: bare lifecycles left pending in the bench's own worker (same SDK, same default
 * worker options); the bench process's RSS growth per workflow, compared with Lockbox's in the scale test.
 */
export async function barePendingPhase(ctx: Ctx, cpu: CpuMeter): Promise<{ perWorkflowKiB: number | null; count: number }> {
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
