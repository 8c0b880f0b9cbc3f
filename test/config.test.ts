import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, requireOidc } from '../src/config/index.js';

describe('configuration', () => {
  it('has working defaults for the embedded start', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ mode: 'embedded', port: 3000, temporalPort: 7233, namespace: 'lockbox', requestTtlMs: 12 * 3600_000, maxAccessMs: 8 * 3600_000 });
    expect(c.temporalAddress).toBeUndefined();
    expect(c.dataDir).toMatch(/\.lockbox$/);
  });

  it('reads durations in both notations', () => {
    expect(loadConfig({ LOCKBOX_REQUEST_TTL: '30m', LOCKBOX_MAX_ACCESS: 'PT2H' })).toMatchObject({ requestTtlMs: 1_800_000, maxAccessMs: 7_200_000 });
  });

  it('sweeps target sessions every 500 ms unless told another interval or off, and names a bad value', () => {
    expect(loadConfig({}).targetSessionSweepMs).toBe(500);
    expect(loadConfig({ LOCKBOX_TARGET_SESSION_SWEEP: '2s' }).targetSessionSweepMs).toBe(2_000);
    expect(loadConfig({ LOCKBOX_TARGET_SESSION_SWEEP: '' }).targetSessionSweepMs).toBe(500);
    expect(loadConfig({ LOCKBOX_TARGET_SESSION_SWEEP: 'off' }).targetSessionSweepMs).toBe(0);
    expect(problems(() => loadConfig({ LOCKBOX_TARGET_SESSION_SWEEP: 'never' }))).toEqual([
      ['LOCKBOX_TARGET_SESSION_SWEEP', '"never" is not a duration (write 500ms or 2s) or off'],
    ]);
  });

  it('fails fast naming every bad variable, without echoing a database URL', () => {
    const bad = { LOCKBOX_PORT: 'abc', LOCKBOX_REQUEST_TTL: 'soon', LOCKBOX_DATABASE_URL: 'mysql://u:s3cret@h/db' };
    expect(() => loadConfig(bad)).toThrow(ConfigError);
    try {
      loadConfig(bad);
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).toContain('LOCKBOX_PORT');
      expect(msg).toContain('LOCKBOX_REQUEST_TTL');
      expect(msg).toContain('LOCKBOX_DATABASE_URL');
      expect(msg).not.toContain('s3cret');
    }
  });
});

/** The lines of a ConfigError's message (`  NAME: why`), as [name, why] pairs; [] when it does not throw. */
function problems(load: () => unknown): Array<[string, string]> {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message.split('\n').slice(1).map((line) => {
      const [name, ...why] = line.trim().split(': ');
      return [name!, why.join(': ')];
    });
  }
  return [];
}

