import type { BurstResult, BurstSide } from './phases/burst.js';
import type { CreateRound } from './phases/create.js';
import type { DrainResult } from './phases/drain.js';
/** The benchmark's results: their shape (bench-results.json), the issue's targets, and the markdown table. */
import type { Percentiles } from './stats.js';

export interface ThroughputSide {
  started: number;
  completed: number;
  failed: number;
  seconds: number;
  perSec: number;
  /**
   * Lifecycles whose access.revoked reached audit.jsonl, whether or not reading the audit back through the API
   * worked (a product bug can fail the read while the lifecycle itself completed), and their rate.
   */
  exported: number;
  exportedPerSec: number;
  /** Create (start) to "revoked" exported, per lifecycle. */
  lifecycleMs: Percentiles;
  /** The approve call (HTTP for Lockbox, executeUpdate for bare). */
  approveMs: Percentiles;
  errors: string[];
}

export interface ThroughputLevel {
  concurrency: number;
  ours: ThroughputSide;
  bare: ThroughputSide;
  ratio: number;
}

export interface HistoryShape {
  workflowId: string;
  events: number;
  workflowTasks: number;
  activities: number;
  localActivities: number;
  timers: number;
  updates: number;
  searchAttributeUpserts: number;
}

export interface CpuSample {
  phase: string;
  seconds: number;
  /** CPU seconds used during the phase, per process. */
  lockbox: number | null;
  temporal: number | null;
  bench: number;
  /** Everything else on the machine (other users' processes): busy CPU from /proc/stat minus ours. */
  other: number | null;
  /** The Lockbox process's CPU by thread: main (API, activities), workflowThread, temporalCore (Rust), other. */
  lockboxThreads: Record<string, number> | null;
  /** The bench process by thread: its workflowThread runs the bare workflows. */
  benchThreads: Record<string, number> | null;
}

/** One read both ways in the read phase: through the API from Lockbox's records, and the Temporal path it replaced. */
export interface ReadComparison {
  /** Through the API (HTTP, auth, Store): answered from the records. */
  records: Percentiles;
  /** The call the API made before, with the bench's own Temporal client (no HTTP, no auth). */
  temporal: Percentiles;
  /** temporal / records at each percentile (old / new): above 1, the records path is that many times faster. */
  ratio: { p50: number; p95: number; p99: number };
  failed: { records: number; temporal: number };
}

export interface ReadPath {
  /** The closed requests read (their records are closed), by status, and how many the phase closed itself. */
  closed: { count: number; statuses: Record<string, number>; closedByPhase: number };
  /** `GET /v1/requests/{id}` of a closed request vs `lockbox.get(id)` (a query: replays the closed workflow). */
  get: ReadComparison & { disagree: number };
  /** `GET /v1/requests?tenant=contoso&limit=100` vs `lockbox.list({ tenant, limit: 100 })` (Temporal visibility). */
  list: ReadComparison & { returned: { records: number; temporal: number } };
}

