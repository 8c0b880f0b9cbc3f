import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/adapters/open-store.js';
import { openPostgresStore } from '../src/adapters/postgres-store.js';
import { openSqliteStore } from '../src/adapters/sqlite-store.js';
import { buildAuditEvent, type AuditEvent, type AuditEventType } from '../src/domain/audit.js';
import { createRequest } from '../src/domain/decide.js';
import { normalizePolicy } from '../src/domain/policy.js';
import type { AccessRequest } from '../src/domain/request.js';
import type { GrantRecord, LoginFlowRecord, NotificationRecord, SessionRecord, Store, TenantSettings, UserRecord } from '../src/ports/store.js';

/** The machine's PostgreSQL (trust auth); each run works in its own schema, dropped afterwards. */
const PG_BASE_URL = process.env.LOCKBOX_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The way the app isolates itself too: libpq's `options` parameter sets search_path for every connection. */
function withSearchPath(base: string, schema: string): string {
  const u = new URL(base);
  u.searchParams.set('options', `-csearch_path=${schema}`);
  return u.toString();
}

const T0 = '2030-01-01T09:00:00.000Z';
const at = (minutes: number): string => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

/** Unique per call, so tests sharing one database never see each other's rows. */
const uid = (prefix: string): string => `${prefix}-${randomBytes(6).toString('hex')}`;

function grant(over: Partial<GrantRecord> = {}): GrantRecord {
  return {
    requestId: uid('req-contoso'),
    tenant: 'contoso',
    resource: 'mailbox/alice',
    principal: uid('eve'),
    grantedAt: at(0),
    endsAt: at(60),
    revokedAt: null,
    ...over,
  };
}

function notification(over: Partial<NotificationRecord> = {}): NotificationRecord {
  const requestId = uid('req-contoso');
  return {
    id: `${requestId}:notify:1:alice`,
    recipient: 'alice',
    tenant: 'contoso',
    requestId,
    kind: 'approval-requested',
    subject: 'eve asks for access',
    body: 'ticket INC-1',
    createdAt: at(0),
    ...over,
  };
}

function settings(over: Partial<TenantSettings> = {}): TenantSettings {
  return {
    customerApproval: true,
    approvers: ['alice', 'bob', 'carol'],
    quorum: 2,
    requestTtlMs: 3_600_000,
    maxAccessMs: 14_400_000,
    requireTicket: false,
    internalApproval: true,
    ...over,
  };
}

function user(over: Partial<UserRecord> = {}): UserRecord {
  return { id: uid('alice'), roles: ['engineer'], tenantRoles: [{ tenant: 'contoso', role: 'approver' }], lastSeenAt: at(0), ...over };
}

/**
 * Users as the version before per-tenant roles wrote them (one list of tenants, one of roles), and what they must read
 * as: roles at the one tenant a row names; nothing customer-side where a row names several (which role was where
 * cannot be told); provider roles as they were.
 */
const LEGACY_USERS = [
  { id: 'legacy-alice@contoso.com', tenants: ['contoso'], roles: ['approver', 'admin'] },
  { id: 'legacy-carol@contoso.com', tenants: ['contoso', 'fabrikam'], roles: ['approver', 'admin'] },
  { id: 'legacy-eve@lockbox.dev', tenants: [], roles: ['engineer'] },
];
const LEGACY_READ: Record<string, Pick<UserRecord, 'roles' | 'tenantRoles'>> = {
  'legacy-alice@contoso.com': { roles: [], tenantRoles: [{ tenant: 'contoso', role: 'approver' }, { tenant: 'contoso', role: 'admin' }] },
  'legacy-carol@contoso.com': { roles: [], tenantRoles: [] },
  'legacy-eve@lockbox.dev': { roles: ['engineer'], tenantRoles: [] },
};

/** Reads the legacy rows through the store, then rewrites carol the new way and reads her back. */
async function checkLegacyUsers(store: Store): Promise<void> {
  for (const u of LEGACY_USERS) expect(await store.getUser(u.id), u.id).toEqual({ id: u.id, ...LEGACY_READ[u.id], lastSeenAt: T0 });
  expect((await store.listUsers({ tenant: 'contoso', role: 'admin' })).map((u) => u.id)).toContain('legacy-alice@contoso.com');
  expect((await store.listUsers({ tenant: 'contoso', role: 'admin' })).map((u) => u.id)).not.toContain('legacy-carol@contoso.com');
  const carol: UserRecord = { id: 'legacy-carol@contoso.com', roles: [], tenantRoles: [{ tenant: 'contoso', role: 'approver' }, { tenant: 'fabrikam', role: 'admin' }], lastSeenAt: at(1) };
  await store.upsertUser(carol);
  expect(await store.getUser(carol.id)).toEqual(carol);
  expect((await store.listUsers({ tenant: 'fabrikam', role: 'admin' })).map((u) => u.id)).toContain(carol.id);
  expect((await store.listUsers({ tenant: 'contoso', role: 'admin' })).map((u) => u.id)).not.toContain(carol.id);
}

/** A fresh request of `tenant` filed at minute `minute`, as the domain makes it (ids sort by time like ULIDs do). */
function requestAt(minute: number, over: { tenant?: string; requester?: string; resource?: string } = {}): AccessRequest {
  const tenant = over.tenant ?? 'contoso';
  return createRequest({
    id: `req-${tenant}-${String(minute).padStart(6, '0')}${randomBytes(10).toString('hex').toUpperCase()}`,
    tenant,
    resource: over.resource ?? 'mailbox:bob@contoso.com',
    requester: over.requester ?? 'eve@lockbox.dev',
    reason: 'support case 4711',
    ticket: null,
    durationMs: 3_600_000,
    requestTtlMs: 12 * 3_600_000,
    createdAt: at(minute),
    policy: normalizePolicy({ tenant, customerApproval: true, approvers: ['alice@contoso.com'], quorum: 1 }),
  }).state;
}

function eventOf(r: AccessRequest, seq: number, type: AuditEventType, minute: number): AuditEvent {
  return buildAuditEvent({ requestId: r.id, tenant: r.tenant, seq, time: new Date(at(minute)), type, actor: 'system' });
}

