import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { api, eventually, RESOURCE, requestBody } from './support/api.js';

const { dataDir } = inject('stack');
const http = api();
const eve = http.as('eve');
const alice = http.as('alice');
const bob = http.as('bob');

const check = (resource = RESOURCE) => eve.get(`/v1/access/check?tenant=contoso&resource=${encodeURIComponent(resource)}`);

async function create(overrides: Record<string, unknown> = {}) {
  const res = await eve.post('/v1/requests', requestBody(overrides));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; status: string };
}

/** The audit events of one request as exported to the JSON Lines sink. */
async function exported(requestId: string) {
  const text = await readFile(join(dataDir, 'audit.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.includes(requestId))
    .map((l) => JSON.parse(l) as { id: string; seq: number; type: string; actor: string });
}

describe('an access request, end to end', () => {
  it('is granted on approval, revoked when its window ends, and every step is audited exactly once', async () => {
    const resource = 'mailbox:carol@contoso.com';
    const created = await create({ resource, duration: '6s' });
    expect(created).toMatchObject({ status: 'pending', requester: 'eve@lockbox.dev', tenant: 'contoso', resource, access: null, duration: '6s' });
    expect(created.id).toMatch(/^req-contoso-[0-9A-Z]{26}$/);
    expect((await check(resource)).body).toEqual({ allowed: false });

    // Both approvers hear about it.
    for (const approver of [alice, bob]) {
      const n = await eventually(() => approver.get('/v1/notifications'), (r) => r.body.notifications.some((x: any) => x.requestId === created.id));
      const mine = n.body.notifications.find((x: any) => x.requestId === created.id);
      expect(mine).toMatchObject({ kind: 'approval_needed', tenant: 'contoso' });
      expect(mine.body).toContain('support case 4711');
    }

    const approved = await alice.post(`/v1/requests/${created.id}/approve`, { comment: 'go ahead' });
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('active');
    expect(approved.body.decisions).toEqual([expect.objectContaining({ action: 'approve', actor: 'alice@contoso.com', note: 'go ahead' })]);
    const { grantedAt, endsAt } = approved.body.access;
    // The window starts at the grant, not at the request.
    expect(Date.parse(endsAt) - Date.parse(grantedAt)).toBe(6000);
    expect(Date.parse(grantedAt)).toBeGreaterThanOrEqual(Date.parse(approved.body.decisions[0].at));

    // Access is in force as soon as the approve call returns.
    expect((await check(resource)).body).toEqual({ allowed: true, requestId: created.id, endsAt });

    // A second decision on a request that is no longer pending changes nothing.
    const late = await bob.post(`/v1/requests/${created.id}/approve`, {});
    expect(late.status).toBe(409);
    expect(late.headers.get('content-type')).toContain('application/problem+json');

    const done = await eventually(() => eve.get(`/v1/requests/${created.id}`), (r) => r.body.status === 'completed');
    expect(done.body.status).toBe('completed');
    expect(done.body.access.revokedAt).not.toBeNull();
    expect((await check(resource)).body).toEqual({ allowed: false });

    const types = ['request.created', 'approvers.notified', 'request.approved', 'access.granted', 'access.revoked', 'request.closed'];
    const audit = await eventually(() => eve.get(`/v1/requests/${created.id}/audit`), (r) => r.body.events.length >= types.length);
    expect(audit.body.events.map((e: any) => e.type)).toEqual(types);
    expect(audit.body.events.map((e: any) => e.id)).toEqual(types.map((_, i) => `${created.id}:${i + 1}`));
    expect(audit.body.events.find((e: any) => e.type === 'request.approved').actor).toBe('alice@contoso.com');

    const lines = await eventually(() => exported(created.id), (ev) => ev.length >= types.length);
    expect(lines.map((e) => e.type)).toEqual(types);
    expect(new Set(lines.map((e) => e.id)).size).toBe(lines.length);
  });

  it('can be revoked early by an approver, and access ends when the call returns', async () => {
    const resource = 'mailbox:dave@contoso.com';
    const { id } = await create({ resource });
    expect((await alice.post(`/v1/requests/${id}/approve`, {})).body.status).toBe('active');
    const revoked = await alice.post(`/v1/requests/${id}/revoke`, { reason: 'case closed' });
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    expect(revoked.body.access.revokedAt).not.toBeNull();
    expect((await check(resource)).body).toEqual({ allowed: false });
    expect((await alice.post(`/v1/requests/${id}/revoke`, {})).status).toBe(409);
    const audit = await eventually(() => eve.get(`/v1/requests/${id}/audit`), (r) => r.body.events.some((e: any) => e.type === 'request.closed'));
    const [revokedEvent, closed] = audit.body.events.slice(-2);
    expect(revokedEvent).toMatchObject({ type: 'access.revoked', actor: 'alice@contoso.com', details: { cause: 'revoked', reason: 'case closed' } });
    expect(closed).toMatchObject({ type: 'request.closed', actor: 'system', details: { status: 'revoked', how: 'ended' } });
  });

  it('grants nothing when rejected, and refuses later decisions', async () => {
    const resource = 'mailbox:erin@contoso.com';
    const { id } = await create({ resource });
    const rejected = await bob.post(`/v1/requests/${id}/reject`, { reason: 'no ticket context' });
    expect(rejected.status).toBe(200);
    expect(rejected.body.status).toBe('rejected');
    expect(rejected.body.access).toBeNull();
    expect((await alice.post(`/v1/requests/${id}/approve`, {})).status).toBe(409);
    expect((await check(resource)).body).toEqual({ allowed: false });
    const audit = await eventually(() => eve.get(`/v1/requests/${id}/audit`), (r) => r.body.events.some((e: any) => e.type === 'request.rejected'));
    expect(audit.body.events.find((e: any) => e.type === 'request.rejected')).toMatchObject({ actor: 'bob@contoso.com', details: { reason: 'no ticket context' } });
  });

  it('can be cancelled by its requester while pending, by nobody else', async () => {
    const { id } = await create({ resource: 'mailbox:frank@contoso.com' });
    expect((await alice.post(`/v1/requests/${id}/cancel`, {})).status).toBe(403);
    const cancelled = await eve.post(`/v1/requests/${id}/cancel`, { reason: 'fixed it myself' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect((await alice.post(`/v1/requests/${id}/approve`, {})).status).toBe(409);
    expect((await eve.post(`/v1/requests/${id}/cancel`, {})).status).toBe(409);
  });

  it('refuses an engineer approving, including their own request', async () => {
    const { id } = await create({ resource: 'mailbox:gina@contoso.com' });
    const own = await eve.post(`/v1/requests/${id}/approve`, {});
    expect(own.status).toBe(403);
    expect(own.body.detail).toMatch(/may not approve/);
    expect((await eve.get(`/v1/requests/${id}`)).body.status).toBe('pending');
  });

  it('expires unanswered after the request lifetime and grants nothing', async () => {
    const short = api(inject('stack').shortTtlApiUrl);
    const resource = 'mailbox:hank@contoso.com';
    const created = await short.as('eve').post('/v1/requests', requestBody({ resource }));
    expect(created.status).toBe(201);
    const { id, createdAt, expiresAt } = created.body;
    expect(Date.parse(expiresAt) - Date.parse(createdAt)).toBe(3000);
    const expired = await eventually(() => short.as('eve').get(`/v1/requests/${id}`), (r) => r.body.status === 'expired', 30_000);
    expect(expired.body.status).toBe('expired');
    expect(expired.body.access).toBeNull();
    expect((await short.as('alice').post(`/v1/requests/${id}/approve`, {})).status).toBe(409);
    expect((await short.as('eve').get(`/v1/access/check?tenant=contoso&resource=${resource}`)).body).toEqual({ allowed: false });
    const audit = await eventually(() => short.as('eve').get(`/v1/requests/${id}/audit`), (r) => r.body.events.some((e: any) => e.type === 'request.closed'));
    // One reminder half-way through a short lifetime, to the approvers who had not decided.
    expect(audit.body.events.map((e: any) => e.type)).toEqual(['request.created', 'approvers.notified', 'approvers.reminded', 'request.expired', 'request.closed']);
    const reminded = audit.body.events.find((e: any) => e.type === 'approvers.reminded');
    expect(reminded.details.recipients).toEqual(['alice@contoso.com', 'bob@contoso.com']);
    const notes = await short.as('bob').get('/v1/notifications');
    expect(notes.body.notifications.filter((n: any) => n.requestId === id).map((n: any) => n.kind).sort()).toEqual(['approval_needed', 'reminder']);
  });

  it('keeps overlapping grants apart: revoking one leaves the other in force', async () => {
    const resource = 'mailbox:ivy@contoso.com';
    const first = await create({ resource });
    const second = await create({ resource });
    await alice.post(`/v1/requests/${first.id}/approve`, {});
    await bob.post(`/v1/requests/${second.id}/approve`, {});
    expect((await alice.post(`/v1/requests/${first.id}/revoke`, {})).body.status).toBe('revoked');
    const after = await check(resource);
    expect(after.body).toMatchObject({ allowed: true, requestId: second.id });
    await bob.post(`/v1/requests/${second.id}/revoke`, {});
    expect((await check(resource)).body).toEqual({ allowed: false });
  });
});
