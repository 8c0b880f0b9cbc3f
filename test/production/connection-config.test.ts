/**
 * The connection settings read from the environment the way Temporal's tools read them (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_*), the HTTP metrics' route labels and the choice
 * of workflow code. No server needed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpMetrics } from '../../src/api/http-metrics.js';
import { requestContext } from '../../src/api/problem.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/config/logger.js';
import { describeConnection, temporalConnectionOptions } from '../../src/main/connection.js';
import { chooseWorkflowSource } from '../../src/main/workflow-bundle.js';

let dir = '';
const files = { ca: '', crt: '', key: '' };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockbox-conn-'));
  for (const name of ['ca', 'crt', 'key'] as const) {
    files[name] = join(dir, `${name}.pem`);
    await writeFile(files[name], `-----BEGIN ${name}-----\nsecret-${name}-material\n-----END ${name}-----\n`);
  }
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const ADDRESS = 'temporal.example.com:7233';
const options = (env: Record<string, string>) => {
  const config = loadConfig({ TEMPORAL_ADDRESS: ADDRESS, ...env });
  return temporalConnectionOptions(config, ADDRESS).then((o) => ({ config, o }));
};

describe('Temporal connection settings from the environment', () => {
  it('plaintext when nothing asks for TLS; namespace from TEMPORAL_NAMESPACE', async () => {
    const { config, o } = await options({ TEMPORAL_NAMESPACE: 'acme' });
    expect(config.namespace).toBe('acme');
    expect(o).toEqual({ address: ADDRESS });
  });

  it('mTLS from the *_PATH files: CA, client certificate and key, server name', async () => {
    const { o } = await options({
      TEMPORAL_TLS: 'true',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca,
      TEMPORAL_TLS_CLIENT_CERT_PATH: files.crt,
      TEMPORAL_TLS_CLIENT_KEY_PATH: files.key,
      TEMPORAL_TLS_SERVER_NAME: 'frontend.internal',
    });
    expect(o.tls?.serverNameOverride).toBe('frontend.internal');
    expect(Buffer.from(o.tls!.serverRootCACertificate!).toString()).toContain('secret-ca-material');
    expect(Buffer.from(o.tls!.clientCertPair!.crt).toString()).toContain('secret-crt-material');
    expect(Buffer.from(o.tls!.clientCertPair!.key).toString()).toContain('secret-key-material');
  });

  it('TLS is on by itself with a CA, a client certificate or an API key (as in Temporal env config), off with TEMPORAL_TLS=false', async () => {
    expect((await options({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca })).o.tls).toBeDefined();
    expect((await options({ TEMPORAL_TLS_CLIENT_CERT_DATA: 'c', TEMPORAL_TLS_CLIENT_KEY_DATA: 'k' })).o.tls?.clientCertPair).toBeDefined();
    const cloud = (await options({ TEMPORAL_API_KEY: 'tcld-key' })).o;
    expect(cloud).toMatchObject({ apiKey: 'tcld-key', tls: {} });
    const forcedOff = (await options({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' })).o;
    expect(forcedOff.tls).toBeUndefined();
    expect(forcedOff.apiKey).toBe('k');
  });

  it('the embedded dev server Lockbox starts itself is always plaintext', async () => {
    const config = loadConfig({ TEMPORAL_TLS: 'true', TEMPORAL_API_KEY: 'k' });
    expect(await temporalConnectionOptions(config, '127.0.0.1:7233')).toEqual({ address: '127.0.0.1:7233' });
  });

  it('refuses bad settings naming the variable, never its value', async () => {
    const bad = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return '';
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
    };
    expect(bad({ TEMPORAL_TLS: 'perhaps' })).toContain('TEMPORAL_TLS: must be true or false');
    expect(bad({ TEMPORAL_TLS_CLIENT_CERT_PATH: files.crt })).toContain('TEMPORAL_TLS_CLIENT_KEY_PATH');
    expect(bad({ TEMPORAL_TLS_CLIENT_KEY_DATA: 'super-secret-key', TEMPORAL_TLS_CLIENT_KEY_PATH: files.key, TEMPORAL_TLS_CLIENT_CERT_PATH: files.crt })).not.toContain('super-secret-key');
    expect(bad({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' })).toContain('TEMPORAL_TLS_SERVER_NAME');
    expect(bad({ LOCKBOX_WORKER_METRICS_ADDRESS: '9464' })).toContain('LOCKBOX_WORKER_METRICS_ADDRESS');
    // Empty means unset (compose's ${VAR:-}).
    expect(bad({ TEMPORAL_TLS: '', TEMPORAL_API_KEY: '', TEMPORAL_TLS_SERVER_CA_CERT_PATH: '' })).toBe('');
    const missing = options({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'nope.pem') });
    await expect(missing).rejects.toThrow(/TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read .*nope\.pem \(ENOENT\)/);
  });

  it('describes the connection for logs without the API key or any key material', async () => {
    const { config, o } = await options({
      TEMPORAL_API_KEY: 'api-key-that-must-not-leak',
      TEMPORAL_TLS_CLIENT_CERT_PATH: files.crt,
      TEMPORAL_TLS_CLIENT_KEY_PATH: files.key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca,
    });
    const text = JSON.stringify(describeConnection(config, o));
    expect(text).toContain('"mutualTls":true');
    expect(text).toContain('"apiKey":true');
    expect(text).not.toContain('api-key-that-must-not-leak');
    expect(text).not.toContain('secret-');
  });
});

describe('HTTP metrics labels and error-log context', () => {
  it('labels requests with the express route pattern, not the raw path', () => {
    const { routeOf } = createHttpMetrics();
    expect(routeOf('POST', '/v1/requests/req-contoso-01J9Z8X7W6V5T4S3R2Q1P0NMKH/approve')).toBe('/v1/requests/:id/approve');
    expect(routeOf('GET', '/v1/requests/req-contoso-01J9Z8X7W6V5T4S3R2Q1P0NMKH')).toBe('/v1/requests/:id');
    expect(routeOf('GET', '/v1/requests')).toBe('/v1/requests');
    expect(routeOf('PUT', '/v1/tenants/contoso/settings')).toBe('/v1/tenants/:tenant/settings');
    expect(routeOf('GET', '/metrics')).toBe('/metrics');
    expect(routeOf('GET', '/portal/app.js')).toBe('/portal/*');
    expect(routeOf('GET', '/wp-admin/../../etc/passwd')).toBe('(unmatched)');
    expect(routeOf('DELETE', '/v1/requests')).toBe('(unmatched)');
  });

  it('puts the request (workflow) id and the tenant into error logs where the call names them', () => {
    const id = 'req-contoso-01J9Z8X7W6V5T4S3R2Q1P0NMKH';
    expect(requestContext({ path: `/v1/requests/${id}/approve` })).toEqual({ requestId: id, workflowId: id, tenant: 'contoso' });
    expect(requestContext({ path: '/v1/requests', body: { tenant: 'fabrikam' } })).toEqual({ tenant: 'fabrikam' });
    expect(requestContext({ path: '/v1/tenants/acme-eu/settings' })).toEqual({ tenant: 'acme-eu' });
    expect(requestContext({ path: '/v1/audit', query: { tenant: '"; DROP' } })).toEqual({});
  });
});

describe('which workflow code a worker loads', () => {
  const log = createLogger('test', { quiet: true });
  it('an explicit LOCKBOX_WORKFLOW_BUNDLE must exist', async () => {
    await expect(chooseWorkflowSource(join(dir, 'missing-bundle.js'), log)).rejects.toThrow(/LOCKBOX_WORKFLOW_BUNDLE: no file at/);
    await writeFile(join(dir, 'bundle.js'), '// bundle');
    expect(await chooseWorkflowSource(join(dir, 'bundle.js'), log)).toEqual({ workflowBundle: { codePath: join(dir, 'bundle.js') } });
  });
  it('without one: dist/workflow-bundle.js only when built from the current code, else a cached bundle built once', async () => {
    const cache = join(dir, 'bundle-cache');
    const first = await chooseWorkflowSource(undefined, log, cache);
    const path = 'codePath' in first.workflowBundle ? first.workflowBundle.codePath : '';
    if (path.endsWith('dist/workflow-bundle.js')) return;
    expect(path).toMatch(new RegExp(`^${cache}/workflow-bundle-[0-9a-f]{16}\\.js$`));
    expect(await readFile(path, 'utf8')).toContain('accessRequestWorkflow');
    // The next start reuses it without bundling again.
    const started = Date.now();
    expect(await chooseWorkflowSource(undefined, log, cache)).toEqual(first);
    expect(Date.now() - started).toBeLessThan(2_000);
  }, 120_000);
});
