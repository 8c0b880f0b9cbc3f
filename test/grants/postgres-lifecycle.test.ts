import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createGrantMetrics } from '../../src/activities/metrics.js';
import { createBuiltinGrantProvider } from '../../src/adapters/builtin-grant-provider.js';
import { openSqliteCredentialVault } from '../../src/adapters/credentials/sqlite-credential-vault.js';
import { createGrantRouter, type GrantRouter } from '../../src/adapters/grants/grant-router.js';
import { createPostgresGrantProvider } from '../../src/adapters/grants/postgres-grant-provider.js';
import { postgresRoleName } from '../../src/adapters/grants/postgres-roles.js';
import { openSqliteStore } from '../../src/adapters/sqlite-store.js';
import type { Logger } from '../../src/config/logger.js';
import { catalogOf } from '../../src/domain/resources.js';
import type { CredentialVault } from '../../src/ports/credential-vault.js';
import type { Store } from '../../src/ports/store.js';
import { startSessionSweep } from '../../src/main/session-sweep.js';
import { Counter } from 'prom-client';
import { startPgTarget, type PgTarget } from './pg-target.js';

/**
 * What a declared PostgreSQL target costs and how its failures show, on a real password-checking cluster: admin
 * connections close when idle and when the worker's router closes; a DROP ROLE PostgreSQL refuses is an alarm with
 * a clear error (retried, never silently), while the role can no longer log in.
 */
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
let target: PgTarget;
let dir: string;
let store: Store;
let vault: CredentialVault;
const routers: GrantRouter[] = [];

