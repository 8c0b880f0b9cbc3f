/**
 * Escalation (issue 20, docs/break-glass.md "Escalation") against the real API and Temporal of the shared stack:
 * contoso's admin alice turns escalation on (after 3 s, to carol, a contoso approver who is NOT on its approver list),
 * eve files a request nobody answers: `request.escalated` once, carol is told (in-app, kind `escalated`), her approval
 * then counts; before the escalation she is refused, and someone on neither list is refused after it.
 *
 * Only `escalation` of contoso's settings is changed (the rest is sent back as read, so files that use contoso at the
 * same time see no difference); afterAll removes it again.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ulid } from 'ulid';
import { eventually, type ApiResponse } from './support/api.js';
import { launchBrowser, openPortal, screenshot, signIn } from './support/browser.js';
import type { NewRequestInput } from '../src/domain/request.js';
import { type SigningKey } from '../src/domain/signing.js';
import { signRequest } from '../src/domain/ed25519.js';
import { SearchAttributes } from '../src/workflows/definitions.js';
import { personas, problemCode, settingsBody } from './support/personas.js';

const who = personas();
const eve = who('eve');
const alice = who('alice');
const carol = who('carol');
const ian = who('ian');
const SETTINGS = '/v1/tenants/contoso/settings';
const CAROL = 'carol@contoso.com';

/** Changes only contoso's `escalation` (alice, admin), read first and sent with If-Match; retries a concurrent write. */
async function setEscalation(escalation: Record<string, unknown> | null): Promise<ApiResponse> {
  for (let attempt = 1; ; attempt++) {
    const current = await alice.get(SETTINGS);
    expect(current.status, JSON.stringify(current.body)).toBe(200);
    const res = await alice.put(SETTINGS, { ...settingsBody(current.body), escalation }, { 'if-match': current.headers.get('etag') ?? '' });
    if ((res.status === 409 || res.status === 412) && attempt < 8) continue;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res;
  }
}

const audit = async (id: string) => (await eve.get(`/v1/requests/${id}/audit`)).body.events as { type: string; actor: string; details: any }[];

afterAll(async () => {
  await setEscalation(null);
});