describe('OIDC bearer-token settings (LOCKBOX_OIDC_*)', () => {
  const ISSUER = 'https://idp.contoso.test/realms/lockbox';
  const BEARER = { LOCKBOX_OIDC_ISSUER: ISSUER, LOCKBOX_OIDC_AUDIENCE: 'lockbox-api', LOCKBOX_OIDC_JWKS_URL: 'https://idp.contoso.test/certs' };

  it('are read into config.oidc, with a clock tolerance of 60 s, at+jwt only and no role map by default', () => {
    const { oidc } = loadConfig({ LOCKBOX_MODE: 'production', ...BEARER });
    expect(oidc).toEqual({
      issuer: ISSUER,
      audience: 'lockbox-api',
      jwksUrl: 'https://idp.contoso.test/certs',
      clockToleranceSec: 60,
      claims: { userId: undefined, tenants: undefined, roles: undefined },
    });
    // Empty values (compose's `${VAR:-}`) count as unset.
    expect(loadConfig({ ...BEARER, LOCKBOX_OIDC_TOKEN_TYPES: '', LOCKBOX_OIDC_CLOCK_TOLERANCE: '', LOCKBOX_OIDC_ROLE_MAP: '' }).oidc).toEqual(oidc);
    expect(loadConfig({ ...BEARER, LOCKBOX_OIDC_AUDIENCE: ' lockbox-api ' }).oidc?.audience).toBe('lockbox-api');
  });

  it('are none when only the issuer is given (portal sign-in), or nothing, or empty values', () => {
    expect(loadConfig({}).oidc).toBeUndefined();
    expect(loadConfig({ LOCKBOX_OIDC_ISSUER: ISSUER, LOCKBOX_OIDC_CLIENT_ID: 'lockbox-portal' }).oidc).toBeUndefined();
    expect(loadConfig({ LOCKBOX_MODE: 'production', LOCKBOX_OIDC_ISSUER: '', LOCKBOX_OIDC_AUDIENCE: '', LOCKBOX_OIDC_JWKS_URL: ' ' }).oidc).toBeUndefined();
  });

  it('production: the API cannot do without them and names each missing one; a worker never asks for them', () => {
    const worker = loadConfig({ LOCKBOX_MODE: 'production' });
    expect(worker.oidc).toBeUndefined();
    expect(problems(() => requireOidc(worker))).toEqual([
      ['LOCKBOX_OIDC_ISSUER', 'required in production mode'],
      ['LOCKBOX_OIDC_AUDIENCE', 'required in production mode'],
      ['LOCKBOX_OIDC_JWKS_URL', 'required in production mode'],
    ]);
    // The issuer given for sign-in is not asked for again.
    expect(problems(() => requireOidc(loadConfig({ LOCKBOX_MODE: 'production', LOCKBOX_OIDC_ISSUER: ISSUER }))).map(([name]) => name)).toEqual([
      'LOCKBOX_OIDC_AUDIENCE',
      'LOCKBOX_OIDC_JWKS_URL',
    ]);
    const configured = loadConfig({ LOCKBOX_MODE: 'production', ...BEARER });
    expect(requireOidc(configured)).toBe(configured.oidc);
  });

  it('refuses half a bearer setup in any mode, naming what is missing', () => {
    expect(problems(() => loadConfig({ LOCKBOX_OIDC_AUDIENCE: 'lockbox-api' }))).toEqual([
      ['LOCKBOX_OIDC_ISSUER', 'required with LOCKBOX_OIDC_AUDIENCE'],
      ['LOCKBOX_OIDC_JWKS_URL', 'required with LOCKBOX_OIDC_AUDIENCE'],
    ]);
    expect(problems(() => loadConfig({ LOCKBOX_MODE: 'production', LOCKBOX_OIDC_ISSUER: ISSUER, LOCKBOX_OIDC_JWKS_URL: BEARER.LOCKBOX_OIDC_JWKS_URL }))).toEqual([
      ['LOCKBOX_OIDC_AUDIENCE', 'required with LOCKBOX_OIDC_ISSUER and LOCKBOX_OIDC_JWKS_URL'],
    ]);
  });

  it('names every bad variable, with the reason', () => {
    const found = problems(() =>
      loadConfig({
        ...BEARER,
        LOCKBOX_OIDC_JWKS_URL: 'http://idp.contoso.test/certs',
        LOCKBOX_OIDC_CLOCK_TOLERANCE: 'soon',
        LOCKBOX_OIDC_USER_CLAIM: ' ',
        LOCKBOX_OIDC_ROLE_MAP: '{"contoso-approvers":"root"}',
        LOCKBOX_OIDC_TOKEN_TYPES: 'at+jwt,id token',
      }),
    );
    expect(found.map(([name]) => name).sort()).toEqual([
      'LOCKBOX_OIDC_CLOCK_TOLERANCE',
      'LOCKBOX_OIDC_JWKS_URL',
      'LOCKBOX_OIDC_ROLE_MAP',
      'LOCKBOX_OIDC_TOKEN_TYPES',
      'LOCKBOX_OIDC_USER_CLAIM',
    ]);
    const why = Object.fromEntries(found);
    expect(why.LOCKBOX_OIDC_JWKS_URL).toBe('must use https (http only on 127.0.0.1 or localhost)');
    expect(why.LOCKBOX_OIDC_USER_CLAIM).toBe('must not be empty');
    expect(why.LOCKBOX_OIDC_TOKEN_TYPES).toBe('must be JWT typ values separated by commas, e.g. at+jwt,JWT');
    expect(why.LOCKBOX_OIDC_ROLE_MAP).toMatch(/^must map names to engineer, internal_approver, operator, <tenant>:approver, <tenant>:admin \("contoso-approvers" is not a Lockbox role name\)$/);
    expect(problems(() => loadConfig({ ...BEARER, LOCKBOX_OIDC_ROLE_MAP: '[approver' }))).toEqual([
      ['LOCKBOX_OIDC_ROLE_MAP', expect.stringMatching(/^must be a JSON object/)],
    ]);
    expect(problems(() => loadConfig({ ...BEARER, LOCKBOX_OIDC_JWKS_URL: 'idp.contoso.test/certs' }))).toEqual([['LOCKBOX_OIDC_JWKS_URL', 'must be an absolute URL']]);
    expect(problems(() => loadConfig({ ...BEARER, LOCKBOX_OIDC_JWKS_URL: 'http://127.0.0.1:8080/certs' }))).toEqual([]);
  });
});

