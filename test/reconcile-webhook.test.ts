/**
 * The reconciler on webhook targets (docs/webhook-targets.md, the list call), against a real HTTP receiver and a
 * worker of the test's own (its own task queue, the real grant router and guarded outbound client): a grant the
 * receiver lists that no running request owns is revoked there and audited; one a running request owns, and one of
 * a tenant the target is not declared for, are left alone; a target without a list call is reported and counted as
 * not reconcilable; a hostile list answer fails the target with a clear error and revokes nothing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { ulid } from 'ulid';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createGrantRouter } from '../src/adapters/grants/grant-router.js';
import { MAX_LIST_ANSWER_BYTES } from '../src/adapters/grants/webhook-list.js';
import { openJsonlAuditSink } from '../src/adapters/jsonl-audit-sink.js';
import { openSqliteStore } from '../src/adapters/sqlite-store.js';
import { createStoreNotifier } from '../src/adapters/store-notifier.js';
import { createActivities } from '../src/activities/index.js';
import type { Logger } from '../src/config/logger.js';
import type { ReconcileReport } from '../src/domain/reconcile.js';
import { catalogOf } from '../src/domain/resources.js';
import { publicKeyOf } from '../src/domain/ed25519.js';
import { reconcileMetrics, registry } from '../src/main/metrics.js';
import type { AuditSink } from '../src/ports/audit-sink.js';
import type { CredentialVault } from '../src/ports/credential-vault.js';
import type { GrantProvider } from '../src/ports/grant-provider.js';
import type { Store } from '../src/ports/store.js';
import { startWebhookReceiver, type WebhookReceiver } from './grants/webhook-receiver.js';
import { activeOwnRequest as activeOwnRequestOn, metricSum } from './support/own-worker.js';
import { receiverHttp } from './support/outbound.js';

const stack = inject('stack');
const TASK_QUEUE = `reconcile-webhook-${ulid()}`;
const SECRET = `whsec-${randomBytes(24).toString('hex')}`;
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const key = { keyId: 'reconcile-webhook-test', secretKey: bytesToHex(ed25519.utils.randomSecretKey()) };

/** The built-in target of this worker: an in-memory map (the requests the test files are granted there). */
const builtin = new Map<string, string>();
const memory: GrantProvider = {
  async grant(input) {
    const grantedAt = new Date().toISOString();
    if (!builtin.has(input.requestId)) builtin.set(input.requestId, new Date(Date.now() + input.durationMs).toISOString());
    return { grantedAt, endsAt: builtin.get(input.requestId)! };
  },
  async revoke({ requestId }) {
    builtin.delete(requestId);
  },
  async verify({ requestId }) {
    return { present: builtin.has(requestId), sessions: 0 };
  },
  async listGranted() {
    return [...builtin.keys()];
  },
};

let receiver: WebhookReceiver;
let connection: Connection;
let temporal: Client;
let dir: string;
let store: Store;
let audit: AuditSink;
let native: NativeConnection;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  receiver = await startWebhookReceiver(SECRET);
  const hook = { kind: 'webhook' as const, tenants: ['contoso'], grantUrl: `${receiver.url}/grant`, revokeUrl: `${receiver.url}/revoke`, secret: 'LOCKBOX_TARGET_HOOK', timeoutMs: 2_000 };
  const targets = catalogOf([
    { name: 'contoso-hooks', ...hook, listUrl: `${receiver.url}/list` },
    // The same receiver, declared without its list call: nothing it granted could ever be checked.
    { name: 'legacy-hooks', ...hook },
  ]);
  connection = await Connection.connect({ address: stack.temporalAddress });
  temporal = new Client({ connection, namespace: stack.namespace });
  dir = await mkdtemp(join(tmpdir(), 'lockbox-reconcile-webhook-'));
  store = openSqliteStore(join(dir, 'state.db'));
  audit = openJsonlAuditSink(join(dir, 'audit.jsonl'));
  native = await NativeConnection.connect({ address: stack.temporalAddress });
  const grants = createGrantRouter({
    builtin: memory,
    vault: {} as CredentialVault, // only PostgreSQL targets keep credentials; none here
    env: (name) => (name === 'LOCKBOX_TARGET_HOOK' ? SECRET : undefined),
    targets,
    http: receiverHttp(),
  });
  worker = await Worker.create({
    connection: native,
    namespace: stack.namespace,
    taskQueue: TASK_QUEUE,
    workflowsPath: fileURLToPath(new URL('../src/workflows/index.ts', import.meta.url)),
    activities: createActivities({
      store,
      targets,
      trustedKeys: { [key.keyId]: publicKeyOf(key.secretKey) },
      grants,
      notifier: createStoreNotifier(store),
      audit,
      log: quiet,
      reconcileMetrics,
    }),
  });
  running = worker.run();
});
afterAll(async () => {
  worker?.shutdown();
  await running;
  await native?.close();
  await connection?.close();
  await audit?.close();
  await store?.close();
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  receiver.calls.length = 0;
  receiver.script.length = 0;
});

const reconcile = () =>
  temporal.workflow.execute('reconcileWorkflow', { workflowId: `test-reconcile-webhook-${ulid()}`, taskQueue: TASK_QUEUE, args: [{ drift: 'fail' }] }) as Promise<ReconcileReport>;
