import pg from 'pg';
import { TOKENS } from '../http.js';
import { check, create, resource, type Ctx } from '../context.js';
import type { CpuMeter } from '../cpu-meter.js';
import { errText, log } from '../log.js';
import { percentiles, pool, round, sleep, type Percentiles } from '../stats.js';

/**
 * Many windows ending in the same second: N requests approved with the same `until` (an approver's cap), so their
 * grants all end at one instant and N revokes fall due together. Run against the built-in provider and against the
 * demo's PostgreSQL target (one login role per request, dropped at revoke), and against bare lifecycles whose
 * windows end at one instant too (no-op grant and revoke, the engine's floor).
 */
export interface BurstSide {
  target: 'built-in' | 'postgres' | 'bare';
  /** Asked for / approved with the shared end (or, bare: started and approved). */
  n: number;
  approved: number;
  /** Creates and approvals that failed (the first error is in the notes). */
  failed: number;
  /** The shared end every approval named (ISO-8601). */
  windowEndsAt: string | null;
  /** How far apart the windows' real ends are (max - min of access.endsAt); the cap makes them one instant. */
  endsAtSpreadMs: number | null;
  /** Revoke activity start (access.revokedAt) - the window's end. */
  revokeStartLagMs: Percentiles;
  /** access.revoked recorded (its audit event's time: after the revoke activity returned) - the window's end. */
  revokedLagMs: Percentiles;
  /** Revoked more than 1 s after the window's end, or not at all while the phase waited. */
  late: number;
  notRevoked: number;
  /**
   * Access gone at the target itself - the window's end, for a sample of the windows (up to {@link AT_TARGET_SAMPLE}):
   * built-in, the first access check that denies (polled every 100 ms); PostgreSQL, the moment an open session of the
   * role (running a long query since before the end) is cut. Not measured for bare (its grant is a no-op).
   */
  atTargetLagMs: Percentiles;
  atTargetSampled: number;
  /** Sampled windows whose access was still there when the phase stopped waiting. */
  atTargetNotEnded: number;
}

/** How many windows per side are watched at the target: enough for a p99 of what a holder sees, light on the API. */
const AT_TARGET_SAMPLE = 20;

export interface BurstResult {
  n: number;
  sides: BurstSide[];
}

const empty = (target: BurstSide['target'], n: number): BurstSide => ({
  target,
  n,
  approved: 0,
  failed: 0,
  windowEndsAt: null,
  endsAtSpreadMs: null,
  revokeStartLagMs: percentiles([]),
  revokedLagMs: percentiles([]),
  late: 0,
  notRevoked: 0,
  atTargetLagMs: percentiles([]),
  atTargetSampled: 0,
  atTargetNotEnded: 0,
});

/** Sampled from across the approvals (first, last and evenly between), so early and late approvals both count. */
function sample<T>(xs: readonly T[]): T[] {
  if (xs.length <= AT_TARGET_SAMPLE) return [...xs];
  return Array.from({ length: AT_TARGET_SAMPLE }, (_, k) => xs[Math.round((k * (xs.length - 1)) / (AT_TARGET_SAMPLE - 1))]!);
}

/** Built-in: polls each sampled resource's access check from just before the end until it denies; lag per window. */
async function watchChecks(ctx: Ctx, resources: string[], end: number, giveUpAt: number): Promise<Array<number | null>> {
  await sleep(end - 300 - Date.now());
  return Promise.all(
    resources.map(async (res) => {
      while (Date.now() < giveUpAt) {
        const ch = await check(ctx, res);
        if (!ch.body.allowed) return ch.doneEpoch - end;
        await sleep(100);
      }
      return null;
    }),
  );
}

/**
 * PostgreSQL: opens one session per sampled request with the requester's credential (as the requester would) and
 * runs a query that lasts past the end; the moment the server cuts it is when access really ended there. Lag per
 * window, null if the session was still open when the phase stopped waiting.
 */
