import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
import { NonRetryableGrantError } from '../src/adapters/grants/errors.js';
import type { Store } from '../src/ports/store.js';
import type { Notifier } from '../src/ports/notifier.js';
import { FIRST_NOTICE_WITHIN_MS, OUTCOME_NOT_DELIVERED } from '../src/domain/messages.js';
import { AUDIT_HOLD_MS } from '../src/workflows/audit-journal.js';
import { ApplicationFailure } from '@temporalio/activity';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { normalizePolicy, type ReminderRule } from '../src/domain/policy.js';
import { catalogOf, type DeclaredTarget, type ResourceTarget } from '../src/domain/resources.js';
import { publicKeyOf, signDecision, signRequest } from '../src/domain/ed25519.js';
import { Registry } from 'prom-client';
import { createGrantMetrics } from '../src/main/metrics.js';
import { eventually } from './support/api.js';
import * as defs from '../src/workflows/definitions.js';

/**
 * The real workflow on the real Temporal server, with a worker of its own whose grant target misbehaves the way real
 * targets do: unreachable on grant, failing for a while on revoke.
 */
const stack = inject('stack');
/** A declared target (its calls reach `flaky` below): granted through the usual activity, never from the workflow task. */
const FLAKY_TARGET: DeclaredTarget = { name: 'flaky', kind: 'webhook', tenants: ['contoso'], grantUrl: 'https://flaky.example/grant', revokeUrl: 'https://flaky.example/revoke', secret: 'LOCKBOX_TARGET_FLAKY', timeoutMs: 2_000 };
const AT_FLAKY: ResourceTarget = { provider: 'catalog', name: 'flaky' };
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
const behaviour = {
  grantFails: false,
  /** A permanent refusal at the target (a 403, bad credentials): never retried. */
  grantRefused: false,
  grantDelayMs: 0,
  /** Grant calls that fail (transiently) before the target grants again. */
  grantFailuresLeft: 0,
  revokeFailuresLeft: 0,
  revokeCalls: 0,
  /** What reached the target, in order: a grant call's end is logged when the call returns. */
  calls: [] as string[],
  /** Recipients whose channel refuses every message. */
  unreachable: new Set<string>(),
  /** Every delivery that reached the channel: `<recipient> <message id>`. */
  delivered: [] as string[],
  /** When set, `sendOutcome` sends nothing and fails with these details (an answer the workflow must not trust). */
  outcomeFailureDetails: null as unknown[] | null,
  /** Recipients whose channel takes this long, once, before it delivers. */
  slowOnce: new Map<string, number>(),
  /** Exports of a batch that ends a trail (`request.closed`) the sink refuses before it takes one. */
  closingExportFailuresLeft: 0,
};
const reset = () =>
  Object.assign(behaviour, { grantFails: false, grantRefused: false, grantDelayMs: 0, grantFailuresLeft: 0, revokeFailuresLeft: 0, revokeCalls: 0, calls: [], unreachable: new Set(), delivered: [], outcomeFailureDetails: null, slowOnce: new Map(), closingExportFailuresLeft: 0 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockbox-failures-'));
  store = openSqliteStore(join(dir, 'state.db'));
  const builtin = createBuiltinGrantProvider(store);
  const flaky: GrantProvider = {
    async grant(input) {
      behaviour.calls.push(`grant:start:${input.requestId}`);
      if (behaviour.grantDelayMs) await new Promise((r) => setTimeout(r, behaviour.grantDelayMs));
      if (behaviour.grantFails) throw new Error('connect ECONNREFUSED 127.0.0.1:1 (target unreachable)');
      if (behaviour.grantFailuresLeft > 0) {
        behaviour.grantFailuresLeft -= 1;
        throw new Error('database is locked (SQLITE_BUSY)');
      }
      if (behaviour.grantRefused) throw new NonRetryableGrantError('target_refused (HTTP 403)');
      const out = await builtin.grant(input);
      behaviour.calls.push(`grant:end:${input.requestId}`);
      return out;
    },
    async revoke(input) {
      behaviour.calls.push(`revoke:${input.requestId}`);
      behaviour.revokeCalls += 1;
      if (behaviour.revokeFailuresLeft > 0) {
        behaviour.revokeFailuresLeft -= 1;
        throw new Error('target throttled the revoke (429)');
      }
      return builtin.revoke(input);
    },
  };
  const jsonl = openJsonlAuditSink(join(dir, 'audit.jsonl'));
  const audit: typeof jsonl = {
    ...jsonl,
    async append(events) {
      if (behaviour.closingExportFailuresLeft > 0 && events.some((e) => e.type === 'request.closed')) {
        behaviour.closingExportFailuresLeft -= 1;
        throw new Error('audit sink unavailable (503)');
      }
      return jsonl.append(events);
    },
  };
  const inApp = createStoreNotifier(store);
  const notifier: Notifier = {
    async notify(n) {
      const slow = behaviour.slowOnce.get(n.recipient);
      if (slow !== undefined) {
        behaviour.slowOnce.delete(n.recipient);
        await new Promise((r) => setTimeout(r, slow));
      }
      if (behaviour.unreachable.has(n.recipient)) throw new Error(`channel refused ${n.recipient}`);
      behaviour.delivered.push(`${n.recipient} ${n.id}`);
      await inApp.notify(n);
    },
  };
  await store.upsertUser({ id: 'ada@contoso.com', roles: [], tenantRoles: [{ tenant: 'contoso', role: 'admin' }], lastSeenAt: new Date().toISOString() });
  const activities = createActivities({
    store,
    trustedKeys: { [key.keyId]: publicKeyOf(key.secretKey) },
    grants: { providerFor: () => flaky, endExpiredSessions: async () => [], close: async () => undefined },
    // Requests granted through a declared target go to `flaky` as well: a target that can be slow or down.
    targets: catalogOf([FLAKY_TARGET]),
    metrics,
    notifier,
    audit,
    log: quiet,
  });
  nativeConnection = await NativeConnection.connect({ address: stack.temporalAddress });
  worker = await Worker.create({
    connection: nativeConnection,
    namespace: stack.namespace,
    taskQueue: TASK_QUEUE,
    workflowsPath: fileURLToPath(new URL('../src/workflows/index.ts', import.meta.url)),
    activities: {
      ...activities,
      // The real activity, with its failure made final: the workflow then sees what it sees after the last of the
      // retries (about two minutes of them in production) without waiting for them.
      // With the same failure: the request's end goes the usual way, to `sendOutcome` below.
      async finishRequest(input: Parameters<typeof activities.finishRequest>[0]) {
        if (behaviour.outcomeFailureDetails) {
          throw ApplicationFailure.create({ message: 'outcome not delivered', type: OUTCOME_NOT_DELIVERED, details: [behaviour.outcomeFailureDetails], nonRetryable: true });
        }
        return activities.finishRequest(input);
      },
      async sendOutcome(input: Parameters<typeof activities.sendOutcome>[0]) {
        if (behaviour.outcomeFailureDetails) {
          throw ApplicationFailure.create({ message: 'outcome not delivered', type: OUTCOME_NOT_DELIVERED, details: [behaviour.outcomeFailureDetails], nonRetryable: true });
        }
        try {
          await activities.sendOutcome(input);
        } catch (err) {
          if (!(err instanceof ApplicationFailure)) throw err;
          throw ApplicationFailure.create({ message: err.message, type: err.type ?? undefined, details: err.details as unknown[], nonRetryable: true });
        }
      },
    },
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

/** A request as the API files it: signed with the key this test's worker trusts. No target: Lockbox's own store. */
function newRequest(durationMs: number, grantDeadlineMs = 4_000, target?: ResourceTarget, lifetime: { requestTtlMs?: number; reminders?: ReminderRule } = {}) {
  const input = {
    id: `req-contoso-${ulid()}`,
    tenant: 'contoso',
    resource: 'mailbox:flaky@contoso.com',
    requester: 'eve@lockbox.dev',
    reason: 'failure drill',
    ticket: null,
    durationMs,
    requestTtlMs: lifetime.requestTtlMs ?? 3_600_000,
    createdAt: new Date().toISOString(),
    policy: normalizePolicy({ tenant: 'contoso', customerApproval: true, approvers: ['alice@contoso.com'], quorum: 1, ...(lifetime.reminders ? { reminders: lifetime.reminders } : {}) }),
    grantDeadlineMs,
    ...(target ? { target } : {}),
  };
  return { ...input, proof: signRequest(input, key) };
}

const approve = (input: ReturnType<typeof newRequest>, runId: string) =>
  signDecision(
    { requestId: input.id, runId, action: 'approve', actor: 'alice@contoso.com', note: null, policy: input.policy, issuedAt: new Date().toISOString(), nonce: ulid() },
    key,
  );

describe('when the grant target misbehaves', () => {
  it('retries a transient failure until the target\'s deadline, then ends failed once, audited and told, nothing left', async () => {
    reset();
    behaviour.grantFails = true;
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 4_000, AT_FLAKY);
    const { runId } = await lockbox.start(input, true);
    // The approve answers without waiting for the target (granting), or once the deadline has already ended it.
    const answered = await lockbox.decide(input.id, 'approve', approve(input, runId!));
    expect(['granting', 'failed']).toContain(answered.status);
    const after = await eventually(() => lockbox.get(input.id), (r) => r.status === 'failed', 30_000);
    expect(after.status).toBe('failed');
    expect(after.access).toBeNull();
    expect(after.failure).toContain('grant_deadline_passed');
    const attempts = (await metrics.grants.get()).values.find((v) => v.labels.outcome === 'failed')?.value ?? 0;
    expect(attempts).toBeGreaterThanOrEqual(2);
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'access.grant_failed'));
    expect(audit.filter((e) => e.type === 'access.grant_failed')).toHaveLength(1);
    expect(await store.findActiveGrants({ tenant: 'contoso', resource: input.resource, principal: input.requester, now: new Date().toISOString() })).toEqual([]);
    // The clean-up revoke ran, after the last grant attempt.
    expect(behaviour.calls.at(-1)).toBe(`revoke:${input.id}`);
    // The requester and the approver hear the outcome.
    const told = async (who: string) => (await store.listNotifications({ recipient: who, limit: 20 })).filter((n) => n.requestId === input.id && n.kind === 'outcome');
    expect((await eventually(() => told('eve@lockbox.dev'), (ns) => ns.length > 0))[0]?.subject).toContain('failed');
    expect((await eventually(() => told('alice@contoso.com'), (ns) => ns.length > 0))[0]?.body).toContain('grant_deadline_passed');
  });

  it('ends at once on a permanent refusal at the target: one attempt, the refusal code as the reason', async () => {
    reset();
    behaviour.grantRefused = true;
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000, AT_FLAKY);
    const { runId } = await lockbox.start(input, true);
    const started = Date.now();
    const after = await lockbox.decide(input.id, 'approve', approve(input, runId!));
    expect(after.status).toBe('failed');
    expect(after.failure).toBe('target_refused (HTTP 403)');
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(behaviour.calls.filter((c) => c.startsWith('grant:start'))).toHaveLength(1);
  });

  it('answers an approve with granting while the target is slow, then the request becomes active', async () => {
    reset();
    behaviour.grantDelayMs = 15_000;
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000, AT_FLAKY);
    const { runId } = await lockbox.start(input, true);
    const started = Date.now();
    const answered = await lockbox.decide(input.id, 'approve', approve(input, runId!));
    expect(answered.status).toBe('granting');
    expect(Date.now() - started).toBeLessThan(15_000);
    const active = await eventually(() => lockbox.get(input.id), (r) => r.status === 'active', 30_000);
    expect(active.status).toBe('active');
    await lockbox.decide(input.id, 'revoke', signDecision({ requestId: input.id, runId: runId!, action: 'revoke', actor: 'alice@contoso.com', note: 'done', policy: input.policy, issuedAt: new Date().toISOString(), nonce: ulid() }, key));
  });

  it('a revoke while granting stops the grant; the clean-up revoke runs after the grant call, so nothing is left', async () => {
    reset();
    behaviour.grantDelayMs = 15_000;
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000, AT_FLAKY);
    const { runId } = await lockbox.start(input, true);
    expect((await lockbox.decide(input.id, 'approve', approve(input, runId!))).status).toBe('granting');
    const revoke = signDecision({ requestId: input.id, runId: runId!, action: 'revoke', actor: 'alice@contoso.com', note: 'wrong ticket', policy: input.policy, issuedAt: new Date().toISOString(), nonce: ulid() }, key);
    const after = await lockbox.decide(input.id, 'revoke', revoke);
    expect(after.status).toBe('revoked');
    // Either the cancellation reached the grant call (no access ever held), or the call had already succeeded at
    // the target (access held, then revoked): both end revoked, and the revoke comes after the call.
    expect(after.access === null || after.access.revokedAt !== null).toBe(true);
    // The grant call finished at the target before the clean-up revoke started: no grant lands after its revoke.
    const grantEnd = behaviour.calls.indexOf(`grant:end:${input.id}`);
    const revokeAt = behaviour.calls.lastIndexOf(`revoke:${input.id}`);
    expect(grantEnd, behaviour.calls.join(' ')).toBeGreaterThanOrEqual(0);
    expect(revokeAt).toBeGreaterThan(grantEnd);
    expect(await store.findActiveGrants({ tenant: 'contoso', resource: input.resource, principal: input.requester, now: new Date().toISOString() })).toEqual([]);
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'access.revoked'));
    const revokedEvent = audit.find((e) => e.type === 'access.revoked');
    expect(revokedEvent).toMatchObject({ actor: 'alice@contoso.com' });
    expect(['revoked_while_granting', 'revoked']).toContain(revokedEvent?.details.cause);
    expect(audit.some((e) => e.type === 'access.granted')).toBe(revokedEvent?.details.cause === 'revoked');
  });

  it('a clean-up that cannot confirm in time is left to the reconciler: audited, and the alarm metric counts it', async () => {
    reset();
    behaviour.grantRefused = true;
    behaviour.revokeFailuresLeft = 1_000;
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 3_000, AT_FLAKY);
    const { runId } = await lockbox.start(input, true);
    await lockbox.decide(input.id, 'approve', approve(input, runId!));
    const after = await eventually(() => lockbox.get(input.id), (r) => r.status === 'failed', 30_000);
    expect(after.status).toBe('failed');
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'access.cleanup_unconfirmed'));
    expect(audit.filter((e) => e.type === 'access.cleanup_unconfirmed')).toHaveLength(1);
    expect((await metrics.cleanupUnconfirmed!.get()).values[0]?.value).toBeGreaterThanOrEqual(1);
    behaviour.revokeFailuresLeft = 0;
  });

  it('keeps retrying a failing revoke until it succeeds; the grant itself ends at endsAt meanwhile', async () => {
    reset();
    behaviour.revokeFailuresLeft = 2;
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(1_000);
    const { runId } = await lockbox.start(input, true);
    const builtinRevokeFailures = async () => (await metrics.revokeFailures.get()).values.filter((v) => v.labels.provider === 'builtin');
    const revokeFailuresAtStart = (await builtinRevokeFailures())[0]?.value ?? 0;
    const active = await lockbox.decide(input.id, 'approve', approve(input, runId!));
    expect(active.status).toBe('active');
    const endsAt = active.access?.endsAt ?? '';
    // While the revoke is still failing, the grant store already denies: the end time is enforced at the target.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(endsAt) - Date.now()) + 50));
    const left = await store.findActiveGrants({ tenant: 'contoso', resource: input.resource, principal: input.requester, now: new Date().toISOString() });
    expect(left, JSON.stringify({ left, calls: behaviour.calls })).toEqual([]);
    const done = await eventually(() => lockbox.get(input.id), (r) => r.status === 'completed', 30_000);
    expect(done.status).toBe('completed');
    expect(behaviour.revokeCalls).toBe(3);
    // The failing revoke was visible while it was retried, not only in the log.
    const failuresBefore: number = revokeFailuresAtStart;
    expect(await builtinRevokeFailures()).toEqual([expect.objectContaining({ value: failuresBefore + 2, labels: { provider: 'builtin' } })]);
    expect((await metricsRegistry.metrics())).toMatch(/lockbox_revokes_total\{provider="builtin"\} \d/);
    expect((await store.getGrant(input.id))?.revokedAt).not.toBeNull();
  });
});

