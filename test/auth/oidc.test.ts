import type { AddressInfo } from 'node:net';
import express from 'express';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requireAuth } from '../../src/api/auth.js';
import { createOidcAuthenticator, type OidcOptions } from '../../src/api/auth-oidc.js';
import { errorHandler } from '../../src/api/problem.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/config/logger.js';
import { parseRoleName } from '../../src/domain/role-names.js';
import { startJwksServer, type JwksServer } from '../support/jwks-server.js';

const ISSUER = 'https://idp.contoso.test/realms/lockbox';
const AUDIENCE = 'lockbox-api';
const ROLE_MAP: OidcOptions['roleMap'] = {
  'contoso-approvers': 'contoso:approver',
  'fabrikam-admins': 'fabrikam:admin',
  'lockbox-engineers': 'engineer',
  'provider-approvers': 'internal_approver',
};
const at = (tenant: string, role: 'approver' | 'admin') => ({ tenant, role });

interface Signer {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function makeSigner(alg: string, kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { alg, kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

let server: JwksServer;
let rsa: Signer;
let ec: Signer;
let attacker: Signer;
/** Every token made and every refusal reported in this file, for the "no token text in reasons" check at the end. */
const allTokens: string[] = [];
const allReasons: string[] = [];

const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Alice, a contoso approver, as the IdP would issue her; override claims per case (undefined drops one). */
const alice = (over: JWTPayload = {}): JWTPayload => ({
  iss: ISSUER,
  aud: AUDIENCE,
  sub: 'u-alice',
  email: 'alice@contoso.example',
  email_verified: true,
  lockbox_roles: ['contoso-approvers'],
  iat: now(),
  exp: now() + 300,
  ...over,
});

function keep(token: string): string {
  allTokens.push(token);
  return token;
}

/** An RFC 9068 access token (`typ: at+jwt`) unless the header says otherwise (`typ: undefined` drops it). */
async function sign(payload: JWTPayload, signer: Signer = rsa, header: Record<string, unknown> = {}): Promise<string> {
  const h = Object.fromEntries(Object.entries({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt', ...header }).filter(([, v]) => v !== undefined));
  return keep(await new SignJWT(payload).setProtectedHeader(h as { alg: string }).sign(signer.privateKey));
}

/** A fresh authenticator (own JWKS cache) against the test IdP, and the reasons it reported. */
function oidc(extra: Partial<OidcOptions> = {}) {
  const refused: string[] = [];
  const auth = createOidcAuthenticator({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUrl: server.url,
    roleMap: ROLE_MAP,
    onRefused: (r) => {
      refused.push(r);
      allReasons.push(r);
    },
    ...extra,
  });
  return { auth, refused };
}

beforeAll(async () => {
  [rsa, ec, attacker] = await Promise.all([makeSigner('RS256', 'rsa-1'), makeSigner('ES256', 'ec-1'), makeSigner('RS256', 'attacker-1')]);
  server = await startJwksServer([rsa.jwk, ec.jwk]);
});

afterAll(async () => {
  await server?.stop();
});

describe('OIDC bearer tokens: accepted', () => {
  it('maps an RS256 access token to a Principal: id from the verified email, roles per tenant via the role map', async () => {
    const { auth, refused } = oidc();
    expect(await auth.authenticate(await sign(alice()))).toEqual({ id: 'alice@contoso.example', roles: [], tenantRoles: [at('contoso', 'approver')] });
    expect(refused).toEqual([]);
  });

  it('maps an ES256 token; duplicate and unmapped role names dropped', async () => {
    const { auth } = oidc();
    const ian = alice({
      sub: 'u-ian',
      email: 'ian@provider.example',
      // 'admin' and 'contoso:admin' are Lockbox role names, but with a role map only mapped names count.
      lockbox_roles: ['provider-approvers', 'lockbox-engineers', 'provider-approvers', 'admin', 'contoso:admin', 'wiki-editors', 42],
    });
    expect(await auth.authenticate(await sign(ian, ec))).toEqual({ id: 'ian@provider.example', roles: ['internal_approver', 'engineer'], tenantRoles: [] });
  });

  it('keeps roles at their tenant: approver at contoso and admin at fabrikam is not admin at contoso', async () => {
    const carol = alice({ email: 'carol@contoso.example', lockbox_roles: ['contoso-approvers', 'fabrikam-admins'] });
    expect(await oidc().auth.authenticate(await sign(carol))).toEqual({
      id: 'carol@contoso.example',
      roles: [],
      tenantRoles: [at('contoso', 'approver'), at('fabrikam', 'admin')],
    });
  });

  it('without a role map, takes claim values that already are Lockbox role names: provider roles and <tenant>:<role>', async () => {
    const { auth } = oidc({ roleMap: undefined });
    const names = ['engineer', 'operator', 'internal_approver', 'contoso:admin', 'fabrikam:approver', 'contoso:admin', 'superuser', 'contoso:root', 'Contoso:admin', ':admin', 'a:b:admin'];
    expect(await auth.authenticate(await sign(alice({ lockbox_roles: names })))).toEqual({
      id: 'alice@contoso.example',
      roles: ['engineer', 'operator', 'internal_approver'],
      tenantRoles: [at('contoso', 'admin'), at('fabrikam', 'approver')],
    });
  });

  it('counts a bare approver / admin only at the one tenant the tenants claim names, never across several', async () => {
    const { auth } = oidc({ roleMap: undefined });
    const one = await sign(alice({ lockbox_roles: ['approver', 'admin'], lockbox_tenants: ['contoso', 'contoso'] }));
    expect(await auth.authenticate(one)).toMatchObject({ tenantRoles: [at('contoso', 'approver'), at('contoso', 'admin')] });
    const single = await sign(alice({ lockbox_roles: 'admin', lockbox_tenants: 'contoso' }));
    expect(await auth.authenticate(single)).toMatchObject({ tenantRoles: [at('contoso', 'admin')] });
    // The old shape of carol: roles and tenants side by side cannot say which role is where, so neither counts.
    const two = await sign(alice({ lockbox_roles: ['approver', 'admin', 'fabrikam:approver'], lockbox_tenants: ['contoso', 'fabrikam'] }));
    expect(await auth.authenticate(two)).toMatchObject({ roles: [], tenantRoles: [at('fabrikam', 'approver')] });
    const none = await sign(alice({ lockbox_roles: ['admin'], lockbox_tenants: undefined }));
    expect(await auth.authenticate(none)).toMatchObject({ tenantRoles: [] });
  });

  it('reads configured claim names, nested ones as dotted paths, and falls back to sub for the user id', async () => {
    const { auth } = oidc({ claims: { userId: 'preferred_username', tenants: 'org', roles: 'realm_access.roles' } });
    const keycloak = alice({ email: undefined, lockbox_roles: undefined, realm_access: { roles: ['contoso-approvers'] } });
    const mine = { id: 'alice', roles: [], tenantRoles: [at('contoso', 'approver')] };
    expect(await auth.authenticate(await sign({ ...keycloak, preferred_username: 'alice' }))).toEqual(mine);
    expect(await auth.authenticate(await sign(keycloak))).toEqual({ ...mine, id: 'u-alice' });
    // Not the email claim: email_verified does not matter.
    expect(await auth.authenticate(await sign({ ...keycloak, preferred_username: 'alice', email_verified: false }))).toEqual(mine);
    const noClaims = alice({ email: undefined, email_verified: undefined, lockbox_roles: undefined });
    expect(await oidc().auth.authenticate(await sign(noClaims))).toEqual({ id: 'u-alice', roles: [], tenantRoles: [] });
  });

  it('accepts typ at+jwt however it is written (case, application/ prefix)', async () => {
    const { auth, refused } = oidc();
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt']) expect(await auth.authenticate(await sign(alice(), rsa, { typ }))).not.toBeNull();
    expect(refused).toEqual([]);
  });

  it('accepts typ JWT only when configured, and then still refuses what carries ID-token claims', async () => {
    const { auth, refused } = oidc({ tokenTypes: ['at+jwt', 'JWT'] });
    expect(await auth.authenticate(await sign(alice(), rsa, { typ: 'JWT' }))).toMatchObject({ id: 'alice@contoso.example' });
    expect(await auth.authenticate(await sign(alice({ nonce: 'n-1' }), rsa, { typ: 'JWT' }))).toBeNull();
    expect(await auth.authenticate(await sign(alice({ at_hash: 'x' }), rsa, { typ: 'JWT' }))).toBeNull();
    expect(await auth.authenticate(await sign(alice({ typ: 'ID' }), rsa, { typ: 'JWT' }))).toBeNull();
    expect(await auth.authenticate(await sign(alice(), rsa, { typ: undefined }))).toBeNull();
    expect(refused).toEqual(['id_token', 'id_token', 'id_token', 'token_type_not_allowed']);
  });

  it('accepts an aud array that contains the audience', async () => {
    expect(await oidc().auth.authenticate(await sign(alice({ aud: ['other-api', AUDIENCE] })))).not.toBeNull();
  });

  it('accepts exp and nbf within the clock tolerance (default 60 s)', async () => {
    const { auth, refused } = oidc();
    expect(await auth.authenticate(await sign(alice({ exp: now() - 30 })))).not.toBeNull();
    expect(await auth.authenticate(await sign(alice({ nbf: now() + 30 })))).not.toBeNull();
    expect(refused).toEqual([]);
  });
});

describe('OIDC bearer tokens: refused', () => {
  const unsigned = (payload: JWTPayload) => keep(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`);
  const tamper = (token: string, over: JWTPayload) => {
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as JWTPayload;
    return keep(`${h}.${b64({ ...claims, ...over })}.${s}`);
  };

  const cases: { name: string; token: () => Promise<string>; reason: string; options?: Partial<OidcOptions> }[] = [
    { name: 'expired beyond the tolerance', token: () => sign(alice({ exp: now() - 120 })), reason: 'ERR_JWT_EXPIRED' },
    { name: 'expired 30 s ago with zero tolerance', token: () => sign(alice({ exp: now() - 30 })), reason: 'ERR_JWT_EXPIRED', options: { clockToleranceSec: 0 } },
    { name: 'not yet valid beyond the tolerance', token: () => sign(alice({ nbf: now() + 120 })), reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED:nbf:check_failed' },
    { name: 'without exp', token: () => sign(alice({ exp: undefined })), reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED:exp:missing' },
    { name: 'for another audience', token: () => sign(alice({ aud: 'billing-api' })), reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED:aud:check_failed' },
    { name: 'without aud', token: () => sign(alice({ aud: undefined })), reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED:aud:missing' },
    { name: 'from another issuer', token: () => sign(alice({ iss: 'https://evil.example/' })), reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED:iss:check_failed' },
    { name: 'with an issuer that differs only by a trailing slash', token: () => sign(alice({ iss: `${ISSUER}/` })), reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED:iss:check_failed' },
    { name: 'unsigned (alg: none)', token: async () => unsigned(alice()), reason: 'ERR_JOSE_ALG_NOT_ALLOWED' },
    {
      name: 'with a tampered payload (roles raised, signature kept)',
      token: async () => tamper(await sign(alice()), { lockbox_roles: ['contoso-approvers', 'admin'], email: 'mallory@contoso.example' }),
      reason: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    },
    { name: 'signed by a key not in the JWKS', token: () => sign(alice(), attacker), reason: 'ERR_JWKS_NO_MATCHING_KEY' },
    { name: 'signed by a key not in the JWKS, claiming a trusted kid', token: () => sign(alice(), attacker, { kid: rsa.kid }), reason: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' },
    {
      name: 'HS256 with the RSA public key as the HMAC secret',
      token: async () => keep(await new SignJWT(alice()).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(new TextEncoder().encode(await exportSPKI(rsa.publicKey)))),
      reason: 'ERR_JOSE_ALG_NOT_ALLOWED',
    },
    { name: 'ES256 when only RS256 is configured', token: () => sign(alice(), ec), reason: 'ERR_JOSE_ALG_NOT_ALLOWED', options: { algorithms: ['RS256'] } },
    { name: 'not a JWT at all', token: async () => keep('not-a-jwt'), reason: 'ERR_JWS_INVALID' },
    { name: 'with no user id (neither email nor sub)', token: () => sign(alice({ email: undefined, sub: undefined })), reason: 'missing_user_id' },
    { name: 'with an empty email and no sub', token: () => sign(alice({ email: '  ', sub: undefined })), reason: 'missing_user_id' },
    { name: 'with an e-mail the IdP marks unverified', token: () => sign(alice({ email_verified: false })), reason: 'email_unverified' },
    { name: 'with an e-mail the IdP does not say is verified', token: () => sign(alice({ email_verified: undefined })), reason: 'email_unverified' },
    { name: 'with email_verified as the string "true"', token: () => sign(alice({ email_verified: 'true' })), reason: 'email_unverified' },
    // An ID token of the same IdP for the same audience: typ JWT, nonce. Not an access token.
    { name: 'typed JWT (an ID token), by default', token: () => sign(alice({ nonce: 'n-1' }), rsa, { typ: 'JWT' }), reason: 'token_type_not_allowed' },
    { name: 'without a typ header', token: () => sign(alice(), rsa, { typ: undefined }), reason: 'token_type_not_allowed' },
    { name: 'typed as a logout token', token: () => sign(alice(), rsa, { typ: 'logout+jwt' }), reason: 'token_type_not_allowed' },
  ];

  it.each(cases)('refuses a token $name', async ({ token, reason, options }) => {
    const { auth, refused } = oidc(options);
    await expect(auth.authenticate(await token())).resolves.toBeNull();
    expect(refused).toEqual([reason]);
  });

  it('still refuses (and does not throw) when the logger throws', async () => {
    const { auth } = oidc({
      onRefused: () => {
        throw new Error('logger down');
      },
    });
    await expect(auth.authenticate(await sign(alice({ aud: 'billing-api' })))).resolves.toBeNull();
  });
});

describe('OIDC key set availability', () => {
  it('refuses with jwks_unavailable while the IdP is down, without caching the failure', async () => {
    const { auth, refused } = oidc();
    const token = await sign(alice());
    await server.stop();
    try {
      await expect(auth.authenticate(token)).resolves.toBeNull();
      await expect(auth.authenticate(token)).resolves.toBeNull();
      expect(refused).toEqual(['jwks_unavailable', 'jwks_unavailable']);
    } finally {
      await server.start();
    }
    expect(await auth.authenticate(token)).toMatchObject({ id: 'alice@contoso.example' });
    expect(refused).toHaveLength(2);
  });

  it('keeps accepting known keys through an outage once it has fetched them', async () => {
    const { auth } = oidc();
    expect(await auth.authenticate(await sign(alice()))).not.toBeNull();
    await server.stop();
    try {
      expect(await auth.authenticate(await sign(alice(), ec))).not.toBeNull();
    } finally {
      await server.start();
    }
  });

  it('picks up a rotated-in key: refetches the JWKS on an unknown kid once the 30 s cooldown has passed', async () => {
    const { auth, refused } = oidc();
    expect(await auth.authenticate(await sign(alice()))).not.toBeNull();
    const rotated = await makeSigner('RS256', 'rsa-2');
    server.setKeys([rsa.jwk, ec.jwk, rotated.jwk]);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      // Right after a fetch, jose does not refetch for an unknown kid (so junk kids cannot hammer the IdP).
      expect(await auth.authenticate(await sign(alice(), rotated))).toBeNull();
      expect(refused).toEqual(['ERR_JWKS_NO_MATCHING_KEY']);
      vi.setSystemTime(Date.now() + 31_000);
      const hits = server.hits;
      expect(await auth.authenticate(await sign(alice(), rotated))).toMatchObject({ id: 'alice@contoso.example' });
      expect(server.hits).toBe(hits + 1);
    } finally {
      vi.useRealTimers();
      server.setKeys([rsa.jwk, ec.jwk]);
    }
  });
});

describe('OIDC options', () => {
  const base = { issuer: ISSUER, audience: AUDIENCE, jwksUrl: 'https://idp.contoso.test/certs' };

  it.each([
    ['plain http to a non-loopback host', { jwksUrl: 'http://idp.contoso.test/certs' }],
    ['alg none', { algorithms: ['RS256', 'none'] }],
    ['an HMAC algorithm', { algorithms: ['HS256'] }],
    ['no algorithms', { algorithms: [] }],
    ['a role map to an unknown role', { roleMap: { staff: 'root' } }],
    ['a role map to an unknown role at a tenant', { roleMap: { staff: 'contoso:root' } }],
    ['no token types', { tokenTypes: [] }],
    ['a token type that is not one', { tokenTypes: ['at jwt'] }],
  ])('refuses to build with %s', (_name, over) => {
    expect(() => createOidcAuthenticator({ ...base, ...over })).toThrow(TypeError);
  });

  // The variables' rules and messages: test/config.test.ts, "OIDC bearer-token settings".
  it('reads the LOCKBOX_OIDC_* variables through the configuration, and the result verifies real tokens', async () => {
    const { oidc } = loadConfig({
      LOCKBOX_MODE: 'production',
      LOCKBOX_OIDC_ISSUER: ISSUER,
      LOCKBOX_OIDC_AUDIENCE: AUDIENCE,
      LOCKBOX_OIDC_JWKS_URL: server.url,
      LOCKBOX_OIDC_CLOCK_TOLERANCE: '30',
      LOCKBOX_OIDC_ROLES_CLAIM: 'groups',
      LOCKBOX_OIDC_ROLE_MAP: '{"contoso-approvers":"contoso:approver","fabrikam-admins":"fabrikam:admin","lockbox-ops":"operator"}',
      LOCKBOX_OIDC_TOKEN_TYPES: ' at+jwt, JWT ,',
    });
    if (!oidc) throw new Error('no OIDC settings in the configuration');
    expect(oidc).toMatchObject({
      clockToleranceSec: 30,
      claims: { userId: undefined, tenants: undefined, roles: 'groups' },
      roleMap: { 'contoso-approvers': 'contoso:approver', 'fabrikam-admins': 'fabrikam:admin', 'lockbox-ops': 'operator' },
      tokenTypes: ['at+jwt', 'jwt'],
    });
    const auth = createOidcAuthenticator(oidc);
    const token = await sign(alice({ lockbox_roles: undefined, groups: ['fabrikam-admins', 'lockbox-ops', 'contoso-approvers'] }), rsa, { typ: 'JWT' });
    expect(await auth.authenticate(token)).toEqual({ id: 'alice@contoso.example', roles: ['operator'], tenantRoles: [at('fabrikam', 'admin'), at('contoso', 'approver')] });
  });

  it('reads role names: provider roles, <tenant>:<role>, bare customer roles; nothing else', () => {
    expect(parseRoleName('operator')).toEqual({ kind: 'provider', role: 'operator' });
    expect(parseRoleName('contoso:admin')).toEqual({ kind: 'tenant', grant: at('contoso', 'admin') });
    expect(parseRoleName('fabrikam-eu:approver')).toEqual({ kind: 'tenant', grant: at('fabrikam-eu', 'approver') });
    expect(parseRoleName('approver')).toEqual({ kind: 'bare', role: 'approver' });
    for (const bad of ['root', 'contoso:operator', 'contoso:engineer', 'Contoso:admin', ':admin', 'contoso:', 'a:b:admin', '']) expect(parseRoleName(bad), bad).toBeNull();
  });
});

describe('OIDC refusals over HTTP', () => {
  it('answer 401 problem+json saying why in fixed words, never with the token', async () => {
    const app = express();
    app.get('/v1/me', requireAuth(oidc().auth), (_req, res) => {
      res.json(res.locals.principal);
    });
    app.use(errorHandler(createLogger('test', { quiet: true })));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const cases: Array<[string, string, string]> = [
        ['expired', await sign(alice({ exp: now() - 600 })), 'the token has expired'],
        ['an ID token', await sign(alice({ nonce: 'n-1' }), rsa, { typ: 'JWT' }), 'the token is not an access token: its JWT header typ must be at+jwt'],
        ['unverified e-mail', await sign(alice({ email_verified: undefined })), 'the e-mail address in the token is not verified (email_verified must be true)'],
        ['another audience', await sign(alice({ aud: 'billing-api' })), 'the token is meant for another audience'],
        ['a forged signature', await sign(alice(), attacker, { kid: rsa.kid }), 'the bearer token is not valid'],
      ];
      for (const [name, token, detail] of cases) {
        const res = await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
        const text = await res.text();
        expect(res.status, name).toBe(401);
        expect(res.headers.get('content-type'), name).toContain('application/problem+json');
        expect(JSON.parse(text), name).toMatchObject({ status: 401, title: 'Not authenticated', detail });
        for (const piece of [token, ...token.split('.')]) expect(text, name).not.toContain(piece);
      }
      const ok = await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${await sign(alice())}` } });
      expect(await ok.json()).toEqual({ id: 'alice@contoso.example', roles: [], tenantRoles: [at('contoso', 'approver')] });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

// Last in the file: looks at everything reported above.
describe('OIDC refusal reasons', () => {
  it('never carry token text, only a fixed vocabulary', () => {
    expect(allReasons.length).toBeGreaterThan(15);
    const pieces = allTokens.flatMap((t) => [t, ...t.split('.')]).filter((p) => p.length >= 8);
    for (const reason of allReasons) {
      expect(reason).toMatch(/^(ERR_[A-Z_]+(:[a-z]+:[a-z_]+)?|jwks_unavailable|missing_user_id|email_unverified|token_type_not_allowed|id_token)$/);
      for (const piece of pieces) expect(reason).not.toContain(piece);
    }
  });
});
