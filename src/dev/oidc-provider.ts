/**
 * The embedded default's own OpenID provider (`oidc-provider`), so `npm start` signs people in for real: the demo
 * identities of src/config/demo.ts log in with a password at a small login form, and the portal gets ID tokens
 * through the authorization code flow with PKCE, exactly as it would from Entra ID, Okta, Google or Keycloak.
 * The device flow is on too (for `lockbox login`), with RFC 9068 JWT access tokens for the Lockbox API.
 * Development only: in-memory storage, keys made at start-up, one password for every demo person.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import type Provider from 'oidc-provider';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Principal } from '../domain/directory.js';
import { demoPersonClaims, DEMO_CLAIMS_BY_SCOPE, DEMO_SCOPES } from './oidc-claims.js';
import { escapeHtml, loginPage, messagePage, userCodeConfirmPage, userCodePage } from './oidc-pages.js';

/** The client id the portal uses at the demo provider (a public client: PKCE, no secret). */
export const DEV_PORTAL_CLIENT_ID = 'lockbox-portal';
/** The client id for the command line's device flow. */
export const DEV_CLI_CLIENT_ID = 'lockbox-cli';
/** The `aud` of the JWT access tokens the demo provider issues for the Lockbox API. */
export const DEV_API_AUDIENCE = 'lockbox-api';
/** The resource indicator (RFC 8707) of the Lockbox API at the demo provider: an absolute URI, as the RFC wants. */
export const DEV_API_RESOURCE = 'urn:lockbox:api';

export interface DevOidcProviderOptions {
  /** Port to listen on; taken, a free one is used instead. */
  port: number;
  host?: string;
  /** The demo people by id (e-mail). */
  people: readonly Principal[];
  /** The one password every demo person logs in with. */
  password: string;
  /** The portal's redirect URI(s) (`<api>/auth/callback`). */
  redirectUris: string[];
  /** Where the provider may send people after logout (`<api>/`). */
  postLogoutRedirectUris: string[];
}

export interface DevOidcProvider {
  issuer: string;
  portalClientId: string;
  cliClientId: string;
  stop(): Promise<void>;
}