describe('worker sizing (LOCKBOX_WORKER_*)', () => {
  it('leaves the SDK defaults when nothing is set', () => {
    expect(loadConfig({}).workerSizing).toEqual({});
  });

  it('sizes the workflow cache from a memory budget, 256 MiB kept aside and 512 KiB per cached workflow', () => {
    expect(loadConfig({ LOCKBOX_WORKER_MEMORY_MB: '1024' }).workerSizing).toEqual({ maxCachedWorkflows: 1536 });
    expect(loadConfig({ LOCKBOX_WORKER_MEMORY_MB: '384' }).workerSizing).toEqual({ maxCachedWorkflows: 256 });
  });

  it('an explicit cache size wins over the budget; concurrency limits pass through', () => {
    const c = loadConfig({
      LOCKBOX_WORKER_MEMORY_MB: '1024',
      LOCKBOX_WORKER_MAX_CACHED_WORKFLOWS: '100',
      LOCKBOX_WORKER_WORKFLOW_TASKS: '20',
      LOCKBOX_WORKER_ACTIVITIES: '50',
      LOCKBOX_WORKER_LOCAL_ACTIVITIES: '30',
    });
    expect(c.workerSizing).toEqual({
      maxCachedWorkflows: 100,
      maxConcurrentWorkflowTaskExecutions: 20,
      maxConcurrentActivityTaskExecutions: 50,
      maxConcurrentLocalActivityExecutions: 30,
    });
  });

  it('refuses a budget too small to run in and counts that are not whole and positive, naming the variable', () => {
    expect(problems(() => loadConfig({ LOCKBOX_WORKER_MEMORY_MB: '100', LOCKBOX_WORKER_ACTIVITIES: '0', LOCKBOX_WORKER_MAX_CACHED_WORKFLOWS: '1.5' }))).toEqual([
      ['LOCKBOX_WORKER_MEMORY_MB', 'must be at least 384 (MiB)'],
      ['LOCKBOX_WORKER_MAX_CACHED_WORKFLOWS', 'must be a whole number'],
      ['LOCKBOX_WORKER_ACTIVITIES', expect.stringMatching(/>=\s*1|at least|too small/i)],
    ]);
  });
});

describe('metrics addresses (LOCKBOX_WORKER_METRICS_ADDRESS, LOCKBOX_APP_METRICS_ADDRESS)', () => {
  it('unset: neither is served', () => {
    expect(loadConfig({})).toMatchObject({ workerMetricsAddress: undefined, appMetricsAddress: undefined });
    expect(loadConfig({ LOCKBOX_APP_METRICS_ADDRESS: '' }).appMetricsAddress).toBeUndefined();
  });

  it('takes host:port for each, on different ports or hosts', () => {
    expect(loadConfig({ LOCKBOX_WORKER_METRICS_ADDRESS: '0.0.0.0:9464', LOCKBOX_APP_METRICS_ADDRESS: '0.0.0.0:9465' })).toMatchObject({
      workerMetricsAddress: '0.0.0.0:9464',
      appMetricsAddress: '0.0.0.0:9465',
    });
    expect(loadConfig({ LOCKBOX_WORKER_METRICS_ADDRESS: '127.0.0.1:9464', LOCKBOX_APP_METRICS_ADDRESS: '10.1.2.3:9464' }).appMetricsAddress).toBe('10.1.2.3:9464');
  });

  it('refuses what is not host:port, naming the variable', () => {
    for (const value of ['9465', 'http://127.0.0.1:9465', '127.0.0.1:', '127.0.0.1:99999', '127.0.0.1:0', 'a host:9465']) {
      expect(problems(() => loadConfig({ LOCKBOX_APP_METRICS_ADDRESS: value })), value).toEqual([['LOCKBOX_APP_METRICS_ADDRESS', expect.stringContaining('must be host:port')]]);
    }
  });

  it('refuses the same address as the SDK\'s exporter, naming both variables', () => {
    for (const [sdk, app] of [
      ['127.0.0.1:9464', '127.0.0.1:9464'],
      ['localhost:9464', '127.0.0.1:9464'],
      ['0.0.0.0:9464', '10.1.2.3:9464'],
      ['10.1.2.3:9464', '0.0.0.0:9464'],
    ] as const) {
      const found = problems(() => loadConfig({ LOCKBOX_WORKER_METRICS_ADDRESS: sdk, LOCKBOX_APP_METRICS_ADDRESS: app }));
      expect(found, `${sdk} / ${app}`).toEqual([['LOCKBOX_APP_METRICS_ADDRESS', expect.stringContaining('LOCKBOX_WORKER_METRICS_ADDRESS')]]);
      expect(found[0]![1]).toContain(app);
    }
  });
});