describe('when an outcome cannot be delivered', () => {
  it('tells the requester, the approvers of a failed grant and the tenant admins in one activity, then again only those it could not reach; each group that cannot be reached is audited on its own', async () => {
    reset();
    behaviour.grantRefused = true;
    behaviour.unreachable = new Set(['eve@lockbox.dev', 'ada@contoso.com']);
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000);
    const { runId } = await lockbox.start(input, true);
    expect((await lockbox.decide(input.id, 'approve', approve(input, runId!))).status).toBe('failed');
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'request.closed'));
    const failed = audit.filter((e) => e.type === 'notification.failed').map((e) => e.details);
    expect(failed).toEqual([
      { recipients: ['eve@lockbox.dev'], kind: 'outcome', error: 'channel refused eve@lockbox.dev' },
      { recipients: ['tenant admins'], kind: 'outcome', error: 'channel refused ada@contoso.com' },
    ]);
    expect(audit.at(-1)?.type).toBe('request.closed');
    // The approver of the failed grant was told, once; nobody else was reached.
    expect(behaviour.delivered.filter((d) => d.includes(`${input.id}:outcome`))).toEqual([`alice@contoso.com ${input.id}:outcome:failed:alice@contoso.com`]);
    // The approvers' notice went as a local activity (no activity task); one activity for the whole outcome with the
    // trail's end, then one (retried) for the groups it could not reach.
    const scheduled = (await client.workflow.getHandle(input.id).fetchHistory()).events!.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    expect(scheduled.filter((name) => ['finishRequest', 'sendOutcome', 'sendNotifications', 'notifyTenantAdmins'].includes(name))).toEqual(['finishRequest', 'sendOutcome']);
    // The sink holds the trail once, in order, ending with request.closed.
    expect((await sinkTrail(input.id)).map((e) => e.type)).toEqual(audit.map((e) => e.type));
  });

  it('audits every group as failed when the failure names no group it sent (out of range, malformed): a failure is never left unaudited', async () => {
    reset();
    behaviour.outcomeFailureDetails = [{ group: 99, error: 'not a group' }, { group: -1, error: 'nor this' }, { group: '0', error: 'a string' }, null];
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000);
    const { runId } = await lockbox.start(input, true);
    await lockbox.decide(input.id, 'reject', signDecision({ requestId: input.id, runId: runId!, action: 'reject', actor: 'alice@contoso.com', note: 'no', policy: input.policy, issuedAt: new Date().toISOString(), nonce: ulid() }, key));
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'request.closed'));
    expect(audit.filter((e) => e.type === 'notification.failed').map((e) => e.details)).toEqual([
      { recipients: ['eve@lockbox.dev'], kind: 'outcome', error: 'outcome not delivered' },
      { recipients: ['tenant admins'], kind: 'outcome', error: 'outcome not delivered' },
    ]);
  });

  it('tells the tenant admins every outcome, and the requester, each once', async () => {
    reset();
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000);
    const { runId } = await lockbox.start(input, true);
    await lockbox.decide(input.id, 'reject', signDecision({ requestId: input.id, runId: runId!, action: 'reject', actor: 'alice@contoso.com', note: 'no', policy: input.policy, issuedAt: new Date().toISOString(), nonce: ulid() }, key));
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'request.closed'));
    expect(audit.filter((e) => e.type === 'notification.failed')).toEqual([]);
    expect(behaviour.delivered.filter((d) => d.includes(`${input.id}:outcome`)).sort()).toEqual(
      [`ada@contoso.com ${input.id}:outcome:rejected:tenant admins:admin:ada@contoso.com`, `eve@lockbox.dev ${input.id}:outcome:rejected`].sort(),
    );
  });
});

