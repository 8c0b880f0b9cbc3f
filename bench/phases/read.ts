import type { Client } from '@temporalio/client';
import { createLockboxClient } from '../../src/client/lockbox-client.js';
import { create, resource, until, type Ctx } from '../context.js';
import type { CpuMeter } from '../cpu-meter.js';
import { TOKENS, type ApiResponse } from '../http.js';
import { errText, log } from '../log.js';
import type { ReadComparison, ReadPath } from '../report.js';
import { alternate, nowMs, percentiles, pool, round, sleep } from '../stats.js';
import { cancelAll } from './create.js';

const TENANT = 'contoso';
/** A read on either side that takes longer than this counts as failed. */
const READ_TIMEOUT_MS = 30_000;

type Timed<T> = { ms: number; value: T } | { ms: null; error: string };

async function timed<T>(read: () => Promise<T>): Promise<Timed<T>> {
  let timer: NodeJS.Timeout | undefined;
  const t0 = nowMs();
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS);
    });
    const value = await Promise.race([read(), timeout]);
    return { ms: nowMs() - t0, value };
  } catch (err) {
    return { ms: null, error: errText(err) };
  } finally {
    clearTimeout(timer);
  }
}

const answered = <T>(xs: Timed<T>[]) => xs.flatMap((x) => (x.ms === null ? [] : [x]));
const firstError = <T>(xs: Timed<T>[]) => xs.flatMap((x) => (x.ms === null ? [x.error] : []))[0];

function compare(records: Timed<unknown>[], temporal: Timed<unknown>[]): ReadComparison {
  const r = percentiles(answered(records).map((x) => x.ms));
  const t = percentiles(answered(temporal).map((x) => x.ms));
  const old = (k: 'p50' | 'p95' | 'p99') => round(t[k] / r[k], 1);
  return {
    records: r,
    temporal: t,
    ratio: { p50: old('p50'), p95: old('p95'), p99: old('p99') },
    failed: { records: records.length - r.n, temporal: temporal.length - t.n },
  };
}

type RecordPage = { requests: Array<{ id: string; status: string; closedAt: string | null }>; next: string | null };