/**
 * The Store port's contract: every adapter must pass it. `open` returns a new connection to the same underlying
 * storage each time it is called (like a second process would), so persistence and cross-connection races are tested.
 */
function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    const opened: Store[] = [];
    const connect = async (): Promise<Store> => {
      const s = await open();
      opened.push(s);
      return s;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    describe('reserveIdempotencyKey', () => {
      it('stores the first reservation and returns it on every retry', async () => {
        const store = await connect();
        const r = { principal: uid('eve'), key: uid('key'), fingerprint: 'sha256:a', requestId: uid('req') };
        expect(await store.reserveIdempotencyKey(r)).toEqual({ ...r, created: true });
        const retry = await store.reserveIdempotencyKey({ ...r, requestId: uid('req') });
        expect(retry).toEqual({ ...r, created: false });
      });

      it('keeps the same key of another principal independent', async () => {
        const store = await connect();
        const key = uid('key');
        const eve = await store.reserveIdempotencyKey({ principal: uid('eve'), key, fingerprint: 'f', requestId: 'r1' });
        const bob = await store.reserveIdempotencyKey({ principal: uid('bob'), key, fingerprint: 'f', requestId: 'r2' });
        expect([eve.created, bob.created]).toEqual([true, true]);
        expect(bob.requestId).toBe('r2');
      });

      it('returns the stored fingerprint when the same key comes with another body', async () => {
        const store = await connect();
        const r = { principal: uid('eve'), key: uid('key'), fingerprint: 'sha256:first', requestId: uid('req') };
        await store.reserveIdempotencyKey(r);
        const other = await store.reserveIdempotencyKey({ ...r, fingerprint: 'sha256:second', requestId: uid('req') });
        expect(other).toMatchObject({ created: false, fingerprint: 'sha256:first', requestId: r.requestId });
      });

      it('creates exactly once under concurrent reservations from two connections', async () => {
        const [a, b] = [await connect(), await connect()];
        const principal = uid('eve');
        const key = uid('key');
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 ? a : b).reserveIdempotencyKey({ principal, key, fingerprint: 'f', requestId: `req-${i}` }),
          ),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.requestId)).size).toBe(1);
      });
    });

    describe('claimRequestRun', () => {
      it('gives a request id to the first run that claims it, forever; a later run learns the owner', async () => {
        const store = await connect();
        const id = uid('req');
        expect(await store.getRequestRun(id)).toBeNull();
        expect(await store.claimRequestRun(id, 'run-1')).toBe('run-1');
        expect(await store.getRequestRun(id)).toBe('run-1');
        expect(await store.claimRequestRun(id, 'run-1')).toBe('run-1');
        expect(await store.claimRequestRun(id, 'run-2')).toBe('run-1');
        expect(await store.claimRequestRun(uid('req'), 'run-2')).toBe('run-2');
      });

      it('has exactly one owner under concurrent claims from two connections', async () => {
        const [a, b] = [await connect(), await connect()];
        const id = uid('req');
        const owners = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).claimRequestRun(id, `run-${i}`)));
        expect(new Set(owners).size).toBe(1);
      });
    });

    describe('takeEmergencySlot', () => {
      const slot = (requester: string, requestId: string, at: string, limit = 2) => ({ tenant: 'contoso', requester, requestId, at, since: new Date(Date.parse(at) - 86_400_000).toISOString(), limit });

      it('gives a responder `limit` slots a day at a tenant; a retried request keeps its slot; older slots age out', async () => {
        const store = await connect();
        const eve = uid('eve');
        const [r1, r2, r3] = [uid('req'), uid('req'), uid('req')];
        const t0 = '2026-12-01T00:00:00.000Z';
        expect(await store.takeEmergencySlot(slot(eve, r1, t0))).toEqual({ ok: true, used: 1 });
        expect(await store.takeEmergencySlot(slot(eve, r2, t0))).toEqual({ ok: true, used: 2 });
        expect(await store.takeEmergencySlot(slot(eve, r1, t0))).toEqual({ ok: true, used: 2 });
        expect(await store.takeEmergencySlot(slot(eve, r3, t0))).toEqual({ ok: false, used: 2 });
        // Another responder, or another tenant, has slots of their own.
        expect((await store.takeEmergencySlot(slot(uid('frank'), r3, t0))).ok).toBe(true);
        expect((await store.takeEmergencySlot({ ...slot(eve, uid('req'), t0), tenant: 'fabrikam' })).ok).toBe(true);
        // A day later the first two no longer count.
        expect(await store.takeEmergencySlot(slot(eve, uid('req'), '2026-12-02T00:00:01.000Z'))).toEqual({ ok: true, used: 1 });
      });

      it('never gives more than `limit` under concurrent takes from two connections (API replicas)', async () => {
        const [a, b] = [await connect(), await connect()];
        const eve = uid('eve');
        const at = new Date().toISOString();
        const taken = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).takeEmergencySlot(slot(eve, uid('req'), at, 3))));
        expect(taken.filter((t) => t.ok)).toHaveLength(3);
      });
    });

    describe('grants', () => {
      it('putGrant twice returns the first grant; getGrant reads it back', async () => {
        const store = await connect();
        const g = grant();
        expect(await store.putGrant(g)).toEqual(g);
        expect(await store.putGrant({ ...g, endsAt: at(600), principal: 'mallory' })).toEqual(g);
        expect(await store.getGrant(g.requestId)).toEqual(g);
        expect(await store.getGrant(uid('req-unknown'))).toBeNull();
      });

      it('normalises times to ISO-8601 UTC with milliseconds', async () => {
        const store = await connect();
        const g = grant({ grantedAt: '2030-01-01T10:00:00+01:00', endsAt: '2030-01-01T10:00:00.5Z' });
        const stored = await store.putGrant(g);
        expect(stored).toMatchObject({ grantedAt: '2030-01-01T09:00:00.000Z', endsAt: '2030-01-01T10:00:00.500Z' });
        await expect(store.putGrant(grant({ endsAt: 'tomorrow-ish' }))).rejects.toThrow(/endsAt/);
      });

      it('findActiveGrants honours revokedAt and endsAt, even when revoke never ran', async () => {
        const store = await connect();
        const principal = uid('eve');
        const expired = await store.putGrant(grant({ principal, endsAt: at(10) }));
        const live = await store.putGrant(grant({ principal, endsAt: at(60) }));
        const find = (now: string) =>
          store.findActiveGrants({ tenant: 'contoso', resource: 'mailbox/alice', principal, now });
        expect(await find(at(5))).toEqual([live, expired]); // latest-ending first
        expect(await find(at(10))).toEqual([live]); // endsAt is exclusive: denied from that instant on
        expect(await find(at(60))).toEqual([]);
        await store.revokeGrant(live.requestId, at(6));
        expect(await find(at(5))).toEqual([expired]);
      });

      it('findActiveGrants is scoped to principal, tenant and resource', async () => {
        const store = await connect();
        const principal = uid('eve');
        const g = await store.putGrant(grant({ principal }));
        await store.putGrant(grant({ principal: uid('ian') }));
        await store.putGrant(grant({ principal, tenant: 'fabrikam' }));
        await store.putGrant(grant({ principal, resource: 'mailbox/bob' }));
        const q = { tenant: 'contoso', resource: 'mailbox/alice', now: at(1) };
        expect(await store.findActiveGrants({ ...q, principal })).toEqual([g]);
        expect(await store.findActiveGrants({ ...q, principal, tenant: 'northwind' })).toEqual([]);
      });

      it('counts two overlapping grants; revoking one leaves the other', async () => {
        const store = await connect();
        const principal = uid('eve');
        const first = await store.putGrant(grant({ principal, grantedAt: at(0), endsAt: at(60) }));
        const second = await store.putGrant(grant({ principal, grantedAt: at(30), endsAt: at(90) }));
        const q = { tenant: 'contoso', resource: 'mailbox/alice', principal, now: at(45) };
        expect(await store.findActiveGrants(q)).toEqual([second, first]);
        await store.revokeGrant(second.requestId, at(46));
        expect(await store.findActiveGrants({ ...q, now: at(47) })).toEqual([first]);
      });

      it('revoking twice keeps the first revokedAt; revoking an unknown grant succeeds', async () => {
        const store = await connect();
        const g = await store.putGrant(grant());
        await store.revokeGrant(g.requestId, at(5));
        await store.revokeGrant(g.requestId, at(9));
        expect((await store.getGrant(g.requestId))?.revokedAt).toBe(at(5));
        await expect(store.revokeGrant(uid('req-unknown'), at(5))).resolves.toBeUndefined();
        expect(await store.getGrant(uid('req-unknown'))).toBeNull();
      });

      it('concurrent putGrant of one id from two connections stores one row', async () => {
        const [a, b] = [await connect(), await connect()];
        const principal = uid('eve');
        const requestId = uid('req-contoso');
        const variants = Array.from({ length: 10 }, (_, i) => grant({ requestId, principal, endsAt: at(60 + i) }));
        const results = await Promise.all(variants.map((g, i) => (i % 2 ? a : b).putGrant(g)));
        expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
        const active = await a.findActiveGrants({ tenant: 'contoso', resource: 'mailbox/alice', principal, now: at(1) });
        expect(active).toEqual([results[0]]);
      });
    });

    describe('notifications', () => {
      it('stores a notification once per id', async () => {
        const store = await connect();
        const recipient = uid('alice');
        const n = notification({ recipient });
        await store.addNotification(n);
        await store.addNotification({ ...n, subject: 'changed' });
        expect(await store.listNotifications({ recipient, limit: 10 })).toEqual([n]);
      });

      it('lists a recipient’s notifications newest first, up to the limit', async () => {
        const store = await connect();
        const recipient = uid('alice');
        const ns = [3, 1, 4, 2].map((m) => notification({ recipient, createdAt: at(m) }));
        await Promise.all(ns.map((n) => store.addNotification(n)));
        await store.addNotification(notification({ recipient: uid('bob'), createdAt: at(9) }));
        const listed = await store.listNotifications({ recipient, limit: 3 });
        expect(listed.map((n) => n.createdAt)).toEqual([at(4), at(3), at(2)]);
        expect(await store.listNotifications({ recipient, limit: 0 })).toEqual([]);
      });
    });

    describe('tenant settings', () => {
      const put = (store: Store, tenant: string, expectedVersion: number, over: Partial<TenantSettings> = {}, by = 'admin') =>
        store.putTenantSettings({ tenant, settings: settings(over), expectedVersion, updatedAt: at(expectedVersion), updatedBy: by });

      it('stores the first write as version 1 and each next one as expectedVersion + 1', async () => {
        const store = await connect();
        const tenant = uid('contoso');
        const first = await store.putTenantSettings({
          tenant,
          settings: settings(),
          expectedVersion: 0,
          updatedAt: '2030-01-01T10:00:00+01:00',
          updatedBy: 'alice',
        });
        const v1 = { tenant, version: 1, settings: settings(), updatedAt: T0, updatedBy: 'alice' };
        expect(first).toEqual({ ok: true, record: v1 });
        expect(await store.getTenantSettings(tenant)).toEqual(v1);

        const second = await put(store, tenant, 1, { quorum: 3 }, 'bob');
        const v2 = { tenant, version: 2, settings: settings({ quorum: 3 }), updatedAt: at(1), updatedBy: 'bob' };
        expect(second).toEqual({ ok: true, record: v2 });
        expect(await store.getTenantSettings(tenant)).toEqual(v2);
      });

      it('refuses a stale or unknown version, stores nothing and returns the current record', async () => {
        const store = await connect();
        const tenant = uid('contoso');
        await put(store, tenant, 0);
        const { record: v2 } = (await put(store, tenant, 1, { quorum: 1 })) as { ok: true; record: unknown };

        expect(await put(store, tenant, 1, { quorum: 3 }, 'mallory')).toEqual({ ok: false, current: v2 });
        expect(await put(store, tenant, 0, { quorum: 3 }, 'mallory')).toEqual({ ok: false, current: v2 });
        expect(await put(store, tenant, 7, { quorum: 3 }, 'mallory')).toEqual({ ok: false, current: v2 }); // ahead
        expect(await store.getTenantSettings(tenant)).toEqual(v2);

        // No row yet: only expectedVersion 0 may create one, never "version expectedVersion + 1" out of nothing.
        const fresh = uid('fabrikam');
        expect(await put(store, fresh, 3)).toEqual({ ok: false, current: null });
        expect(await store.getTenantSettings(fresh)).toBeNull();
      });

      it('rejects an expectedVersion that is not a non-negative integer', async () => {
        const store = await connect();
        const tenant = uid('contoso');
        for (const expectedVersion of [-1, 0.5, Number.NaN]) {
          const bad = { tenant, settings: settings(), expectedVersion, updatedAt: at(0), updatedBy: 'admin' };
          await expect(store.putTenantSettings(bad)).rejects.toThrow(/expectedVersion/);
        }
        expect(await store.getTenantSettings(tenant)).toBeNull();
      });

      it('lets exactly one of concurrent writers with the same expectedVersion win, across two connections', async () => {
        const [a, b] = [await connect(), await connect()];
        const tenant = uid('contoso');
        for (const expectedVersion of [0, 1]) {
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              (i % 2 ? a : b).putTenantSettings({
                tenant,
                settings: settings({ quorum: i }),
                expectedVersion,
                updatedAt: at(i),
                updatedBy: `admin-${i}`,
              }),
            ),
          );
          const winners = results.flatMap((r) => (r.ok ? [r.record] : []));
          expect(winners).toHaveLength(1);
          expect(winners[0]?.version).toBe(expectedVersion + 1);
          for (const r of results) if (!r.ok) expect(r.current).toEqual(winners[0]);
          expect(await a.getTenantSettings(tenant)).toEqual(winners[0]);
          expect(await b.getTenantSettings(tenant)).toEqual(winners[0]);
        }
      });

      it('round-trips settings exactly: arrays, booleans, numbers', async () => {
        const store = await connect();
        const cases: TenantSettings[] = [
          settings(),
          settings({ customerApproval: false, approvers: [], quorum: 0, requireTicket: true, internalApproval: false }),
          settings({ approvers: ['zoë', 'o\'brien', 'a "quoted" id', 'x,y', '{}', 'alice'], requestTtlMs: 1, maxAccessMs: 2 ** 40 }),
        ];
        for (const s of cases) {
          const tenant = uid('contoso');
          const r = await store.putTenantSettings({ tenant, settings: s, expectedVersion: 0, updatedAt: at(0), updatedBy: 'a' });
          expect(r).toEqual({ ok: true, record: expect.objectContaining({ settings: s }) });
          expect((await store.getTenantSettings(tenant))?.settings).toStrictEqual(s);
        }
      });

      it('lists every tenant’s settings sorted by tenant id', async () => {
        const store = await connect();
        const p = uid('t');
        // Written out of order; byte order puts digits before upper case before lower case, whatever the locale.
        for (const t of ['b', 'a', '9', 'B', '10']) await put(store, `${p}-${t}`, 0, { quorum: t.length });
        const listed = (await store.listTenantSettings()).filter((r) => r.tenant.startsWith(`${p}-`));
        expect(listed.map((r) => r.tenant)).toEqual(['10', '9', 'B', 'a', 'b'].map((t) => `${p}-${t}`));
        expect(listed[0]).toEqual(await store.getTenantSettings(`${p}-10`));
        const all = (await store.listTenantSettings()).map((r) => r.tenant);
        expect(all).toEqual([...all].sort());
      });

      it('returns null for a tenant with no settings', async () => {
        const store = await connect();
        expect(await store.getTenantSettings(uid('unknown'))).toBeNull();
      });
    });

    describe('users', () => {
      it('inserts a user and reads it back; an unknown id is null', async () => {
        const store = await connect();
        const u = user({ lastSeenAt: '2030-01-01T10:00:00+01:00' });
        await store.upsertUser(u);
        expect(await store.getUser(u.id)).toEqual({ ...u, lastSeenAt: T0 });
        expect(await store.getUser(uid('nobody'))).toBeNull();
      });

      it('lists the users holding a role AT a tenant, and only those', async () => {
        const store = await connect();
        const tenant = uid('t');
        const other = uid('other');
        const admin = user({ id: `${uid('a')}@x.com`, tenantRoles: [{ tenant, role: 'approver' }, { tenant, role: 'admin' }, { tenant: other, role: 'approver' }] });
        const approver = user({ id: `${uid('b')}@x.com`, tenantRoles: [{ tenant, role: 'approver' }] });
        const elsewhere = user({ id: `${uid('c')}@x.com`, roles: ['operator'], tenantRoles: [{ tenant: other, role: 'admin' }] });
        // Approver here, admin elsewhere: never an admin here.
        const crossed = user({ id: `${uid('d')}@x.com`, tenantRoles: [{ tenant, role: 'approver' }, { tenant: other, role: 'admin' }] });
        for (const u of [admin, approver, elsewhere, crossed]) await store.upsertUser(u);
        expect((await store.listUsers({ tenant, role: 'admin' })).map((u) => u.id)).toEqual([admin.id]);
        expect((await store.listUsers({ tenant, role: 'approver' })).map((u) => u.id)).toEqual([admin.id, approver.id, crossed.id].sort());
        expect((await store.listUsers({ tenant: other, role: 'admin' })).map((u) => u.id)).toEqual([elsewhere.id, crossed.id].sort());
        expect(await store.listUsers({ tenant, role: 'operator' })).toEqual([]);
        expect(await store.listUsers({ tenant: uid('none'), role: 'admin' })).toEqual([]);
        expect(await store.getUser(crossed.id)).toEqual(crossed);
      });

      it('replaces roles and tenant roles on update; lastSeenAt never moves backwards', async () => {
        const store = await connect();
        const u = user({ roles: ['engineer'], tenantRoles: [{ tenant: 'contoso', role: 'admin' }, { tenant: 'fabrikam', role: 'approver' }], lastSeenAt: at(10) });
        await store.upsertUser(u);
        await store.upsertUser({ ...u, roles: ['operator'], tenantRoles: [{ tenant: 'northwind', role: 'approver' }], lastSeenAt: at(20) });
        expect(await store.getUser(u.id)).toEqual({ ...u, roles: ['operator'], tenantRoles: [{ tenant: 'northwind', role: 'approver' }], lastSeenAt: at(20) });
        await store.upsertUser({ ...u, roles: [], tenantRoles: [], lastSeenAt: at(5) });
        expect(await store.getUser(u.id)).toEqual({ ...u, roles: [], tenantRoles: [], lastSeenAt: at(20) });
        await expect(store.upsertUser({ ...u, lastSeenAt: 'yesterday-ish' })).rejects.toThrow(/lastSeenAt/);
      });

      it('keeps the latest lastSeenAt under concurrent upserts from two connections', async () => {
        const [a, b] = [await connect(), await connect()];
        const id = uid('alice');
        const minutes = [3, 9, 1, 7, 5, 0, 8, 2, 6, 4];
        await Promise.all(minutes.map((m, i) => (i % 2 ? a : b).upsertUser(user({ id, lastSeenAt: at(m) }))));
        expect((await a.getUser(id))?.lastSeenAt).toBe(at(9));
      });
    });

    describe('sessions', () => {
      const session = (over: Partial<SessionRecord> = {}): SessionRecord => ({
        idHash: uid('sess'),
        principal: { id: 'alice@contoso.com', roles: ['approver'], tenants: ['contoso'] },
        csrfToken: uid('csrf'),
        authTime: at(0),
        amr: ['pwd'],
        acr: null,
        idToken: 'eyJ.id.token',
        createdAt: at(0),
        lastSeenAt: at(0),
        expiresAt: at(720),
        ...over,
      });
      const flow = (over: Partial<LoginFlowRecord> = {}): LoginFlowRecord => ({
        idHash: uid('flow'),
        state: uid('state'),
        nonce: uid('nonce'),
        codeVerifier: uid('verifier'),
        returnTo: '/requests/req-contoso-1',
        maxAge: null,
        expiresAt: at(10),
        ...over,
      });

      it('stores a session and reads it back exactly; an unknown id is null', async () => {
        const store = await connect();
        const s = session({ authTime: null, amr: [], acr: 'urn:acr:pwd', idToken: null });
        await store.createSession(s);
        expect(await store.getSession(s.idHash)).toEqual(s);
        expect(await store.getSession(uid('nobody'))).toBeNull();
      });

      it('refuses a second session with the same id instead of overwriting it', async () => {
        const store = await connect();
        const s = session();
        await store.createSession(s);
        await expect(store.createSession({ ...s, principal: { id: 'mallory@evil.test' } })).rejects.toThrow();
        expect((await store.getSession(s.idHash))?.principal.id).toBe('alice@contoso.com');
      });

      it('touch moves lastSeenAt forward only; delete is idempotent', async () => {
        const [a, b] = [await connect(), await connect()];
        const s = session();
        await a.createSession(s);
        await b.touchSession(s.idHash, at(20));
        await a.touchSession(s.idHash, at(5));
        expect((await b.getSession(s.idHash))?.lastSeenAt).toBe(at(20));
        await a.touchSession(uid('nobody'), at(1));
        await a.deleteSession(s.idHash);
        await b.deleteSession(s.idHash);
        expect(await a.getSession(s.idHash)).toBeNull();
      });

      it('hands a sign-in flow out once, even to two connections at once', async () => {
        const [a, b] = [await connect(), await connect()];
        const f = flow({ maxAge: 0 });
        await a.putLoginFlow(f);
        const taken = await Promise.all([a.takeLoginFlow(f.idHash), b.takeLoginFlow(f.idHash)]);
        expect(taken.filter(Boolean)).toEqual([f]);
        expect(await a.takeLoginFlow(f.idHash)).toBeNull();
      });

      it('deletes expired sessions and flows, and only those', async () => {
        const store = await connect();
        const old = session({ expiresAt: at(-1) });
        const live = session({ expiresAt: at(10_000) });
        const oldFlow = flow({ expiresAt: at(-1) });
        const liveFlow = flow({ expiresAt: at(10_000) });
        for (const s of [old, live]) await store.createSession(s);
        for (const f of [oldFlow, liveFlow]) await store.putLoginFlow(f);
        expect(await store.deleteExpiredSessions(at(0))).toBeGreaterThanOrEqual(2);
        expect(await store.getSession(old.idHash)).toBeNull();
        expect(await store.getSession(live.idHash)).toEqual(live);
        expect(await store.takeLoginFlow(oldFlow.idHash)).toBeNull();
        expect(await store.takeLoginFlow(liveFlow.idHash)).toEqual(liveFlow);
      });
    });

    describe('request records', () => {
      it('stores a copy with its events; a higher version replaces it, a lower one (a late retry) does not', async () => {
        const store = await connect();
        const r = requestAt(0);
        const created = eventOf(r, 1, 'request.created', 0);
        await store.putRequestRecord({ request: r, version: 1, events: [created] });
        expect(await store.getRequestRecord(r.id)).toEqual({ request: r, version: 1, closed: false, closedAt: null });

        const rejected = { ...r, status: 'rejected' as const, endedAt: at(5) };
        const later = [eventOf(r, 2, 'request.rejected', 5), eventOf(r, 3, 'request.closed', 6)];
        await store.putRequestRecord({ request: rejected, version: 3, events: later });
        // The first export retried late (its attempt timed out after writing): changes nothing.
        await store.putRequestRecord({ request: r, version: 1, events: [created] });
        expect(await store.getRequestRecord(r.id)).toEqual({ request: rejected, version: 3, closed: true, closedAt: at(6) });
        expect(await store.listRequestEvents(r.id)).toEqual([created, ...later]);
        expect(await store.getRequestRecord(requestAt(1).id)).toBeNull();
        expect(await store.listRequestEvents(requestAt(1).id)).toEqual([]);
      });

      it('never moves a record to another tenant and never reopens a closed one', async () => {
        const store = await connect();
        const r = requestAt(0);
        await store.putRequestRecord({ request: r, version: 2, events: [eventOf(r, 1, 'request.created', 0), eventOf(r, 2, 'request.closed', 1)] });
        await store.putRequestRecord({ request: { ...r, tenant: 'fabrikam' }, version: 9, events: [] });
        await store.putRequestRecord({ request: { ...r, status: 'active' }, version: 3, events: [] });
        expect(await store.getRequestRecord(r.id)).toMatchObject({ request: { tenant: 'contoso', status: 'active' }, version: 3, closed: true, closedAt: at(1) });
      });

      it('lists newest first within the caller’s scope and filters, and pages with `after`', async () => {
        const store = await connect();
        const tenant = uid('t');
        const eve = uid('eve');
        const rs = [
          requestAt(10, { tenant, requester: eve }),
          requestAt(20, { tenant, resource: 'db:crm' }),
          requestAt(30, { tenant: `${tenant}-other`, requester: eve }),
          requestAt(40, { tenant: `${tenant}-other` }),
        ];
        for (const r of rs) await store.putRequestRecord({ request: r, version: 1, events: [] });
        await store.putRequestRecord({ request: { ...rs[1]!, status: 'approved' as never }, version: 0, events: [] });
        const ids = async (q: Parameters<Store['listRequestRecords']>[0]) => (await store.listRequestRecords(q)).map((x) => x.request.id);
        const [a, b, c, d] = rs.map((r) => r.id);
        expect(await ids({ tenant, limit: 10 })).toEqual([b, a]);
        expect(await ids({ scopeTenants: [tenant], scopeRequester: eve, limit: 10 })).toEqual([c, b, a]);
        expect(await ids({ scopeTenants: [], limit: 10 })).toEqual([]);
        expect(await ids({ scopeTenants: [tenant, `${tenant}-other`], resource: 'db:crm', limit: 10 })).toEqual([b]);
        expect(await ids({ scopeTenants: [tenant, `${tenant}-other`], requester: eve, status: 'pending', limit: 10 })).toEqual([c, a]);
        expect(await ids({ scopeTenants: [tenant, `${tenant}-other`], createdFrom: at(20), createdTo: at(40), limit: 10 })).toEqual([c, b]);
        const page1 = await ids({ scopeTenants: [tenant, `${tenant}-other`], limit: 2 });
        expect(page1).toEqual([d, c]);
        expect(await ids({ scopeTenants: [tenant, `${tenant}-other`], after: page1[1], limit: 2 })).toEqual([b, a]);
        expect(await ids({ scopeTenants: [tenant, `${tenant}-other`], after: 'req-nobody-0', limit: 2 })).toEqual([]);
        expect(await store.listRecordTenants()).toEqual(expect.arrayContaining([tenant, `${tenant}-other`]));
      });

      it('prunes closed records of one tenant closed before a time, with their events; never open ones', async () => {
        const store = await connect();
        const tenant = uid('t');
        const old = requestAt(0, { tenant });
        const recent = requestAt(1, { tenant });
        const open = requestAt(2, { tenant });
        const elsewhere = requestAt(3, { tenant: `${tenant}-x` });
        for (const [r, closedMinute] of [[old, 10], [recent, 500], [elsewhere, 10]] as const) {
          await store.putRequestRecord({ request: r, version: 2, events: [eventOf(r, 1, 'request.created', 0), eventOf(r, 2, 'request.closed', closedMinute)] });
        }
        await store.putRequestRecord({ request: open, version: 1, events: [eventOf(open, 1, 'request.created', 0)] });
        expect(await store.findPrunableRecords({ tenant, closedBefore: at(100), limit: 10 })).toEqual([old.id]);
        expect(await store.findPrunableRecords({ tenant, closedBefore: at(1000), limit: 10 })).toEqual([old.id, recent.id]);
        expect(await store.findPrunableRecords({ tenant, closedBefore: at(1000), limit: 1 })).toEqual([old.id]);
        // Deleting never takes an open record, even when asked to; twice is a no-op.
        expect(await store.deleteRequestRecords([old.id, open.id])).toEqual([old.id]);
        expect(await store.deleteRequestRecords([old.id])).toEqual([]);
        expect(await store.getRequestRecord(old.id)).toBeNull();
        expect(await store.listRequestEvents(old.id)).toEqual([]);
        for (const r of [recent, open, elsewhere]) expect(await store.getRequestRecord(r.id), r.id).not.toBeNull();
        expect(await store.listRequestEvents(open.id)).toHaveLength(1);
        expect(await store.findPrunableRecords({ tenant, closedBefore: at(100), limit: 10 })).toEqual([]);
      });
    });

    it('keeps its state across close and reopen', async () => {
      const first = await open();
      const g = grant();
      const n = notification({ recipient: uid('alice') });
      const r = { principal: uid('eve'), key: uid('key'), fingerprint: 'f', requestId: g.requestId };
      await first.putGrant(g);
      await first.revokeGrant(g.requestId, at(7));
      await first.addNotification(n);
      await first.reserveIdempotencyKey(r);
      const tenant = uid('contoso');
      const saved = await first.putTenantSettings({ tenant, settings: settings(), expectedVersion: 0, updatedAt: at(1), updatedBy: 'a' });
      const u = user();
      await first.upsertUser(u);
      await first.close();
      await first.close(); // idempotent

      const second = await connect();
      expect(await second.getGrant(g.requestId)).toEqual({ ...g, revokedAt: at(7) });
      expect(await second.listNotifications({ recipient: n.recipient, limit: 5 })).toEqual([n]);
      expect(await second.reserveIdempotencyKey({ ...r, requestId: 'other' })).toEqual({ ...r, created: false });
      expect(saved.ok).toBe(true);
      if (saved.ok) expect(await second.getTenantSettings(tenant)).toEqual(saved.record);
      expect(await second.getUser(u.id)).toEqual(u);
      expect(await second.putTenantSettings({ tenant, settings: settings(), expectedVersion: 0, updatedAt: at(2), updatedBy: 'b' }))
        .toMatchObject({ ok: false, current: { version: 1 } });
    });
  });
}

