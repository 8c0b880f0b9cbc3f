/**
 * The engine's floor, measured in the same run: a bench-owned Worker (own task queue, same Temporal server, same
 * namespace, default worker options like Lockbox's) running `bench/workflows.ts`, and drivers that start those
 * workflows with a plain Temporal client.
 */
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { ulid } from 'ulid';
import { onCleanup } from './stack.js';
import { nowMs } from './stats.js';
import { bareApprove, type BareActivities, type BareLifecycleInput } from './workflows.js';

const WORKFLOWS_PATH = fileURLToPath(new URL('./workflows.ts', import.meta.url));

export interface Bare {
  client: Client;
  taskQueue: string;
  /** One `client.workflow.start` of the trivial workflow; resolves with its latency in ms. */
  startTrivial(): Promise<number>;
  /** One bare lifecycle: start -> approve update (answers after the grant) -> window -> revoke -> "revoked" exported. */
  lifecycle(windowMs: number, ttlMs: number, timeoutMs: number): Promise<{ ms: number; approveMs: number }>;
  /** Starts a bare lifecycle and leaves it pending (waiting for an approval that never comes); returns its id. */
  startPending(ttlMs: number, expiresAt?: number): Promise<string>;
  /** Workflow time of a bare lifecycle's expiry (its "expired" export), once that export has run. */
  expiredAt(id: string): number | undefined;
  /** Starts a bare lifecycle and approves it with its window ending at `windowEndsAt` (epoch ms); returns its id. */
  startApproved(windowEndsAt: number): Promise<string>;
  /** When a bare lifecycle's revoke activity ran, and when the export carrying "revoked" ran (epoch ms). */
  revokeTimes(id: string): { revokeAt?: number; revokedExportedAt?: number };
  /** How many bare workflows have run their first workflow task and the activities before the wait. */
  pendingReady(): number;
  terminate(ids: string[], concurrency: number, deadline: number): Promise<number>;
  stop(): Promise<void>;
}

let runtimeInstalled = false;

export async function startBare(address: string, namespace: string): Promise<Bare> {
  if (!runtimeInstalled) {
    // Keep the SDK's worker chatter off stdout; warnings and errors still reach stderr.
    Runtime.install({ logger: new DefaultLogger('WARN', ({ level, message, meta }) => process.stderr.write(`[bare worker] ${level} ${message} ${meta ? JSON.stringify(meta).slice(0, 300) : ''}\n`)) });
    runtimeInstalled = true;
  }
  const taskQueue = `bench-bare-${process.pid}`;
  /** Resolved when the export carrying "revoked" runs for a workflow id: the bare equivalent of "audit exported". */
  const revokedExported = new Map<string, () => void>();
  let notified = 0;
  const expired = new Map<string, number>();
  const revokes = new Map<string, { revokeAt?: number; revokedExportedAt?: number }>();
  const activities: BareActivities = {
    async bareKeys() {},
    async bareNotify(_id, kind) {
      if (kind === 'approval_needed') notified += 1;
    },
    async bareExport(requestId, stage, at) {
      if (stage === 'revoked') {
        revokedExported.get(requestId)?.();
        const r = revokes.get(requestId);
        if (r) r.revokedExportedAt = Date.now();
      }
      if (stage === 'expired' && at !== undefined) expired.set(requestId, at);
    },
    async bareGrant(_id, windowMs, windowEndsAt) {
      return { endsAt: windowEndsAt ?? Date.now() + windowMs };
    },
    async bareRevoke(requestId) {
      const r = revokes.get(requestId);
      if (r) r.revokeAt = Date.now();
    },
  };
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace,
    taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities,
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined);
    await nativeConnection.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
  };
  onCleanup({ name: 'bare worker', run: stop });

  return {
    client,
    taskQueue,
    async startTrivial() {
      const t0 = nowMs();
      await client.workflow.start('trivialWorkflow', { workflowId: `bench-trivial-${ulid()}`, taskQueue, args: [] });
      return nowMs() - t0;
    },
    async lifecycle(windowMs, ttlMs, timeoutMs) {
      const id = `bench-bare-${ulid()}`;
      let timer: NodeJS.Timeout | undefined;
      const exported = new Promise<void>((resolve, reject) => {
        revokedExported.set(id, resolve);
        timer = setTimeout(() => reject(new Error(`bare lifecycle ${id} not done within ${timeoutMs} ms`)), timeoutMs);
      });
      exported.catch(() => undefined);
      const t0 = nowMs();
      try {
        const input: BareLifecycleInput = { id, windowMs, ttlMs };
        const handle = await client.workflow.start('bareLifecycleWorkflow', { workflowId: id, taskQueue, args: [input] });
        const a0 = nowMs();
        await handle.executeUpdate(bareApprove);
        const approveMs = nowMs() - a0;
        await exported;
        return { ms: nowMs() - t0, approveMs };
      } finally {
        clearTimeout(timer);
        revokedExported.delete(id);
      }
    },
    async startPending(ttlMs, expiresAt) {
      const id = `bench-bare-pending-${ulid()}`;
      const input: BareLifecycleInput = { id, windowMs: 1000, ttlMs, ...(expiresAt !== undefined ? { expiresAt } : {}) };
      await client.workflow.start('bareLifecycleWorkflow', { workflowId: id, taskQueue, args: [input] });
      return id;
    },
    async startApproved(windowEndsAt) {
      const id = `bench-bare-burst-${ulid()}`;
      revokes.set(id, {});
      const input: BareLifecycleInput = { id, windowMs: 1000, ttlMs: 3_600_000, windowEndsAt };
      const handle = await client.workflow.start('bareLifecycleWorkflow', { workflowId: id, taskQueue, args: [input] });
      await handle.executeUpdate(bareApprove);
      return id;
    },
    revokeTimes: (id) => ({ ...revokes.get(id) }),
    pendingReady: () => notified,
    expiredAt: (id) => expired.get(id),
    async terminate(ids, concurrency, deadline) {
      let done = 0;
      let next = 0;
      const lane = async () => {
        while (next < ids.length && Date.now() < deadline) {
          const id = ids[next++]!;
          await client.workflow.getHandle(id).terminate('benchmark cleanup').then(() => (done += 1), () => undefined);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, lane));
      return done;
    },
    stop,
  };
}
