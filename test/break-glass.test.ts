/**
 * Break-glass (issue 20, docs/break-glass.md) against the real API and Temporal of the shared stack: tenant contoso
 * turns it on (alice, admin, via the settings API), eve (engineer) is its responder. Refusals (409 off, 403 not a
 * responder, 400 over maxDuration, 429 over the daily limit), the grant at once with its alert, the review (once,
 * not by the responder), and the review deadline passing (overdue once, then closed).
 *
 * Only `breakGlass` of contoso's settings is changed (the rest is sent back as read, so files that use contoso at
 * the same time see no difference); afterAll turns it off again.
 */
import { Client, Connection, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ulid } from 'ulid';
import type { NewRequestInput } from '../src/domain/request.js';
import { SearchAttributes } from '../src/workflows/definitions.js';
import { eventually, type ApiResponse } from './support/api.js';
import { launchBrowser, openPortal, screenshot, signIn } from './support/browser.js';
import { personas, problemCode, settingsBody } from './support/personas.js';

const who = personas();
const eve = who('eve');
const alice = who('alice');
const bob = who('bob');
const SETTINGS = '/v1/tenants/contoso/settings';
const EVE = 'eve@lockbox.dev';
const run = ulid().toLowerCase();
const OFF = { enabled: false, responders: [], maxDuration: '1h', reviewWithin: '24h' };

/** Changes only contoso's `breakGlass` (alice, admin), read first and sent with If-Match; retries a concurrent write. */
async function setBreakGlass(breakGlass: Record<string, unknown>): Promise<ApiResponse> {
  for (let attempt = 1; ; attempt++) {
    const current = await alice.get(SETTINGS);
    expect(current.status, JSON.stringify(current.body)).toBe(200);
    const res = await alice.put(SETTINGS, { ...settingsBody(current.body), breakGlass }, { 'if-match': current.headers.get('etag') ?? '' });
    if ((res.status === 409 || res.status === 412) && attempt < 8) continue;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res;
  }
}

const emergency = (overrides: Record<string, unknown> = {}) =>
  eve.post('/v1/requests', {
    tenant: 'contoso',
    resource: `mailbox:bg-${run}-${ulid().toLowerCase()}@contoso.com`,
    reason: 'outage: mail flow down, INC-20',
    ticket: 'INC-20',
    duration: '10m',
    emergency: true,
    ...overrides,
  });
const audit = async (id: string) => (await eve.get(`/v1/requests/${id}/audit`)).body.events as { type: string; actor: string; details: any }[];
const types = async (id: string) => (await audit(id)).map((e) => e.type);

const stack = inject('stack');
let connection: Connection;
let client: Client;

beforeAll(async () => {
  connection = await Connection.connect({ address: stack.temporalAddress });
  client = new Client({ connection, namespace: stack.namespace });
});

afterAll(async () => {
  await setBreakGlass(OFF);
  await connection?.close();
});