describe.sequential('escalation on tenant contoso', () => {
  let id = '';

  it('settings validate it: `after` must be shorter than the lifetime, `to` approvers or admins of the tenant (400 naming the field)', async () => {
    const view = (await alice.get(SETTINGS)).body;
    const long = await alice.put(SETTINGS, { ...settingsBody(view), escalation: { after: view.requestTtl, to: [CAROL] } });
    expect(long.status, JSON.stringify(long.body)).toBe(400);
    expect(JSON.stringify(long.body.errors)).toContain('escalation.after');
    const outsider = await alice.put(SETTINGS, { ...settingsBody(view), escalation: { after: '3s', to: ['ian@lockbox.dev'] } });
    expect(outsider.status, JSON.stringify(outsider.body)).toBe(400);
    expect(JSON.stringify(outsider.body.errors)).toContain('escalation.to.0');
    const notDuration = await alice.put(SETTINGS, { ...settingsBody(view), escalation: { after: 'soon', to: [CAROL] } });
    expect(notDuration.status).toBe(400);
    // Not an admin of contoso: carol may not turn it on.
    expect((await carol.put(SETTINGS, { ...settingsBody(view), escalation: { after: '3s', to: [CAROL] } })).status).toBe(403);
  });

  it('alice turns it on; the settings show it as text, and a PUT without the field keeps it', async () => {
    const res = await setEscalation({ after: '3s', to: [CAROL] });
    expect(res.body.escalation).toEqual({ after: '3s', to: [CAROL] });
    const current = await alice.get(SETTINGS);
    expect(current.body.escalation).toEqual({ after: '3s', to: [CAROL] });
    // A client that does not know the field saves without it: kept as it is.
    const kept = await alice.put(SETTINGS, settingsBody(current.body), { 'if-match': current.headers.get('etag') ?? '' });
    if (kept.status === 200) expect(kept.body.escalation).toEqual({ after: '3s', to: [CAROL] });
    else expect([409, 412]).toContain(kept.status); // another file changed contoso at the same moment
  });

  it("the portal's settings view shows it to alice (read only; saving there keeps it)", async () => {
    const browser = await launchBrowser();
    try {
      const tab = await openPortal(browser, inject('stack').apiUrl);
      await signIn(tab, 'alice');
      await expect
        .poll(() => tab.page.locator('#st-escalation').textContent(), { timeout: 15_000 })
        .toContain(`Escalation after 3s without a decision, to ${CAROL}`);
      await screenshot(tab.page, 'escalation-settings');
    } finally {
      await browser.close();
    }
  });

  it('before the stage escalates carol is not eligible', async () => {
    const created = await eve.post('/v1/requests', {
      tenant: 'contoso',
      resource: `mailbox:esc-${ulid().toLowerCase()}@contoso.com`,
      reason: 'support case 2020, approvers silent',
      ticket: 'SUP-2020',
      duration: '10m',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    id = created.body.id;
    const early = await carol.post(`/v1/requests/${id}/approve`, { comment: 'too early' });
    expect(early.status, JSON.stringify(early.body)).toBe(403);
    expect(problemCode(early.body)).toBe('not_eligible');
  });

  it('after 3 s without a decision: request.escalated once, and carol is told (kind escalated)', async () => {
    const events = await eventually(() => audit(id), (es) => es.some((e) => e.type === 'request.escalated'));
    const escalated = events.filter((e) => e.type === 'request.escalated');
    expect(escalated).toHaveLength(1);
    expect(escalated[0]).toMatchObject({ actor: 'system', details: { stage: 'customer', after: '3s', to: [CAROL] } });
    const notes = await eventually(
      async () => ((await carol.get('/v1/notifications')).body.notifications as any[]).filter((n) => n.requestId === id),
      (ns) => ns.some((n) => n.kind === 'escalated'),
    );
    expect(notes.filter((n) => n.kind === 'escalated')).toHaveLength(1);
    const request = (await eve.get(`/v1/requests/${id}`)).body;
    expect(request.escalations).toMatchObject([{ stage: 'customer', to: [CAROL] }]);
  });

  it('someone on neither list is still refused after the escalation', async () => {
    const res = await ian.post(`/v1/requests/${id}/approve`, { comment: 'not mine' });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(problemCode(res.body)).toBe('not_eligible');
  });

  it("carol's approval now counts: the request is granted; still only one request.escalated", async () => {
    const res = await carol.post(`/v1/requests/${id}/approve`, { comment: 'escalated to me, ok' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe('active');
    const events = await audit(id);
    expect(events.filter((e) => e.type === 'request.escalated')).toHaveLength(1);
    expect(events.find((e) => e.type === 'request.approved')).toMatchObject({ actor: CAROL, details: { stage: 'customer', final: true } });
  });
});

describe('reminders per tenant, as the signed policy carries them', () => {
  // The policy a request carries is what the API signed from the tenant's settings. To leave contoso's shared
  // settings alone, this files a request, then starts one of its own from that signed input with `reminders` added
  // and a 6 s lifetime, signed with the stack's API key (what the API would sign for a tenant with these settings).
  it('{count: 2, every: 1s}: two reminders to the undecided approvers, the second numbered, none after expiry', async () => {
    const stack = inject('stack');
    const filed = await eve.post('/v1/requests', { tenant: 'contoso', resource: `mailbox:rem-${ulid().toLowerCase()}@contoso.com`, reason: 'reminders', ticket: 'SUP-1', duration: '5m' });
    expect(filed.status, JSON.stringify(filed.body)).toBe(201);
    expect((await eve.post(`/v1/requests/${filed.body.id}/cancel`, {})).status).toBe(200);
    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      const client = new Client({ connection, namespace: stack.namespace });
      const history = await client.workflow.getHandle(filed.body.id).fetchHistory();
      const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      const { proof: _old, ...signed } = JSON.parse(Buffer.from(payload?.data ?? new Uint8Array()).toString('utf8')) as NewRequestInput;
      const key = JSON.parse(await readFile(join(stack.dataDir, 'signing-key.json'), 'utf8')) as SigningKey;
      const unsigned = {
        ...signed,
        id: signed.id.replace(/[0-9A-Z]{26}$/, ulid()),
        createdAt: new Date().toISOString(),
        requestTtlMs: 6_000,
        // Without the escalation the first part may have left in it: reminders alone here.
        policy: { ...signed.policy, escalation: undefined, reminders: { count: 2, everyMs: 1_000 } },
      };
      const input: NewRequestInput = { ...unsigned, proof: signRequest(unsigned, key) };
      const typedSearchAttributes = [
        { key: SearchAttributes.tenant, value: input.tenant },
        { key: SearchAttributes.requester, value: input.requester },
        { key: SearchAttributes.resource, value: input.resource },
        { key: SearchAttributes.status, value: 'pending' },
      ];
      const handle = await client.workflow.start('accessRequestWorkflow', { workflowId: input.id, taskQueue: stack.taskQueue, args: [input], typedSearchAttributes });
      expect(await handle.result()).toMatchObject({ status: 'expired' });
      const events = await eventually(() => audit(input.id), (es) => es.at(-1)?.type === 'request.closed');
      const reminded = events.filter((e) => e.type === 'approvers.reminded');
      expect(reminded.map((e) => e.details.reminder ?? 1)).toEqual([1, 2]);
      expect(reminded[0]?.details.recipients).toEqual(['alice@contoso.com', 'bob@contoso.com']);
      expect(events.findIndex((e) => e.type === 'approvers.reminded')).toBeLessThan(events.findIndex((e) => e.type === 'request.expired'));
      const notes = ((await alice.get('/v1/notifications')).body.notifications as any[]).filter((n) => n.requestId === input.id && n.kind === 'reminder');
      expect(notes).toHaveLength(2);
    } finally {
      await connection.close();
    }
  });
});