/** A request's history: its events, the text of each marker (a local activity's name and answer), the activities scheduled. */
async function historyOf(id: string) {
  const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
  const markers = events
    .filter((e) => e.markerRecordedEventAttributes)
    .map((e) => Object.values(e.markerRecordedEventAttributes!.details ?? {}).flatMap((p) => p.payloads ?? []).map((p) => Buffer.from(p.data ?? []).toString('utf8')).join(' '));
  const scheduled = events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
  return { events, markers, scheduled };
}
type HistoryEvent = Awaited<ReturnType<typeof historyOf>>['events'][number];

/** A duration in history (seconds and nanos) in milliseconds. */
const msOf = (d: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(d?.seconds ?? 0) * 1000 + Math.round((d?.nanos ?? 0) / 1e6);

/** An audit hold's timer (AUDIT_HOLD_MS), not one of the workflow's own. */
function isHoldTimer(e: HistoryEvent): boolean {
  const t = e.timerStartedEventAttributes?.startToFireTimeout;
  return Boolean(t) && msOf(t) === AUDIT_HOLD_MS;
}

/** The `exportAudit` activities scheduled, in order: each one's event id and the types of the batch it exports. */
function exportBatches(events: HistoryEvent[]): Array<{ eventId: number; types: string[] }> {
  const converter = client.options.loadedDataConverter.payloadConverter;
  return events
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'exportAudit')
    .map((e) => ({
      eventId: Number(e.eventId),
      types: (converter.fromPayload(e.activityTaskScheduledEventAttributes!.input!.payloads![0]!) as Array<{ type: string }>).map((x) => x.type),
    }));
}

