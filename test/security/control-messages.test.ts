import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection, WorkflowUpdateFailedError } from '@temporalio/client';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openSqliteStore } from '../../src/adapters/sqlite-store.js';
import type { NewRequestInput } from '../../src/domain/request.js';
import type { SettingsChange, SettingsChangeResult } from '../../src/domain/settings.js';
import { type SigningKey } from '../../src/domain/signing.js';
import { signDecision, signSettingsChange } from '../../src/domain/ed25519.js';
import type { Store } from '../../src/ports/store.js';
import { api, eventually, requestBody } from '../support/api.js';

/**
 * An attacker with a tenant admin's token, or with access to the Temporal namespace, tries the control paths that
 * trusted whoever could talk to them (issue 14). Each test failed on the code before it.
 */
const stack = inject('stack');
const http = api();
const eve = http.as('eve');
const alice = http.as('alice');
const oscar = (path: string) => http.call('GET', path, { token: 'oscar-dev-token' });
let client: Client;
let connection: Connection;
let store: Store;

beforeAll(async () => {
  connection = await Connection.connect({ address: stack.temporalAddress });
  client = new Client({ connection, namespace: stack.namespace });
  store = openSqliteStore(join(stack.dataDir, 'lockbox.db'));
});
afterAll(async () => {
  await store?.close();
  await connection?.close();
});