async function watchSessions(ctx: Ctx, ids: string[], end: number, giveUpAt: number): Promise<Array<number | null>> {
  const sessions = await Promise.all(
    ids.map(async (id) => {
      const cred = (await ctx.api.expect(200, 'GET', `/v1/requests/${id}/credentials`, TOKENS.engineer)).body;
      const client = new pg.Client({ host: cred.host, port: Number(cred.port), database: cred.database, user: cred.username, password: cred.password, connectionTimeoutMillis: 5_000 });
      client.on('error', () => undefined); // a cut session reports here too; the query's rejection is what is timed
      await client.connect();
      return client;
    }),
  );
  try {
    const wait = Math.ceil((giveUpAt - Date.now()) / 1000);
    return await Promise.all(
      sessions.map((c) => c.query(`SELECT pg_sleep(${wait})`).then(() => null, () => Date.now() - end)),
    );
  } finally {
    await Promise.all(sessions.map((c) => c.end().catch(() => undefined)));
  }
}

/** The shared end: 15 s after the approvals are expected to be done (at least 20 s ahead), on a whole second. */
function sharedEnd(approvalsMs: number): number {
  const ahead = Math.max(20_000, approvalsMs + 15_000);
  return Math.ceil((Date.now() + ahead) / 1000) * 1000;
}

/** Sleeps until the shared end, then until `done()` or 1 minute (full: 2) after it. */
async function waitPastEnd(ctx: Ctx, end: number, done: () => boolean): Promise<void> {
  const waitUntil = end + (ctx.plan.mode === 'quick' ? 60_000 : 120_000);
  await sleep(end - Date.now());
  while (Date.now() < waitUntil && !done()) await sleep(250);
}

function summarize(side: BurstSide, ends: number[], revokeStart: number[], revoked: number[], waiting: number): BurstSide {
  side.endsAtSpreadMs = ends.length ? Math.max(...ends) - Math.min(...ends) : null;
  side.revokeStartLagMs = percentiles(revokeStart);
  side.revokedLagMs = percentiles(revoked);
  side.notRevoked = waiting;
  side.late = revoked.filter((x) => x > 1_000).length + waiting;
  return side;
}

async function lockboxBurst(ctx: Ctx, target: 'built-in' | 'postgres', n: number): Promise<BurstSide> {
  const side = empty(target, n);
  const errors: string[] = [];
  const conc = ctx.plan.scaleConcurrency;
  const ids: string[] = [];
  const resourceOf = new Map<string, string>();
  const t0 = Date.now();
  await pool(n, conc, Date.now() + 10 * 60_000, async (i) => {
    try {
      const res = target === 'postgres' ? 'db:crm' : resource(ctx, 'burst', i);
      const id = (await create(ctx, res, '1h')).body.id as string;
      ids.push(id);
      resourceOf.set(id, res);
    } catch (err) {
      errors.push(errText(err));
    }
  });
  // An approval costs several times a create (an update answered after the grant, exports, a status upsert): ten
  // times what the creates took leaves room (measured with 1,000: creates in 12-22 s, approvals at 7-10/s on 2 cores;
  // five times left a quarter of them unapproved at the shared end).
  const end = sharedEnd(10 * (Date.now() - t0));
  side.windowEndsAt = new Date(end).toISOString();
  log(`burst (${target}): ${ids.length} created; approving each with until ${side.windowEndsAt}`);
  const approved: string[] = [];
  await pool(ids.length, conc, end - 10_500, async (i) => {
    const id = ids[i]!;
    try {
      const a = await ctx.api.call('POST', `/v1/requests/${id}/approve`, TOKENS.approver, { until: side.windowEndsAt });
      if ((a.status !== 200 && a.status !== 202) || !['active', 'granting'].includes(a.body?.status)) throw new Error(`approve of ${id} answered ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`);
      approved.push(id);
    } catch (err) {
      errors.push(errText(err));
    }
  });
  side.approved = approved.length;
  if (approved.length < ids.length) errors.push(`${ids.length - approved.length} approvals did not go out 10 s before the shared end`);
  // Watched at the target from before the end (sessions opened now), while the revokes fall due.
  const watched = sample(approved);
  const giveUpAt = end + (ctx.plan.mode === 'quick' ? 60_000 : 120_000);
  const atTarget = (target === 'postgres' ? watchSessions(ctx, watched, end, giveUpAt) : watchChecks(ctx, watched.map((id) => resourceOf.get(id)!), end, giveUpAt)).catch(
    (err: unknown) => {
      errors.push(`watching access at the target: ${errText(err)}`);
      return [] as Array<number | null>;
    },
  );
  // Every access.revoked in audit.jsonl.
  await waitPastEnd(ctx, end, () => approved.every((id) => ctx.tail.timeOf(id, 'access.revoked') !== undefined));
  const lags = await atTarget;
  side.atTargetSampled = lags.length;
  side.atTargetNotEnded = lags.filter((x) => x === null).length;
  side.atTargetLagMs = percentiles(lags.filter((x): x is number => x !== null));
  const ends: number[] = [];
  const revokeStart: number[] = [];
  const revoked: number[] = [];
  let waiting = 0;
  await pool(approved.length, 8, Date.now() + 5 * 60_000, async (i) => {
    const id = approved[i]!;
    try {
      const r = await ctx.api.expect(200, 'GET', `/v1/requests/${id}`, TOKENS.engineer);
      const endsAt = Date.parse(r.body.access?.endsAt);
      const done = ctx.tail.timeOf(id, 'access.revoked');
      if (!Number.isFinite(endsAt)) throw new Error(`${id}: ${r.body.status} without access`);
      ends.push(endsAt);
      if (r.body.access.revokedAt) revokeStart.push(Date.parse(r.body.access.revokedAt) - endsAt);
      if (done) revoked.push(Date.parse(done) - endsAt);
      else waiting += 1;
    } catch (err) {
      errors.push(errText(err));
    }
  });
  side.failed = errors.length;
  if (errors.length) ctx.notes.push(`burst (${target}): ${errors.length} failures, e.g. ${errors[0]}`);
  return summarize(side, ends, revokeStart, revoked, waiting);
}