export interface Results {
  version: 1;
  date: string;
  command: string;
  mode: 'quick' | 'full';
  complete: boolean;
  durationSec: number;
  stack: {
    embeddedTemporal: boolean;
    /** --production: full server on PostgreSQL, worker and API as separate processes. */
    production?: boolean;
    temporalAddress: string;
    namespace: string;
    requestTtl: string;
    lockboxProcess: string;
    /** RSS right after the stack answered /readyz, before any traffic. */
    rssAtReadyMiB: { lockbox: number | null; temporal: number | null };
  };
  createMs: Percentiles;
  bareStartMs: Percentiles;
  /** The median of the create rounds' p99 ratios (issue 17: median of 3). */
  createP99Ratio: number;
  createRounds: CreateRound[];
  /** Creates and bare starts each after a pause (phases/create.ts): the call without its predecessors' work. */
  createAtRest: { ours: Percentiles; bare: Percentiles; gapMs: number; ms: number } | null;
  approveMs: Percentiles;
  decisionToAccessMs: Percentiles;
  revocationLagMs: Percentiles & { pollEveryMs: number; windowMs: number };
  /** From the grant's endsAt to the revoke activity's revokedAt (when the revoke really ran). */
  revokeActivityLagMs: Percentiles;
  throughputPerSec: number;
  bareThroughputPerSec: number;
  throughputRatio: number;
  /** Peak Lockbox rate counting lifecycles whose audit read-back through the API failed (see ThroughputSide). */
  throughputExportedPerSec: number;
  throughput: { windowMs: number; levels: ThroughputLevel[]; definition: string };
  read: ReadPath;
  /** The expiry burst against bare workflows falling due at the same times (phases/drain.ts); null when not run. */
  drain: DrainResult | null;
  /** Windows ending in the same second (phases/burst.ts); null when not run. */
  burst: BurstResult | null;
  pending: {
    count: number;
    requested: number;
    createSeconds: number;
    createPerSec: number;
    createMs: Percentiles;
    workerRssMiB: number | null;
    apiRssMiB: number | null;
    workerAndApiSameProcess: boolean;
    lockboxIdleRssMiB: number | null;
    lockboxPeakRssMiB: number | null;
    temporalRssMiB: number | null;
    temporalPeakRssMiB: number | null;
    extrapolatedRssMiBAt10k: number | null;
    listMs: Percentiles;
    listP99Ms: number;
    listReturned: number;
    visibilityPendingCount: number | null;
    lateExpiries: number;
    expirySampled: number;
    expiryLatenessMs: Percentiles;
    notExpiredInSample: number;
    /** When expiries were counted, relative to the last request's expiresAt (those not expired by then count as late). */
    checkedAfterLastExpiryMs: number | null;
    /** A sample of the expired requests read back through GET /v1/requests/{id}/audit, compared with audit.jsonl. */
    apiReadBack: { sampled: number; agrees: number; disagrees: number; failed: number };
    closedLateByCloseTime: number | null;
    closedCheckedByCloseTime: number | null;
    stillPendingAfterExpiry: number | null;
    /** Peak RSS of the Lockbox process and the Temporal server per step of the scale phase. */
    rssPeaksMiB: Record<string, { lockbox: number; temporal: number }>;
    /** Expired per second from the first expiresAt to the last expiry (phases/drain.ts). */
    drainPerSec?: number | null;
    createErrors: number;
    /** RSS growth of the Lockbox process per pending request while creating them. */
    rssPerPendingKiB: number | null;
    /** The same for bare lifecycles left pending in the bench's own worker (engine floor), same run. */
    bareRssPerPendingKiB: number | null;
    barePendingCount: number;
    /**
     * For a few expired requests, from their histories: when the expiry timer was due relative to expiresAt (set
     * by our workflow), how late the engine fired it, and how long until a worker started the workflow task.
     */
    expiryBreakdownMs: { timerDueAfterExpiresAt: Percentiles; engineFiredLate: Percentiles; pickupAfterFire: Percentiles; settingTask?: Percentiles };
  };
  histories: { ours: HistoryShape | null; bare: HistoryShape | null };
  cpu: CpuSample[];
  machine: { cores: number; memoryGiB: number; cpuModel: string; kernel: string; loadAvgStart: number[]; loadAvgEnd: number[] };
  versions: { node: string; temporalSdk: string; temporalCli: string | null; temporalServer: string | null; lockbox: string; commit: string | null };
  targets: TargetRow[];
  notes: string[];
}

export interface TargetRow {
  metric: string;
  value: string;
  target: string;
  met: boolean | null;
}

const fmt = (x: number | null | undefined, unit = '', digits = 1): string => {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  return `${x.toFixed(digits)}${unit}`;
};
const pct = (p: Percentiles, unit = ' ms') => (p.n ? `${fmt(p.p50)} / ${fmt(p.p95)} / ${fmt(p.p99)}${unit}` : 'n/a');
const verdict = (met: boolean | null) => (met === null ? 'n/a' : met ? 'met' : 'missed');

/** The approve call against bare `executeUpdate` at the lowest concurrency of the throughput phase (issue 17). */
export function approveRatios(r: Results): { concurrency: number; p50: number; p99: number } | null {
  const level = [...r.throughput.levels].sort((a, b) => a.concurrency - b.concurrency)[0];
  if (!level) return null;
  const { ours, bare } = level;
  return { concurrency: level.concurrency, p50: ours.approveMs.p50 / bare.approveMs.p50, p99: ours.approveMs.p99 / bare.approveMs.p99 };
}

/**
 * Issue 17's targets (with issue 8's latency bounds, which still hold) next to the measured numbers: reported,
 * never asserted. A figure the run did not measure is n/a.
 */