const signingKey = async (): Promise<SigningKey> => JSON.parse(await readFile(join(stack.dataDir, 'signing-key.json'), 'utf8'));
const auditLines = async () =>
  (await readFile(join(stack.dataDir, 'audit.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: string; requestId: string; type: string; actor: string; tenant: string; details: any });

describe('settings changes are control messages: only the API can make one', () => {
  it('refuses, audits and ignores a settings workflow started around the API, even in a shape the API never writes', async () => {
    const before = await alice.get('/v1/tenants/contoso/settings');
    expect(before.status).toBe(200);
    const forged = {
      changeId: `settings-contoso-${ulid()}`,
      tenant: 'contoso',
      settings: { ...before.body, customerApproval: false, requestTtl: '12h' },
      before: null,
      expectedVersion: before.body.version,
      updatedAt: new Date().toISOString(),
      updatedBy: 'alice@contoso.com',
    };
    const result = (await client.workflow.execute('tenantSettingsWorkflow', {
      workflowId: forged.changeId,
      taskQueue: stack.taskQueue,
      args: [forged],
    })) as SettingsChangeResult;
    expect(result).toMatchObject({ ok: false, refused: 'unauthenticated' });

    const after = await alice.get('/v1/tenants/contoso/settings');
    expect(after.body.version).toBe(before.body.version);
    expect(after.body.customerApproval).toBe(true);
    // Requests for the tenant still work: nothing of the forged shape reached the store.
    const created = await eve.post('/v1/requests', requestBody({ resource: 'mailbox:after-forgery@contoso.com' }));
    expect(created.status).toBe(201);
    await eve.post(`/v1/requests/${created.body.id}/cancel`, { reason: 'test' });
    // The attempt is audited, naming alice only as the claim, never as the actor.
    const events = await eventually(auditLines, (es) => es.some((e) => e.type === 'tenant.settings_rejected_unauthenticated'));
    const event = events.find((e) => e.type === 'tenant.settings_rejected_unauthenticated');
    expect(event).toMatchObject({ actor: 'unknown', tenant: 'contoso', details: { claimedActor: 'alice@contoso.com' } });
    expect(event?.id.startsWith(forged.changeId)).toBe(false);
  });

  it('refuses a change signed by the API but altered afterwards, and one the rules do not allow even when signed', async () => {
    const key = await signingKey();
    const current = await store.getTenantSettings('contoso');
    if (!current) throw new Error('contoso has no settings');
    const honest: Omit<SettingsChange, 'proof'> = {
      changeId: `settings-contoso-${ulid()}`,
      tenant: 'contoso',
      settings: { ...current.settings },
      before: current.settings,
      expectedVersion: current.version,
      updatedAt: new Date().toISOString(),
      updatedBy: 'alice@contoso.com',
    };
    const proof = signSettingsChange(honest, key);
    const altered = { ...honest, settings: { ...honest.settings, customerApproval: false }, proof };
    const run = (change: SettingsChange) =>
      client.workflow.execute('tenantSettingsWorkflow', { workflowId: change.changeId, taskQueue: stack.taskQueue, args: [change] }) as Promise<SettingsChangeResult>;
    expect(await run(altered)).toMatchObject({ ok: false, refused: 'unauthenticated' });
    // Signed with the API's key (say a bug in the API let it through): the worker's own checks still hold.
    const bad = { ...honest, changeId: `settings-contoso-${ulid()}`, settings: { ...honest.settings, quorum: 7 } };
    expect(await run({ ...bad, proof: signSettingsChange(bad, key) })).toMatchObject({ ok: false, refused: 'invalid', problems: [expect.objectContaining({ field: 'quorum' })] });
    // Signed, but picking a target the operator declared for another tenant (contoso's CRM, for fabrikam) or not at
    // all: refused at the worker, whose own catalog is checked too.
    for (const [tenant, target] of [['fabrikam', 'contoso-crm'], ['contoso', 'no-such-target']] as const) {
      const cur = await store.getTenantSettings(tenant);
      if (!cur) throw new Error(`${tenant} has no settings`);
      const pick: Omit<SettingsChange, 'proof'> = {
        ...honest,
        changeId: `settings-${tenant}-${ulid()}`,
        tenant,
        settings: { ...cur.settings, resources: { ...cur.settings.resources, 'db:stolen': { target } } },
        before: cur.settings,
        expectedVersion: cur.version,
        updatedBy: tenant === 'fabrikam' ? 'fiona@fabrikam.com' : 'alice@contoso.com',
      };
      expect(await run({ ...pick, proof: signSettingsChange(pick, key) })).toMatchObject({
        ok: false,
        refused: 'invalid',
        problems: [expect.objectContaining({ field: 'resources.db:stolen.target' })],
      });
      expect((await store.getTenantSettings(tenant))?.version).toBe(cur.version);
    }
    expect((await store.getTenantSettings('contoso'))?.version).toBe(current.version);
  });

  it('a bad settings row is a clear 409 naming the field for that tenant only, never a 500', async () => {
    const tenant = `initech-${ulid().slice(-6).toLowerCase()}`;
    const written = await store.putTenantSettings({
      tenant,
      // What the forged workflow once wrote: durations as text, where the store keeps milliseconds.
      settings: { customerApproval: true, approvers: [], quorum: 1, requestTtl: '12h', maxAccessMs: 3_600_000, requireTicket: false, internalApproval: false } as never,
      expectedVersion: 0,
      updatedAt: new Date().toISOString(),
      updatedBy: 'mallory@evil.example',
    });
    expect(written.ok).toBe(true);
    const refused = await eve.post('/v1/requests', requestBody({ tenant }));
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body.detail).toContain(tenant);
    expect(refused.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(['settings.requestTtlMs']));
    const read = await oscar(`/v1/tenants/${tenant}/settings`);
    expect(read.status).toBe(409);
    // Everyone else is unaffected.
    const fine = await eve.post('/v1/requests', requestBody({ resource: 'mailbox:unaffected@contoso.com' }));
    expect(fine.status).toBe(201);
    await eve.post(`/v1/requests/${fine.body.id}/cancel`, { reason: 'test' });
  });
});

describe('a request id is used by exactly one workflow run, forever', () => {
  it('answers 409 with a link when an Idempotency-Key is used again after its request ended', async () => {
    const key = `k-${ulid()}`;
    const body = requestBody({ resource: 'mailbox:reuse@contoso.com' });
    const first = await eve.post('/v1/requests', body, { 'Idempotency-Key': key });
    expect(first.status).toBe(201);
    // While it runs, the same key is an idempotent retry.
    const retry = await eve.post('/v1/requests', body, { 'Idempotency-Key': key });
    expect(retry.status).toBe(201);
    expect(retry.body.id).toBe(first.body.id);
    await eve.post(`/v1/requests/${first.body.id}/cancel`, { reason: 'done' });
    await client.workflow.getHandle(first.body.id).result();
    const again = await eve.post('/v1/requests', body, { 'Idempotency-Key': key });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ requestId: first.body.id, link: `/v1/requests/${first.body.id}` });
    // No second run: the request's own trail starts once and ends cancelled.
    const audit = await eve.get(`/v1/requests/${first.body.id}/audit`);
    expect(audit.body.events.filter((e: { type: string }) => e.type === 'request.created')).toHaveLength(1);
    expect((await eve.get(`/v1/requests/${first.body.id}`)).body.status).toBe('cancelled');
  });

  it('a second run started around the API with the replayed signed input grants nothing and cannot take the first run\'s audit ids or decisions', async () => {
    const created = await eve.post('/v1/requests', requestBody({ resource: 'mailbox:second-run@contoso.com' }));
    const id = created.body.id as string;
    const firstRun = created.body.runId as string;
    expect(firstRun).toEqual(expect.any(String));
    await eve.post(`/v1/requests/${id}/cancel`, { reason: 'done' });
    await client.workflow.getHandle(id).result();
    // What anyone with namespace access can read: the signed input, from the first run's history.
    const history = await client.workflow.getHandle(id, firstRun).fetchHistory();
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const input = JSON.parse(Buffer.from(payload?.data ?? new Uint8Array()).toString('utf8')) as NewRequestInput;
    expect(input.proof).toBeDefined();
    const second = await client.workflow.start('accessRequestWorkflow', {
      workflowId: id,
      taskQueue: stack.taskQueue,
      args: [input],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    // A decision the API signed for the first run, replayed into the second.
    const key = await signingKey();
    const decision = signDecision(
      { requestId: id, runId: firstRun, action: 'approve', actor: 'alice@contoso.com', note: null, policy: created.body.policy, issuedAt: new Date().toISOString(), nonce: ulid() },
      key,
    );
    await expect(second.executeUpdate('approve', { args: [decision] })).rejects.toBeInstanceOf(Error);
    const ended = (await second.result()) as { status: string; failure: string; access: unknown };
    expect(ended).toMatchObject({ status: 'failed', failure: 'request id already used by another run', access: null });
    const events = await eventually(auditLines, (es) => es.some((e) => e.requestId === `${id}~${second.firstExecutionRunId}` && e.type === 'request.rejected_unauthenticated'));
    const ids = events.map((e) => e.id);
    expect(ids.filter((x) => x === `${id}:1`)).toHaveLength(1);
    expect(events.find((e) => e.id === `${id}:1`)?.type).toBe('request.created');
    expect(new Set(ids).size).toBe(ids.length);
    expect(events.filter((e) => e.requestId === id && e.type === 'request.approved')).toEqual([]);
  });

  it("refuses an approval whose until was moved or dropped after the API signed it; the signed one still applies", async () => {
    const created = await eve.post('/v1/requests', requestBody({ resource: 'mailbox:moved-until@contoso.com', duration: '8h' }));
    const id = created.body.id as string;
    const key = await signingKey();
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const claims = { requestId: id, runId: created.body.runId, action: 'approve' as const, actor: 'alice@contoso.com', note: null, policy: created.body.policy, issuedAt: new Date().toISOString(), nonce: ulid(), until };
    const signed = signDecision(claims, key);
    const handle = client.workflow.getHandle(id);
    // What someone with namespace access could try: the same signature over a later end, or over none.
    const later = { ...signed, claims: { ...signed.claims, until: new Date(Date.now() + 8 * 3_600_000).toISOString() } };
    const { until: _dropped, ...withoutUntil } = signed.claims;
    for (const forged of [later, { ...signed, claims: withoutUntil }]) {
      await expect(handle.executeUpdate('approve', { args: [forged] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    }
    const audit = await eventually(
      () => eve.get(`/v1/requests/${id}/audit`),
      (r) => r.body.events.filter((e: { type: string }) => e.type === 'decision.rejected_unauthenticated').length >= 2,
    );
    expect(audit.body.events.filter((e: { type: string }) => e.type === 'decision.rejected_unauthenticated').map((e: any) => e.details.reason)).toEqual(['bad_signature', 'bad_signature']);
    expect((await eve.get(`/v1/requests/${id}`)).body).toMatchObject({ status: 'pending', decisions: [] });
    // The decision as signed goes through, with its end.
    await handle.executeUpdate('approve', { args: [signed] });
    const after = await eventually(() => eve.get(`/v1/requests/${id}`), (r) => r.body.status === 'active');
    expect(after.body.access.endsAt).toBe(until);
    await alice.post(`/v1/requests/${id}/revoke`, { reason: 'test done' });
  });

  it('refuses a decision signed for another run of the same request id', async () => {
    const created = await eve.post('/v1/requests', requestBody({ resource: 'mailbox:other-run@contoso.com' }));
    const id = created.body.id as string;
    const key = await signingKey();
    const forOtherRun = signDecision(
      { requestId: id, runId: 'some-other-run', action: 'approve', actor: 'alice@contoso.com', note: null, policy: created.body.policy, issuedAt: new Date().toISOString(), nonce: ulid() },
      key,
    );
    await expect(client.workflow.getHandle(id).executeUpdate('approve', { args: [forOtherRun] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    const audit = await eventually(
      () => eve.get(`/v1/requests/${id}/audit`),
      (r) => r.body.events.some((e: { type: string }) => e.type === 'decision.rejected_unauthenticated'),
    );
    expect(audit.body.events.find((e: { type: string }) => e.type === 'decision.rejected_unauthenticated').details.reason).toBe('signed_for_another_run');
    expect((await eve.get(`/v1/requests/${id}`)).body.status).toBe('pending');
    await eve.post(`/v1/requests/${id}/cancel`, { reason: 'test' });
  });
});
