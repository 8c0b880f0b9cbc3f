import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBuiltinGrantProvider } from '../src/adapters/builtin-grant-provider.js';
import { openJsonlAuditSink } from '../src/adapters/jsonl-audit-sink.js';
import { openSqliteStore } from '../src/adapters/sqlite-store.js';
import { createStoreNotifier } from '../src/adapters/store-notifier.js';
import { createActivities } from '../src/activities/index.js';
import { createLockboxClient } from '../src/client/lockbox-client.js';
import type { Logger } from '../src/config/logger.js';
import type { GrantProvider } from '../src/ports/grant-provider.js';
import type { Store } from '../src/ports/store.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { normalizePolicy } from '../src/domain/policy.js';
import { publicKeyOf, signDecision, signRequest } from '../src/domain/signing.js';
import { Registry } from 'prom-client';
import { createGrantMetrics } from '../src/main/metrics.js';
import { eventually } from './support/api.js';

/**
 * The real workflow on the real Temporal server, with a worker of its own whose grant target misbehaves the way real
 * targets do: unreachable on grant, failing for a while on revoke.
 */
const stack = inject('stack');
const TASK_QUEUE = `failures-${ulid()}`;
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

let dir: string;
let store: Store;
let client: Client;
let connection: Connection;
let nativeConnection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
const metricsRegistry = new Registry();
const metrics = createGrantMetrics(metricsRegistry);
const key = { keyId: 'failures-test', secretKey: bytesToHex(ed25519.utils.randomSecretKey()) };
const behaviour = { grantFails: false, revokeFailuresLeft: 0, revokeCalls: 0 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockbox-failures-'));
  store = openSqliteStore(join(dir, 'state.db'));
  const builtin = createBuiltinGrantProvider(store);
  const flaky: GrantProvider = {
    async grant(input) {
      if (behaviour.grantFails) throw new Error('connect ECONNREFUSED 127.0.0.1:1 (target unreachable)');
      return builtin.grant(input);
    },
    async revoke(input) {
      behaviour.revokeCalls += 1;
      if (behaviour.revokeFailuresLeft > 0) {
        behaviour.revokeFailuresLeft -= 1;
        throw new Error('target throttled the revoke (429)');
      }
      return builtin.revoke(input);
    },
  };
  const audit = openJsonlAuditSink(join(dir, 'audit.jsonl'));
  nativeConnection = await NativeConnection.connect({ address: stack.temporalAddress });
  worker = await Worker.create({
    connection: nativeConnection,
    namespace: stack.namespace,
    taskQueue: TASK_QUEUE,
    workflowsPath: fileURLToPath(new URL('../src/workflows/index.ts', import.meta.url)),
    activities: createActivities({
      store,
      trustedKeys: { [key.keyId]: publicKeyOf(key.secretKey) },
      grants: { providerFor: () => flaky, close: async () => undefined },
      metrics,
      notifier: createStoreNotifier(store),
      audit,
      log: quiet,
    }),
  });
  running = worker.run();
  connection = await Connection.connect({ address: stack.temporalAddress });
  client = new Client({ connection, namespace: stack.namespace });
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await nativeConnection?.close();
  await connection?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A request as the API files it: signed with the key this test's worker trusts. */
function newRequest(durationMs: number) {
  const input = {
    id: `req-contoso-${ulid()}`,
    tenant: 'contoso',
    resource: 'mailbox:flaky@contoso.com',
    requester: 'eve@lockbox.dev',
    reason: 'failure drill',
    ticket: null,
    durationMs,
    requestTtlMs: 3_600_000,
    createdAt: new Date().toISOString(),
    policy: normalizePolicy({ tenant: 'contoso', customerApproval: true, approvers: ['alice@contoso.com'], quorum: 1 }),
  };
  return { ...input, proof: signRequest(input, key) };
}

const approve = (input: ReturnType<typeof newRequest>, runId: string) =>
  signDecision(
    { requestId: input.id, runId, action: 'approve', actor: 'alice@contoso.com', note: null, policy: input.policy, issuedAt: new Date().toISOString(), nonce: ulid() },
    key,
  );

describe('when the grant target misbehaves', () => {
  it('ends the request as failed after bounded retries, audits it, and leaves nothing granted', async () => {
    behaviour.grantFails = true;
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000);
    const { runId } = await lockbox.start(input, true);
    const after = await lockbox.decide(input.id, 'approve', approve(input, runId!));
    expect(after.status).toBe('failed');
    expect(after.access).toBeNull();
    expect(after.failure).toContain('target unreachable');
    expect((await metrics.grants.get()).values).toEqual([expect.objectContaining({ value: 5, labels: { provider: 'builtin', outcome: 'failed' } })]);
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'access.grant_failed'));
    expect(audit.map((e) => e.type)).toContain('access.grant_failed');
    expect(await store.findActiveGrants({ tenant: 'contoso', resource: input.resource, principal: input.requester, now: new Date().toISOString() })).toEqual([]);
    // The requester hears the outcome.
    const outcome = await eventually(() => store.listNotifications({ recipient: 'eve@lockbox.dev', limit: 10 }), (ns) => ns.some((n) => n.requestId === input.id));
    expect(outcome.find((n) => n.requestId === input.id)?.subject).toContain('failed');
  });

  it('keeps retrying a failing revoke until it succeeds; the grant itself ends at endsAt meanwhile', async () => {
    behaviour.grantFails = false;
    behaviour.revokeFailuresLeft = 2;
    behaviour.revokeCalls = 0;
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(1_000);
    const { runId } = await lockbox.start(input, true);
    const active = await lockbox.decide(input.id, 'approve', approve(input, runId!));
    expect(active.status).toBe('active');
    const endsAt = active.access?.endsAt ?? '';
    // While the revoke is still failing, the grant store already denies: the end time is enforced at the target.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(endsAt) - Date.now()) + 50));
    expect(await store.findActiveGrants({ tenant: 'contoso', resource: input.resource, principal: input.requester, now: new Date().toISOString() })).toEqual([]);
    const done = await eventually(() => lockbox.get(input.id), (r) => r.status === 'completed', 30_000);
    expect(done.status).toBe('completed');
    expect(behaviour.revokeCalls).toBe(3);
    // The failing revoke was visible while it was retried, not only in the log.
    expect((await metrics.revokeFailures.get()).values).toEqual([expect.objectContaining({ value: 2, labels: { provider: 'builtin' } })]);
    expect((await metricsRegistry.metrics())).toMatch(/lockbox_revokes_total\{provider="builtin"\} \d/);
    expect((await store.getGrant(input.id))?.revokedAt).not.toBeNull();
  });
});
