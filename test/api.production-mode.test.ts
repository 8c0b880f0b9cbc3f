/**
 * The API-only process (`npm run api`, src/main/run-api.ts) in production mode, against the shared stack's Temporal:
 * it refuses to start without its signing key or without OIDC configuration, naming the missing variable, and once
 * configured it accepts only bearer JWTs verified against the issuer's JWKS (a real local JWKS endpoint, keys made
 * here). The signing key is a secret: no assertion message and no log line may carry it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findFreePort } from '../src/dev/dev-server.js';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';
import { startProc, waitForHttp, type Proc } from './support/process.js';

const stack = inject('stack');
const ROOT = join(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const ISSUER = 'https://idp.test.example/';
const AUDIENCE = 'lockbox-api';

/** An Ed25519 signing key as LOCKBOX_SIGNING_KEY takes it; only ever passed to the child's environment. */
const secretHex = bytesToHex(ed25519.utils.randomSecretKey());
const SIGNING_KEY = `test-prod:${secretHex}`;
/** Its public half, for LOCKBOX_TRUSTED_KEYS. */
const TRUSTED_KEY = `test-prod:${bytesToHex(ed25519.getPublicKey(Buffer.from(secretHex, 'hex')))}`;
/** Encrypts issued credentials at rest (the API reads them from the vault); also a secret. */
const CREDENTIAL_KEY = randomBytes(32).toString('base64');

const procs: Proc[] = [];
const dirs: string[] = [];
let jwks: JwksServer | undefined;

/** The parent's environment without any Lockbox, Temporal or OIDC setting, plus `extra`. */
async function envFor(extra: Record<string, string>): Promise<{ env: NodeJS.ProcessEnv; port: number }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(LOCKBOX_|TEMPORAL_)/.test(k)) env[k] = v;
  const dataDir = await mkdtemp(join(tmpdir(), 'lockbox-prod-'));
  dirs.push(dataDir);
  const port = await findFreePort();
  Object.assign(env, {
    LOCKBOX_MODE: 'production',
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: stack.namespace,
    LOCKBOX_TASK_QUEUE: stack.taskQueue,
    LOCKBOX_DATA_DIR: dataDir,
    LOCKBOX_PORT: String(port),
    ...extra,
  });
  return { env, port };
}

function spawnApi(env: NodeJS.ProcessEnv): Proc {
  const proc = startProc(TSX, ['src/main/run-api.ts'], env, ROOT);
  procs.push(proc);
  return proc;
}

/** Waits for the process to exit; its exit code, or null if it is still running after `ms`. */
function exitCode(proc: Proc, ms = 60_000): Promise<number | null> {
  if (proc.child.exitCode !== null) return Promise.resolve(proc.child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    proc.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
  });
}

/** The child's output with the secrets masked, safe to show in an assertion message. */
const mask = (text: string) => text.replaceAll(secretHex, '<signing key>').replaceAll(CREDENTIAL_KEY, '<credential key>');
const safeOutput = (proc: Proc) => mask(proc.output());
const leaksSecret = (proc: Proc) => proc.output().includes(secretHex) || proc.output().includes(CREDENTIAL_KEY);

/** Everything an API-only process needs in production mode apart from the OIDC settings (see the first tests). */
const API_KEYS = { LOCKBOX_SIGNING_KEY: SIGNING_KEY, LOCKBOX_CREDENTIAL_KEY: CREDENTIAL_KEY };