describe.sequential('break-glass on tenant contoso', () => {
  let reviewed: any;

  it('a tenant without break-glass: 409 naming the setting breakGlass.enabled', async () => {
    await setBreakGlass(OFF);
    const res = await emergency();
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(problemCode(res.body)).toBe('break-glass-disabled');
    expect(res.body.setting).toBe('breakGlass.enabled');
  });

  it('the settings show it and validate it (an admin change, audited)', async () => {
    const bad = await alice.put(SETTINGS, { ...settingsBody((await alice.get(SETTINGS)).body), breakGlass: { enabled: true, responders: [], maxDuration: '1h', reviewWithin: '5s' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toContain('breakGlass.responders');
    const bobTries = await bob.put(SETTINGS, { ...settingsBody((await alice.get(SETTINGS)).body), breakGlass: OFF });
    expect(bobTries.status).toBe(403);
    const res = await setBreakGlass({ enabled: true, responders: ['ian@lockbox.dev'], maxDuration: '1h', reviewWithin: '5s' });
    expect(res.body.breakGlass).toEqual({ enabled: true, responders: ['ian@lockbox.dev'], maxDuration: '1h', reviewWithin: '5s' });
    // Audited like any setting: the change, with before and after, by alice.
    const version = Number(res.body.version);
    const feed = await eventually(
      async () => ((await alice.get('/v1/audit?tenant=contoso&type=tenant.settings_changed&limit=1000')).body.events ?? []) as any[],
      (es) => es.some((e) => e.details.version === version),
    );
    const event = feed.find((e) => e.details.version === version);
    expect(event).toMatchObject({ actor: 'alice@contoso.com', details: { after: { breakGlass: { enabled: true, responders: ['ian@lockbox.dev'], maxDurationMs: 3_600_000, reviewWithinMs: 5_000 } } } });
  });

  it('someone who is not a listed responder: 403', async () => {
    const res = await emergency();
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(problemCode(res.body)).toBe('not-a-responder');
    expect(res.body.detail).toContain('breakGlass.responders');
    expect((await bob.post('/v1/requests', { tenant: 'contoso', resource: 'db:crm', reason: 'x', ticket: 'T', duration: '1m', emergency: true })).status).toBe(403);
  });

  it('over maxDuration: 400 naming duration; without a ticket: 400 naming ticket', async () => {
    await setBreakGlass({ enabled: true, responders: [EVE], maxDuration: '1h', reviewWithin: '5s' });
    const long = await emergency({ duration: '2h' });
    expect(long.status, JSON.stringify(long.body)).toBe(400);
    expect(long.body.errors.map((e: { field: string }) => e.field)).toEqual(['duration']);
    const none = await eve.post('/v1/requests', { tenant: 'contoso', resource: `mailbox:bg-${run}@contoso.com`, reason: 'outage', duration: '5m', emergency: true });
    expect(none.status, JSON.stringify(none.body)).toBe(400);
    expect(none.body.errors.map((e: { field: string }) => e.field)).toEqual(['ticket']);
  });

  it('a responder is granted at once; every approver and admin is alerted as an emergency', async () => {
    const res = await emergency();
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    reviewed = res.body;
    expect(reviewed).toMatchObject({ status: 'active', emergency: true, review: { status: 'pending', dueAt: null }, decisions: [] });
    const check = await eve.get(`/v1/access/check?tenant=contoso&resource=${encodeURIComponent(reviewed.resource)}`);
    expect(check.body).toMatchObject({ allowed: true, requestId: reviewed.id });
    const events = await audit(reviewed.id);
    const steps = events.map((e) => e.type).filter((t) => t.startsWith('request.') || t.startsWith('access.'));
    expect(steps).toEqual(['request.created', 'request.emergency_granted', 'access.granted']);
    expect(events.map((e) => e.type)).toContain('approvers.notified');
    expect(events.find((e) => e.type === 'request.emergency_granted')).toMatchObject({ actor: EVE, details: { ticket: 'INC-20', duration: '10m', reviewWithin: '5s' } });
    for (const person of [bob, alice]) {
      const mine = await eventually(
        async () => ((await person.get('/v1/notifications')).body.notifications as any[]).filter((n) => n.requestId === reviewed.id && n.kind === 'emergency'),
        (n) => n.length > 0,
      );
      expect(mine[0].subject).toContain('EMERGENCY');
    }
  });

  it('the responder cannot review their own: 403; an ordinary request cannot be reviewed: 409', async () => {
    const self = await eve.post(`/v1/requests/${reviewed.id}/review`, { verdict: 'justified', comment: 'it was me' });
    expect(self.status, JSON.stringify(self.body)).toBe(403);
    expect(problemCode(self.body)).toBe('self_review');
    const ordinary = await eve.post('/v1/requests', { tenant: 'contoso', resource: `mailbox:bg-${run}-plain@contoso.com`, reason: 'routine', ticket: 'T-1', duration: '5m' });
    expect(ordinary.status).toBe(201);
    const res = await bob.post(`/v1/requests/${ordinary.body.id}/review`, { verdict: 'justified' });
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(problemCode(res.body)).toBe('not_emergency');
    await eve.post(`/v1/requests/${ordinary.body.id}/cancel`, {});
  });

  it('a review sent around the API (unsigned, on Temporal) is refused and audited; nothing changes', async () => {
    const forged = client.workflow.getHandle(reviewed.id).executeUpdate('review', { args: [{ actor: 'bob@contoso.com', verdict: 'justified' }] });
    await expect(forged).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    const refused = (await audit(reviewed.id)).find((e) => e.type === 'decision.rejected_unauthenticated');
    expect(refused?.details).toMatchObject({ action: 'review', reason: 'unsigned', claimedActor: 'bob@contoso.com' });
    expect((await bob.get(`/v1/requests/${reviewed.id}`)).body.review.status).toBe('pending');
  });

  it('an emergency request started around the API (flag added to a signed input) grants nothing', async () => {
    const ordinary = await eve.post('/v1/requests', { tenant: 'contoso', resource: `mailbox:bg-${run}-forged@contoso.com`, reason: 'routine', ticket: 'T-2', duration: '5m' });
    expect(ordinary.status).toBe(201);
    await eve.post(`/v1/requests/${ordinary.body.id}/cancel`, {});
    const history = await client.workflow.getHandle(ordinary.body.id).fetchHistory();
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const signed = JSON.parse(Buffer.from(payload?.data ?? new Uint8Array()).toString('utf8')) as NewRequestInput;
    const id = signed.id.replace(/[0-9A-Z]{26}$/, ulid());
    const input: NewRequestInput = { ...signed, id, emergency: { reviewWithinMs: 1_000 } };
    // With the search attributes the API sets, so listings elsewhere (the authz matrix) see a contoso request by eve.
    const typedSearchAttributes = [
      { key: SearchAttributes.tenant, value: input.tenant },
      { key: SearchAttributes.requester, value: input.requester },
      { key: SearchAttributes.resource, value: input.resource },
      { key: SearchAttributes.status, value: 'pending' },
    ];
    const handle = await client.workflow.start('accessRequestWorkflow', { workflowId: id, taskQueue: stack.taskQueue, args: [input], typedSearchAttributes });
    const ended = (await handle.result()) as { status: string; access: unknown };
    expect(ended).toMatchObject({ status: 'failed', access: null });
    const trail = await eventually(() => types(handle.workflowId), (t) => t.at(-1) === 'request.closed');
    expect(trail).toContain('request.rejected_unauthenticated');
    expect(trail).not.toContain('request.emergency_granted');
    expect(trail).not.toContain('access.granted');
  });

  it('bob reviews it in the portal (Emergency badge, review form; signed, in the trail as request.reviewed); a second review is 409', async () => {
    const browser = await launchBrowser();
    try {
      const tab = await openPortal(browser, stack.apiUrl);
      await signIn(tab, 'bob');
      // The emergency banner: access in effect at bob's tenant without approval, with a way to its request.
      const banner = tab.page.locator('#emergency-banner');
      await banner.locator(`li[data-request-id="${reviewed.id}"]`).waitFor({ timeout: 15_000 });
      expect(await banner.textContent()).toContain(`${EVE} on ${reviewed.resource} at contoso`);
      await banner.locator(`li[data-request-id="${reviewed.id}"]`).getByRole('button', { name: 'Open to review or revoke' }).click();
      await tab.page.waitForURL(`**/requests/${reviewed.id}`);
      await screenshot(tab.page, 'break-glass-banner');
      await tab.page.locator('#detail-body .badge-emergency').first().waitFor({ timeout: 15_000 });
      const form = tab.page.locator('#detail-body form.review-justified');
      await form.getByLabel('Review comment (optional)').fill('outage confirmed');
      await screenshot(tab.page, 'break-glass-review-form');
      await form.getByRole('button', { name: 'Review: justified' }).click();
      await expect.poll(() => tab.page.locator('#detail-audit li[data-type="request.reviewed"]').count(), { timeout: 15_000 }).toBe(1);
      await expect.poll(() => tab.page.locator('#detail-body').textContent()).toContain('justified by bob@contoso.com');
      expect(tab.problems).toEqual([]);
    } finally {
      await browser.close();
    }
    const res = await bob.get(`/v1/requests/${reviewed.id}`);
    expect(res.body.review).toMatchObject({ status: 'justified', by: 'bob@contoso.com', comment: 'outage confirmed' });
    const event = (await audit(reviewed.id)).find((e) => e.type === 'request.reviewed');
    expect(event).toMatchObject({ actor: 'bob@contoso.com', details: { verdict: 'justified', comment: 'outage confirmed' } });
    expect(event?.details.proof.signature).toMatch(/^[0-9a-f]{128}$/);
    const again = await alice.post(`/v1/requests/${reviewed.id}/review`, { verdict: 'unjustified' });
    expect(again.status, JSON.stringify(again.body)).toBe(409);
    expect(problemCode(again.body)).toBe('already_reviewed');
    // Revoked early like any access; reviewed already, so the request closes with the window.
    expect((await alice.post(`/v1/requests/${reviewed.id}/revoke`, { reason: 'outage over' })).status).toBe(200);
    const trail = await eventually(() => types(reviewed.id), (t) => t.at(-1) === 'request.closed');
    expect(trail.at(-1)).toBe('request.closed');
    expect(trail).not.toContain('request.review_overdue');
  });

  it('unreviewed past reviewWithin: request.review_overdue exactly once, then request.closed last', async () => {
    const res = await emergency({ duration: '2s' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = res.body.id as string;
    const trail = await eventually(() => types(id), (t) => t.at(-1) === 'request.closed', 40_000);
    expect(trail.filter((t) => t === 'request.review_overdue')).toHaveLength(1);
    expect(trail.at(-1)).toBe('request.closed');
    expect(trail.indexOf('access.revoked')).toBeLessThan(trail.indexOf('request.review_overdue'));
    // Halfway to the deadline the approvers were reminded once (kind review), before it went overdue.
    const reminders = (await audit(id)).filter((e) => e.type === 'approvers.reminded' && e.details.kind === 'review');
    expect(reminders).toHaveLength(1);
    expect(reminders[0]?.details.recipients).toContain('bob@contoso.com');
    expect(trail.indexOf('approvers.reminded')).toBeLessThan(trail.indexOf('request.review_overdue'));
    const notes = ((await bob.get('/v1/notifications')).body.notifications as any[]).filter((n) => n.requestId === id && n.kind === 'review_reminder');
    expect(notes).toHaveLength(1);
    const shown = (await bob.get(`/v1/requests/${id}`)).body;
    expect(shown.review).toMatchObject({ status: 'overdue' });
    const late = await bob.post(`/v1/requests/${id}/review`, { verdict: 'justified' });
    expect(late.status).toBe(409);
  }, 60_000);

  it('over the daily limit (3 per responder and tenant): 429 naming the limit', async () => {
    const third = await emergency({ duration: '1s' });
    expect(third.status, JSON.stringify(third.body)).toBe(201);
    // The limit counts from the listing (eventually consistent): wait until it shows all three.
    await eventually(
      async () => ((await eve.get(`/v1/requests?tenant=contoso&requester=${EVE}&limit=500`)).body.requests as any[]).filter((r) => r.emergency).length,
      (n) => n >= 3,
    );
    const fourth = await emergency();
    expect(fourth.status, JSON.stringify(fourth.body)).toBe(429);
    expect(problemCode(fourth.body)).toBe('break-glass-rate-limited');
    expect(fourth.body.limit).toBe('LOCKBOX_BREAK_GLASS_PER_DAY');
  });
});
