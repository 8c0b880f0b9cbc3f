/**
 * Issue 14, first finding: grant targets belong to tenants. Before, fabrikam's admin could name contoso's CRM
 * connection variable (or contoso's webhook secret) in fabrikam's settings, and a fabrikam request then handed out a
 * working login to contoso's database. Now the operator declares each target for its tenants; a tenant's settings
 * only pick among those; the API refuses anything else naming the field; and the worker checks again at grant time,
 * so a settings row written around the API or a forged workflow input grants nothing (`target_not_allowed`).
 * A Lockbox of the test's own (its own catalog and settings) on a PostgreSQL cluster that checks passwords.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresRoleName } from '../../src/adapters/grants/postgres-roles.js';
import { openSqliteStore } from '../../src/adapters/sqlite-store.js';
import { createLockboxClient } from '../../src/client/lockbox-client.js';
import { normalizePolicy } from '../../src/domain/policy.js';
import type { NewRequestInput } from '../../src/domain/request.js';
import { type SigningKey } from '../../src/domain/signing.js';
import { signDecision, signRequest } from '../../src/domain/ed25519.js';
import type { Store } from '../../src/ports/store.js';
import { startWebhookReceiver, type WebhookReceiver } from '../grants/webhook-receiver.js';
import { eventually, requestBody } from '../support/api.js';
import { OUTBOUND_ALLOW } from '../support/outbound.js';
import { startOwnStack, type OwnStack } from '../support/own-stack.js';
import { personas, problemCode, settingsBody, type PersonaClient } from '../support/personas.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';

const CONTOSO_HOOK_SECRET = `whsec-contoso-${randomBytes(16).toString('hex')}`;
const FABRIKAM_HOOK_SECRET = `whsec-fabrikam-${randomBytes(16).toString('hex')}`;

let crm: PrivatePostgres | undefined;
let crmUrl: string;
let contosoHooks: WebhookReceiver;
let fabrikamHooks: WebhookReceiver;
let stack: OwnStack | undefined;
let who: (p: 'eve' | 'alice' | 'fiona') => PersonaClient;
let store: Store | undefined;

beforeAll(async () => {
  crm = await startPrivatePostgres();
  const url = new URL(crm.adminUrl);
  url.pathname = '/lockbox_demo_crm';
  crmUrl = url.toString();
  contosoHooks = await startWebhookReceiver(CONTOSO_HOOK_SECRET);
  fabrikamHooks = await startWebhookReceiver(FABRIKAM_HOOK_SECRET);
  // What the operator declares: contoso's CRM and contoso's grant system for contoso, fabrikam's for fabrikam.
  const targets = {
    'contoso-crm': { kind: 'postgres', tenants: ['contoso'], connection: 'LOCKBOX_TARGET_DEMO_CRM', database: 'lockbox_demo_crm', schemas: ['crm'], privileges: 'write' },
    'contoso-hooks': { kind: 'webhook', tenants: ['contoso'], grantUrl: `${contosoHooks.url}/grant`, revokeUrl: `${contosoHooks.url}/revoke`, secret: 'LOCKBOX_TARGET_CONTOSO_HOOK' },
    'fabrikam-hooks': { kind: 'webhook', tenants: ['fabrikam'], grantUrl: `${fabrikamHooks.url}/grant`, revokeUrl: `${fabrikamHooks.url}/revoke`, secret: 'LOCKBOX_TARGET_FABRIKAM_HOOK' },
  };
  stack = await startOwnStack(
    {
      LOCKBOX_TARGETS: JSON.stringify(targets),
      LOCKBOX_TARGET_DEMO_CRM: crmUrl,
      LOCKBOX_TARGET_CONTOSO_HOOK: CONTOSO_HOOK_SECRET,
      LOCKBOX_TARGET_FABRIKAM_HOOK: FABRIKAM_HOOK_SECRET,
      LOCKBOX_OUTBOUND_ALLOW: OUTBOUND_ALLOW,
    },
    'lockbox-e2e-targets-',
  );
  who = personas(stack.apiUrl);
  store = openSqliteStore(join(stack.dataDir, 'lockbox.db'));
}, 180_000);

afterAll(async () => {
  await store?.close();
  await stack?.stop();
  await contosoHooks?.close();
  await fabrikamHooks?.close();
  await crm?.stop();
});

/** fiona (fabrikam's admin) saves fabrikam's settings with these resources; returns the answer. */
async function fabrikamPicks(resources: Record<string, unknown>) {
  const fiona = who('fiona');
  const current = await fiona.get('/v1/tenants/fabrikam/settings');
  expect(current.status, JSON.stringify(current.body)).toBe(200);
  return fiona.put('/v1/tenants/fabrikam/settings', { ...settingsBody(current.body), resources }, { 'if-match': `"${current.body.version}"` });
}

