/**
 * mTLS: a Temporal server of this file's own whose frontend demands a client certificate (certificates made here
 * with openssl). Lockbox's API and worker connect with the TEMPORAL_TLS_* variables and a request runs its whole
 * lifecycle; with a CA that did not sign the server's certificate they refuse to start, saying why; a plaintext
 * client, or one without a client certificate, is refused by the server.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TemporalServer } from '../../src/dev/temporal-server.js';
import { exitOf, lockboxApi, makeCerts, provisionTemporal, startLockbox, waitReady, type LockboxProc, type TestCerts } from './support.js';

const info = inject('production');
const NAMESPACE = 'lockbox-mtls';
const TASK_QUEUE = 'lockbox-mtls';
const procs: LockboxProc[] = [];
let server: TemporalServer | undefined;
let certs: TestCerts;
const logDir = join(info.workDir, 'mtls-logs');

/** What Lockbox gets: the TEMPORAL_* names Temporal's own tools read. */
function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    LOCKBOX_MODE: 'embedded',
    TEMPORAL_ADDRESS: server!.address,
    TEMPORAL_NAMESPACE: NAMESPACE,
    TEMPORAL_TLS: 'true',
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
    TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
    LOCKBOX_TASK_QUEUE: TASK_QUEUE,
    LOCKBOX_DATABASE_URL: info.appDatabaseUrl,
    LOCKBOX_AUDIT_SINKS: 'postgres',
    LOCKBOX_DATA_DIR: join(info.workDir, 'mtls-data'),
    LOCKBOX_WORKFLOW_BUNDLE: info.bundlePath,
    ...overrides,
  };
}

beforeAll(async () => {
  certs = await makeCerts(join(info.workDir, 'certs'));
  server = await provisionTemporal({
    sqlTool: info.sqlTool,
    serverPath: info.serverPath,
    prefix: `${info.dbPrefix}_tls`,
    dir: join(info.workDir, 'temporal-mtls'),
    tls: {
      serverCertFile: certs.serverCert,
      serverKeyFile: certs.serverKey,
      clientCaFiles: [certs.caCert],
      requireClientAuth: true,
      serverName: 'localhost',
      rootCaFiles: [certs.caCert],
      clientCertFile: certs.clientCert,
      clientKeyFile: certs.clientKey,
    },
  });
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await server?.stop();
});

describe('Lockbox against a Temporal server that requires mTLS', () => {
  it('connects with TEMPORAL_TLS_* (API and worker), registers its namespace and runs a whole lifecycle', async () => {
    const worker = await startLockbox('worker', env(), logDir, 'worker');
    procs.push(worker);
    const api = await startLockbox('api', env(), logDir, 'api');
    procs.push(api);
    await waitReady(api, 120_000);
    const http = lockboxApi(api.url!);
    const resource = 'mailbox:mtls@contoso.com';
    const created = await http.eve.post('/v1/requests', { tenant: 'contoso', resource, reason: 'mTLS check', ticket: 'SUP-1', duration: '1h' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const approved = await http.alice.post(`/v1/requests/${created.body.id}/approve`, {});
    expect(approved.body.status).toBe('active');
    expect((await http.eve.get(`/v1/access/check?tenant=contoso&resource=${encodeURIComponent(resource)}`)).body.allowed).toBe(true);
    const revoked = await http.bob.post(`/v1/requests/${created.body.id}/revoke`, { reason: 'done' });
    expect(revoked.body.status).toBe('revoked');
    expect((await http.eve.get(`/v1/access/check?tenant=contoso&resource=${encodeURIComponent(resource)}`)).body.allowed).toBe(false);
    // The logs say how it connected, never with what: no key material.
    const logs = (await readFile(worker.logFile, 'utf8')) + (await readFile(api.logFile, 'utf8'));
    const connecting = logs.split('\n').flatMap((line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        return entry.msg === 'connecting to Temporal' ? [entry] : [];
      } catch {
        return [];
      }
    });
    expect(connecting).toContainEqual(expect.objectContaining({ tls: true, mutualTls: true }));
    const key = (await readFile(certs.clientKey, 'utf8')).split('\n').filter((l) => l && !l.startsWith('-----'))[0]!;
    expect(logs).not.toContain(key);
  });

  it('refuses to start with a CA that did not sign the server certificate: a clear error and a non-zero exit', async () => {
    for (const role of ['worker', 'api'] as const) {
      const p = await startLockbox(role, env({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.wrongCaCert }), logDir, `${role}-wrong-ca`);
      procs.push(p);
      const exit = await exitOf(p, 60_000);
      expect(exit, `${role}:\n${p.output()}`).not.toBe('timeout');
      expect(exit).not.toBe(0);
      expect(p.output()).toContain(`could not connect to Temporal at ${server!.address}`);
      expect(p.output()).toContain(`server CA ${certs.wrongCaCert}`);
      // ...and why, which gRPC alone does not say.
      expect(p.output()).toMatch(/TLS handshake with the configured settings fails: \w+/);
    }
  });

  it('a worker without TLS settings is refused and exits non-zero', async () => {
    const p = await startLockbox(
      'worker',
      env({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_CA_CERT_PATH: '', TEMPORAL_TLS_CLIENT_CERT_PATH: '', TEMPORAL_TLS_CLIENT_KEY_PATH: '', TEMPORAL_TLS_SERVER_NAME: '' }),
      logDir,
      'worker-plaintext',
    );
    procs.push(p);
    const exit = await exitOf(p, 60_000);
    expect(exit, p.output()).not.toBe('timeout');
    expect(exit).not.toBe(0);
    expect(p.output()).toContain('could not connect to Temporal');
    expect(p.output()).toContain('the server speaks TLS: set TEMPORAL_TLS=true');
  });

  it('the server refuses a plaintext client and a TLS client without a client certificate', async () => {
    await expect(Connection.connect({ address: server!.address, connectTimeout: 3_000 })).rejects.toThrow();
    const ca = await readFile(certs.caCert);
    await expect(
      Connection.connect({ address: server!.address, connectTimeout: 3_000, tls: { serverRootCACertificate: ca, serverNameOverride: 'localhost' } }),
    ).rejects.toThrow();
    // With the CA and the client certificate: served.
    const ok = await Connection.connect({
      address: server!.address,
      tls: { serverRootCACertificate: ca, serverNameOverride: 'localhost', clientCertPair: { crt: await readFile(certs.clientCert), key: await readFile(certs.clientKey) } },
    });
    try {
      expect((await ok.workflowService.getSystemInfo({})).serverVersion).toMatch(/^1\.29\./);
    } finally {
      await ok.close();
    }
  });
});
