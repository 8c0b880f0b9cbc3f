import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureTemporalCli } from '../../src/dev/temporal-cli.js';
import { findFreePort, findFreeTemporalPort } from '../../src/dev/dev-server.js';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.js';
import { startProc, waitForHttp, type Proc } from './process.js';
import { OUTBOUND_ALLOW } from './outbound.js';

/** What tests get through `inject('stack')`. */
export interface StackInfo {
  /** The full embedded stack (dev server, worker, API), default request lifetime. */
  apiUrl: string;
  /**
   * A second Lockbox (API + worker) on the same Temporal server with its own data dir, task queue and signing key,
   * whose demo tenants have a 3 s request lifetime: for expiry and reminder tests.
   */
  shortTtlApiUrl: string;
  shortTtlDataDir: string;
  /** Where stack A's output goes (tests search it for secrets). */
  logFile: string;
  /** The password-checking PostgreSQL behind the demo's `db:crm` (admin URL, a superuser). */
  crmAdminUrl: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  dataDir: string;
  /** Stack A's demo OpenID provider (src/dev/oidc-provider.ts), which the portal signs in at. */
  oidcIssuer: string;
  /** Stack A's step-up max age in ms (short, so a test can wait past it). */
  stepUpMaxAgeMs: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

const ROOT = join(import.meta.dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/**
 * Starts the real system once for the whole run, the way `npm start` does, on free ports and a fresh data dir:
 * process A runs the embedded dev server, a worker and the API; process B joins A's Temporal (TEMPORAL_ADDRESS)
 * as a separate Lockbox (own data dir, task queue and key) with a short request lifetime for expiry tests.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // For iterating on tests that need no stack (domain, adapters): LOCKBOX_TEST_NO_STACK=1 npx vitest run test/x.test.ts
  if (process.env.LOCKBOX_TEST_NO_STACK === '1') return async () => undefined;
  // Build (or find) the CLI first, outside any timeout, and say so: the first build takes minutes.
  await ensureTemporalCli({ log: (line) => process.stderr.write(`[setup] ${line}\n`) });
  const dataDir = await mkdtemp(join(tmpdir(), 'lockbox-test-'));
  const shortTtlDataDir = await mkdtemp(join(tmpdir(), 'lockbox-test-short-'));
  const [apiPort, shortPort, temporalPort, oidcPort] = [await findFreePort(), await findFreePort(), await findFreeTemporalPort(), await findFreePort()];
  // Decisions through a signed-in session need a login at most this old (demo tokens are exempt): short, so
  // test/web.signin.test.ts can wait past it and see the portal send the person through the provider again.
  const stepUpMaxAgeMs = 30_000;
  const namespace = 'lockbox';
  const taskQueue = 'lockbox-test';
  // Test receivers listen on 127.0.0.2 (support/outbound.ts); the stack may reach exactly that, as an operator would allow.
  const base = { ...process.env, LOCKBOX_DATA_DIR: dataDir, LOCKBOX_TASK_QUEUE: taskQueue, TEMPORAL_NAMESPACE: namespace, LOCKBOX_OUTBOUND_ALLOW: OUTBOUND_ALLOW };
  const procs: Proc[] = [];
  let crm: PrivatePostgres | undefined;
  const stopAll = async () => {
    for (const p of procs.reverse()) await p.stop();
    await crm?.stop();
    // LOCKBOX_TEST_KEEP=1 keeps the data dirs (stack.log, audit.jsonl) for a post-mortem.
    if (process.env.LOCKBOX_TEST_KEEP === '1') {
      process.stderr.write(`[setup] kept ${dataDir} and ${shortTtlDataDir}\n`);
      return;
    }
    await rm(dataDir, { recursive: true, force: true });
    await rm(shortTtlDataDir, { recursive: true, force: true });
  };
  try {
    // The demo's db:crm on a cluster that really checks passwords and VALID UNTIL (the machine's server trusts all).
    crm = await startPrivatePostgres();
    const crmUrl = new URL(crm.adminUrl);
    crmUrl.pathname = '/lockbox_demo_crm';
    const logFile = join(dataDir, 'stack.log');
    const a = startProc(
      TSX,
      ['src/main/dev.ts'],
      {
        ...base,
        LOCKBOX_PORT: String(apiPort),
        LOCKBOX_TEMPORAL_PORT: String(temporalPort),
        LOCKBOX_TARGET_DEMO_CRM: crmUrl.toString(),
        LOCKBOX_DEV_OIDC_PORT: String(oidcPort),
        LOCKBOX_STEP_UP_MAX_AGE: `${stepUpMaxAgeMs / 1000}s`,
      },
      ROOT,
      logFile,
    );
    procs.push(a);
    await waitForHttp(`http://127.0.0.1:${apiPort}/readyz`, a, 120_000);
    const temporalAddress = `127.0.0.1:${temporalPort}`;
    const b = startProc(
      TSX,
      ['src/main/dev.ts'],
      {
        ...base,
        LOCKBOX_DATA_DIR: shortTtlDataDir,
        LOCKBOX_TASK_QUEUE: `${taskQueue}-short`,
        LOCKBOX_PORT: String(shortPort),
        TEMPORAL_ADDRESS: temporalAddress,
        LOCKBOX_REQUEST_TTL: '3s',
      },
      ROOT,
    );
    procs.push(b);
    await waitForHttp(`http://127.0.0.1:${shortPort}/readyz`, b, 120_000);
    project.provide('stack', {
      apiUrl: `http://127.0.0.1:${apiPort}`,
      shortTtlApiUrl: `http://127.0.0.1:${shortPort}`,
      shortTtlDataDir,
      logFile,
      crmAdminUrl: crm.adminUrl,
      temporalAddress,
      namespace,
      taskQueue,
      dataDir,
      oidcIssuer: `http://127.0.0.1:${oidcPort}`,
      stepUpMaxAgeMs,
    });
  } catch (err) {
    await stopAll();
    throw err;
  }
  return stopAll;
}