/** Starts the provider; resolves once it listens. */
export async function startDevOidcProvider(opts: DevOidcProviderOptions): Promise<DevOidcProvider> {
  const host = opts.host ?? '127.0.0.1';
  const byId = new Map(opts.people.map((p) => [p.id, p] as const));
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end();
  });
  const port = await listen(server, opts.port, host).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE') throw err;
    return listen(server, 0, host);
  });
  const issuer = `http://${host}:${port}`;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: `dev-${Date.now().toString(36)}`, alg: 'RS256', use: 'sig' };

  const configuration: Configuration = {
    clients: [
      {
        client_id: DEV_PORTAL_CLIENT_ID,
        client_name: 'Lockbox portal',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: opts.redirectUris,
        post_logout_redirect_uris: opts.postLogoutRedirectUris,
        require_auth_time: true,
      },
      {
        client_id: DEV_CLI_CLIENT_ID,
        client_name: 'Lockbox command line',
        token_endpoint_auth_method: 'none',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
        response_types: [],
        redirect_uris: [],
        // `lockbox whoami` shows when the person logged in.
        require_auth_time: true,
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    scopes: DEMO_SCOPES,
    // How the person logged in (amr, acr) comes with the openid scope, so every ID token says it: step-up records it
    // with a decision, as a real provider's would (Entra ID and Okta send amr by default).
    claims: { auth_time: null, sid: null, openid: ['sub', 'amr', 'acr'], ...DEMO_CLAIMS_BY_SCOPE },
    // The portal reads who someone is from the ID token; no extra userinfo round trip.
    conformIdTokenClaims: false,
    findAccount: (_ctx, sub) => {
      const person = byId.get(sub);
      if (!person) return undefined;
      return { accountId: sub, claims: () => ({ sub, ...demoPersonClaims(person) }) };
    },
    // Demo clients are first-party: what they ask for is granted without a consent screen.
    loadExistingGrant: async (ctx) => {
      const oidc = ctx.oidc;
      const grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(oidc.client!.clientId);
      if (grantId) {
        const found = await oidc.provider.Grant.find(grantId);
        if (found) return found;
      }
      const grant = new oidc.provider.Grant({ clientId: oidc.client!.clientId, accountId: oidc.session!.accountId! });
      grant.addOIDCScope(DEMO_SCOPES.join(' '));
      grant.addOIDCClaims(Object.values(DEMO_CLAIMS_BY_SCOPE).flat());
      grant.addResourceScope(DEV_API_RESOURCE, 'lockbox');
      await grant.save();
      return grant;
    },
    // The person's id, roles and tenants in the JWT access tokens too, so the API maps them like an ID token; and
    // when they logged in (RFC 9068 auth_time, kept across refreshes), which step-up reads.
    extraTokenClaims: async (ctx, token) => {
      const accountId = 'accountId' in token ? token.accountId : undefined;
      const person = accountId ? byId.get(accountId) : undefined;
      if (!person) return undefined;
      const e = ctx.oidc.entities;
      const authTime = (e.DeviceCode ?? e.RefreshToken ?? e.AuthorizationCode)?.authTime;
      return { ...demoPersonClaims(person), ...(typeof authTime === 'number' ? { auth_time: authTime } : {}) };
    },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: async (ctx: KoaContextWithOIDC, form: string, _out: unknown, err: unknown) => {
          const name = err instanceof Error ? err.name : '';
          ctx.body = userCodePage(
            form,
            !err ? '' : name === 'NoCodeError' || (err as { userCode?: unknown }).userCode ? 'That code is not known or has expired. Check it, or run lockbox login again.' : name === 'AbortedError' ? 'The sign-in was aborted.' : 'The sign-in could not be processed. Run lockbox login again.',
          );
        },
        userCodeConfirmSource: async (ctx: KoaContextWithOIDC, form: string, client: { clientName?: string; clientId: string }, _info: unknown, userCode: string) => {
          ctx.body = userCodeConfirmPage(form, client.clientName ?? client.clientId, userCode);
        },
        successSource: async (ctx: KoaContextWithOIDC) => {
          ctx.body = messagePage('Signed in', '<p>The Lockbox command line is signed in. You can close this page and go back to your terminal.</p>');
        },
      },
      // `lockbox logout` revokes its refresh token here.
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: KoaContextWithOIDC, form: string) => {
          ctx.body = messagePage('Sign out of the demo provider?', `${form}<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`);
        },
        postLogoutSuccessSource: async (ctx: KoaContextWithOIDC) => {
          ctx.body = messagePage('Signed out', '<p>You are signed out of the demo provider.</p>');
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => DEV_API_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== DEV_API_RESOURCE) throw new Error('unknown resource');
          return { audience: DEV_API_AUDIENCE, scope: 'lockbox', accessTokenFormat: 'jwt', accessTokenTTL: 3600, jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = messagePage('Sign-in error', `<p>${escapeHtml(String(out.error))}: ${escapeHtml(String(out.error_description ?? ''))}</p>`);
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { Session: 12 * 3600, Interaction: 600, Grant: 12 * 3600, AuthorizationCode: 60, IdToken: 3600, AccessToken: 3600, DeviceCode: 600 },
  };
  const provider = await quietly(async () => new (await import('oidc-provider')).default(issuer, configuration));
  // The provider warns about each dev-only default once; its errors on bad requests are answers, not faults.
  provider.on('server_error', () => undefined);
  const callback = provider.callback();

  handler = (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const m = /^\/interaction\/([\w-]{1,64})$/.exec(url.pathname);
    if (!m) return void callback(req, res);
    interaction(provider, req, res, byId, opts.password).catch(() => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
      res.end(messagePage('Sign-in error', '<p>This sign-in has ended or is not valid. Start again from Lockbox.</p>'));
    });
  };

  return {
    issuer,
    portalClientId: DEV_PORTAL_CLIENT_ID,
    cliClientId: DEV_CLI_CLIENT_ID,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The login form (GET) and its answer (POST): a demo person's id (or the part before @) and the demo password. */
async function interaction(provider: Provider, req: IncomingMessage, res: ServerResponse, people: ReadonlyMap<string, Principal>, password: string): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name !== 'login') {
    // Consent is never needed (loadExistingGrant grants first-party clients); finish with what was asked.
    return void (await provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true }));
  }
  const html = (status: number, error: string) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(loginPage(details.uid, error, [...people.keys()]));
  };
  if (req.method === 'GET') return html(200, '');
  if (req.method !== 'POST') return html(405, 'Use the form.');
  const form = new URLSearchParams(await readBody(req));
  const login = (form.get('login') ?? '').trim().toLowerCase();
  const id = people.has(login) ? login : [...people.keys()].find((k) => k.split('@')[0] === login);
  if (!id || !constantEqual(form.get('password') ?? '', password)) return html(401, 'Unknown user or wrong password.');
  await provider.interactionFinished(req, res, { login: { accountId: id, amr: ['pwd'], acr: 'urn:lockbox:dev:pwd' } }, { mergeWithLastSubmission: false });
}

function constantEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < y.length; i++) diff |= (x[i % Math.max(x.length, 1)] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 4096) req.destroy(new Error('form too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Runs `make` with oidc-provider's start-up warnings held back: it says, rightly, that this is a development-only
 * setup (in-memory storage, Node 20 not its preferred runtime), which is what the embedded demo is; a newcomer's
 * `npm start` should print the ready banner, not warnings about choices made on purpose. Other output passes.
 */
async function quietly<T>(make: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING:')) return;
    warn(...args);
  };
  try {
    return await make();
  } finally {
    console.warn = warn;
  }
}