const metric = (name: string, labels: Record<string, string> = {}) => metricSum(registry, name, labels);
const hooksIn = (report: ReconcileReport) => report.targets.find((t) => t.target === 'contoso-hooks')!;
/** A grant the receiver holds, as if Lockbox had granted it there. */
const heldAtReceiver = (requestId: string) =>
  receiver.grants.set(requestId, { grantedAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString(), principal: 'eve@lockbox.dev' });

/** An active request on this worker's queue (granted through its built-in target), signed as the API would. */
const activeOwnRequest = () => activeOwnRequestOn(temporal, TASK_QUEUE, key, { resource: 'app:tickets', reason: 'webhook reconcile drill' });

describe('a webhook target with a list call', () => {
  it('revokes a grant the receiver lists that no running request owns, audited; leaves owned and foreign ones alone', async () => {
    const orphan = `req-contoso-${ulid()}`;
    const owned = await activeOwnRequest();
    const foreign = `req-fabrikam-${ulid()}`;
    for (const id of [orphan, owned, foreign]) heldAtReceiver(id);
    const revokedBefore = await metric('lockbox_orphans_revoked_total', { provider: 'webhook' });
    try {
      const report = await reconcile();
      expect(report.ok, JSON.stringify(report)).toBe(true);
      const hooks = hooksIn(report);
      expect(hooks).toMatchObject({ provider: 'webhook', granted: 2 });
      expect(hooks.skipped).toBeUndefined();
      expect(hooks.orphans).toEqual([
        expect.objectContaining({ requestId: orphan, outcome: 'revoked', tenant: 'contoso', reason: expect.stringMatching(/workflow not found/) }),
      ]);
      // fabrikam does not use this target: what its receiver says about fabrikam's requests is not acted on.
      expect(hooks.unsure).toEqual([{ requestId: foreign, why: expect.stringMatching(/does not use contoso-hooks/) }]);

      expect(receiver.grants.has(orphan)).toBe(false);
      expect(receiver.grants.has(owned)).toBe(true);
      expect(receiver.grants.has(foreign)).toBe(true);
      const revokes = receiver.calls.filter((c) => c.path === '/revoke');
      expect(revokes.map((c) => [JSON.parse(c.body).requestId, c.verified])).toEqual([[orphan, true]]);

      const events = await audit.listByRequest(orphan);
      expect(events).toEqual([
        expect.objectContaining({
          id: `reconcile:${orphan}:orphan`,
          type: 'access.orphan_revoked',
          tenant: 'contoso',
          actor: 'system',
          // The webhook protocol has no verify call: the revoke's 2xx is all the receiver says.
          details: expect.objectContaining({ provider: 'webhook', target: 'contoso-hooks', verified: false, reason: expect.stringMatching(/not found/) }),
        }),
      ]);
      expect(await metric('lockbox_orphans_revoked_total', { provider: 'webhook' })).toBe(revokedBefore + 1);
      expect(await audit.listByRequest(owned)).not.toContainEqual(expect.objectContaining({ type: 'access.orphan_revoked' }));
    } finally {
      await temporal.workflow.getHandle(owned).terminate('test cleanup');
      for (const id of [orphan, owned, foreign]) receiver.grants.delete(id);
      builtin.delete(owned);
    }
  });
});

describe('a webhook target without a list call', () => {
  it('is reported and counted as not reconcilable, not silently skipped, and does not fail the run', async () => {
    const report = await reconcile();
    expect(report.ok, JSON.stringify(report)).toBe(true);
    expect(report.notReconcilable).toEqual(['legacy-hooks']);
    expect(report.targets.find((t) => t.target === 'legacy-hooks')).toMatchObject({
      provider: 'webhook',
      notReconcilable: true,
      skipped: expect.stringMatching(/^not reconcilable: the webhook target has no listUrl/),
    });
    expect(hooksIn(report).notReconcilable).toBeUndefined();
    expect(await metric('lockbox_reconcile_targets_not_reconcilable')).toBe(1);
  });
});

describe('a hostile list answer', () => {
  const json = { 'Content-Type': 'application/json' };
  it.each([
    ['oversized', { status: 200, headers: json, body: JSON.stringify({ grants: [], pad: 'x'.repeat(MAX_LIST_ANSWER_BYTES) }) }, 'webhook list: response_too_large'],
    ['malformed', { status: 200, headers: json, body: '{"grants": [{"requestId": "req-contoso-../../etc"}]}' }, 'webhook list: target_invalid_answer'],
    ['a redirect to an internal address', { status: 307, headers: { Location: 'http://169.254.169.254/latest/meta-data/' } }, 'webhook list: redirect_refused (HTTP 307)'],
  ])('(%s) fails the target with a clear error at once, and revokes nothing', async (_what, answer, error) => {
    const orphan = `req-contoso-${ulid()}`;
    heldAtReceiver(orphan);
    const failuresBefore = await metric('lockbox_reconcile_failures_total', { stage: 'target' });
    try {
      receiver.script.push(answer);
      const report = await reconcile();
      expect(report.ok).toBe(false);
      expect(hooksIn(report)).toMatchObject({ error, granted: 0, orphans: [] });
      // Refused once, not retried (a retry would have read the receiver's honest answer and revoked).
      expect(receiver.calls.map((c) => c.path)).toEqual(['/list']);
      expect(receiver.grants.has(orphan)).toBe(true);
      expect(await audit.listByRequest(orphan)).toEqual([]);
      expect(await metric('lockbox_reconcile_failures_total', { stage: 'target' })).toBe(failuresBefore + 1);
    } finally {
      receiver.grants.delete(orphan);
    }
  });
});