beforeAll(async () => {
  target = await startPgTarget();
  dir = await mkdtemp(join(tmpdir(), 'lockbox-pg-life-'));
  store = openSqliteStore(join(dir, 'lockbox.db'));
  vault = openSqliteCredentialVault({ file: join(dir, 'vault.db'), key: randomBytes(32).toString('base64') });
});
afterAll(async () => {
  for (const r of routers) await r.close();
  await vault?.close();
  await store?.close();
  await target?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A worker's activities over one declared target, `contoso-app`, for contoso. */
function worker() {
  const targets = catalogOf([{ name: 'contoso-app', kind: 'postgres', tenants: ['contoso'], connection: 'LOCKBOX_TARGET_APP', schemas: ['crm'], privileges: 'read' }]);
  const router = createGrantRouter({ builtin: createBuiltinGrantProvider(store), vault, env: (n) => (n === 'LOCKBOX_TARGET_APP' ? target.appAdminUrl : undefined), targets });
  routers.push(router);
  const metrics = createGrantMetrics(new Registry());
  const activities = createActivities({ store, trustedKeys: {}, grants: router, targets, metrics, notifier: { notify: async () => undefined }, audit: { append: async () => undefined } as never, log: quiet });
  return { router, metrics, activities };
}

const ref = { provider: 'catalog' as const, name: 'contoso-app' };
const newId = () => `req-contoso-${randomBytes(8).toString('hex')}`;
const adminConnections = async () => Number((await target.admin("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'lockbox-grants'")).rows[0].n);

describe('admin connections of a declared target', () => {
  it('close by themselves once idle', async () => {
    const provider = createPostgresGrantProvider({ adminUrl: target.appAdminUrl, schemas: ['crm'], vault, idleMs: 300 });
    try {
      await provider.grant({ requestId: newId(), tenant: 'contoso', resource: 'db:app', principal: 'eve@lockbox.dev', durationMs: 60_000 });
      expect(await adminConnections()).toBeGreaterThan(0);
      await expect.poll(adminConnections, { timeout: 5_000 }).toBe(0);
    } finally {
      await provider.close();
    }
  });


  it("are closed when the worker's router closes", async () => {
    const { router, activities } = worker();
    await activities.grantAccess({ requestId: newId(), tenant: 'contoso', resource: 'db:app', principal: 'eve@lockbox.dev', durationMs: 60_000, target: ref });
    expect(await adminConnections()).toBeGreaterThan(0);
    await router.close();
    await expect.poll(adminConnections, { timeout: 5_000 }).toBe(0);
  });
});

describe('a DROP ROLE that PostgreSQL refuses', () => {
  it('is a clear, counted error (retried, never silent); the role can no longer log in; the revoke completes once cleaned up', async () => {
    const { activities, metrics } = worker();
    const requestId = newId();
    await activities.grantAccess({ requestId, tenant: 'contoso', resource: 'db:app', principal: 'eve@lockbox.dev', durationMs: 60_000, target: ref });
    const cred = (await vault.get(requestId))!;
    const role = postgresRoleName('lockbox_', requestId);
    // Someone made the role own something in another database, where the revoke's DROP OWNED does not reach.
    await target.admin('CREATE DATABASE elsewhere');
    const url = new URL(target.cluster.adminUrl);
    url.pathname = '/elsewhere';
    const elsewhere = new pg.Client({ connectionString: url.toString() });
    await elsewhere.connect();
    try {
      await elsewhere.query(`CREATE TABLE left_behind (id int); ALTER TABLE left_behind OWNER TO ${role}`);

      const err = await activities.revokeAccess({ requestId, tenant: 'contoso', target: ref }).then(() => expect.fail('expected the revoke to fail'), (e: unknown) => e as Error & { reason?: string });
      expect(err.reason).toBe('drop_role_refused');
      expect(err.message).toBe(
        `postgres grant provider: drop_role_refused (2BP01): role ${role} has no login and no privileges in the granted database, but still owns objects or holds privileges elsewhere (another database); run DROP OWNED BY ${role} in each database, then the revoke completes`,
      );
      expect((await metrics.dropRoleFailures!.get()).values[0]?.value).toBe(1);
      expect((await metrics.revokeFailures.get()).values).toEqual([expect.objectContaining({ value: 1, labels: { provider: 'postgres' } })]);
      // Access is gone meanwhile: no login.
      expect(await target.canRead(cred)).toBe(false);

      await elsewhere.query(`DROP OWNED BY ${role}`);
      await activities.revokeAccess({ requestId, tenant: 'contoso', target: ref });
      expect((await target.admin('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount).toBe(0);
    } finally {
      await elsewhere.end();
    }
  });
});

describe("the worker's session sweep", () => {
  it("cuts a session at its window's end while the revoke is held up, and keeps sweeping a target when another fails", async () => {
    // Two declared targets: the real one, and one whose connection is not set on this worker.
    const targets = catalogOf([
      { name: 'contoso-app', kind: 'postgres', tenants: ['contoso'], connection: 'LOCKBOX_TARGET_APP', schemas: ['crm'], privileges: 'read' },
      { name: 'contoso-gone', kind: 'postgres', tenants: ['contoso'], connection: 'LOCKBOX_TARGET_GONE', schemas: ['crm'], privileges: 'read' },
    ]);
    const router = createGrantRouter({ builtin: createBuiltinGrantProvider(store), vault, env: (n) => (n === 'LOCKBOX_TARGET_APP' ? target.appAdminUrl : undefined), targets });
    routers.push(router);
    const activities = createActivities({ store, trustedKeys: {}, grants: router, targets, metrics: createGrantMetrics(new Registry()), notifier: { notify: async () => undefined }, audit: { append: async () => undefined } as never, log: quiet });
    const registry = new Registry();
    const ended = new Counter({ name: 'ended', help: 'ended', labelNames: ['target'] as const, registers: [registry] });
    const failures = new Counter({ name: 'failures', help: 'failures', labelNames: ['target'] as const, registers: [registry] });
    const warnings: unknown[] = [];
    const log: Logger = { ...quiet, warn: (msg, fields) => warnings.push({ msg, ...fields }) };

    const requestId = newId();
    const grant = await activities.grantAccess({ requestId, tenant: 'contoso', resource: 'db:app', principal: 'eve@lockbox.dev', durationMs: 2_500, target: ref });
    const endsAt = Date.parse(grant.endsAt);
    const role = postgresRoleName('lockbox_', requestId);
    const session = await target.connectAs((await vault.get(requestId))!);
    // The revoke waits behind the role's lock, as it would behind a backlog of 1,000 others.
    const holder = new pg.Client({ connectionString: target.appAdminUrl });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock(hashtext($1))', [`lockbox:role:${role}`]);
    const sweep = startSessionSweep(router, { intervalMs: 200, log, ended, failures });
    try {
      const cut = session.query('SELECT pg_sleep(60)').then(() => null, (e: { code?: string }) => ({ at: Date.now(), code: e.code }));
      let revoked = false;
      const revoke = activities.revokeAccess({ requestId, tenant: 'contoso', target: ref }).then(() => (revoked = true));
      const outcome = await cut;
      expect(outcome?.code).toBe('57P01');
      expect(outcome!.at).toBeGreaterThan(endsAt);
      expect(revoked).toBe(false);
      expect((await target.admin('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount).toBe(1);
      expect((await ended.get()).values).toEqual([expect.objectContaining({ value: 1, labels: { target: 'contoso-app' } })]);
      // The target without a connection fails each pass, counted every time, warned about once.
      await expect.poll(async () => (await failures.get()).values.find((v) => v.labels.target === 'contoso-gone')?.value ?? 0).toBeGreaterThan(2);
      expect(warnings).toEqual([expect.objectContaining({ target: 'contoso-gone', error: expect.stringContaining('LOCKBOX_TARGET_GONE') })]);
      // Once the lock is released the revoke completes and drops the role.
      await holder.query('SELECT pg_advisory_unlock(hashtext($1))', [`lockbox:role:${role}`]);
      await revoke;
      expect((await target.admin('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount).toBe(0);
    } finally {
      await sweep.stop();
      await holder.end();
      await session.end().catch(() => undefined);
    }
  });
});