const fields = (body: { errors?: Array<{ field: string; message: string }> }) => (body.errors ?? []).map((e) => e.field);

/** Lockbox's roles at contoso's CRM right now. */
async function lockboxRoles(): Promise<string[]> {
  const admin = new pg.Client({ connectionString: crmUrl });
  await admin.connect();
  try {
    return (await admin.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname LIKE 'lockbox\\_%'")).rows.map((r) => r.rolname);
  } finally {
    await admin.end();
  }
}

describe("a tenant admin cannot pick another tenant's target", () => {
  it("fabrikam naming contoso's database (by target, or by its connection variable as before) is refused, naming the field", async () => {
    const before = (await who('fiona').get('/v1/tenants/fabrikam/settings')).body.version;

    const byName = await fabrikamPicks({ 'db:stolen': { target: 'contoso-crm' } });
    expect(byName.status, JSON.stringify(byName.body)).toBe(403);
    expect(byName.headers.get('content-type')).toContain('application/problem+json');
    expect(problemCode(byName.body)).toBe('target-not-allowed');
    expect(byName.body.errors).toEqual([
      { field: 'resources.db:stolen.target', pointer: '#/resources/db:stolen/target', message: 'target contoso-crm is not declared or not allowed for tenant fabrikam' },
    ]);

    // The old free-form shape: a connection variable of the tenant's choosing. Not a shape settings take any more.
    const byConnection = await fabrikamPicks({
      'db:stolen': { provider: 'postgres', connection: 'LOCKBOX_TARGET_DEMO_CRM', database: 'lockbox_demo_crm', schemas: ['crm'], privileges: 'write' },
    });
    expect(byConnection.status, JSON.stringify(byConnection.body)).toBe(400);
    expect(fields(byConnection.body).every((f) => f.startsWith('resources.db:stolen'))).toBe(true);
    expect(fields(byConnection.body)).toContain('resources.db:stolen.target');

    // A name nobody declared reads exactly like another tenant's: trying names tells nothing about other tenants.
    const unknown = await fabrikamPicks({ 'db:stolen': { target: 'no-such-target' } });
    expect(unknown.status).toBe(403);
    expect(unknown.body.errors[0].message).toBe('target no-such-target is not declared or not allowed for tenant fabrikam');

    expect((await who('fiona').get('/v1/tenants/fabrikam/settings')).body.version).toBe(before);
  });

  it("fabrikam naming contoso's webhook target (contoso's HMAC secret) is refused; its own webhook target is taken", async () => {
    const bySecret = await fabrikamPicks({
      'app:hook': { provider: 'webhook', grantUrl: `${fabrikamHooks.url}/grant`, revokeUrl: `${fabrikamHooks.url}/revoke`, secret: 'LOCKBOX_TARGET_CONTOSO_HOOK' },
    });
    expect(bySecret.status, JSON.stringify(bySecret.body)).toBe(400);
    expect(fields(bySecret.body)).toContain('resources.app:hook.target');

    const contosos = await fabrikamPicks({ 'app:hook': { target: 'contoso-hooks' } });
    expect(contosos.status, JSON.stringify(contosos.body)).toBe(403);
    expect(fields(contosos.body)).toEqual(['resources.app:hook.target']);

    // The control: fabrikam's own target.
    const own = await fabrikamPicks({ 'app:hook': { target: 'fabrikam-hooks' } });
    expect(own.status, JSON.stringify(own.body)).toBe(200);
    expect(own.body.resources).toEqual({ 'app:hook': { target: 'fabrikam-hooks' } });
  });

  it("contoso's own pick works end to end (the control): granted through contoso's webhook target", async () => {
    const alice = who('alice');
    const current = await alice.get('/v1/tenants/contoso/settings');
    const saved = await alice.put('/v1/tenants/contoso/settings', {
      ...settingsBody(current.body),
      resources: { ...current.body.resources, 'app:tickets': { target: 'contoso-hooks' } },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const created = await who('eve').post('/v1/requests', requestBody({ resource: 'app:tickets', duration: '1h' }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const approved = await alice.post(`/v1/requests/${created.body.id}/approve`, {});
    expect([200, 202]).toContain(approved.status);
    const active = await eventually(() => who('eve').get(`/v1/requests/${created.body.id}`), (r) => r.body?.status === 'active', 30_000);
    expect(active.body.status, JSON.stringify(active.body)).toBe('active');
    expect(contosoHooks.hasAccess(created.body.id)).toBe(true);
    expect(fabrikamHooks.calls.some((c) => c.body.includes(created.body.id))).toBe(false);
  });
});

describe('a settings row written around the API cannot widen it', () => {
  async function writeFabrikamRow(resources: Record<string, unknown>): Promise<void> {
    const current = await store!.getTenantSettings('fabrikam');
    if (!current) throw new Error('fabrikam has no settings');
    const written = await store!.putTenantSettings({
      tenant: 'fabrikam',
      settings: { ...current.settings, resources } as never,
      expectedVersion: current.version,
      updatedAt: new Date().toISOString(),
      updatedBy: 'hand-edit@test',
    });
    expect(written.ok).toBe(true);
  }

  it("a fabrikam row picking contoso's target files nothing: 403 naming the settings field, no workflow", async () => {
    await writeFabrikamRow({ 'db:stolen': { target: 'contoso-crm' } });
    const created = await who('eve').post('/v1/requests', requestBody({ tenant: 'fabrikam', resource: 'db:stolen', duration: '1h' }));
    expect(created.status, JSON.stringify(created.body)).toBe(403);
    expect(problemCode(created.body)).toBe('target-not-allowed');
    expect(fields(created.body)).toEqual(['settings.resources.db:stolen.target']);
    const listed = await who('eve').get('/v1/requests?tenant=fabrikam&resource=db:stolen');
    expect(listed.body.requests ?? []).toEqual([]);
  });

  it('a fabrikam row in the old shape (a connection variable) is a clear error for fabrikam only, never a grant or a 500', async () => {
    await writeFabrikamRow({ 'db:stolen': { provider: 'postgres', connection: 'LOCKBOX_TARGET_DEMO_CRM', database: 'lockbox_demo_crm', schemas: ['crm'], privileges: 'write' } });
    const created = await who('eve').post('/v1/requests', requestBody({ tenant: 'fabrikam', resource: 'db:stolen', duration: '1h' }));
    expect(created.status, JSON.stringify(created.body)).toBe(409);
    expect(problemCode(created.body)).toBe('settings-invalid');
    expect(fields(created.body).some((f) => f.startsWith('settings.resources.db:stolen'))).toBe(true);
    // Other tenants are not affected.
    const contoso = await who('eve').post('/v1/requests', requestBody({ resource: `mailbox:unaffected-${ulid().toLowerCase()}@contoso.com` }));
    expect(contoso.status, JSON.stringify(contoso.body)).toBe(201);
    await who('eve').post(`/v1/requests/${contoso.body.id}/cancel`, { reason: 'test' });
    expect((await who('fiona').get('/v1/tenants/fabrikam/settings')).status).toBe(409);
    // fiona repairs it by saving fabrikam's settings again (the bad row is replaced whole).
    const fixed = await who('fiona').put('/v1/tenants/fabrikam/settings', {
      customerApproval: true,
      approvers: ['fiona@fabrikam.com', 'frank@fabrikam.com'],
      quorum: 2,
      requestTtl: '12h',
      maxAccess: '8h',
      requireTicket: false,
      internalApproval: true,
      resources: {},
    });
    expect(fixed.status, JSON.stringify(fixed.body)).toBe(200);
  });
});

describe('the worker checks the target again at grant time (a forged workflow input)', () => {
  /** A fabrikam request with `target`, signed with the stack's own API key (as if the API were fooled), approved. */
  async function forgedAndApproved(target: unknown): Promise<{ id: string; lockbox: ReturnType<typeof createLockboxClient> }> {
    const key = JSON.parse(await readFile(join(stack!.dataDir, 'signing-key.json'), 'utf8')) as SigningKey;
    const policy = normalizePolicy({ tenant: 'fabrikam', customerApproval: true, approvers: ['fiona@fabrikam.com'], quorum: 1 });
    const unsigned = {
      id: `req-fabrikam-${ulid()}`,
      tenant: 'fabrikam',
      resource: 'db:stolen',
      requester: 'eve@lockbox.dev',
      reason: 'forged',
      ticket: null,
      durationMs: 3_600_000,
      requestTtlMs: 3_600_000,
      createdAt: new Date().toISOString(),
      policy,
      target,
    } as Omit<NewRequestInput, 'proof'>;
    const lockbox = createLockboxClient(await stack!.temporal(), 'lockbox');
    const { runId } = await lockbox.start({ ...unsigned, proof: signRequest(unsigned, key) }, true);
    const decision = { requestId: unsigned.id, runId: runId!, action: 'approve', actor: 'fiona@fabrikam.com', note: null, policy, issuedAt: new Date().toISOString(), nonce: ulid() } as const;
    await lockbox.decide(unsigned.id, 'approve', signDecision(decision, key));
    return { id: unsigned.id, lockbox };
  }

  async function expectRefused(id: string, lockbox: ReturnType<typeof createLockboxClient>, reason: RegExp): Promise<void> {
    const ended = await eventually(() => lockbox.get(id), (r) => r.status === 'failed' || r.status === 'active', 30_000);
    expect(ended.status, JSON.stringify(ended)).toBe('failed');
    expect(ended.access).toBeNull();
    expect(ended.failure).toMatch(reason);
    // Nothing at contoso's database for this request, no credential to fetch.
    expect(await lockboxRoles()).not.toContain(postgresRoleName('lockbox_', id));
    expect((await who('eve').get(`/v1/requests/${id}/credentials`)).status).toBeGreaterThanOrEqual(400);
    const audit = await eventually(() => who('eve').get(`/v1/requests/${id}/audit`), (r) => (r.body?.events ?? []).some((e: { type: string }) => e.type === 'access.grant_failed'));
    const failed = (audit.body.events as Array<{ type: string; details: { error?: string } }>).filter((e) => e.type === 'access.grant_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.details.error).toMatch(reason);
    expect(audit.body.events.some((e: { type: string }) => e.type === 'access.granted')).toBe(false);
  }

  it("contoso's target by name in a fabrikam request: failed with target_not_allowed, nothing granted", async () => {
    const { id, lockbox } = await forgedAndApproved({ provider: 'catalog', name: 'contoso-crm' });
    await expectRefused(id, lockbox, /^target_not_allowed: target contoso-crm is not allowed for tenant fabrikam$/);
  });

  it("contoso's database in the old inline shape (what workflows carried before): resolved to contoso-crm, refused the same", async () => {
    const { id, lockbox } = await forgedAndApproved({ provider: 'postgres', connection: 'LOCKBOX_TARGET_DEMO_CRM', database: 'lockbox_demo_crm', schemas: ['crm'], privileges: 'write' });
    await expectRefused(id, lockbox, /^target_not_allowed: target contoso-crm is not allowed for tenant fabrikam$/);
  });

  it('a target this worker does not declare: refused, and its clean-up touches nothing there', async () => {
    const { id, lockbox } = await forgedAndApproved({ provider: 'catalog', name: 'somewhere-else' });
    await expectRefused(id, lockbox, /^target_not_allowed: target somewhere-else is not declared on this worker$/);
  });
});