describe("a grant in Lockbox's own store, from the workflow task that approved it", () => {
  const activeGrants = (input: ReturnType<typeof newRequest>) =>
    store.findActiveGrants({ tenant: 'contoso', resource: input.resource, principal: input.requester, now: new Date().toISOString() });
  const revokeNow = (input: ReturnType<typeof newRequest>, runId: string) =>
    signDecision({ requestId: input.id, runId, action: 'revoke', actor: 'alice@contoso.com', note: 'done', policy: input.policy, issuedAt: new Date().toISOString(), nonce: ulid() }, key);

  it('is a local activity: the approve answers active with no grant activity task, and the grant is in the store', async () => {
    reset();
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000);
    const { runId } = await lockbox.start(input, true);
    const answered = await lockbox.decide(input.id, 'approve', approve(input, runId!));
    expect(answered.status).toBe('active');
    const [grant] = await activeGrants(input);
    expect(grant).toMatchObject({ requestId: input.id, grantedAt: answered.access!.grantedAt, endsAt: answered.access!.endsAt });
    const { markers, scheduled } = await historyOf(input.id);
    expect(markers.filter((m) => m.includes('grantAccessNow'))).toHaveLength(1);
    expect(markers.find((m) => m.includes('grantAccessNow'))).toContain('"granted":true');
    expect(scheduled).not.toContain('grantAccess');
    expect(behaviour.calls.filter((c) => c.startsWith('grant:start'))).toEqual([`grant:start:${input.id}`]);
    const after = await lockbox.decide(input.id, 'revoke', revokeNow(input, runId!));
    expect(after.status).toBe('revoked');
    expect(await activeGrants(input)).toEqual([]);
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'request.closed'));
    expect(audit.filter((e) => e.type === 'access.granted')).toHaveLength(1);
  });

  it('goes the usual way when the local try fails: the grant activity grants, once in the trail', async () => {
    reset();
    behaviour.grantFailuresLeft = 1;
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000);
    const { runId } = await lockbox.start(input, true);
    const answered = await lockbox.decide(input.id, 'approve', approve(input, runId!));
    expect(answered.status).toBe('active');
    const { markers, scheduled } = await historyOf(input.id);
    expect(markers.find((m) => m.includes('grantAccessNow'))).toContain('"granted":false');
    expect(scheduled.filter((name) => name === 'grantAccess')).toHaveLength(1);
    expect(behaviour.calls.filter((c) => c.startsWith('grant:end'))).toEqual([`grant:end:${input.id}`]);
    expect(await activeGrants(input)).toHaveLength(1);
    await lockbox.decide(input.id, 'revoke', revokeNow(input, runId!));
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'request.closed'));
    expect(audit.filter((e) => e.type === 'access.granted')).toHaveLength(1);
    expect(audit.filter((e) => e.type === 'access.grant_failed')).toEqual([]);
  });

  it('is never tried for a declared target: the grant activity calls it, once', async () => {
    reset();
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000, AT_FLAKY);
    const { runId } = await lockbox.start(input, true);
    expect((await lockbox.decide(input.id, 'approve', approve(input, runId!))).status).toBe('active');
    const { markers, scheduled } = await historyOf(input.id);
    expect(markers.filter((m) => m.includes('grantAccessNow'))).toEqual([]);
    expect(scheduled.filter((name) => name === 'grantAccess')).toHaveLength(1);
    expect(behaviour.calls.filter((c) => c.startsWith('grant:start'))).toEqual([`grant:start:${input.id}`]);
    await lockbox.decide(input.id, 'revoke', revokeNow(input, runId!));
  });
});

