import type { Client } from '@temporalio/client';
import { TOKENS, type ApiResponse } from '../http.js';
import { create, resource, until, type Ctx } from '../context.js';
import type { CpuMeter } from '../cpu-meter.js';
import { errText, log } from '../log.js';
import { drainRate } from './drain.js';
import { expiryBreakdown } from './expiry-breakdown.js';
import { rssMiB } from '../stack.js';
import { nowMs, percentiles, pool, round, sleep } from '../stats.js';

/** N pending requests at once: memory, listing, and that every one expires on time. */
export async function scalePhase(ctx: Ctx, client: Client, cpu: CpuMeter, bareFloor: { perWorkflowKiB: number | null; count: number }) {
  const { scaleN: n, scaleConcurrency, scaleRate, listCalls, expirySample } = ctx.plan;
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
    const startedAt = Date.now();
    const firstExpiryGuard = Date.now() + ctx.ttlMs * 0.6;
    let lastProgress = Date.now();
    await cpu.measure(`scale: create ${n} pending`, () =>
      pool(n, scaleConcurrency, firstExpiryGuard, async (i) => {
        // Paced (`--scale-rate`): the i-th create starts no earlier than i / rate seconds in, so they fall due at
        // that rate too.
        if (scaleRate !== null) await sleep(startedAt + (i * 1000) / scaleRate - Date.now());
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
    const disagreeing: Array<{ id: string; apiTime: string | undefined }> = [];
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
        else {
          apiDisagrees += 1;
          disagreeing.push({ id: s.id, apiTime: ev?.time });
        }
      }),
    );
    if (sampleErrors.length) ctx.notes.push(`scale: ${sampleErrors.length} audit read-backs of expired requests failed or timed out, e.g. ${sampleErrors[0]}`);
    if (apiDisagrees) {
      // The sink was read before the sample; read it again and say which way each disagreed: an export that landed
      // meanwhile agrees now (lag); anything else is a real difference in the trail.
      await ctx.tail.refresh();
      const kinds = { caughtUp: 0, onlyInApi: 0, onlyInSink: 0, differentTimes: 0 };
      for (const d of disagreeing) {
        const sinkTime = ctx.tail.timeOf(d.id, 'request.expired');
        if (sinkTime === d.apiTime) kinds.caughtUp += 1;
        else if (sinkTime === undefined) kinds.onlyInApi += 1;
        else if (d.apiTime === undefined) kinds.onlyInSink += 1;
        else kinds.differentTimes += 1;
      }
      ctx.notes.push(
        `scale: for ${apiDisagrees} requests GET /audit and audit.jsonl disagreed about request.expired; read again after the sample: ` +
          `${kinds.caughtUp} in the sink now with the same time (export lag), ${kinds.onlyInApi} still only in the API's answer, ` +
          `${kinds.onlyInSink} only in the sink, ${kinds.differentTimes} with different times`,
      );
    }

    // 3c. Where the lateness comes from, for a few of them, from their histories (read-only).
    const histories = ctx.plan.mode === 'quick' ? 20 : 50;
    const spread = sample.filter((_, k) => k % Math.max(1, Math.floor(sample.length / histories)) === 0).slice(0, histories);
    const breakdown = await expiryBreakdown(client, spread, until(ctx, 4_000, 60_000));
    const sampled = lateness.length + notExpired;
    // How fast the burst was worked through, for the drain phase's comparison with bare workflows due at the same times.
    const expiredAt = due.map((c) => {
      const t = ctx.tail.timeOf(c.id, 'request.expired');
      return t ? Date.parse(t) : undefined;
    });
    const lockboxDrainPerSec = drainRate(due.map((c) => c.expiresAt), expiredAt, lastExpiry + checkedAfterLastExpiryMs);
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
      apiRssMiB: ctx.stack.apiPid ? round(rssMiB(ctx.stack.apiPid) ?? Number.NaN, 0) : lockboxRss === null ? null : round(lockboxRss, 0),
      workerAndApiSameProcess: !ctx.stack.apiPid,
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
      drainPerSec: lockboxDrainPerSec === null ? null : round(lockboxDrainPerSec, 1),
      dueTimes: due.map((c) => c.expiresAt),
      createErrors: createErrors.length,
      expiryBreakdownMs: {
        timerDueAfterExpiresAt: percentiles(breakdown.timerDueAfterExpiresAtMs),
        engineFiredLate: percentiles(breakdown.engineFiredLateMs),
        pickupAfterFire: percentiles(breakdown.pickupAfterFireMs),
        settingTask: percentiles(breakdown.settingTaskMs),
      },
    };
  } finally {
    clearInterval(sampler);
  }
}
