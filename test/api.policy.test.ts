/**
 * Approver policy on tenant fabrikam (issue 4), against the real API and Temporal: staged approval (internal, then
 * customer with quorum 2), the settings API (validation, If-Match, audit), eligibility at decision time, opting out
 * of customer approval, and required tickets.
 *
 * This is the ONLY test file that changes fabrikam's settings. Its tests run in order; each one that changes them
 * puts the original settings back (afterEach), and afterAll does so once more.
 * (The authz matrix PUTs fabrikam's *current* settings with If-Match, which changes nothing of substance.)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ulid } from 'ulid';
import { parseDuration } from '../src/domain/duration.js';
import { eventually, type ApiResponse } from './support/api.js';
import { personas, problemCode, settingsBody } from './support/personas.js';

const { dataDir } = inject('stack');
const who = personas();
const eve = who('eve');
const fiona = who('fiona');
const frank = who('frank');
const ian = who('ian');
const SETTINGS = '/v1/tenants/fabrikam/settings';
const run = ulid().toLowerCase();

let original: Record<string, unknown>;

async function readSettings(): Promise<ApiResponse> {
  const res = await fiona.get(SETTINGS);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res;
}

/** Changes fabrikam's settings (fiona, as admin) by a patch over the current ones; retries a concurrent-write 409. */
async function changeSettings(patch: Record<string, unknown>): Promise<ApiResponse> {
  for (let attempt = 1; ; attempt++) {
    const current = await readSettings();
    const res = await fiona.put(SETTINGS, { ...settingsBody(current.body), ...patch });
    if (res.status === 409 && attempt < 5) continue;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res;
  }
}

async function restore(): Promise<void> {
  const current = await readSettings();
  if (JSON.stringify(settingsBody(current.body)) !== JSON.stringify(original)) await changeSettings(original);
}