describe("the approvers' first notice", () => {
  const approvalNeeded = (input: ReturnType<typeof newRequest>) => `alice@contoso.com ${input.id}:approval_needed:alice@contoso.com`;

  /** What the request's history shows of its first notice: the local activity's answer and the export batches. */
  async function firstNoticeOf(id: string) {
    const { events, markers, scheduled } = await historyOf(id);
    const answers = markers.filter((text) => text.includes('sendNoticeNow'));
    const exports = exportBatches(events);
    // Hold timers (AUDIT_HOLD_MS) started before the first export was scheduled.
    const firstExportId = exports[0]?.eventId ?? Infinity;
    const holdsBeforeFirstExport = events.filter((e) => isHoldTimer(e) && Number(e.eventId) < firstExportId).length;
    return { answers, scheduled, exports, holdsBeforeFirstExport };
  }

  const cleanUp = async (input: ReturnType<typeof newRequest>, runId: string) => {
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    await lockbox.decide(input.id, 'reject', signDecision({ requestId: input.id, runId, action: 'reject', actor: 'alice@contoso.com', note: 'done', policy: input.policy, issuedAt: new Date().toISOString(), nonce: ulid() }, key));
  };

  it('goes out as a local activity of the first workflow task: no activity task, its event in the first export with request.created', async () => {
    reset();
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000);
    const { runId } = await lockbox.start(input, true);
    await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'approvers.notified'));
    expect(behaviour.delivered.filter((d) => d.includes(input.id))).toEqual([approvalNeeded(input)]);
    const seen = await eventually(() => firstNoticeOf(input.id), (s) => s.exports.length > 0);
    expect(seen.answers).toHaveLength(1);
    expect(seen.answers[0]).toContain('"delivered":true');
    expect(seen.scheduled).not.toContain('sendNotifications');
    // The first export carries the notice's event, with no hold timer: the event was there already. (Normally in the
    // first workflow task; Temporal may split that task on a busy machine, which changes nothing here.)
    expect(seen.exports[0]!.types).toEqual(['request.created', 'approvers.notified']);
    expect(seen.holdsBeforeFirstExport).toBe(0);
    await cleanUp(input, runId!);
  });

  it('goes the usual way when the channel refuses it: the retried activity delivers it once the channel is back, audited once', async () => {
    reset();
    behaviour.unreachable = new Set(['alice@contoso.com']);
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000);
    const { runId } = await lockbox.start(input, true);
    const refused = await eventually(() => firstNoticeOf(input.id), (s) => s.scheduled.includes('sendNotifications'));
    expect(refused.answers[0]).toContain('"delivered":false');
    expect(refused.answers[0]).toContain('channel refused alice@contoso.com');
    behaviour.unreachable.clear(); // the channel is back before the activity's next try
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'approvers.notified'));
    expect(audit.filter((e) => e.type === 'approvers.notified')).toHaveLength(1);
    expect(audit.filter((e) => e.type === 'notification.failed')).toEqual([]);
    expect(behaviour.delivered.filter((d) => d.includes(input.id))).toEqual([approvalNeeded(input)]);
    // The trail did not wait for the retries: request.created went out alone, the notice's event later.
    const seen = await eventually(() => firstNoticeOf(input.id), (s) => s.exports.length > 1);
    expect(seen.exports.map((e) => e.types)).toEqual([['request.created'], ['approvers.notified']]);
    await cleanUp(input, runId!);
  });

  it('is not awaited past FIRST_NOTICE_WITHIN_MS on a slow channel: the workflow takes decisions in and sends it the usual way', async () => {
    reset();
    behaviour.slowOnce = new Map([['alice@contoso.com', FIRST_NOTICE_WITHIN_MS + 1_500]]);
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000);
    const { runId } = await lockbox.start(input, true);
    const slow = await eventually(() => firstNoticeOf(input.id), (s) => s.answers.length > 0);
    expect(slow.answers[0]).toContain(`not delivered within ${FIRST_NOTICE_WITHIN_MS} ms`);
    expect(slow.scheduled).toContain('sendNotifications');
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'approvers.notified'));
    expect(audit.filter((e) => e.type === 'approvers.notified')).toHaveLength(1);
    // Decisions are taken in meanwhile.
    expect((await lockbox.decide(input.id, 'approve', approve(input, runId!))).status).toBe('active');
  });

  it('is not sent at all for a request whose signature does not verify: no local activity, no message', async () => {
    reset();
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const { proof: _proof, ...unsigned } = newRequest(60_000, 60_000);
    const forged = { ...unsigned, proof: signRequest(unsigned, { keyId: key.keyId, secretKey: bytesToHex(ed25519.utils.randomSecretKey()) }) };
    await lockbox.start(forged, true);
    const result = (await client.workflow.getHandle(forged.id).result()) as { status: string };
    expect(result.status).toBe('failed');
    const seen = await firstNoticeOf(forged.id);
    expect(seen.answers).toEqual([]);
    expect(seen.scheduled).not.toContain('sendNotifications');
    expect(behaviour.delivered.filter((d) => d.includes(`${forged.id}:approval_needed`))).toEqual([]);
  });
});

