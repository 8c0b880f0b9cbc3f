/**
 * `npx tsx bench/probe.ts` against a running `npm start` (LOCKBOX_URL, default http://127.0.0.1:3000): a small,
 * low-noise probe for one change at a time, where the quick bench's ratios move with the machine.
 *
 * - At rest: N creates and N approves, each 300 ms after the last call, so no call shares the machine with the
 *   previous one's background work (p50 and p95 of each, ms).
 * - Under load: M lifecycles (create, approve; 2 s windows), 10 at a time, then the CPU each thread group of the
 *   `npm start` process spent per lifecycle (`/proc`): the workflow thread, the main thread (API and worker), Temporal
 *   core. The workflow thread's ms per lifecycle is the figure to compare between two builds.
 *
 * Needs the process's pid: the first `node --import tsx src/main/dev.ts` running (or LOCKBOX_PID).
 */
import { execSync } from 'node:child_process';
import { ApiClient, TOKENS } from './http.js';
import { threadCpu } from './stack.js';
import { nowMs, percentiles, pool, sleep } from './stats.js';

const api = new ApiClient(process.env.LOCKBOX_URL ?? 'http://127.0.0.1:3000');
const pid = Number(process.env.LOCKBOX_PID ?? execSync(`pgrep -f '^node --import tsx src/main/dev.ts'`).toString().trim().split('\n')[0]);
const N = Number(process.env.N ?? 40);
const M = Number(process.env.M ?? 200);
const run = Date.now().toString(36);

async function create(kind: string, i: number) {
  const body = { tenant: 'contoso', resource: `mailbox:probe-${run}-${kind}-${i}@contoso.com`, reason: 'probe', duration: '2s' };
  return api.expect(201, 'POST', '/v1/requests', TOKENS.engineer, body);
}
const approve = (id: string) => api.expect(200, 'POST', `/v1/requests/${id}/approve`, TOKENS.approver, {});

for (let i = 0; i < 10; i++) await approve((await create('warm', i)).body.id); // warm-up
await sleep(4_000);

const createMs: number[] = [];
const approveMs: number[] = [];
for (let i = 0; i < N; i++) {
  await sleep(300);
  const c = await create('rest', i);
  createMs.push(c.ms);
  await sleep(300);
  approveMs.push((await approve(c.body.id)).ms);
}
await sleep(5_000);

const before = threadCpu(pid);
const started = nowMs();
await pool(M, 10, Date.now() + 600_000, async (i) => {
  await approve((await create('load', i)).body.id);
});
const seconds = (nowMs() - started) / 1000;
await sleep(6_000); // the windows end, revokes and exports run
const after = threadCpu(pid);
const perLifecycle = (k: string) => (before && after ? Number((((after[k]! - before[k]!) * 1000) / M).toFixed(1)) : null);
const { p50: createP50, p95: createP95 } = percentiles(createMs);
const { p50: approveP50, p95: approveP95 } = percentiles(approveMs);
console.log(
  JSON.stringify({
    atRest: { createP50, createP95, approveP50, approveP95 },
    underLoad: {
      lifecyclesPerS: Number((M / seconds).toFixed(1)),
      cpuMsPerLifecycle: { workflowThread: perLifecycle('workflowThread'), main: perLifecycle('main'), temporalCore: perLifecycle('temporalCore') },
    },
  }),
);
