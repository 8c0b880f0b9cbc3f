import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteCredentialVault } from '../../src/adapters/credentials/sqlite-credential-vault.js';
import { GrantTargetError, NonRetryableGrantError } from '../../src/adapters/grants/errors.js';
import { createPostgresGrantProvider, type PostgresGrantProvider } from '../../src/adapters/grants/postgres-grant-provider.js';
import { postgresRoleName } from '../../src/adapters/grants/postgres-roles.js';
import type { CredentialSecret, CredentialVault } from '../../src/ports/credential-vault.js';
import { startPgTarget, type PgTarget } from './pg-target.js';

let target: PgTarget;
let dir: string;
let vault: CredentialVault;
let provider: PostgresGrantProvider;
let adminPassword: string;
const extra: PostgresGrantProvider[] = [];

const newId = () => `req-contoso-${randomBytes(8).toString('hex')}`;
const input = (requestId = newId(), durationMs = 10 * 60_000) => ({ requestId, tenant: 'contoso', resource: 'db:crm', principal: 'eve@lockbox.dev', durationMs });
const revoke = (p: PostgresGrantProvider, requestId: string) => p.revoke({ requestId, revokedAt: new Date().toISOString() });
const sqlstate = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? 'no code');
/** Grants and returns the credential exactly as the requester would fetch it from the vault. */
async function grantAndFetch(p: PostgresGrantProvider, requestId = newId()): Promise<{ requestId: string; cred: CredentialSecret }> {
  const r = await p.grant(input(requestId));
  expect(r.credentialRef).toBe(requestId);
  const cred = await vault.get(requestId);
  expect(cred).not.toBeNull();
  return { requestId, cred: cred! };
}
function other(opts: Partial<Parameters<typeof createPostgresGrantProvider>[0]>): PostgresGrantProvider {
  const p = createPostgresGrantProvider({ adminUrl: target.appAdminUrl, schemas: ['crm'], vault, ...opts });
  extra.push(p);
  return p;
}

beforeAll(async () => {
  target = await startPgTarget();
  adminPassword = decodeURIComponent(new URL(target.cluster.adminUrl).password);
  dir = await mkdtemp(join(tmpdir(), 'lockbox-pg-grant-'));
  vault = openSqliteCredentialVault({ file: join(dir, 'vault.db'), key: randomBytes(32).toString('base64') });
  // The admin URL names database `postgres`; the provider must grant in `app` because it is told to.
  provider = createPostgresGrantProvider({ adminUrl: target.cluster.adminUrl, database: 'app', schemas: ['crm'], vault });
});