export function targets(r: Results): TargetRow[] {
  const finite = (x: number | null | undefined): x is number => x !== null && x !== undefined && Number.isFinite(x);
  const at10k = r.pending.count >= 10_000;
  const rssTargetNote = at10k ? '' : ` with ${r.pending.count} pending (the target is for 10,000: \`npm run bench\`)`;
  const peakOf = (x: number | null) => (finite(x) ? x : Number.NEGATIVE_INFINITY);
  const rssHigh = Math.max(peakOf(r.pending.workerRssMiB), peakOf(r.pending.lockboxPeakRssMiB));
  const rssForTarget = at10k && Number.isFinite(rssHigh) ? rssHigh : null;
  const approve = approveRatios(r);
  const perCached = finite(r.pending.rssPerPendingKiB) && finite(r.pending.bareRssPerPendingKiB) && r.pending.bareRssPerPendingKiB > 0 ? r.pending.rssPerPendingKiB / r.pending.bareRssPerPendingKiB : null;
  const rounds = r.createRounds ?? [];
  return [
    {
      metric: 'decision-to-access p99',
      value: fmt(r.decisionToAccessMs.p99, ' ms'),
      target: '< 150 ms',
      met: finite(r.decisionToAccessMs.p99) ? r.decisionToAccessMs.p99 < 150 : null,
    },
    {
      metric: 'revocation lag p99',
      value: fmt(r.revocationLagMs.p99, ' ms'),
      target: '< 1000 ms',
      met: finite(r.revocationLagMs.p99) ? r.revocationLagMs.p99 < 1000 : null,
    },
    {
      metric: 'approve call p50 and p99 / bare update + activity',
      value: approve ? `${fmt(approve.p50, '', 2)} and ${fmt(approve.p99, '', 2)} (concurrency ${approve.concurrency})` : 'n/a',
      target: '<= 1.2',
      met: approve && finite(approve.p50) && finite(approve.p99) ? approve.p50 <= 1.2 && approve.p99 <= 1.2 : null,
    },
    {
      metric: 'lifecycle throughput / bare',
      value: fmt(r.throughputRatio, '', 2),
      target: '>= 0.9 (peak over concurrency levels)',
      met: finite(r.throughputRatio) ? r.throughputRatio >= 0.9 : null,
    },
    {
      metric: 'create p99 / bare start p99',
      value: rounds.length ? `${fmt(r.createP99Ratio, '', 2)} (median of ${rounds.map((x) => fmt(x.ratio, '', 2)).join(', ')})` : fmt(r.createP99Ratio, '', 2),
      target: '<= 1.1 (median of 3 rounds)',
      met: finite(r.createP99Ratio) && rounds.length >= 3 ? r.createP99Ratio <= 1.1 : null,
    },
    {
      metric: '10,000 pending: Lockbox RSS, peak included',
      value: `${fmt(r.pending.workerRssMiB, ' MiB', 0)}, peak ${fmt(r.pending.lockboxPeakRssMiB, ' MiB', 0)}${rssTargetNote}`,
      target: '< 1024 MiB',
      met: rssForTarget === null ? null : rssForTarget < 1024,
    },
    {
      metric: 'RSS per pending request / bare pending workflow',
      value: perCached === null ? 'n/a' : `${fmt(perCached, '', 2)} (${fmt(r.pending.rssPerPendingKiB, ' KiB', 0)} against ${fmt(r.pending.bareRssPerPendingKiB, ' KiB', 0)})`,
      target: '<= 1.5',
      met: perCached === null ? null : perCached <= 1.5,
    },
    {
      metric: 'expiry drain rate / bare (same due times)',
      value: r.drain?.ratio != null ? fmt(r.drain.ratio, '', 2) : 'n/a',
      target: '>= 0.8',
      met: r.drain?.ratio != null ? r.drain.ratio >= 0.8 : null,
    },
    {
      metric: 'pending requests expired late (> 2 s)',
      value: `${r.pending.lateExpiries} of ${r.pending.expirySampled}; lateness p99 ${fmt(r.pending.expiryLatenessMs.p99, ' ms', 0)}`,
      target: '0 (every one on time)',
      met: r.pending.expirySampled > 0 ? r.pending.lateExpiries === 0 : null,
    },
    {
      metric: 'access gone at the target p99, windows ending in the same second (built-in check / PostgreSQL sessions)',
      value: burstSides(r).length ? `${burstSides(r).map((s) => fmt(s.atTargetLagMs.p99, ' ms', 0)).join(' / ')} (${r.burst!.n} each, ${burstSides(r).map((s) => s.atTargetSampled).join(' / ')} watched)` : 'n/a',
      target: '< 1000 ms, every watched one ended',
      met: burstSides(r).length === 2 ? burstSides(r).every((s) => finite(s.atTargetLagMs.p99) && s.atTargetLagMs.p99 < 1000 && s.atTargetNotEnded === 0 && s.atTargetSampled > 0) : null,
    },
    {
      metric: 'revocation lag p99, windows ending in the same second (built-in / PostgreSQL): access.revoked recorded',
      value: burstSides(r).length ? `${burstSides(r).map((s) => fmt(s.revokedLagMs.p99, ' ms', 0)).join(' / ')}; revoke activity started p99 ${burstSides(r).map((s) => fmt(s.revokeStartLagMs.p99, ' ms', 0)).join(' / ')}` : 'n/a',
      target: 'reported (every one revoked)',
      met: burstSides(r).length === 2 ? burstSides(r).every((s) => s.notRevoked === 0 && s.approved > 0) : null,
    },
    {
      metric: 'list 100 pending p99',
      value: r.pending.listMs.n ? fmt(r.pending.listMs.p99, ' ms') : 'n/a',
      target: '<= 50 ms',
      met: r.pending.listMs.n ? r.pending.listMs.p99 <= 50 : null,
    },
  ];
}