describe('SQLite', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lockbox-store-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  storeContract('SQLite', async () => openSqliteStore(join(dir, 'lockbox.db')));

  it('refuses a record or event row edited in the database: another request’s copy, a bad shape, broken JSON', async () => {
    const file = join(dir, 'tampered.db');
    const store = openSqliteStore(file);
    const [r, other, broken] = [requestAt(0), requestAt(1), requestAt(2)];
    for (const x of [r, other, broken]) await store.putRequestRecord({ request: x, version: 1, events: [eventOf(x, 1, 'request.created', 0)] });
    const db = new Database(file);
    try {
      db.prepare(`UPDATE request_records SET body = (SELECT body FROM request_records WHERE request_id = ?) WHERE request_id = ?`).run(other.id, r.id);
      db.prepare(`UPDATE request_records SET body = ? WHERE request_id = ?`).run(JSON.stringify({ ...other, id: other.id, status: 'granted-forever' }), other.id);
      db.prepare(`UPDATE request_records SET body = '{not json' WHERE request_id = ?`).run(broken.id);
      db.prepare(`UPDATE request_events SET event = (SELECT event FROM request_events WHERE request_id = ?) WHERE request_id = ?`).run(other.id, r.id);
    } finally {
      db.close();
    }
    for (const x of [r, other, broken]) expect(await store.getRequestRecord(x.id), x.id).toBeNull();
    expect(await store.listRequestRecords({ scopeTenants: ['contoso'], createdTo: at(3), limit: 10 })).toEqual([]);
    expect(await store.listRequestEvents(r.id)).toEqual([]);
    expect(await store.listRequestEvents(other.id)).toHaveLength(1);
    await store.close();
  });

  it('adds the settings and user tables to a file created by the previous version', async () => {
    const file = join(dir, 'previous-version.db');
    const old = openSqliteStore(file);
    const g = await old.putGrant(grant());
    await old.close();
    // What the previous version left behind: its tables only.
    const raw = new Database(file);
    raw.exec('DROP TABLE tenant_settings; DROP TABLE users;');
    raw.close();

    const store = openSqliteStore(file);
    try {
      expect(await store.getGrant(g.requestId)).toEqual(g);
      expect(await store.listTenantSettings()).toEqual([]);
      const r = await store.putTenantSettings({ tenant: 'contoso', settings: settings(), expectedVersion: 0, updatedAt: at(0), updatedBy: 'a' });
      expect(r.ok).toBe(true);
      await store.upsertUser(user({ id: 'alice' }));
      expect(await store.getUser('alice')).toMatchObject({ id: 'alice' });
    } finally {
      await store.close();
    }
  });

  it('adds the tenant roles column to a users table of the previous version and reads its rows safely', async () => {
    const file = join(dir, 'previous-users.db');
    const raw = new Database(file);
    // The previous version's users table, with its rows.
    raw.exec('CREATE TABLE users (id TEXT PRIMARY KEY, tenants TEXT NOT NULL, roles TEXT NOT NULL, last_seen_at TEXT NOT NULL)');
    const insert = raw.prepare('INSERT INTO users VALUES (?, ?, ?, ?)');
    for (const u of LEGACY_USERS) insert.run(u.id, JSON.stringify(u.tenants), JSON.stringify(u.roles), T0);
    raw.close();

    // Two connections open the old file one after the other: the column is added once.
    const [store, again] = [openSqliteStore(file), openSqliteStore(file)];
    try {
      await checkLegacyUsers(store);
      expect(await again.getUser('legacy-carol@contoso.com')).toMatchObject({ tenantRoles: [{ tenant: 'contoso', role: 'approver' }, { tenant: 'fabrikam', role: 'admin' }] });
    } finally {
      await store.close();
      await again.close();
    }
    // What the previous version would read from the rewritten row: her tenants, no customer role in the roles list.
    const after = new Database(file, { readonly: true });
    try {
      expect(after.prepare('SELECT tenants, roles FROM users WHERE id = ?').get('legacy-carol@contoso.com')).toEqual({ tenants: '["contoso","fabrikam"]', roles: '[]' });
    } finally {
      after.close();
    }
  });

  it('never loses a settings update when three processes read-modify-write the same tenant', async () => {
    const file = join(dir, 'multi-process-settings.db');
    const startAt = Date.now() + 2_000;
    const script = `
      const { openSqliteStore } = await import(${JSON.stringify(join(PROJECT_ROOT, 'src/adapters/sqlite-store.ts'))});
      const store = openSqliteStore(${JSON.stringify(file)});
      await new Promise((r) => setTimeout(r, Math.max(0, ${startAt} - Date.now())));
      let wins = 0;
      for (let i = 0; i < 150; i++) {
        const current = await store.getTenantSettings('contoso');
        await new Promise((r) => setTimeout(r, 1)); // an admin's think time: lets the others write in between
        const r = await store.putTenantSettings({ tenant: 'contoso', expectedVersion: current ? current.version : 0,
          settings: { customerApproval: true, approvers: [String(process.pid)], quorum: 1, requestTtlMs: 1, maxAccessMs: 1,
            requireTicket: false, internalApproval: false },
          updatedAt: '2030-01-01T09:00:00Z', updatedBy: String(process.pid) });
        if (r.ok) wins++;
        else if (!r.current || r.current.version <= (current ? current.version : 0)) throw new Error('conflict without a newer record');
      }
      await store.close();
      console.log(wins);
    `;
    const run = promisify(execFile);
    const outputs = await Promise.all(
      [1, 2, 3].map(() => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PROJECT_ROOT })),
    );
    const wins = outputs.map((o) => Number(o.stdout.trim()));
    const store = openSqliteStore(file);
    try {
      // Every successful write bumped the version by exactly one: no two writers both succeeded from one version.
      expect((await store.getTenantSettings('contoso'))?.version).toBe(wins.reduce((a, b) => a + b, 0));
    } finally {
      await store.close();
    }
  }, 60_000);

  it('serves three processes writing the same file at once', async () => {
    // Real separate processes: in-process calls are synchronous and would never contend for the file lock.
    const file = join(dir, 'multi-process.db');
    const startAt = Date.now() + 2_000; // a shared start instant, despite tsx's varying start-up time
    const script = `
      const { openSqliteStore } = await import(${JSON.stringify(join(PROJECT_ROOT, 'src/adapters/sqlite-store.ts'))});
      const store = openSqliteStore(${JSON.stringify(file)});
      await new Promise((r) => setTimeout(r, Math.max(0, ${startAt} - Date.now())));
      let created = 0;
      for (let i = 0; i < 200; i++) {
        const r = await store.reserveIdempotencyKey({ principal: 'eve', key: 'k' + i, fingerprint: 'f', requestId: 'req-' + process.pid });
        if (r.created) created++;
        await store.putGrant({ requestId: 'req-' + i, tenant: 'contoso', resource: 'db', principal: 'eve',
          grantedAt: '2030-01-01T09:00:00Z', endsAt: '2030-01-01T10:00:00Z', revokedAt: null });
      }
      await store.close();
      console.log(created);
    `;
    const run = promisify(execFile);
    const outputs = await Promise.all(
      [1, 2, 3].map(() => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PROJECT_ROOT })),
    );
    const created = outputs.map((o) => Number(o.stdout.trim()));
    expect(created.reduce((a, b) => a + b, 0)).toBe(200);
    const store = openSqliteStore(file);
    try {
      const active = await store.findActiveGrants({ tenant: 'contoso', resource: 'db', principal: 'eve', now: at(1) });
      expect(active).toHaveLength(200);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('PostgreSQL', () => {
  const schema = `lockbox_test_${randomBytes(6).toString('hex')}`;
  const url = withSearchPath(PG_BASE_URL, schema);
  const admin = (): pg.Client => new pg.Client({ connectionString: PG_BASE_URL });

  beforeAll(async () => {
    const c = admin();
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA ${schema}`);
    } finally {
      await c.end();
    }
  });
  afterAll(async () => {
    const c = admin();
    await c.connect();
    try {
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await c.end();
    }
  });

  storeContract('PostgreSQL', () => openPostgresStore(url));

  it('creates its tables in the schema named by the URL, safely when several processes start at once', async () => {
    const fresh = `${schema}_race`;
    const c = admin();
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA ${fresh}`);
      const freshUrl = withSearchPath(PG_BASE_URL, fresh);
      const stores = await Promise.all(Array.from({ length: 5 }, () => openPostgresStore(freshUrl)));
      await Promise.all(stores.map((s) => s.close()));
      const { rows } = await c.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
        [fresh],
      );
      expect(rows.map((r) => r.table_name)).toEqual([
        'lockbox_emergency_slots',
        'lockbox_grants',
        'lockbox_idempotency_keys',
        'lockbox_login_flows',
        'lockbox_notifications',
        'lockbox_request_events',
        'lockbox_request_records',
        'lockbox_request_runs',
        'lockbox_sessions',
        'lockbox_tenant_settings',
        'lockbox_users',
      ]);
    } finally {
      await c.query(`DROP SCHEMA IF EXISTS ${fresh} CASCADE`);
      await c.end();
    }
  });

  it('adds the settings and user tables to a database created by the previous version', async () => {
    const previous = `${schema}_previous`;
    const c = admin();
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA ${previous}`);
      const previousUrl = withSearchPath(PG_BASE_URL, previous);
      const old = await openPostgresStore(previousUrl);
      const g = await old.putGrant(grant());
      await old.close();
      // What the previous version left behind: its tables only.
      await c.query(`DROP TABLE ${previous}.lockbox_tenant_settings, ${previous}.lockbox_users`);

      const store = await openPostgresStore(previousUrl);
      try {
        expect(await store.getGrant(g.requestId)).toEqual(g);
        expect(await store.listTenantSettings()).toEqual([]);
        const r = await store.putTenantSettings({ tenant: 'contoso', settings: settings(), expectedVersion: 0, updatedAt: at(0), updatedBy: 'a' });
        expect(r.ok).toBe(true);
        await store.upsertUser(user({ id: 'alice' }));
        expect(await store.getUser('alice')).toMatchObject({ id: 'alice' });
      } finally {
        await store.close();
      }
    } finally {
      await c.query(`DROP SCHEMA IF EXISTS ${previous} CASCADE`);
      await c.end();
    }
  });

  it('adds the tenant roles column to a users table of the previous version and reads its rows safely', async () => {
    const previous = `${schema}_users`;
    const c = admin();
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA ${previous}`);
      // The previous version's users table, with its rows.
      await c.query(`CREATE TABLE ${previous}.lockbox_users (id text PRIMARY KEY, tenants text[] NOT NULL, roles text[] NOT NULL, last_seen_at timestamptz NOT NULL)`);
      for (const u of LEGACY_USERS) await c.query(`INSERT INTO ${previous}.lockbox_users VALUES ($1, $2, $3, $4)`, [u.id, u.tenants, u.roles, T0]);
      const store = await openPostgresStore(withSearchPath(PG_BASE_URL, previous));
      try {
        await checkLegacyUsers(store);
      } finally {
        await store.close();
      }
      const { rows } = await c.query(`SELECT tenants, roles FROM ${previous}.lockbox_users WHERE id = $1`, ['legacy-carol@contoso.com']);
      expect(rows).toEqual([{ tenants: ['contoso', 'fabrikam'], roles: [] }]);
    } finally {
      await c.query(`DROP SCHEMA IF EXISTS ${previous} CASCADE`);
      await c.end();
    }
  });

  it('never puts the password from the URL into an error', async () => {
    const err: unknown = await openPostgresStore('postgres://postgres:s3cret-pw@127.0.0.1:1/test').catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(`${String(err)} ${(err as Error).stack} ${JSON.stringify(err)}`).not.toContain('s3cret-pw');
  });
});

describe('openStore', () => {
  it('uses SQLite at <dataDir>/lockbox.db, creating the data dir', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lockbox-open-'));
    const dataDir = join(root, 'nested', 'data');
    try {
      const store = await openStore({ dataDir });
      await store.close();
      expect(existsSync(join(dataDir, 'lockbox.db'))).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('uses PostgreSQL when a database URL is given', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lockbox-open-'));
    const schema = `lockbox_test_${randomBytes(6).toString('hex')}`;
    const c = new pg.Client({ connectionString: PG_BASE_URL });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA ${schema}`);
      const databaseUrl = withSearchPath(PG_BASE_URL, schema);
      const store = await openStore({ dataDir: join(root, 'unused'), databaseUrl });
      await store.close();
      const { rowCount } = await c.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1`, [schema]);
      expect(rowCount).toBe(11);
      expect(existsSync(join(root, 'unused'))).toBe(false);
    } finally {
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
      await rm(root, { recursive: true, force: true });
    }
  });
});
