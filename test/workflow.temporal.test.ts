import { Client, Connection, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { ulid } from 'ulid';
import { type SigningKey } from '../src/domain/signing.js';
import { signDecision } from '../src/domain/ed25519.js';
import type { DecisionAction } from '../src/domain/request.js';
import { AUDIT_HOLD_MS } from '../src/workflows/audit-journal.js';
import { GRANT_ANSWER_WITHIN_MS } from '../src/client/lockbox-client.js';
import { SearchAttributes } from '../src/workflows/definitions.js';
import { WORKFLOW_STACK_FRAMES } from '../src/main/workflow-bundle.js';
import { api, eventually, requestBody } from './support/api.js';

const stack = inject('stack');
const http = api();
const eve = http.as('eve');
const alice = http.as('alice');
let client: Client;
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.connect({ address: stack.temporalAddress });
  client = new Client({ connection, namespace: stack.namespace });
});
afterAll(async () => {
  await connection?.close();
});

async function create(resource: string) {
  const res = await eve.post('/v1/requests', requestBody({ resource }));
  expect(res.status).toBe(201);
  return res.body.id as string;
}
/** The embedded API's key from the stack's data dir: signing with it is what the API does for an authorised decision. */
const signingKey = async (): Promise<SigningKey> => JSON.parse(await readFile(join(stack.dataDir, 'signing-key.json'), 'utf8'));
/** `req` is the request as the API shows it: the decision is signed for its policy and its run. */
const claims = (requestId: string, action: DecisionAction, actor: string, req: any, note: string | null = null) => ({
  requestId,
  runId: req.runId,
  action,
  actor,
  note,
  policy: req.policy,
  issuedAt: new Date().toISOString(),
  nonce: ulid(),
});
const check = (resource: string) => eve.get(`/v1/access/check?tenant=contoso&resource=${encodeURIComponent(resource)}`);

