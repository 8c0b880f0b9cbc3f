/**
 * Issue 14 end to end: a webhook target (declared for contoso, picked by its admin alice) whose grant URL points at a
 * service on the worker's own loopback (127.0.0.1). eve asks, alice approves: the request must end `failed`, the
 * service must get ZERO requests, and what the audit trail, the request and the outcome message say is the
 * reason code only. The same flow to an allow-listed receiver (127.0.0.2) is granted, so the refusal above comes
 * from the outbound rules and from nothing else in the setup.
 * A Lockbox of the test's own (its own settings, so other files' contoso tests are not disturbed).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, requestBody } from '../support/api.js';
import { OUTBOUND_ALLOW } from '../support/outbound.js';
import { startOwnStack, type OwnStack } from '../support/own-stack.js';
import { personas, settingsBody, type PersonaClient } from '../support/personas.js';
import { startWebhookReceiver, type WebhookReceiver } from '../grants/webhook-receiver.js';

const HOOK_SECRET = `whsec-e2e-${randomBytes(16).toString('hex')}`;
const MARKER = `INTERNAL-ADMIN-${randomBytes(6).toString('hex')}`;

let stack: OwnStack | undefined;
let who: (p: 'eve' | 'alice') => PersonaClient;
/** The internal service an attacker wants the worker to call: it counts what it gets. */
let internal: http.Server;
const internalHits: string[] = [];
let receiver: WebhookReceiver;

beforeAll(async () => {
  internal = http.createServer((req, res) => {
    internalHits.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ endsAt: '2099-01-01T00:00:00Z', note: MARKER }));
  });
  await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
  receiver = await startWebhookReceiver(HOOK_SECRET);
  const port = (internal.address() as AddressInfo).port;
  // The operator declares both targets for contoso (docs/security.md, Targets); the outbound rules still apply.
  const targets = {
    'internal-admin': {
      kind: 'webhook',
      tenants: ['contoso'],
      grantUrl: `http://127.0.0.1:${port}/internal/admin`,
      revokeUrl: `http://127.0.0.1:${port}/internal/revoke`,
      secret: 'LOCKBOX_TARGET_SSRF_HOOK',
    },
    'partner-hook': { kind: 'webhook', tenants: ['contoso'], grantUrl: `${receiver.url}/grant`, revokeUrl: `${receiver.url}/revoke`, secret: 'LOCKBOX_TARGET_SSRF_HOOK' },
  };
  stack = await startOwnStack(
    {
      LOCKBOX_TARGETS: JSON.stringify(targets),
      LOCKBOX_TARGET_SSRF_HOOK: HOOK_SECRET,
      LOCKBOX_OUTBOUND_ALLOW: OUTBOUND_ALLOW,
      // The default grant deadline (5 minutes): a refused destination ends the grant and its clean-up at once.
    },
    'lockbox-e2e-ssrf-',
  );
  who = personas(stack.apiUrl);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
  internal?.closeAllConnections();
  await new Promise<void>((resolve) => (internal ? internal.close(() => resolve()) : resolve()));
});

/** alice sends two resources to the two webhook targets declared for contoso, as a tenant admin can. */
async function declare(resources: Record<string, unknown>): Promise<void> {
  const alice = who('alice');
  const current = await alice.get('/v1/tenants/contoso/settings');
  expect(current.status, JSON.stringify(current.body)).toBe(200);
  const res = await alice.put('/v1/tenants/contoso/settings', { ...settingsBody(current.body), resources });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function fileAndApprove(resource: string): Promise<string> {
  const created = await who('eve').post('/v1/requests', requestBody({ resource, duration: '1h' }));
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id = created.body.id as string;
  const approved = await who('alice').post(`/v1/requests/${id}/approve`, {});
  expect([200, 202], JSON.stringify(approved.body)).toContain(approved.status);
  return id;
}

describe('a tenant cannot point the worker at its own loopback', () => {
  it('a grant URL on 127.0.0.1 ends the request failed with only the reason code, and the service hears nothing', async () => {
    await declare({ 'app:internal-admin': { target: 'internal-admin' }, 'app:partner-hook': { target: 'partner-hook' } });

    const id = await fileAndApprove('app:internal-admin');
    const eve = who('eve');
    const ended = await eventually(() => eve.get(`/v1/requests/${id}`), (r) => r.body?.status === 'failed', 60_000);
    expect(ended.body.status, JSON.stringify(ended.body)).toBe('failed');
    expect(ended.body.failure).toBe('webhook grant: destination_refused');

    const audit = await eventually(
      () => eve.get(`/v1/requests/${id}/audit`),
      (r) => (r.body?.events ?? []).some((e: { type: string }) => e.type === 'access.grant_failed'),
    );
    const failed = (audit.body.events as Array<{ type: string; details: Record<string, unknown> }>).filter((e) => e.type === 'access.grant_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.details).toEqual({ error: 'webhook grant: destination_refused' });
    const cleanup = (audit.body.events as Array<{ type: string; details: Record<string, unknown> }>).find((e) => e.type === 'access.cleanup_unconfirmed');
    expect(cleanup?.details).toEqual({ reason: 'webhook revoke: destination_refused', owner: 'reconciler' });
    // What the internal service would have answered never shows anywhere a tenant can read (it was never asked).
    expect(JSON.stringify([ended.body, audit.body])).not.toContain(MARKER);

    // Neither the grant nor the clean-up revoke sent anything to it.
    expect(internalHits).toEqual([]);
  });

  it('the same flow to an allow-listed receiver is granted (the control), with its endsAt inside the window', async () => {
    const id = await fileAndApprove('app:partner-hook');
    const eve = who('eve');
    const active = await eventually(() => eve.get(`/v1/requests/${id}`), (r) => r.body?.status === 'active', 60_000);
    expect(active.body.status, JSON.stringify(active.body)).toBe('active');
    expect(receiver.hasAccess(id)).toBe(true);
    expect(Date.parse(active.body.access.endsAt) - Date.parse(active.body.access.grantedAt)).toBeLessThanOrEqual(3_600_000);
    expect(internalHits).toEqual([]);
  });
});