/** This run's requests whose record is closed (`closedAt` set), newest first, from the records list as their requester. */
async function closedRecords(ctx: Ctx, deadline: number): Promise<Array<{ id: string; status: string }>> {
  const out: Array<{ id: string; status: string }> = [];
  let after: string | null = null;
  for (let page = 0; page < 100 && Date.now() < deadline; page++) {
    const path: string = `/v1/requests?tenant=${TENANT}&limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    const r: ApiResponse<RecordPage> = await ctx.api.expect<RecordPage>(200, 'GET', path, TOKENS.engineer);
    for (const s of r.body.requests) if (s.closedAt) out.push({ id: s.id, status: s.status });
    after = r.body.next;
    if (!after) break;
  }
  return out;
}

/**
 * The read path (issue 16): Lockbox reads closed requests and lists from its own records now. Measures, for the
 * same closed requests of this run, `GET /v1/requests/{id}` through the API (from the record) against the call the
 * API made before, `lockbox.get(id)`: a Temporal query, which replays the closed workflow in the worker. Then the
 * tenant's list through the API (records) against Temporal visibility (`lockbox.list`). The two sides of each pair
 * run back to back, alternating which goes first. The old side uses the bench's own Temporal client, so it leaves
 * out the HTTP hop and auth that the API side includes: the ratio understates the gain, never overstates it.
 * Uses the requests earlier phases closed; when there are too few (the phase run alone), creates and cancels more.
 */
export async function readPhase(ctx: Ctx, client: Client, cpu: CpuMeter): Promise<ReadPath> {
  const want = ctx.plan.readGets;
  const lockbox = createLockboxClient(client, ctx.stack.taskQueue);
  let closed = await closedRecords(ctx, until(ctx, 10_000, 60_000));
  let closedByPhase = 0;
  if (closed.length < want) {
    const need = want - closed.length;
    log(`read: ${closed.length} closed requests so far; creating and cancelling ${need} more`);
    const ids: string[] = [];
    await cpu.measure(`read: close ${need} more`, async () => {
      await pool(need, 8, until(ctx, 15_000, 120_000), async (i) => {
        ids.push((await create(ctx, resource(ctx, 'read', i), '1h')).body.id);
      });
      await cancelAll(ctx, ids);
      // A record is closed once `request.closed` is stored with it (right after the audit sinks have it).
      const by = until(ctx, 15_000, 60_000);
      while (closed.length < want && Date.now() < by) {
        await sleep(500);
        closed = await closedRecords(ctx, by);
      }
    });
    closedByPhase = ids.length;
  }
  // Spread over everything closed, so that the mix of statuses (cancelled, completed, ...) is the run's.
  const n = Math.min(want, closed.length);
  const sample = Array.from({ length: n }, (_, k) => closed[Math.floor((k * closed.length) / n)]!);
  const statuses: Record<string, number> = {};
  for (const s of sample) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  if (n < want) ctx.notes.push(`read: only ${n} closed requests to read (wanted ${want})`);

  const getRecord = (id: string) => timed(async () => (await ctx.api.expect<{ status: string }>(200, 'GET', `/v1/requests/${id}`, TOKENS.engineer)).body);
  const getTemporal = (id: string) => timed(() => lockbox.get(id));
  const listRecords = () => timed(async () => (await ctx.api.expect<{ requests: unknown[] }>(200, 'GET', `/v1/requests?tenant=${TENANT}&limit=100`, TOKENS.approver)).body.requests.length);
  const listTemporal = () => timed(async () => (await lockbox.list({ tenant: TENANT, limit: 100 })).length);

  // Both sides once before measuring (connections, prepared statements, first query of the client).
  if (n) for (const read of [() => getRecord(sample[0]!.id), () => getTemporal(sample[0]!.id), listRecords, listTemporal]) await read();

  log(`read: GET of ${n} closed requests, from the records (API) and by Temporal query, alternating`);
  const gets = await cpu.measure(`read: GET ${n} closed (records vs query)`, () =>
    alternate(n, until(ctx, 15_000, 300_000), (i) => getRecord(sample[i]!.id), (i) => getTemporal(sample[i]!.id)),
  );
  let disagree = 0;
  gets.a.forEach((r, i) => {
    const t = gets.b[i];
    if (r.ms !== null && t && t.ms !== null && r.value.status !== t.value.status) disagree += 1;
  });

  log(`read: ${ctx.plan.readLists} lists of ${TENANT} (limit 100), from the records (API) and from Temporal visibility, alternating`);
  const lists = await cpu.measure('read: list (records vs visibility)', () => alternate(ctx.plan.readLists, until(ctx, 10_000, 300_000), listRecords, listTemporal));

  if (gets.a.length < n) ctx.notes.push(`read: only ${gets.a.length} of ${n} closed requests read both ways (time cap)`);
  if (lists.a.length < ctx.plan.readLists) ctx.notes.push(`read: only ${lists.a.length} of ${ctx.plan.readLists} lists both ways (time cap)`);
  if (disagree) ctx.notes.push(`read: for ${disagree} closed requests the record and the Temporal query disagree on the status`);
  for (const [what, xs] of [['GET from the record', gets.a], ['Temporal query', gets.b], ['list from the records', lists.a], ['Temporal visibility list', lists.b]] as const) {
    const e = firstError<unknown>(xs);
    if (e) ctx.notes.push(`read: ${xs.length - answered<unknown>(xs).length} ${what} calls failed, e.g. ${e}`);
  }
  const returned = (xs: Timed<number>[]) => answered(xs).at(-1)?.value ?? 0;
  return {
    closed: { count: n, statuses, closedByPhase },
    get: { ...compare(gets.a, gets.b), disagree },
    list: { ...compare(lists.a, lists.b), returned: { records: returned(lists.a), temporal: returned(lists.b) } },
  };
}