describe('the request as a Temporal workflow', () => {
  it('is one workflow per request with tenant, status, requester and resource search attributes', async () => {
    const id = await create('mailbox:sa@contoso.com');
    const d = await client.workflow.getHandle(id).describe();
    expect(d.type).toBe('accessRequestWorkflow');
    expect(d.taskQueue).toBe(stack.taskQueue);
    expect(d.typedSearchAttributes.get(SearchAttributes.tenant)).toBe('contoso');
    expect(d.typedSearchAttributes.get(SearchAttributes.requester)).toBe('eve@lockbox.dev');
    expect(d.typedSearchAttributes.get(SearchAttributes.resource)).toBe('mailbox:sa@contoso.com');
    await alice.post(`/v1/requests/${id}/approve`, {});
    const after = await client.workflow.getHandle(id).describe();
    expect(after.typedSearchAttributes.get(SearchAttributes.status)).toBe('active');
    const found = await eventually(
      async () => {
        const ids: string[] = [];
        for await (const w of client.workflow.list({ query: `LockboxStatus = 'active' AND LockboxResource = 'mailbox:sa@contoso.com'` })) ids.push(w.workflowId);
        return ids;
      },
      (ids) => ids.includes(id),
    );
    expect(found).toContain(id);
  });

  it('takes decisions signed by the API as signals too, under the same rules', async () => {
    const resource = 'mailbox:signal@contoso.com';
    const id = await create(resource);
    const h = client.workflow.getHandle(id);
    const key = await signingKey();
    const policy = (await eve.get(`/v1/requests/${id}`)).body;
    // Signed, but by someone who is not an approver: the request's rules refuse it.
    await h.signal('approve', signDecision(claims(id, 'approve', 'mallory@evil.example', policy), key));
    await h.signal('approve', signDecision(claims(id, 'approve', 'bob@contoso.com', policy, 'via temporal workflow signal'), key));
    const active = await eventually(() => eve.get(`/v1/requests/${id}`), (r) => r.body.status === 'active');
    expect(active.body.decisions).toEqual([expect.objectContaining({ actor: 'bob@contoso.com', action: 'approve', note: 'via temporal workflow signal' })]);
    expect((await check(resource)).body.allowed).toBe(true);
  });

  it('answers a refused signed update with a definite failure and no state change', async () => {
    const id = await create('mailbox:update@contoso.com');
    const h = client.workflow.getHandle(id);
    const key = await signingKey();
    const policy = (await eve.get(`/v1/requests/${id}`)).body;
    await expect(h.executeUpdate('approve', { args: [signDecision(claims(id, 'approve', 'eve@lockbox.dev', policy), key)] })).rejects.toBeInstanceOf(
      WorkflowUpdateFailedError,
    );
    await expect(h.executeUpdate('revoke', { args: [signDecision(claims(id, 'revoke', 'alice@contoso.com', policy), key)] })).rejects.toBeInstanceOf(
      WorkflowUpdateFailedError,
    );
    expect((await eve.get(`/v1/requests/${id}`)).body.decisions).toEqual([]);
  });

  it('refuses and audits forged decisions: an unsigned or badly signed update or signal changes nothing', async () => {
    const id = await create('mailbox:forged@contoso.com');
    const h = client.workflow.getHandle(id);
    const policy = (await eve.get(`/v1/requests/${id}`)).body;
    // Anyone with namespace access can name any actor...
    await expect(h.executeUpdate('approve', { args: [{ actor: 'alice@contoso.com' }] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    // ...or sign with a key of their own.
    const forger = { keyId: (await signingKey()).keyId, secretKey: bytesToHex(ed25519.utils.randomSecretKey()) };
    await expect(h.executeUpdate('approve', { args: [signDecision(claims(id, 'approve', 'alice@contoso.com', policy), forger)] })).rejects.toBeInstanceOf(
      WorkflowUpdateFailedError,
    );
    await h.signal('approve', { actor: 'bob@contoso.com' });
    await h.signal('approve', signDecision(claims(id, 'approve', 'bob@contoso.com', policy), forger));
    const audit = await eventually(
      () => eve.get(`/v1/requests/${id}/audit`),
      (r) => r.body.events.filter((e: any) => e.type === 'decision.rejected_unauthenticated').length === 4,
    );
    const forged = audit.body.events.filter((e: any) => e.type === 'decision.rejected_unauthenticated');
    expect(forged.map((e: any) => [e.details.via, e.details.reason])).toEqual([
      ['update', 'unsigned'],
      ['update', 'bad_signature'],
      ['signal', 'unsigned'],
      ['signal', 'bad_signature'],
    ]);
    expect(forged.map((e: any) => e.details.claimedActor)).toEqual(['alice@contoso.com', 'alice@contoso.com', 'bob@contoso.com', 'bob@contoso.com']);
    const after = await eve.get(`/v1/requests/${id}`);
    expect(after.body.status).toBe('pending');
    expect(after.body.decisions).toEqual([]);
  });

  it('has the worker check signatures: each verdict is a local activity marker in history; a forgery the rules refuse anyway leaves none', async () => {
    const id = await create('mailbox:verdict@contoso.com');
    const h = client.workflow.getHandle(id);
    const policy = (await eve.get(`/v1/requests/${id}`)).body;
    /** The marker's payloads as text: core records the activity type among them. */
    const localActivities = async () =>
      (await h.fetchHistory()).events!
        .filter((e) => e.markerRecordedEventAttributes)
        .map((e) =>
          Object.values(e.markerRecordedEventAttributes!.details ?? {})
            .flatMap((p) => p.payloads ?? [])
            .map((p) => Buffer.from(p.data ?? []).toString('utf8'))
            .join(' '),
        );
    const verdicts = async () => {
      const markers = await localActivities();
      return { begun: markers.filter((d) => d.includes('beginRequest')).length, verified: markers.filter((d) => d.includes('verifySignature')).length };
    };
    // The 201 does not wait for the worker: its verdict on the API's signature is recorded once that local activity
    // ends, which on a busy machine can be after the first query was answered.
    expect(await eventually(verdicts, (v) => v.begun > 0)).toEqual({ begun: 1, verified: 0 });
    // Forged in eve's own name: the validator refuses it on the rules (no self-approval) before any signature check.
    const forger = { keyId: (await signingKey()).keyId, secretKey: bytesToHex(ed25519.utils.randomSecretKey()) };
    await expect(h.executeUpdate('approve', { args: [signDecision(claims(id, 'approve', 'eve@lockbox.dev', policy), forger)] })).rejects.toBeInstanceOf(
      WorkflowUpdateFailedError,
    );
    expect(await verdicts()).toEqual({ begun: 1, verified: 0 });
    // The API's signature: verified by the worker's local activity, applied.
    expect(((await h.executeUpdate('approve', { args: [signDecision(claims(id, 'approve', 'alice@contoso.com', policy), await signingKey())] })) as any).status).toBe('active');
    expect(await verdicts()).toEqual({ begun: 1, verified: 1 });
    const audit = await eve.get(`/v1/requests/${id}/audit`);
    expect(audit.body.events.filter((e: any) => e.type === 'decision.rejected_unauthenticated')).toEqual([]);
    await alice.post(`/v1/requests/${id}/revoke`, {});
  });

  it('applies one of three copies of a signed decision sent at once; the others are audited as replayed', async () => {
    const id = await create('mailbox:twice@contoso.com');
    const h = client.workflow.getHandle(id);
    const policy = (await eve.get(`/v1/requests/${id}`)).body;
    const signed = signDecision(claims(id, 'approve', 'alice@contoso.com', policy), await signingKey());
    await Promise.all([h.signal('approve', signed), h.signal('approve', signed), h.signal('approve', signed)]);
    const audit = await eventually(
      () => eve.get(`/v1/requests/${id}/audit`),
      (r) => r.body.events.filter((e: any) => e.type === 'decision.rejected_unauthenticated').length >= 2,
    );
    expect(audit.body.events.filter((e: any) => e.type === 'decision.rejected_unauthenticated').map((e: any) => e.details.reason)).toEqual(['replayed', 'replayed']);
    expect(audit.body.events.filter((e: any) => e.type === 'request.approved')).toHaveLength(1);
    await alice.post(`/v1/requests/${id}/revoke`, {});
  });

  it('refuses a signed decision replayed or sent to another request', async () => {
    const resource = 'mailbox:replayed@contoso.com';
    const [first, second] = [await create(resource), await create(resource)];
    const key = await signingKey();
    const policy = (await eve.get(`/v1/requests/${first}`)).body;
    const signed = signDecision(claims(first, 'approve', 'alice@contoso.com', policy), key);
    await expect(client.workflow.getHandle(second).executeUpdate('approve', { args: [signed] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    const ok = await client.workflow.getHandle(first).executeUpdate('approve', { args: [signed] });
    expect((ok as any).status).toBe('active');
    // The same signed approval again is a replay: refused as unauthenticated, not applied twice.
    await expect(client.workflow.getHandle(first).executeUpdate('approve', { args: [signed] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    const audit = await eve.get(`/v1/requests/${first}/audit`);
    expect(audit.body.events.filter((e: any) => e.type === 'decision.rejected_unauthenticated').map((e: any) => e.details.reason)).toEqual(['replayed']);
    await client.workflow.getHandle(first).executeUpdate('revoke', { args: [signDecision(claims(first, 'revoke', 'alice@contoso.com', policy), key)] });
    expect((await eve.get(`/v1/requests/${second}`)).body.status).toBe('pending');
  });

  it('never grants a request that was not filed through the API', async () => {
    const id = `req-contoso-${ulid()}`;
    const input = {
      id,
      tenant: 'contoso',
      resource: 'mailbox:backdoor@contoso.com',
      requester: 'eve@lockbox.dev',
      reason: 'started straight on Temporal',
      ticket: null,
      durationMs: 3_600_000,
      requestTtlMs: 3_600_000,
      createdAt: new Date().toISOString(),
      policy: { tenant: 'contoso', customerApproval: true, approvers: ['eve-friend@contoso.com'], quorum: 1 },
    };
    const h = await client.workflow.start('accessRequestWorkflow', { workflowId: id, taskQueue: stack.taskQueue, args: [input] });
    const result = (await h.result()) as { status: string; failure: string; access: unknown };
    expect(result.status).toBe('failed');
    expect(result.access).toBeNull();
    const audit = (await h.query('getAudit')) as Array<{ type: string }>;
    expect(audit.map((e) => e.type)).toEqual(['request.created', 'request.rejected_unauthenticated', 'request.closed']);
  });

  it('exports a whole lifecycle in three batches: the filing with its notice, the approval with its grant, the revoke with the close and the outcome', async () => {
    const res = await eve.post('/v1/requests', requestBody({ resource: 'mailbox:batches@contoso.com', duration: '2s' }));
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    expect((await alice.post(`/v1/requests/${id}/approve`, {})).body.status).toBe('active');
    const handle = client.workflow.getHandle(id);
    expect(((await handle.result()) as { status: string }).status).toBe('completed');
    const history = await handle.fetchHistory();
    const converter = client.options.loadedDataConverter.payloadConverter;
    const scheduled = (history.events ?? []).filter((e) => ['exportAudit', 'finishRequest'].includes(e.activityTaskScheduledEventAttributes?.activityType?.name ?? ''));
    const batches = scheduled.map((e) => {
      const arg = converter.fromPayload(e.activityTaskScheduledEventAttributes!.input!.payloads![0]!) as Array<{ type: string }> | { events: Array<{ type: string }> };
      return (Array.isArray(arg) ? arg : arg.events).map((x) => x.type);
    });
    // Each step running beside an export (the approvers' notice, the grant) goes in the batch of the events before
    // it, and the request ends in one activity: the outcome messages, then the last batch with request.closed. The
    // approvers' first notice and the grant are local activities of their workflow tasks, so no hold needs a timer.
    const holdMs = AUDIT_HOLD_MS / 1000;
    const holdTimers = (history.events ?? []).filter((e) => Number(e.timerStartedEventAttributes?.startToFireTimeout?.seconds) === holdMs);
    expect(holdTimers, 'no hold timer').toEqual([]);
    const batchOf = (type: string) => batches.findIndex((b) => b.includes(type));
    // The approvers' first notice is a local activity of the first workflow task: its event is there before the
    // first export, always. (An approval taken in by then joins the batch too.)
    expect(batches[0]?.slice(0, 2), JSON.stringify(batches)).toEqual(['request.created', 'approvers.notified']);
    // The grant in Lockbox's own store is a local activity of the approving workflow task: the approval and its
    // grant go out together, always (the hold put while granting ends in the same task, so its timer is never sent).
    expect(batchOf('request.approved'), JSON.stringify(batches)).toBe(batchOf('access.granted'));
    // The revoke, the outcome and the close: the end's one activity.
    expect(scheduled.at(-1)?.activityTaskScheduledEventAttributes?.activityType?.name).toBe('finishRequest');
    expect(batches.at(-1)?.slice(-2), JSON.stringify(batches)).toEqual(['access.revoked', 'request.closed']);
    expect(batches.length, JSON.stringify(batches)).toBeLessThanOrEqual(3);
    // Every event exported once, in order.
    expect(batches.flat()).toEqual(((await eve.get(`/v1/requests/${id}/audit`)).body.events as Array<{ type: string }>).map((e) => e.type));
    // The approve's wait for its grant is bounded by the caller's client, not by a timer started (and cancelled) in
    // the history of every approve.
    const timerMs = (history.events ?? []).flatMap((e) => {
      const t = e.timerStartedEventAttributes?.startToFireTimeout;
      return t ? [Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6)] : [];
    });
    expect(timerMs).not.toContain(GRANT_ANSWER_WITHIN_MS);
  });

  it('revokes access when an operator cancels an active request in Temporal', async () => {
    const resource = 'mailbox:tcancel@contoso.com';
    const id = await create(resource);
    await alice.post(`/v1/requests/${id}/approve`, {});
    expect((await check(resource)).body.allowed).toBe(true);
    await client.workflow.getHandle(id).cancel();
    const r = await eventually(() => eve.get(`/v1/requests/${id}`), (x) => x.body.status === 'revoked');
    expect(r.body.status).toBe('revoked');
    expect((await check(resource)).body.allowed).toBe(false);
    const audit = await eventually(() => eve.get(`/v1/requests/${id}/audit`), (a) => a.body.events.some((e: any) => e.type === 'request.closed'));
    expect(audit.body.events.at(-2)).toMatchObject({ type: 'access.revoked', details: { reason: 'workflow cancelled in Temporal' } });
    expect(audit.body.events.at(-1)).toMatchObject({ type: 'request.closed', details: { status: 'revoked', how: 'cancelled_in_temporal' } });
  });

  it('ends a pending request as cancelled when an operator cancels it in Temporal', async () => {
    const id = await create('mailbox:tcancel2@contoso.com');
    await client.workflow.getHandle(id).cancel();
    const r = await eventually(() => eve.get(`/v1/requests/${id}`), (x) => x.body.status === 'cancelled');
    expect(r.body.status).toBe('cancelled');
    expect((await alice.post(`/v1/requests/${id}/approve`, {})).status).toBe(409);
  });

  it('shows operators where a pending request waits, in stacks of at most the bundle\'s frame budget', async () => {
    const id = await create('mailbox:stack@contoso.com');
    // The Temporal UI's "Stack Trace" tab runs this query: one stack per promise the workflow waits on.
    // Once its first task is done (before that, it waits on the first task's local activities).
    const trace = await eventually(() => client.workflow.getHandle(id).query<string>('__stack_trace'), (t) => t.includes('at awaitDecisions'), 10_000);
    const stacks = trace.split('\n\n').map((s) => s.split('\n').filter((line) => line.trim().startsWith('at ')));
    // Mapped through the source map to the workflow's own code: the approval wait is there by name.
    expect(trace).toMatch(/at awaitDecisions \(.*src\/workflows\/request\/approval-stages\.ts:\d+:\d+\)/);
    // Each stack is cut at the budget (V8's default 10 frames gave up to 8 here); two of the frames are the SDK's hook.
    expect(Math.max(...stacks.map((s) => s.length))).toBeLessThanOrEqual(WORKFLOW_STACK_FRAMES - 2);
    await alice.post(`/v1/requests/${id}/reject`, { comment: 'done looking' });
  });

  it('maps a retried create with the same Idempotency-Key onto the same request', async () => {
    const key = `retry-${Date.now()}`;
    const body = requestBody({ resource: 'mailbox:idem@contoso.com' });
    const first = await eve.post('/v1/requests', body, { 'idempotency-key': key });
    const second = await eve.post('/v1/requests', body, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const runs: string[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = '${first.body.id}'` })) runs.push(w.runId);
    expect(runs).toHaveLength(1);
    // Another person's identical key is their own.
    const other = await http.call('POST', '/v1/requests', { token: 'eve-dev-token', body: { ...body, reason: 'different' }, headers: { 'idempotency-key': `${key}-other` } });
    expect(other.body.id).not.toBe(first.body.id);
  });

  it('lists requests from visibility, scoped to what the caller may see', async () => {
    const id = await create('mailbox:list@contoso.com');
    const forAlice = await eventually(() => alice.get('/v1/requests?tenant=contoso&status=pending'), (r) => r.body.requests.some((x: any) => x.id === id));
    const item = forAlice.body.requests.find((x: any) => x.id === id);
    expect(item).toMatchObject({ tenant: 'contoso', requester: 'eve@lockbox.dev', status: 'pending', resource: 'mailbox:list@contoso.com', duration: '4h' });
    expect(forAlice.body.requests.every((x: any) => x.status === 'pending' && x.tenant === 'contoso')).toBe(true);
    const forEve = await eve.get('/v1/requests');
    expect(forEve.body.requests.length).toBeGreaterThan(0);
    expect(forEve.body.requests.every((x: any) => x.requester === 'eve@lockbox.dev')).toBe(true);
  });

  it('is ready only when Temporal and a worker answer', async () => {
    const r = await http.call('GET', '/readyz');
    expect(r.status).toBe(200);
    expect(r.body.checks).toEqual({ temporal: 'ok', worker: 'ok' });
    expect((await http.call('GET', '/healthz')).status).toBe(200);
  });
});