afterAll(async () => {
  for (const p of procs) await p.stop();
  await jwks?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('production mode: the API refuses to start half-configured', () => {
  // Each case leaves out one setting and gives every other one (LOCKBOX_TRUSTED_KEYS too, though only the worker
  // should need it: see the last case), so the message must be about the one left out.
  it('without LOCKBOX_SIGNING_KEY it exits non-zero, naming LOCKBOX_SIGNING_KEY', async () => {
    const { env } = await envFor({ LOCKBOX_CREDENTIAL_KEY: CREDENTIAL_KEY, LOCKBOX_TRUSTED_KEYS: TRUSTED_KEY });
    const proc = spawnApi(env);
    const code = await exitCode(proc);
    expect(code, safeOutput(proc)).not.toBeNull();
    expect(code, safeOutput(proc)).not.toBe(0);
    expect(safeOutput(proc)).toContain('LOCKBOX_SIGNING_KEY');
    expect(leaksSecret(proc), 'the output carries a secret').toBe(false);
  });

  it('with a signing key but no OIDC settings it exits non-zero, naming LOCKBOX_OIDC_ISSUER', async () => {
    const { env } = await envFor({ ...API_KEYS, LOCKBOX_TRUSTED_KEYS: TRUSTED_KEY });
    const proc = spawnApi(env);
    const code = await exitCode(proc);
    expect(code, safeOutput(proc)).not.toBeNull();
    expect(code, safeOutput(proc)).not.toBe(0);
    const out = safeOutput(proc);
    expect(out).toContain('LOCKBOX_OIDC_ISSUER');
    expect(out).not.toContain('LOCKBOX_SIGNING_KEY');
    expect(leaksSecret(proc), 'the output carries a secret').toBe(false);
  });

  it('an API-only process does not ask for LOCKBOX_TRUSTED_KEYS (a worker setting): without OIDC it names only OIDC', async () => {
    // README: LOCKBOX_TRUSTED_KEYS is the worker's ("worker: public keys it accepts"); the API signs, it never verifies.
    const { env } = await envFor(API_KEYS);
    const proc = spawnApi(env);
    const code = await exitCode(proc);
    expect(code, safeOutput(proc)).not.toBeNull();
    const out = safeOutput(proc);
    expect(out).toContain('LOCKBOX_OIDC_ISSUER');
    expect(out).not.toContain('LOCKBOX_TRUSTED_KEYS');
  });
});

describe('production mode: only OIDC bearer JWTs verified against the JWKS', () => {
  let url = '';
  let proc: Proc;
  let privateKey: CryptoKey;
  const KID = 'test-key-1';

  const jwt = (claims: Record<string, unknown>, exp: number | string = '5m') =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(privateKey);
  const get = (path: string, token: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
    jwks = await startJwksServer([publicJwk]);
    const { env, port } = await envFor({
      ...API_KEYS,
      // The worker's setting; an API-only process should not need it (see above), but giving it keeps these tests
      // about authentication.
      LOCKBOX_TRUSTED_KEYS: TRUSTED_KEY,
      LOCKBOX_OIDC_ISSUER: ISSUER,
      LOCKBOX_OIDC_AUDIENCE: AUDIENCE,
      LOCKBOX_OIDC_JWKS_URL: jwks.url,
    });
    url = `http://127.0.0.1:${port}`;
    proc = spawnApi(env);
    try {
      await waitForHttp(`${url}/readyz`, proc, 90_000);
    } catch (err) {
      throw new Error(mask(String(err instanceof Error ? err.message : err)));
    }
  });

  it('starts and is ready', async () => {
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(200);
  });

  it('refuses the demo token alice-dev-token (401)', async () => {
    const res = await get('/v1/requests', 'alice-dev-token');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
  });

  it('accepts a JWT signed by the JWKS key: an operator lists requests (200)', async () => {
    const token = await jwt({ email: 'olga@provider.example', email_verified: true, lockbox_roles: ['operator'] });
    const res = await get('/v1/requests', token);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(Array.isArray(((await res.json()) as { requests: unknown }).requests)).toBe(true);
  });

  it('maps the roles claim: the same operator may not file a request (403)', async () => {
    const token = await jwt({ email: 'olga@provider.example', email_verified: true, lockbox_roles: ['operator'] });
    const res = await fetch(`${url}/v1/requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'contoso', resource: 'db:crm', reason: 'x', duration: '1h' }),
    });
    expect(res.status).toBe(403);
  });

  it('refuses an expired JWT (401), beyond the clock tolerance', async () => {
    const token = await jwt({ email: 'olga@provider.example', email_verified: true, lockbox_roles: ['operator'] }, Math.floor(Date.now() / 1000) - 600);
    const res = await get('/v1/requests', token);
    expect(res.status).toBe(401);
  });

  it('refuses a JWT for another audience or from another issuer (401)', async () => {
    const claims = { email: 'olga@provider.example', email_verified: true, lockbox_roles: ['operator'] };
    const wrongAud = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: KID }).setIssuer(ISSUER).setAudience('someone-else').setExpirationTime('5m').sign(privateKey);
    const wrongIss = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: KID }).setIssuer('https://evil.example/').setAudience(AUDIENCE).setExpirationTime('5m').sign(privateKey);
    expect((await get('/v1/requests', wrongAud)).status).toBe(401);
    expect((await get('/v1/requests', wrongIss)).status).toBe(401);
  });

  it('refuses an ID token of the same issuer and audience (typ JWT, not at+jwt): 401 saying so', async () => {
    const idToken = await new SignJWT({ email: 'olga@provider.example', email_verified: true, lockbox_roles: ['operator'], nonce: 'n-1' })
      .setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(privateKey);
    const res = await get('/v1/requests', idToken);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { detail: string }).detail).toContain('not an access token');
  });

  it('serves /metrics and the Temporal UI address to operators only', async () => {
    const operator = await jwt({ email: 'olga@provider.example', email_verified: true, lockbox_roles: ['operator'] });
    const customerAdmin = await jwt({ email: 'alice@contoso.example', email_verified: true, lockbox_roles: ['contoso:admin'] });
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await get('/metrics', customerAdmin)).status).toBe(403);
    const metrics = await get('/metrics', operator);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('lockbox_http_requests_total');
    const config = (await (await fetch(`${url}/v1/portal-config`)).json()) as Record<string, unknown>;
    expect(Object.keys(config).sort()).toEqual(['demoIdentities', 'mode']);
    expect(await (await get('/v1/me', customerAdmin)).json()).toEqual({ id: 'alice@contoso.example', roles: [], tenantRoles: [{ tenant: 'contoso', role: 'admin' }] });
    expect(await (await get('/v1/me', operator)).json()).toMatchObject({ roles: ['operator'], temporalUi: { namespace: expect.any(String) } });
  });

  it('never shows the signing key or the credential key in its output', () => {
    expect(leaksSecret(proc), 'the output carries a secret').toBe(false);
  });
});