describe("a pending request's expiry", () => {
  /** The approval wait's timers (not the audit's hold timers), in the order they were started: how long each was set for. */
  async function waitTimers(id: string): Promise<number[]> {
    const { events } = await historyOf(id);
    return events.flatMap((e) => (e.timerStartedEventAttributes && !isHoldTimer(e) ? [msOf(e.timerStartedEventAttributes.startToFireTimeout)] : []));
  }

  it('has one timer, set in the first task and kept while reminders come and go: never set again from a later task', async () => {
    // Set again from a reminder's task, it would fall due late by that task's length: the server starts a timer when
    // its task completes. A burst of reminders makes those tasks seconds long.
    reset();
    const ttlMs = 4_000;
    const input = newRequest(60_000, 60_000, undefined, { requestTtlMs: ttlMs, reminders: { count: 2, everyMs: 1_000 } });
    await createLockboxClient(client, TASK_QUEUE).start(input, true);
    const result = (await client.workflow.getHandle(input.id).result()) as { status: string; expiresAt: string };
    expect(result.status).toBe('expired');
    const timers = await waitTimers(input.id);
    // The expiry's timer first (the whole lifetime, less the first task), then the two reminders' (1 s each); none
    // for the expiry after them.
    expect(timers[0]).toBeGreaterThan(ttlMs - 1_000);
    expect(timers.filter((ms) => ms > 1_500)).toHaveLength(1);
    const audit = await createLockboxClient(client, TASK_QUEUE).audit(input.id);
    expect(audit.filter((e) => e.type === 'approvers.reminded')).toHaveLength(2);
    expect(Date.parse(audit.find((e) => e.type === 'request.expired')!.time)).toBeGreaterThanOrEqual(Date.parse(result.expiresAt));
  });
});