afterAll(async () => {
  for (const p of [provider, ...extra]) await p?.close();
  await vault?.close();
  await target?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('PostgreSQL grant provider against a password-checking cluster', () => {
  it('issues a credential that reads crm, cannot write, and cannot see other schemas', async () => {
    const { requestId, cred } = await grantAndFetch(provider);
    expect(cred).toMatchObject({ host: '127.0.0.1', port: String(target.cluster.port), database: 'app', username: postgresRoleName('lockbox_', requestId) });
    expect(cred.password!.length).toBeGreaterThanOrEqual(32);
    const c = await target.connectAs(cred);
    try {
      expect((await c.query('SELECT name FROM crm.customers ORDER BY id')).rows.map((r) => r.name)).toEqual(['Contoso', 'Fabrikam', 'Northwind']);
      expect(await sqlstate(c.query(`INSERT INTO crm.customers VALUES (9, 'x')`))).toBe('42501');
      expect(await sqlstate(c.query(`UPDATE crm.customers SET name = 'x'`))).toBe('42501');
      expect(await sqlstate(c.query('CREATE TABLE crm.mine (x int)'))).toBe('42501');
      expect(await sqlstate(c.query('SELECT * FROM hr.salaries'))).toBe('42501');
      const visible = await c.query(`SELECT table_schema FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`);
      expect(new Set(visible.rows.map((r) => r.table_schema))).toEqual(new Set(['crm']));
    } finally {
      await c.end();
    }
    await revoke(provider, requestId);
  });

  it('write privileges add INSERT, UPDATE, DELETE and nothing else', async () => {
    const writer = other({ privileges: 'write' });
    const { requestId, cred } = await grantAndFetch(writer);
    const c = await target.connectAs(cred);
    try {
      await c.query(`INSERT INTO crm.customers VALUES (10, 'Tailspin')`);
      await c.query(`UPDATE crm.customers SET name = 'Tailspin Toys' WHERE id = 10`);
      await c.query('DELETE FROM crm.customers WHERE id = 10');
      expect(await sqlstate(c.query('TRUNCATE crm.customers'))).toBe('42501');
      expect(await sqlstate(c.query('CREATE TABLE crm.mine (x int)'))).toBe('42501');
      expect(await sqlstate(c.query('SELECT * FROM hr.salaries'))).toBe('42501');
    } finally {
      await c.end();
    }
    await revoke(writer, requestId);
  });

  it('refuses a wrong password, and a repeated grant keeps the first password', async () => {
    const { requestId, cred } = await grantAndFetch(provider);
    expect(await sqlstate(target.connectAs(cred, `${cred.password}x`))).toBe('28P01');
    await provider.grant(input(requestId));
    expect(await vault.get(requestId)).toEqual(cred);
    expect(await target.canRead(cred)).toBe(true);
    await revoke(provider, requestId);
  });

  it('revoke cuts an open session, then refuses the login, and verify says so', async () => {
    const { requestId, cred } = await grantAndFetch(provider);
    const session = await target.connectAs(cred);
    const second = await target.connectAs({ ...cred, database: 'postgres' }); // PUBLIC may connect to postgres
    try {
      expect((await session.query('SELECT count(*)::int AS n FROM crm.customers')).rows[0].n).toBe(3);
      expect(await provider.verify({ requestId })).toEqual({ present: true, sessions: 2 });
      await revoke(provider, requestId);
      await expect(session.query('SELECT 1')).rejects.toThrow();
      await expect(second.query('SELECT 1')).rejects.toThrow();
      expect(await provider.verify({ requestId })).toEqual({ present: false, sessions: 0 });
      expect(await sqlstate(target.connectAs(cred))).toBe('28P01');
      expect(await vault.get(requestId)).toBeNull();
    } finally {
      await session.end().catch(() => undefined);
      await second.end().catch(() => undefined);
    }
  });

  it('extend moves VALID UNTIL; extending a revoked request fails for good', async () => {
    const { requestId } = await grantAndFetch(provider);
    const later = new Date(Date.now() + 2 * 3600_000);
    later.setMilliseconds(0);
    expect(await provider.extend({ requestId, endsAt: later.toISOString() })).toEqual({ endsAt: later.toISOString() });
    const { rows } = await target.admin('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [postgresRoleName('lockbox_', requestId)]);
    expect((rows[0].rolvaliduntil as Date).toISOString()).toBe(later.toISOString());
    expect((await provider.grant(input(requestId))).endsAt).toBe(later.toISOString());
    await revoke(provider, requestId);
    await expect(provider.extend({ requestId, endsAt: later.toISOString() })).rejects.toBeInstanceOf(NonRetryableGrantError);
  });

  it("ends a session that outlives its window before any revoke, and only Lockbox's roles whose window has ended", async () => {
    const endsBy = new Date(Date.now() + 2_000).toISOString();
    const ended = newId();
    await provider.grant({ ...input(ended), endsBy });
    const live = newId();
    const cEnded = (await vault.get(ended))!;
    await provider.grant(input(live));
    const cLive = (await vault.get(live))!;
    // Roles Lockbox did not make, with the prefix and the same end: none, and a comment copied from a real grant.
    const handMade = [`lockbox_handmade_${randomBytes(4).toString('hex')}`, `lockbox_copied_${randomBytes(4).toString('hex')}`];
    const copied = (await target.admin("SELECT shobj_description(oid, 'pg_authid') AS c FROM pg_roles WHERE rolname = $1", [postgresRoleName('lockbox_', ended)])).rows[0].c as string;
    for (const r of handMade) {
      await target.admin(`CREATE ROLE ${r} LOGIN PASSWORD 'hand-made-password' VALID UNTIL '${endsBy}'; GRANT CONNECT ON DATABASE app TO ${r}`);
    }
    await target.admin(`COMMENT ON ROLE ${handMade[1]} IS ${pg.escapeLiteral(copied)}`);
    const sessions = await Promise.all([
      target.connectAs(cEnded),
      target.connectAs(cLive),
      ...handMade.map((r) => target.connectAs({ ...cEnded, username: r, password: 'hand-made-password' })),
    ]);
    const [sEnded, ...others] = sessions;
    try {
      // Before the end nothing is touched.
      expect(await provider.endExpiredSessions()).toBe(0);
      const cut = sEnded!.query('SELECT pg_sleep(60)').then(() => null, (e: { code?: string }) => ({ at: Date.now(), code: e.code }));
      while (Date.now() <= Date.parse(endsBy)) await new Promise((r) => setTimeout(r, 50));
      expect(await provider.endExpiredSessions()).toBe(1);
      const outcome = await cut;
      expect(outcome?.code).toBe('57P01'); // terminating connection due to administrator command
      expect(outcome!.at).toBeGreaterThan(Date.parse(endsBy));
      // Its role stays for the revoke to drop; no session is left and no new login is let in.
      expect(await provider.verify({ requestId: ended })).toEqual({ present: true, sessions: 0 });
      expect(await sqlstate(target.connectAs(cEnded))).toBe('28P01');
      // The live window and the roles Lockbox did not make keep their sessions.
      for (const s of others) expect((await s.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      expect(await provider.endExpiredSessions()).toBe(0);
    } finally {
      for (const s of sessions) await s.end().catch(() => undefined);
      await revoke(provider, ended);
      await revoke(provider, live);
      for (const r of handMade) await target.admin(`SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1`, [r]).then(() => target.admin(`DROP OWNED BY ${r}; DROP ROLE ${r}`));
    }
  });

  it('lists its grants, and never lists or touches roles it did not make', async () => {
    const handmadeId = 'req-contoso-handmade';
    const squatted = postgresRoleName('lockbox_', handmadeId);
    await target.admin(`CREATE ROLE crm_reporting LOGIN PASSWORD 'reporting-pw'; CREATE ROLE lockbox_manual LOGIN;
      CREATE ROLE ${pg.escapeIdentifier(squatted)} LOGIN; GRANT USAGE ON SCHEMA crm TO crm_reporting, lockbox_manual;
      COMMENT ON ROLE lockbox_manual IS 'made by hand'`);
    try {
      const { requestId } = await grantAndFetch(provider);
      expect(await provider.listGranted()).toEqual([requestId]);
      await revoke(provider, handmadeId);
      await expect(provider.grant(input(handmadeId))).rejects.toBeInstanceOf(NonRetryableGrantError);
      await revoke(provider, requestId);
      expect(await provider.listGranted()).toEqual([]);
      const left = await target.admin(`SELECT rolname FROM pg_roles WHERE rolname IN ('crm_reporting', 'lockbox_manual', $1) ORDER BY rolname`, [squatted]);
      expect(left.rows.map((r) => r.rolname)).toEqual(['crm_reporting', 'lockbox_manual', squatted].sort());
    } finally {
      await target.admin(`DROP OWNED BY crm_reporting, lockbox_manual; DROP ROLE crm_reporting, lockbox_manual, ${pg.escapeIdentifier(squatted)}`);
    }
  });

  it('quotes hostile request ids safely', async () => {
    const requestId = `req-"; DROP ROLE admin; --'\\ ${randomBytes(3).toString('hex')}`;
    const { cred } = await grantAndFetch(provider, requestId);
    expect(cred.username).toMatch(/^lockbox_[a-z0-9_]+$/);
    expect(await target.canRead(cred)).toBe(true);
    expect(await provider.listGranted()).toEqual([requestId]);
    await revoke(provider, requestId);
    expect(await provider.listGranted()).toEqual([]);
  });

  it('a failing grant leaves nothing behind and its error holds no password', async () => {
    const passwords: string[] = [];
    const broken = other({ schemas: ['crm', 'no_such_schema'], generatePassword: () => passwords[passwords.push(randomBytes(32).toString('base64url')) - 1]! });
    const requestId = newId();
    const err = (await broken.grant(input(requestId)).catch((e: unknown) => e)) as NonRetryableGrantError;
    expect(err).toBeInstanceOf(NonRetryableGrantError);
    expect(err.code).toBe('3F000');
    expect(passwords).toHaveLength(1);
    const text = `${err.message}\n${err.stack}\n${JSON.stringify(err)}`;
    for (const secret of [passwords[0]!, adminPassword, encodeURIComponent(adminPassword)]) expect(text).not.toContain(secret);
    expect(await broken.verify({ requestId })).toEqual({ present: false, sessions: 0 });
    expect(await vault.get(requestId)).toBeNull();

    // An admin without CREATEROLE: the CREATE ROLE statement itself fails, the one that carries the password.
    await target.admin(`CREATE ROLE weak_admin LOGIN PASSWORD 'weak-admin-pw'`);
    try {
      const weakUrl = new URL(target.appAdminUrl);
      [weakUrl.username, weakUrl.password] = ['weak_admin', 'weak-admin-pw'];
      const weakId = newId();
      const weakPassword = randomBytes(32).toString('base64url');
      const weak = other({ adminUrl: weakUrl.toString(), generatePassword: () => weakPassword });
      const refused = (await weak.grant(input(weakId)).catch((e: unknown) => e)) as NonRetryableGrantError;
      expect(refused).toMatchObject({ name: 'NonRetryableGrantError', code: '42501' });
      for (const secret of [weakPassword, 'weak-admin-pw']) expect(`${refused.message}${refused.stack}`).not.toContain(secret);
      expect(await vault.get(weakId)).toBeNull();
    } finally {
      await target.admin('DROP ROLE weak_admin');
    }

    const badAdmin = new URL(target.appAdminUrl);
    badAdmin.password = 'wrong-admin-secret';
    const denied = (await other({ adminUrl: badAdmin.toString() }).grant(input()).catch((e: unknown) => e)) as NonRetryableGrantError;
    expect(denied).toMatchObject({ name: 'NonRetryableGrantError', code: '28P01' });
    expect(`${denied.message}${denied.stack}`).not.toMatch(/wrong-admin-secret/);

    const down = new URL(target.appAdminUrl);
    down.port = '1';
    const unreachable = (await other({ adminUrl: down.toString() }).grant(input()).catch((e: unknown) => e)) as GrantTargetError;
    expect(unreachable).toBeInstanceOf(GrantTargetError);
    expect(unreachable.nonRetryable).toBe(false);
    expect(`${unreachable.message}${unreachable.stack}`).not.toContain(adminPassword);
  });

  it('never sends the plaintext password to the server, even with every statement logged', async () => {
    await target.admin(`ALTER SYSTEM SET log_statement = 'all'`);
    await target.admin('SELECT pg_reload_conf()');
    // The reload reaches running sessions asynchronously: wait until a new session sees it, then grant through a
    // provider whose sessions all start after it (the shared provider's pooled session may not have reloaded yet).
    const setting = async () => {
      const c = new pg.Client({ connectionString: target.appAdminUrl });
      await c.connect();
      try {
        return (await c.query<{ log_statement: string }>('SHOW log_statement')).rows[0]?.log_statement;
      } finally {
        await c.end();
      }
    };
    await expect.poll(setting, { timeout: 5_000 }).toBe('all');
    const logged = other({});
    try {
      const { requestId, cred } = await grantAndFetch(logged);
      await logged.revoke({ requestId, revokedAt: new Date().toISOString() });
      const log = await readFile(target.cluster.logFile, 'utf8');
      expect(log).toContain(`CREATE ROLE "${cred.username}"`); // the log does record the statement...
      expect(log).toContain('SCRAM-SHA-256$4096:'); // ...with a verifier in it
      expect(log).not.toContain(cred.password); // ...but not the password
    } finally {
      await target.admin('ALTER SYSTEM RESET log_statement');
      await target.admin('SELECT pg_reload_conf()');
    }
  });

  it('grants and revokes many at once from several workers without a catalog conflict (queued, not retried)', async () => {
    // Three providers, as three worker replicas would have: twelve transactions at a time against one database.
    const workers = [provider, other({ adminUrl: target.cluster.adminUrl, database: 'app' }), other({ adminUrl: target.cluster.adminUrl, database: 'app' })];
    const ids = Array.from({ length: 36 }, () => newId());
    const granted = await Promise.allSettled(ids.map((id, i) => workers[i % 3]!.grant(input(id))));
    expect(granted.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    // Every window ends in the same instant: the revokes all go at once.
    const revoked = await Promise.allSettled(ids.map((id, i) => revoke(workers[(i + 1) % 3]!, id)));
    expect(revoked.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    for (const id of ids) expect(await provider.verify({ requestId: id })).toMatchObject({ present: false, sessions: 0 });
  });

  it('leaves no role with the prefix behind', async () => {
    const { rows } = await target.admin(`SELECT rolname FROM pg_roles WHERE starts_with(rolname, 'lockbox_')`);
    expect(rows).toEqual([]);
  });
});
