import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, eventually, requestBody } from './support/api.js';

/**
 * The demo's `db:crm` end to end: a real login role per request on a PostgreSQL cluster that checks passwords
 * (started by the global setup), fetched by the requester, cut off at revoke.
 */
const stack = inject('stack');
const http = api();
const eve = http.as('eve');
const alice = http.as('alice');
const bob = http.as('bob');
let temporal: TemporalClient;
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.connect({ address: stack.temporalAddress });
  temporal = new TemporalClient({ connection, namespace: stack.namespace });
});
afterAll(async () => {
  await connection?.close();
});

interface Credentials {
  username: string;
  password: string;
  host: string;
  port: string | number;
  database: string;
  expiresAt: string;
}

const connect = async (c: Pick<Credentials, 'username' | 'password' | 'host' | 'port' | 'database'>) => {
  const client = new pg.Client({ user: c.username, password: c.password, host: c.host, port: Number(c.port), database: c.database, connectionTimeoutMillis: 5000 });
  await client.connect();
  client.on('error', () => undefined); // a terminated session reports here; the test checks the failed query instead
  return client;
};

async function roles(): Promise<string[]> {
  const admin = new pg.Client({ connectionString: stack.crmAdminUrl });
  await admin.connect();
  try {
    const r = await admin.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname LIKE 'lockbox\\_%'");
    return r.rows.map((x) => x.rolname);
  } finally {
    await admin.end();
  }
}

describe('a PostgreSQL grant (db:crm)', () => {
  it('issues a unique read-only login for the window, cuts open sessions at revoke, and never leaks the password', async () => {
    const created = await eve.post('/v1/requests', requestBody({ resource: 'db:crm', duration: '1h' }));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await eve.get(`/v1/requests/${id}/credentials`)).status).toBe(409);

    const approved = await alice.post(`/v1/requests/${id}/approve`, {});
    expect(approved.body.status, JSON.stringify(approved.body)).toBe('active');
    // Only the requester gets the credential.
    expect((await alice.get(`/v1/requests/${id}/credentials`)).status).toBe(403);
    const res = await eve.get(`/v1/requests/${id}/credentials`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const cred = res.body as Credentials;
    expect(cred.username).toMatch(/^lockbox_/);
    expect(cred.password.length).toBeGreaterThanOrEqual(32);
    expect(cred.expiresAt).toBe(approved.body.access.endsAt);

    const session = await connect(cred);
    const rows = await session.query('SELECT name FROM crm.customers ORDER BY id');
    expect(rows.rows.map((r) => r.name)).toContain('Contoso Ltd');
    await expect(session.query("INSERT INTO crm.customers VALUES (99, 'x', 'y')")).rejects.toThrow(/permission denied/);
    await expect(connect({ ...cred, password: `${cred.password}x` })).rejects.toThrow(/password authentication failed/);
    expect(await roles()).toContain(cred.username);

    const revoked = await alice.post(`/v1/requests/${id}/revoke`, { reason: 'done' });
    expect(revoked.body.status).toBe('revoked');
    // The open session is cut, not only new logins.
    await expect(session.query('SELECT 1')).rejects.toThrow();
    await session.end().catch(() => undefined);
    await expect(connect(cred)).rejects.toThrow();
    expect(await roles()).not.toContain(cred.username);
    expect((await eve.get(`/v1/requests/${id}/credentials`)).status).toBe(409);

    // The password is in no workflow history, no audit event, no log line.
    await eventually(() => eve.get(`/v1/requests/${id}/audit`), (r) => r.body.events.some((e: any) => e.type === 'access.revoked'));
    const history = JSON.stringify(await temporal.workflow.getHandle(id).fetchHistory());
    expect(history).not.toContain(cred.password);
    const auditFile = await readFile(join(stack.dataDir, 'audit.jsonl'), 'utf8');
    expect(auditFile).toContain(id);
    expect(auditFile).not.toContain(cred.password);
    expect(await readFile(stack.logFile, 'utf8')).not.toContain(cred.password);
  });

  it('lets the login expire at the database itself when the window ends', async () => {
    const { body } = await eve.post('/v1/requests', requestBody({ resource: 'db:crm', duration: '6s' }));
    await bob.post(`/v1/requests/${body.id}/approve`, {});
    const cred = (await eve.get(`/v1/requests/${body.id}/credentials`)).body as Credentials;
    const session = await connect(cred);
    await session.end();
    const done = await eventually(() => eve.get(`/v1/requests/${body.id}`), (r) => r.body.status === 'completed', 30_000);
    expect(done.body.status).toBe('completed');
    await expect(connect(cred)).rejects.toThrow();
    expect(await roles()).not.toContain(cred.username);
  });

  it("cuts an open session at the window's end even while the revoke waits (the worker's session sweep)", async () => {
    const { body } = await eve.post('/v1/requests', requestBody({ resource: 'db:crm', duration: '6s' }));
    const approved = await bob.post(`/v1/requests/${body.id}/approve`, {});
    const endsAt = Date.parse(approved.body.access.endsAt);
    const cred = (await eve.get(`/v1/requests/${body.id}/credentials`)).body as Credentials;
    const session = await connect(cred);
    // The revoke queues behind the role's lock (held here, in the target's database), as behind a long backlog.
    const url = new URL(stack.crmAdminUrl);
    url.pathname = `/${cred.database}`;
    const holder = new pg.Client({ connectionString: url.toString() });
    await holder.connect();
    const key = `lockbox:role:${cred.username}`;
    await holder.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
    try {
      const cut = await session.query('SELECT pg_sleep(60)').then(() => null, (e: { code?: string }) => ({ at: Date.now(), code: e.code }));
      expect(cut?.code).toBe('57P01'); // ended by the server on the worker's request
      expect(cut!.at).toBeGreaterThan(endsAt);
      // The revoke has not run: the request is not over and the role is still there.
      expect((await eve.get(`/v1/requests/${body.id}`)).body.status).toBe('active');
      expect(await roles()).toContain(cred.username);
    } finally {
      await holder.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
      await holder.end();
      await session.end().catch(() => undefined);
    }
    const done = await eventually(() => eve.get(`/v1/requests/${body.id}`), (r) => r.body.status === 'completed', 30_000);
    expect(done.body.status).toBe('completed');
    expect(await roles()).not.toContain(cred.username);
  });
});