async function create(overrides: Record<string, unknown> = {}): Promise<any> {
  const body = { tenant: 'fabrikam', resource: `db:policy-${run}-${ulid().toLowerCase()}`, reason: 'policy test', ticket: 'FAB-1', duration: '1h', ...overrides };
  const res = await eve.post('/v1/requests', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

const notificationsFor = async (persona: 'fiona' | 'frank' | 'ian', requestId: string) => {
  const res = await who(persona).get('/v1/notifications');
  expect(res.status).toBe(200);
  return (res.body.notifications as { requestId: string; kind: string }[]).filter((n) => n.requestId === requestId);
};
const audit = async (requestId: string) => (await eve.get(`/v1/requests/${requestId}/audit`)).body.events as any[];

/** Every event of the stack's JSON Lines audit sink. */
async function auditFile(): Promise<any[]> {
  const text = await readFile(join(dataDir, 'audit.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
}

describe.sequential('approver policy on tenant fabrikam', () => {
  beforeAll(async () => {
    original = settingsBody((await readSettings()).body);
  });
  afterEach(restore);
  afterAll(restore);

  it('settings: GET shows the version, an ETag and durations as text', async () => {
    const res = await readSettings();
    expect(res.body).toMatchObject({
      tenant: 'fabrikam',
      version: expect.any(Number),
      customerApproval: true,
      internalApproval: true,
      approvers: ['fiona@fabrikam.com', 'frank@fabrikam.com'],
      quorum: 2,
      requireTicket: false,
      requestTtl: '12h',
      maxAccess: '8h',
    });
    expect(res.body.version).toBeGreaterThanOrEqual(1);
    expect(res.headers.get('etag')).toBe(`"${res.body.version}"`);
    expect(res.body).not.toHaveProperty('requestTtlMs');
    expect(parseDuration(res.body.requestTtl)).toBe(12 * 3_600_000);
  });

  it('staged approval: internal first, then the customer approvers (quorum 2), each deciding once', async () => {
    const req = await create();
    expect(req).toMatchObject({ status: 'pending', stages: ['internal', 'customer'], stage: 'internal' });
    // The request records the policy that applied to it.
    expect(req.policy).toMatchObject({
      tenant: 'fabrikam',
      customerApproval: true,
      internalApproval: true,
      approvers: ['fiona@fabrikam.com', 'frank@fabrikam.com'],
      quorum: 2,
      internalApprovers: ['ian@lockbox.dev'],
    });

    // Only ian is asked first.
    const ianNotes = await eventually(() => notificationsFor('ian', req.id), (n) => n.length > 0);
    expect(ianNotes.map((n) => n.kind)).toEqual(['approval_needed']);
    expect(await notificationsFor('fiona', req.id)).toEqual([]);
    expect(await notificationsFor('frank', req.id)).toEqual([]);

    // The customer stage has not started: fiona may not approve yet.
    const early = await fiona.post(`/v1/requests/${req.id}/approve`, { comment: 'too early' });
    expect(early.status, JSON.stringify(early.body)).toBe(403);
    expect(problemCode(early.body)).toBe('not_eligible');
    expect((await eve.get(`/v1/requests/${req.id}`)).body).toMatchObject({ status: 'pending', stage: 'internal', decisions: [] });

    const byIan = await ian.post(`/v1/requests/${req.id}/approve`, { comment: 'internal ok' });
    expect(byIan.status, JSON.stringify(byIan.body)).toBe(200);
    expect(byIan.body).toMatchObject({ status: 'pending', stage: 'customer' });

    // Only now are fiona and frank notified.
    for (const persona of ['fiona', 'frank'] as const) {
      const notes = await eventually(() => notificationsFor(persona, req.id), (n) => n.length > 0);
      expect(notes.map((n) => n.kind), persona).toEqual(['approval_needed']);
    }
    const notified = (await eventually(() => audit(req.id), (ev) => ev.filter((e) => e.type === 'approvers.notified').length >= 2)).filter(
      (e) => e.type === 'approvers.notified',
    );
    expect(notified.map((e) => e.details)).toEqual([
      { stage: 'internal', recipients: ['ian@lockbox.dev'] },
      { stage: 'customer', recipients: ['fiona@fabrikam.com', 'frank@fabrikam.com'] },
    ]);

    const first = await fiona.post(`/v1/requests/${req.id}/approve`, { comment: 'ok from fiona' });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ status: 'pending', stage: 'customer', access: null });

    const again = await fiona.post(`/v1/requests/${req.id}/approve`, {});
    expect(again.status, JSON.stringify(again.body)).toBe(409);
    expect(problemCode(again.body)).toBe('already_decided');

    const second = await frank.post(`/v1/requests/${req.id}/approve`, { comment: 'ok from frank' });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body).toMatchObject({ status: 'active', stage: null });
    expect(second.body.access).toMatchObject({ grantedAt: expect.any(String), endsAt: expect.any(String), revokedAt: null });
    expect(second.body.decisions.map((d: any) => [d.actor, d.stage])).toEqual([
      ['ian@lockbox.dev', 'internal'],
      ['fiona@fabrikam.com', 'customer'],
      ['frank@fabrikam.com', 'customer'],
    ]);
    const approvals = (await audit(req.id)).filter((e) => e.type === 'request.approved').map((e) => e.details);
    expect(approvals).toMatchObject([
      { stage: 'internal', approvals: 1, quorum: 1, final: false },
      { stage: 'customer', approvals: 1, quorum: 2, final: false },
      { stage: 'customer', approvals: 2, quorum: 2, final: true },
    ]);

    expect((await fiona.post(`/v1/requests/${req.id}/revoke`, { reason: 'test done' })).status).toBe(200);
  });

  const invalid: { name: string; patch: Record<string, unknown>; field: string }[] = [
    { name: 'quorum above the number of approvers', patch: { quorum: 3 }, field: 'quorum' },
    { name: 'an unknown approver', patch: { approvers: ['nobody@fabrikam.com', 'fiona@fabrikam.com'], quorum: 1 }, field: 'approvers.0' },
    { name: 'an approver of another tenant', patch: { approvers: ['fiona@fabrikam.com', 'alice@contoso.com'], quorum: 1 }, field: 'approvers.1' },
    { name: 'the internal approver as a customer approver', patch: { approvers: ['ian@lockbox.dev'], quorum: 1 }, field: 'approvers.0' },
    { name: 'an approver listed twice', patch: { approvers: ['fiona@fabrikam.com', 'fiona@fabrikam.com'], quorum: 1 }, field: 'approvers' },
    { name: 'a requestTtl that is not a duration', patch: { requestTtl: 'soon' }, field: 'requestTtl' },
    { name: 'a requestTtl beyond 7 days', patch: { requestTtl: '200h' }, field: 'requestTtl' },
    { name: "a maxAccess beyond the provider's limit", patch: { maxAccess: '9h' }, field: 'maxAccess' },
    { name: 'a quorum of 0', patch: { quorum: 0 }, field: 'quorum' },
    { name: 'an unknown field', patch: { colour: 'blue' }, field: 'colour' },
  ];
  it.each(invalid)('settings: PUT with $name is 400 naming $field, and changes nothing', async ({ patch, field }) => {
    const before = await readSettings();
    const res = await fiona.put(SETTINGS, { ...settingsBody(before.body), ...patch });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.errors.map((e: any) => e.field), JSON.stringify(res.body)).toContain(field);
    const error = res.body.errors.find((e: any) => e.field === field);
    expect(error.pointer).toBe(`#/${field.replaceAll('.', '/')}`);
    expect(settingsBody((await readSettings()).body)).toEqual(settingsBody(before.body));
  });

  it('settings: a change is audited with before, after and the admin; a stale If-Match is 412', async () => {
    // If-Match with the version just read. The authz matrix may PUT the same settings in between (a new version,
    // nothing else changed): then this is a genuine 412 too, so read again and retry.
    let before: ApiResponse;
    let changed: ApiResponse;
    for (let attempt = 1; ; attempt++) {
      before = await readSettings();
      changed = await fiona.put(SETTINGS, { ...settingsBody(before.body), requestTtl: '11h' }, { 'if-match': `"${before.body.version}"` });
      if (changed.status !== 412 || attempt === 5) break;
    }
    const v = before.body.version as number;
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    const v2 = changed.body.version as number;
    expect(v2).toBeGreaterThan(v);
    expect(changed.body).toMatchObject({ requestTtl: '11h', updatedBy: 'fiona@fabrikam.com' });
    expect(changed.headers.get('etag')).toBe(`"${v2}"`);

    // Written once to the same sink as request events, with before and after.
    const events = await eventually(
      async () => (await auditFile()).filter((e) => e.type === 'tenant.settings_changed' && e.tenant === 'fabrikam' && e.details?.version === v2),
      (found) => found.length > 0,
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'tenant.settings_changed',
      tenant: 'fabrikam',
      actor: 'fiona@fabrikam.com',
      details: { before: { requestTtlMs: 12 * 3_600_000, quorum: 2 }, after: { requestTtlMs: 11 * 3_600_000, quorum: 2 }, version: v2 },
    });

    // Written against version v, which is no longer current.
    const stale = await fiona.put(SETTINGS, { ...settingsBody(before.body), requestTtl: '10h' }, { 'if-match': `"${v}"` });
    expect(stale.status, JSON.stringify(stale.body)).toBe(412);
    expect(stale.headers.get('content-type')).toContain('application/problem+json');
    expect((await readSettings()).body.requestTtl).toBe('11h');
  });

  it('eligibility is checked at decision time: an approver removed from the list can no longer approve', async () => {
    const req = await create();
    expect((await ian.post(`/v1/requests/${req.id}/approve`, {})).body).toMatchObject({ status: 'pending', stage: 'customer' });

    const changed = await changeSettings({ approvers: ['fiona@fabrikam.com'], quorum: 1 });
    const version = changed.body.version as number;

    const byFrank = await frank.post(`/v1/requests/${req.id}/approve`, { comment: 'removed meanwhile' });
    expect(byFrank.status, JSON.stringify(byFrank.body)).toBe(403);
    expect(problemCode(byFrank.body)).toBe('not_eligible');
    expect((await eve.get(`/v1/requests/${req.id}`)).body).toMatchObject({ status: 'pending', stage: 'customer' });

    // The current policy's quorum of 1 applies, not the 2 recorded at filing.
    const byFiona = await fiona.post(`/v1/requests/${req.id}/approve`, {});
    expect(byFiona.status, JSON.stringify(byFiona.body)).toBe(200);
    expect(byFiona.body.status).toBe('active');
    expect(byFiona.body.policy.quorum).toBe(2);
    expect(byFiona.body.decisions.at(-1)).toMatchObject({ actor: 'fiona@fabrikam.com', stage: 'customer', policyVersion: version });
    expect((await fiona.post(`/v1/requests/${req.id}/revoke`, {})).status).toBe(200);
  });

  it('a quorum lowered while a request waits completes its stage at once when the approvals given reach it', async () => {
    const req = await create();
    expect((await ian.post(`/v1/requests/${req.id}/approve`, {})).body).toMatchObject({ status: 'pending', stage: 'customer' });
    expect((await fiona.post(`/v1/requests/${req.id}/approve`, {})).body).toMatchObject({ status: 'pending', stage: 'customer' });

    const changed = await changeSettings({ quorum: 1 });
    // Nobody approves again: the pending request was told of the new policy and its one approval now suffices.
    const active = await eventually(() => eve.get(`/v1/requests/${req.id}`), (r) => r.body.status === 'active');
    expect(active.body.status).toBe('active');
    const approvedBySystem = (await audit(req.id)).filter((e) => e.type === 'request.approved' && e.actor === 'system');
    expect(approvedBySystem.map((e) => e.details)).toEqual([
      expect.objectContaining({ stage: 'customer', approvals: 1, quorum: 1, final: true, cause: 'policy_changed', policyVersion: changed.body.version }),
    ]);
    expect((await fiona.post(`/v1/requests/${req.id}/revoke`, {})).status).toBe(200);
  });

  it('customerApproval off: only the internal approval is needed, and the customer is never asked', async () => {
    await changeSettings({ customerApproval: false });
    const req = await create();
    expect(req).toMatchObject({ stages: ['internal'], stage: 'internal' });
    expect(req.policy.customerApproval).toBe(false);

    const byFiona = await fiona.post(`/v1/requests/${req.id}/approve`, {});
    expect(byFiona.status, JSON.stringify(byFiona.body)).toBe(403);

    const byIan = await ian.post(`/v1/requests/${req.id}/approve`, {});
    expect(byIan.status, JSON.stringify(byIan.body)).toBe(200);
    expect(byIan.body).toMatchObject({ status: 'active', stage: null });
    const notified = (await audit(req.id)).filter((e) => e.type === 'approvers.notified');
    expect(notified.map((e) => e.details)).toEqual([{ stage: 'internal', recipients: ['ian@lockbox.dev'] }]);
    expect((await notificationsFor('fiona', req.id)).filter((n) => n.kind === 'approval_needed')).toEqual([]);
    expect((await ian.post(`/v1/requests/${req.id}/revoke`, {})).status).toBe(200);
  });

  it('requireTicket: a request without a ticket is 400 naming ticket; with one it is filed', async () => {
    await changeSettings({ requireTicket: true });
    const { ticket: _omit, ...noTicket } = { tenant: 'fabrikam', resource: `db:policy-${run}-ticket`, reason: 'policy test', ticket: 'x', duration: '1h' };
    const res = await eve.post('/v1/requests', noTicket);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'ticket', pointer: '#/ticket' })]);

    const filed = await create({ ticket: 'FAB-42' });
    expect(filed.ticket).toBe('FAB-42');
    expect((await eve.post(`/v1/requests/${filed.id}/cancel`, {})).status).toBe(200);
  });

  // "The requester never counts towards a quorum" cannot be shown here: no fabrikam persona is both an engineer and an
  // approver. It is covered by the domain scenario tables (test/domain.stages.test.ts, test/domain.decide.test.ts).
});