describe('a reminder', () => {
  const reminded = (input: ReturnType<typeof newRequest>) => `alice@contoso.com ${input.id}:reminder:alice@contoso.com`;
  /** What the history shows of a request's messages: local sends' answers, the activities, the export batches, the hold timers. */
  async function messagesOf(id: string) {
    const { events, markers, scheduled } = await historyOf(id);
    const exports = exportBatches(events).map((b) => b.types);
    const holds = events.filter(isHoldTimer).length;
    return { sentNow: markers.filter((m) => m.includes('sendNoticeNow')), scheduled, exports, holds };
  }

  it('goes out as a local activity of the task its timer fired in: no activity task, no hold timer, its event exported alone', async () => {
    reset();
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000, undefined, { reminders: { count: 1, everyMs: 1_000 } });
    const { runId } = await lockbox.start(input, true);
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'approvers.reminded'));
    expect(behaviour.delivered.filter((d) => d.includes(`${input.id}:reminder`))).toEqual([reminded(input)]);
    const seen = await eventually(() => messagesOf(input.id), (s) => s.exports.some((b) => b.includes('approvers.reminded')));
    // The first notice's answer and the reminder's, each delivered.
    expect(seen.sentNow).toHaveLength(2);
    expect(seen.sentNow[1]).toContain('"delivered":true');
    expect(seen.scheduled.filter((name) => name !== 'exportAudit')).toEqual([]);
    expect(seen.holds).toBe(0);
    expect(seen.exports.at(-1)).toEqual(['approvers.reminded']);
    // Its time is the delivery's, never before it fell due (a second after the request was filed).
    const event = audit.find((e) => e.type === 'approvers.reminded')!;
    expect(Date.parse(event.time)).toBeGreaterThanOrEqual(Date.parse(input.createdAt) + 1_000);
    expect(event.details).toEqual({ stage: 'customer', recipients: ['alice@contoso.com'] });
    await lockbox.decide(input.id, 'reject', signDecision({ requestId: input.id, runId: runId!, action: 'reject', actor: 'alice@contoso.com', note: 'done', policy: input.policy, issuedAt: new Date().toISOString(), nonce: ulid() }, key));
  });

  it('goes the usual way when the channel refuses it: the retried activity delivers it once the channel is back, audited once', async () => {
    reset();
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000, undefined, { reminders: { count: 1, everyMs: 1_500 } });
    const { runId } = await lockbox.start(input, true);
    await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'approvers.notified'));
    behaviour.unreachable = new Set(['alice@contoso.com']);
    const refused = await eventually(() => messagesOf(input.id), (s) => s.scheduled.includes('sendNotifications'));
    expect(refused.sentNow).toHaveLength(2);
    expect(refused.sentNow[1]).toContain('channel refused alice@contoso.com');
    behaviour.unreachable.clear(); // the channel is back before the activity's next try
    const audit = await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'approvers.reminded'));
    expect(audit.filter((e) => e.type === 'approvers.reminded')).toHaveLength(1);
    expect(audit.filter((e) => e.type === 'notification.failed')).toEqual([]);
    expect(behaviour.delivered.filter((d) => d.includes(`${input.id}:reminder`))).toEqual([reminded(input)]);
    await lockbox.decide(input.id, 'reject', signDecision({ requestId: input.id, runId: runId!, action: 'reject', actor: 'alice@contoso.com', note: 'done', policy: input.policy, issuedAt: new Date().toISOString(), nonce: ulid() }, key));
  });
});