async function bareBurst(ctx: Ctx, n: number): Promise<BurstSide> {
  const side = empty('bare', n);
  // A bare start + approve: 14/s at 16 at a time with 1,000 (the dev server is the bottleneck); 100 ms each to spare.
  const end = sharedEnd(n * 100);
  side.windowEndsAt = new Date(end).toISOString();
  log(`burst (bare): ${n} bare lifecycles approved with their windows ending at ${side.windowEndsAt}`);
  const ids: string[] = [];
  const errors: string[] = [];
  await pool(n, ctx.plan.scaleConcurrency, end - 10_500, async () => {
    try {
      ids.push(await ctx.bare.startApproved(end));
    } catch (err) {
      errors.push(errText(err));
    }
  });
  side.approved = ids.length;
  await waitPastEnd(ctx, end, () => ids.every((id) => ctx.bare.revokeTimes(id).revokedExportedAt !== undefined));
  const times = ids.map((id) => ctx.bare.revokeTimes(id));
  const revokeStart = times.flatMap((t) => (t.revokeAt !== undefined ? [t.revokeAt - end] : []));
  const revoked = times.flatMap((t) => (t.revokedExportedAt !== undefined ? [t.revokedExportedAt - end] : []));
  side.failed = errors.length;
  if (errors.length) ctx.notes.push(`burst (bare): ${errors.length} failures, e.g. ${errors[0]}`);
  return summarize(side, ids.map(() => end), revokeStart, revoked, ids.length - revoked.length);
}

/** Each side alone on the machine, one after the other: built-in, PostgreSQL, then bare. */
export async function burstPhase(ctx: Ctx, cpu: CpuMeter): Promise<BurstResult> {
  const n = ctx.plan.burstN;
  const sides: BurstSide[] = [];
  for (const target of ['built-in', 'postgres'] as const) {
    sides.push(await cpu.measure(`burst: ${n} windows ending together (${target})`, () => lockboxBurst(ctx, target, n)));
  }
  sides.push(await cpu.measure(`burst: ${n} bare windows ending together`, () => bareBurst(ctx, n)));
  for (const s of sides) {
    s.endsAtSpreadMs = s.endsAtSpreadMs === null ? null : round(s.endsAtSpreadMs, 0);
  }
  return { n, sides };
}
