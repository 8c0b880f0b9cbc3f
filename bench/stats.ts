/** Small statistics helpers for the benchmark: percentiles by the nearest-rank method, rounded for reporting. */

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  n: number;
}

/** Nearest-rank percentile of an already sorted array (p in 0..100). */
function rank(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: round(rank(sorted, 50)),
    p95: round(rank(sorted, 95)),
    p99: round(rank(sorted, 99)),
    max: round(sorted.length ? sorted[sorted.length - 1]! : Number.NaN),
    n: sorted.length,
  };
}

export function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN;
}

/** Rounds to `digits` decimals; NaN stays NaN (rendered as n/a). */
export function round(x: number, digits = 1): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** High-resolution wall clock in milliseconds (monotonic). */
export function nowMs(): number {
  return performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * Runs `task(i)` for i in 0..count-1 with at most `concurrency` in flight; stops starting new ones once `deadline`
 * (epoch ms) has passed. Resolves with the settled results of the tasks that were started.
 */
export async function pool<T>(
  count: number,
  concurrency: number,
  deadline: number,
  task: (i: number) => Promise<T>,
): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = [];
  let next = 0;
  const lane = async () => {
    for (;;) {
      if (next >= count || Date.now() > deadline) return;
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await task(i) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane));
  return results.filter((r) => r !== undefined);
}

/**
 * Runs `a(i)` and `b(i)` back to back for i in 0..count-1, alternating which goes first so that drift and warm
 * caches hit both sides alike; stops starting new pairs once `deadline` (epoch ms) has passed.
 */
export async function alternate<A, B>(count: number, deadline: number, a: (i: number) => Promise<A>, b: (i: number) => Promise<B>): Promise<{ a: A[]; b: B[] }> {
  const as: A[] = [];
  const bs: B[] = [];
  for (let i = 0; i < count && Date.now() < deadline; i++) {
    if (i % 2 === 0) {
      as.push(await a(i));
      bs.push(await b(i));
    } else {
      bs.push(await b(i));
      as.push(await a(i));
    }
  }
  return { a: as, b: bs };
}