/** What the JSON Lines sink holds of a request's trail, in file order; each event id once (asserted). */
async function sinkTrail(id: string): Promise<Array<{ id: string; seq: number; type: string; time: string }>> {
  const lines = (await readFile(join(dir, 'audit.jsonl'), 'utf8')).split('\n').filter((l) => l.trim() !== '');
  const events = lines.map((l) => JSON.parse(l) as { id: string; requestId: string; seq: number; type: string; time: string }).filter((e) => e.requestId === id);
  expect(new Set(events.map((e) => e.id)).size, 'each event once in the sink').toBe(events.length);
  return events.sort((a, b) => a.seq - b.seq);
}

describe("a request's end", () => {
  const reject = (input: ReturnType<typeof newRequest>, runId: string, signer = key) =>
    signDecision({ requestId: input.id, runId, action: 'reject', actor: 'alice@contoso.com', note: 'no', policy: input.policy, issuedAt: new Date().toISOString(), nonce: ulid() }, signer);
  /** The activities scheduled from the task that recorded the terminal event on, and the hold timers started there. */
  async function endOf(id: string, terminal: string) {
    const { events } = await historyOf(id);
    const trail = await createLockboxClient(client, TASK_QUEUE).audit(id);
    const endAt = Date.parse(trail.find((e) => e.type === terminal)!.time);
    const after = events.filter((e) => Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6) >= endAt - 5);
    return {
      scheduled: after.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []),
      holds: after.filter(isHoldTimer).length,
      trail,
    };
  }

  /** A request filed, its approvers told, then rejected: its end follows. */
  async function rejected() {
    const lockbox = createLockboxClient(client, TASK_QUEUE);
    const input = newRequest(60_000, 60_000);
    const { runId } = await lockbox.start(input, true);
    await eventually(() => lockbox.audit(input.id), (events) => events.some((e) => e.type === 'approvers.notified'));
    await lockbox.decide(input.id, 'reject', reject(input, runId!));
    return { lockbox, input, runId: runId! };
  }

  it('is one activity: the outcome told, then the last batch with request.closed exported; no export of its own, no hold timer', async () => {
    reset();
    const { input } = await rejected();
    await client.workflow.getHandle(input.id).result();
    const { scheduled, holds, trail } = await endOf(input.id, 'request.rejected');
    expect(scheduled).toEqual(['finishRequest']);
    expect(holds).toBe(0);
    expect(trail.map((e) => e.type).slice(-2)).toEqual(['request.rejected', 'request.closed']);
    expect((await sinkTrail(input.id)).map((e) => [e.seq, e.type, e.time])).toEqual(trail.map((e) => [e.seq, e.type, e.time]));
    expect(behaviour.delivered.filter((d) => d.startsWith(`eve@lockbox.dev ${input.id}:outcome`))).toEqual([`eve@lockbox.dev ${input.id}:outcome:rejected`]);
    // The request's record was kept with the last batch: its version is the whole trail.
    expect(await store.getRequestRecord(input.id)).toMatchObject({ version: trail.length, closed: true, request: { status: 'rejected' } });
    expect((await store.listRequestEvents(input.id)).map((e) => e.id)).toEqual(trail.map((e) => e.id));
  });

  it('sends a batch the sink refused the usual way, retried, without telling anyone twice', async () => {
    reset();
    behaviour.closingExportFailuresLeft = 2;
    const { input } = await rejected();
    await client.workflow.getHandle(input.id).result();
    expect(behaviour.closingExportFailuresLeft).toBe(0);
    const { scheduled, trail } = await endOf(input.id, 'request.rejected');
    expect(scheduled).toEqual(['finishRequest', 'exportAudit']);
    expect(trail.at(-1)?.type).toBe('request.closed');
    expect((await sinkTrail(input.id)).map((e) => [e.seq, e.type, e.time])).toEqual(trail.map((e) => [e.seq, e.type, e.time]));
    expect(behaviour.delivered.filter((d) => d.includes(`${input.id}:outcome`)).sort()).toEqual(
      [`ada@contoso.com ${input.id}:outcome:rejected:tenant admins:admin:ada@contoso.com`, `eve@lockbox.dev ${input.id}:outcome:rejected`].sort(),
    );
  });

  it('records what arrives while the last batch goes out after request.closed, never over its seq', async () => {
    reset();
    // The requester's channel takes a while: the end's activity is still running when the forgery arrives.
    behaviour.slowOnce.set('eve@lockbox.dev', 1_500);
    const { lockbox, input, runId } = await rejected();
    await new Promise((r) => setTimeout(r, 300));
    const forger = { keyId: key.keyId, secretKey: bytesToHex(ed25519.utils.randomSecretKey()) };
    await client.workflow.getHandle(input.id).signal(defs.rejectSignal, reject(input, runId, forger));
    await client.workflow.getHandle(input.id).result();
    const { scheduled } = await endOf(input.id, 'request.rejected');
    expect(scheduled[0]).toBe('finishRequest');
    const stored = await sinkTrail(input.id);
    expect(stored.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1));
    const types = stored.map((e) => e.type);
    expect(types.slice(-2)).toEqual(['request.closed', 'decision.rejected_unauthenticated']);
    expect((await lockbox.audit(input.id)).map((e) => e.id)).toEqual(stored.map((e) => e.id));
  });
});