export function markdown(r: Results): string {
  const lines: string[] = [];
  const row = (...cells: string[]) => lines.push(`| ${cells.join(' | ')} |`);
  const t = new Map(r.targets.map((x) => [x.metric, x]));
  const tv = (name: string) => {
    const x = t.get(name);
    return x ? `${x.target}: **${verdict(x.met)}**` : '';
  };
  lines.push(`Lockbox benchmark (${r.mode}${r.complete ? '' : ', INCOMPLETE'}), ${r.date}, ${r.durationSec.toFixed(0)} s`);
  lines.push('');
  lines.push(
    `Machine: ${r.machine.cores} cores (${r.machine.cpuModel}), ${fmt(r.machine.memoryGiB, ' GiB')}, load average at start ${r.machine.loadAvgStart.map((x) => x.toFixed(2)).join(' ')}. ` +
      `Node ${r.versions.node}, Temporal TS SDK ${r.versions.temporalSdk}, ${r.versions.temporalCli ?? 'external Temporal'} (server ${r.versions.temporalServer ?? '?'}).`,
  );
  lines.push(`Lockbox ${r.versions.lockbox}, commit ${r.versions.commit ?? '?'}.`);
  lines.push(
    `Stack: ${r.stack.production ? `production shape (--production): the full Temporal server on PostgreSQL at ${r.stack.temporalAddress}, Lockbox's store on PostgreSQL` : r.stack.embeddedTemporal ? 'embedded dev server (SQLite)' : `TEMPORAL_ADDRESS ${r.stack.temporalAddress}`}; ${r.stack.lockboxProcess}.`,
  );
  lines.push('');
  row('measurement', 'Lockbox', 'baseline (bare Temporal, same run)', 'ratio', 'target');
  row('---', '---', '---', '---', '---');
  row('create `POST /v1/requests` p50 / p95 / p99', pct(r.createMs), `\`workflow.start\` ${pct(r.bareStartMs)}`, `p99 ${fmt(r.createP99Ratio, '', 2)} (median of rounds)`, tv('create p99 / bare start p99'));
  if (r.createAtRest) {
    const rest = r.createAtRest;
    row(`create at rest (each call ${rest.gapMs} ms after the last) p50 / p95 / p99`, pct(rest.ours), `\`workflow.start\` ${pct(rest.bare)}`, `p99 ${fmt(rest.ours.p99 / rest.bare.p99, '', 2)}`, '(none)');
  }
  const c5 = r.throughput.levels[0];
  row(
    'approve call (returns after the grant) p50 / p95 / p99',
    pct(r.approveMs),
    c5 ? `\`executeUpdate\` to a bare lifecycle (answers after a no-op grant activity), throughput at concurrency ${c5.concurrency}: ${pct(c5.bare.approveMs)}; Lockbox there: ${pct(c5.ours.approveMs)}` : '',
    approveRatios(r) ? `p50 ${fmt(approveRatios(r)!.p50, '', 2)}, p99 ${fmt(approveRatios(r)!.p99, '', 2)} (at concurrency ${c5!.concurrency})` : '',
    tv('approve call p50 and p99 / bare update + activity'),
  );
  row('decision-to-access p50 / p95 / p99', pct(r.decisionToAccessMs), '', '', tv('decision-to-access p99'));
  row(
    `revocation lag (endsAt -> check denies, polled every ${r.revocationLagMs.pollEveryMs} ms) p50 / p95 / p99 / max`,
    `${pct(r.revocationLagMs, '')} / ${fmt(r.revocationLagMs.max, ' ms')}`,
    '',
    '',
    tv('revocation lag p99'),
  );
  row('revoke activity ran after endsAt p50 / p95 / p99 / max', `${pct(r.revokeActivityLagMs, '')} / ${fmt(r.revokeActivityLagMs.max, ' ms')}`, '', '', '(none)');
  for (const l of r.throughput.levels) {
    row(
      `lifecycles/s at concurrency ${l.concurrency} (${fmt(r.throughput.windowMs / 1000, ' s', 0)} window)`,
      `${fmt(l.ours.perSec, '/s', 2)} (${l.ours.completed}${l.ours.failed ? `, ${l.ours.failed} failed` : ''}; lifecycle p50 ${fmt(l.ours.lifecycleMs.p50, ' ms', 0)})` +
        (l.ours.exported > l.ours.completed ? `; counting the ${l.ours.exported - l.ours.completed} whose audit read failed: ${fmt(l.ours.exportedPerSec, '/s', 2)}` : ''),
      `${fmt(l.bare.perSec, '/s', 2)} (${l.bare.completed}${l.bare.failed ? `, ${l.bare.failed} failed` : ''}; lifecycle p50 ${fmt(l.bare.lifecycleMs.p50, ' ms', 0)})`,
      fmt(l.ratio, '', 2),
      '',
    );
  }
  row(
    'peak lifecycle throughput',
    fmt(r.throughputPerSec, '/s', 2) + (r.throughputExportedPerSec > r.throughputPerSec ? ` (${fmt(r.throughputExportedPerSec, '/s', 2)} counting failed audit reads)` : ''),
    fmt(r.bareThroughputPerSec, '/s', 2),
    fmt(r.throughputRatio, '', 2) + (r.throughputExportedPerSec > r.throughputPerSec ? ` (${fmt(r.throughputExportedPerSec / r.bareThroughputPerSec, '', 2)})` : ''),
    tv('lifecycle throughput / bare'),
  );
  const rd = r.read;
  if (rd.get.records.n || rd.get.temporal.n) {
    const ratio = (x: ReadComparison) => `old / new: p50 ${fmt(x.ratio.p50)}, p95 ${fmt(x.ratio.p95)}, p99 ${fmt(x.ratio.p99)}`;
    const failed = (x: ReadComparison, side: 'records' | 'temporal') => (x.failed[side] ? ` (${x.failed[side]} failed)` : '');
    const statuses = Object.entries(rd.closed.statuses).map(([k, v]) => `${v} ${k}`).join(', ');
    row(
      `GET a closed request (${rd.closed.count}: ${statuses || 'none'}) p50 / p95 / p99`,
      `\`GET /v1/requests/{id}\` from the record: ${pct(rd.get.records)}${failed(rd.get, 'records')}`,
      `old path, same run: \`lockbox.get\` (Temporal query, replays the closed workflow; no HTTP): ${pct(rd.get.temporal)}${failed(rd.get, 'temporal')}`,
      ratio(rd.get),
      '(none)',
    );
    row(
      'list a tenant\'s requests (limit 100) p50 / p95 / p99',
      `\`GET /v1/requests?tenant=contoso&limit=100\` from the records: ${pct(rd.list.records)} (${rd.list.returned.records} returned)${failed(rd.list, 'records')}`,
      `old path, same run: \`lockbox.list\` (Temporal visibility; no HTTP): ${pct(rd.list.temporal)} (${rd.list.returned.temporal} returned)${failed(rd.list, 'temporal')}`,
      ratio(rd.list),
      '(none)',
    );
  }
  const p = r.pending;
  row(`pending at once (created at ${fmt(p.createPerSec, '/s')})`, `${p.count} of ${p.requested}${p.visibilityPendingCount !== null ? ` (visibility: ${p.visibilityPendingCount} pending)` : ''}`, '', '', '');
  row(
    `worker + API RSS with ${p.count} pending${p.workerAndApiSameProcess ? ' (one process)' : ''}`,
    `${fmt(p.workerRssMiB, ' MiB', 0)} (at start ${fmt(r.stack.rssAtReadyMiB.lockbox, ' MiB', 0)}, before the phase ${fmt(p.lockboxIdleRssMiB, ' MiB', 0)}, phase peak ${fmt(p.lockboxPeakRssMiB, ' MiB', 0)})`,
    `Temporal server: ${fmt(p.temporalRssMiB, ' MiB', 0)} (peak ${fmt(p.temporalPeakRssMiB, ' MiB', 0)})`,
    '',
    tv('10,000 pending: Lockbox RSS, peak included'),
  );
  row(
    'RSS growth per pending request (indicative: GC and heap reuse make it noisy)',
    `${fmt(p.rssPerPendingKiB, ' KiB', 0)}`,
    `bare pending workflow (bench worker, ${p.barePendingCount}): ${fmt(p.bareRssPerPendingKiB, ' KiB', 0)}`,
    p.rssPerPendingKiB !== null && p.bareRssPerPendingKiB ? fmt(p.rssPerPendingKiB / p.bareRssPerPendingKiB, '', 1) : '',
    tv('RSS per pending request / bare pending workflow'),
  );
  row(`list 100 pending (\`GET /v1/requests?...&status=pending&limit=100\`) p50 / p95 / p99`, pct(p.listMs), '', '', tv('list 100 pending p99'));
  row(
    'expiry lateness (request.expired event time in audit.jsonl - expiresAt) p50 / p95 / p99 / max',
    `${fmt(p.expiryLatenessMs.p50, ' ms', 0)} / ${fmt(p.expiryLatenessMs.p95, ' ms', 0)} / ${fmt(p.expiryLatenessMs.p99, ' ms', 0)} / ${fmt(p.expiryLatenessMs.max, ' ms', 0)} (all ${p.expirySampled})`,
    '',
    '',
    '',
  );
  row(
    'expired more than 2 s late',
    `${p.lateExpiries} of ${p.expirySampled}${p.notExpiredInSample ? ` (${p.notExpiredInSample} of them not expired yet ${fmt((p.checkedAfterLastExpiryMs ?? 0) / 1000, ' s', 0)} after the last expiresAt)` : ''}` +
      (p.apiReadBack.sampled ? `; API read-back of ${p.apiReadBack.sampled}: ${p.apiReadBack.agrees} agree, ${p.apiReadBack.disagrees} disagree, ${p.apiReadBack.failed} failed` : '') +
      (p.closedCheckedByCloseTime !== null ? `; workflow closed > 2 s after expiresAt: ${p.closedLateByCloseTime} of ${p.closedCheckedByCloseTime}` : ''),
    '',
    '',
    tv('pending requests expired late (> 2 s)'),
  );
  const d = r.drain;
  if (d && d.n) {
    row(
      `expiry drain (${d.n} falling due over ${fmt(d.dueSpreadSec, ' s', 0)}; expired per second from the first due to the last expiry)`,
      `${fmt(d.lockboxPerSec, '/s')}`,
      `bare lifecycles due at the same times (reminder, expiry exports and notifications, no-ops): ${fmt(d.barePerSec, '/s')}; late > 2 s: ${d.bareLate} of ${d.n}${d.bareNotExpired ? ` (${d.bareNotExpired} not expired in time)` : ''}; lateness p50 / p99 / max ${fmt(d.bareLatenessMs.p50, ' ms', 0)} / ${fmt(d.bareLatenessMs.p99, ' ms', 0)} / ${fmt(d.bareLatenessMs.max, ' ms', 0)}`,
      fmt(d.ratio, '', 2),
      tv('expiry drain rate / bare (same due times)'),
    );
  }
  const bareBurst = r.burst?.sides.find((s) => s.target === 'bare');
  for (const s of burstSides(r)) {
    const q = (x: Percentiles) => `${fmt(x.p50, ' ms', 0)} / ${fmt(x.p95, ' ms', 0)} / ${fmt(x.p99, ' ms', 0)} / ${fmt(x.max, ' ms', 0)}`;
    row(
      `burst, ${s.target}: ${s.approved} of ${s.n} windows ending at ${s.windowEndsAt?.slice(11, 19) ?? '?'} (approved with one \`until\`); access.revoked recorded - window end p50 / p95 / p99 / max`,
      `${q(s.revokedLagMs)}; revoke activity started p99 ${fmt(s.revokeStartLagMs.p99, ' ms', 0)} after the end; ends spread over ${fmt(s.endsAtSpreadMs, ' ms', 0)}; late > 1 s: ${s.late}${s.notRevoked ? ` (${s.notRevoked} not revoked while the phase waited)` : ''}${s.failed ? `; ${s.failed} failed` : ''}; access gone at the target (${s.atTargetSampled} watched, ${s.target === 'postgres' ? 'open session cut' : 'check denies'}) p50 / p99 / max ${fmt(s.atTargetLagMs.p50, ' ms', 0)} / ${fmt(s.atTargetLagMs.p99, ' ms', 0)} / ${fmt(s.atTargetLagMs.max, ' ms', 0)}${s.atTargetNotEnded ? `, ${s.atTargetNotEnded} not ended` : ''}`,
      bareBurst ? `${bareBurst.approved} bare windows ending at one instant (no-op revoke, then the "revoked" export): ${q(bareBurst.revokedLagMs)}; revoke ran p99 ${fmt(bareBurst.revokeStartLagMs.p99, ' ms', 0)} after the end; late > 1 s: ${bareBurst.late}` : '',
      bareBurst && Number.isFinite(bareBurst.revokedLagMs.p99) && Number.isFinite(s.revokedLagMs.p99) && bareBurst.revokedLagMs.p99 > 0 ? `p99 ${fmt(s.revokedLagMs.p99 / bareBurst.revokedLagMs.p99, '', 1)}` : '',
      tv('access gone at the target p99, windows ending in the same second (built-in check / PostgreSQL sessions)'),
    );
  }
  lines.push('');
  const b = p.expiryBreakdownMs;
  if (b.engineFiredLate.n) {
    const q = (x: Percentiles) => `p50 ${fmt(x.p50, ' ms', 0)}, max ${fmt(x.max, ' ms', 0)}`;
    lines.push(
      `Expiry lateness, split (${b.engineFiredLate.n} histories): timer due after expiresAt ${q(b.timerDueAfterExpiresAt)} (our workflow` +
        `${b.settingTask?.n ? `; the task that set it ran ${q(b.settingTask)}, started to completed` : ''}); ` +
        `engine fired it late by ${q(b.engineFiredLate)}; workflow task started after the fire ${q(b.pickupAfterFire)} (task queue + worker).`,
    );
    lines.push('');
  }
  const peaks = Object.entries(p.rssPeaksMiB);
  if (peaks.length) {
    lines.push(`Peak RSS per step of the scale phase (Lockbox / Temporal server, MiB): ${peaks.map(([k, v]) => `${k} ${v.lockbox} / ${v.temporal}`).join('; ')}.`);
    lines.push('');
  }
  if (r.histories.ours && r.histories.bare) {
    const h = (x: HistoryShape) => `${x.activities} activities, ${x.localActivities} local, ${x.timers} timers, ${x.updates} update, ${x.workflowTasks} workflow tasks, ${x.searchAttributeUpserts} search-attribute upserts, ${x.events} events`;
    lines.push(`One lifecycle's history: Lockbox ${h(r.histories.ours)}; bare ${h(r.histories.bare)}.`);
    lines.push('');
  }
  if (r.cpu.length) {
    row('phase', 'seconds', 'CPU s: Lockbox (worker+API)', 'of which main / workflow / core threads', 'Temporal server', 'bench process (driver + bare worker)', 'of which bare workflow thread', 'other processes');
    row('---', '---', '---', '---', '---', '---', '---', '---');
    const th = (x: Record<string, number> | null) => (x ? `${fmt(x.main)} / ${fmt(x.workflowThread)} / ${fmt(x.temporalCore)}` : 'n/a');
    for (const c of r.cpu) {
      row(c.phase, fmt(c.seconds), fmt(c.lockbox), th(c.lockboxThreads), fmt(c.temporal), fmt(c.bench), fmt(c.benchThreads?.workflowThread ?? null), fmt(c.other));
    }
    lines.push('');
  }
  for (const n of r.notes) lines.push(`- ${n}`);
  return lines.join('\n');
}

/** The burst phase's Lockbox sides (built-in, PostgreSQL), when it ran. */
function burstSides(r: Results): BurstSide[] {
  return r.burst?.sides.filter((s) => s.target !== 'bare') ?? [];
}
