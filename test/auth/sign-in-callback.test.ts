/**
 * The portal's callback checks (src/api/session/oidc-sign-in.ts, openid-client) against a provider that misbehaves:
 * an ID token from another issuer, for another audience, with another nonce, expired, signed by a key the provider
 * does not publish, or without `auth_time` when a fresh login was asked for. A real provider (the demo one, used by
 * test/web.signin.test.ts) never sends such tokens, so this provider is a small hostile one on 127.0.0.1 that signs
 * whatever the test tells it to, with real keys; the relying party under test is the real one.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createOidcSignIn, SignInError } from '../../src/api/session/oidc-sign-in.js';
import { principalFromIdToken } from '../../src/api/session/id-token-principal.js';

const CLIENT_ID = 'lockbox-portal';
const REDIRECT = 'http://127.0.0.1:1/auth/callback';
let server: Server;
let issuer = '';
let signingKey: CryptoKey;
let otherKey: CryptoKey;
/** What the next token answer's ID token says (claims over the defaults) and which key signs it. */
let next: { claims: Record<string, unknown>; key?: CryptoKey; drop?: string[] } = { claims: {} };

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey;
  otherKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  server = createServer((req, res) => {
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/.well-known/openid-configuration') {
      return json({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (req.url === '/jwks') return json({ keys: [jwk] });
    if (req.url === '/token' && req.method === 'POST') {
      req.resume();
      req.on('end', async () => {
        const now = Math.floor(Date.now() / 1000);
        const claims: Record<string, unknown> = { iss: issuer, aud: CLIENT_ID, sub: 'alice', email: 'alice@contoso.com', email_verified: true, iat: now, exp: now + 300, auth_time: now, nonce: 'n-1', lockbox_roles: ['contoso:approver'], ...next.claims };
        for (const k of next.drop ?? []) delete claims[k];
        const idToken = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'JWT' }).sign(next.key ?? signingKey);
        json({ access_token: 'at-1', token_type: 'Bearer', expires_in: 300, id_token: idToken });
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

const signIn = () =>
  createOidcSignIn({ issuer, clientId: CLIENT_ID, redirectUri: REDIRECT, scopes: ['openid', 'email'], postLogoutRedirectUri: 'http://127.0.0.1:1/', toPrincipal: (c) => principalFromIdToken(c) });

/** Runs a callback for a sign-in with state s-1, nonce n-1 and the given max_age, the provider answering with `answer`. */
async function callback(answer: typeof next, maxAge: number | null = null) {
  next = answer;
  const checks = { state: 's-1', nonce: 'n-1', codeVerifier: client.randomPKCECodeVerifier(), maxAge };
  return signIn().finish(`?code=c-1&state=s-1&iss=${encodeURIComponent(issuer)}`, checks);
}

async function refused(answer: typeof next, maxAge: number | null = null): Promise<string> {
  const err = await callback(answer, maxAge).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SignInError);
  return (err as SignInError).reason;
}

describe('the sign-in callback refuses a bad ID token', () => {
  it('accepts a good one (the double is well-formed) and maps the person', async () => {
    const result = await callback({ claims: {} });
    expect(result.principal).toEqual({ id: 'alice@contoso.com', roles: [], tenantRoles: [{ tenant: 'contoso', role: 'approver' }] });
    expect(typeof result.authTime).toBe('number');
  });

  it('from another issuer', async () => {
    expect(await refused({ claims: { iss: 'https://evil.example' } })).toMatch(/iss/i);
  });

  it('for another audience (another client at the same provider)', async () => {
    expect(await refused({ claims: { aud: 'someone-else' } })).toMatch(/aud/i);
  });

  it('with another nonce (a token minted for another sign-in)', async () => {
    expect(await refused({ claims: { nonce: 'n-other' } })).toMatch(/nonce/i);
  });

  it('expired', async () => {
    const past = Math.floor(Date.now() / 1000) - 3_600;
    expect(await refused({ claims: { iat: past - 300, exp: past } })).toMatch(/exp/i);
  });

  it('signed by a key the provider does not publish', async () => {
    expect(await refused({ claims: {}, key: otherKey })).toMatch(/signature|key/i);
  });

  it('without auth_time when a fresh login was asked for (max_age)', async () => {
    expect(await refused({ claims: {}, drop: ['auth_time'] }, 0)).toMatch(/auth_time/i);
  });

  it('with a login older than max_age', async () => {
    expect(await refused({ claims: { auth_time: Math.floor(Date.now() / 1000) - 600 } }, 60)).toMatch(/elapsed since the last End-User authentication/);
  });

  it('with an e-mail the provider has not verified (it would name anyone)', async () => {
    expect(await refused({ claims: { email_verified: false } })).toMatch(/names nobody/);
  });

  it('with a state other than the sign-in\'s', async () => {
    next = { claims: {} };
    const checks = { state: 's-1', nonce: 'n-1', codeVerifier: client.randomPKCECodeVerifier(), maxAge: null };
    const err = await signIn().finish(`?code=c-1&state=s-forged&iss=${encodeURIComponent(issuer)}`, checks).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignInError);
    expect((err as SignInError).reason).toMatch(/state/i);
  });
});
