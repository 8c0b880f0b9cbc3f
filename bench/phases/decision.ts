import { TOKENS } from '../http.js';
import { approve, check, create, resource, until, type Ctx } from '../context.js';
import { errText } from '../log.js';
import { nowMs, pool, sleep } from '../stats.js';

/** Decision-to-access and revocation lag, with 2 s windows. */
export async function decisionPhase(ctx: Ctx) {
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
