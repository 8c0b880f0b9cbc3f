/** Progress lines on stderr, and the empty values a phase that did not run reports. */
import type { Results } from './report.js';
import type { Percentiles } from './stats.js';

export const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
export const errText = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
export const EMPTY: Percentiles = { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN, n: 0 };

export function emptyRead(): Results['read'] {
  const side = () => ({ records: EMPTY, temporal: EMPTY, ratio: { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN }, failed: { records: 0, temporal: 0 } });
  return { closed: { count: 0, statuses: {}, closedByPhase: 0 }, get: { ...side(), disagree: 0 }, list: { ...side(), returned: { records: 0, temporal: 0 } } };
}

export function emptyPending(): Results['pending'] {
  return {
    count: 0, requested: 0, createSeconds: 0, createPerSec: Number.NaN, createMs: EMPTY, workerRssMiB: null, apiRssMiB: null,
    workerAndApiSameProcess: true, lockboxIdleRssMiB: null, lockboxPeakRssMiB: null, temporalRssMiB: null, temporalPeakRssMiB: null,
    extrapolatedRssMiBAt10k: null, listMs: EMPTY, listP99Ms: Number.NaN, listReturned: 0, visibilityPendingCount: null, lateExpiries: 0,
    expirySampled: 0, expiryLatenessMs: EMPTY, notExpiredInSample: 0, closedLateByCloseTime: null, closedCheckedByCloseTime: null,
    stillPendingAfterExpiry: null, checkedAfterLastExpiryMs: null, apiReadBack: { sampled: 0, agrees: 0, disagrees: 0, failed: 0 }, rssPeaksMiB: {}, createErrors: 0, rssPerPendingKiB: null, bareRssPerPendingKiB: null, barePendingCount: 0,
    expiryBreakdownMs: { timerDueAfterExpiresAt: EMPTY, engineFiredLate: EMPTY, pickupAfterFire: EMPTY, settingTask: EMPTY },
  };
}
