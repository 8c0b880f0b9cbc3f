/**
 * `lockbox login` / `whoami` / `logout` end to end: the real CLI (`node bin/lockbox.js`) against the stack's API and
 * its demo OpenID provider (oidc-provider). The CLI learns the provider from `GET /auth/cli`, prints a URL and a code,
 * and headless Chromium does what a person does in a browser: enters the code, confirms it, logs in as alice. The
 * token file must be the user's alone (0600 in a 0700 directory); commands then use it, renew it before it expires,
 * and logout removes it and revokes the refresh token at the provider. Refusals (the person aborts, a wrong issuer,
 * a provider that is down, an API without CLI sign-in, a refresh that fails) end non-zero with a message that says
 * what to fix, never a stack trace.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findFreePort } from '../src/dev/dev-server.js';
import { DEMO_PASSWORD } from '../src/dev/demo-sign-in.js';
import { DEV_CLI_CLIENT_ID } from '../src/dev/oidc-provider.js';
import { launchBrowser } from './support/browser.js';
import { runLockbox, said } from './support/cli.js';

const stack = inject('stack');
const STACK_TRACE = /\n\s+at .+:\d+:\d+/;


/** `lockbox <args>` with its own config directory and no token in the environment; `onStderr` sees progress. */
function start(args: string[], configHome: string, opts: { url?: string; env?: NodeJS.ProcessEnv; onStderr?: (all: string) => void } = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, LOCKBOX_URL: opts.url ?? stack.apiUrl, XDG_CONFIG_HOME: configHome, ...opts.env };
  delete env.LOCKBOX_TOKEN;
  return runLockbox(args, env, opts.onStderr);
}

/** Starts `lockbox login` and resolves with the URL and code it printed, and its end. */
function startLogin(configHome: string, args: string[] = [], env?: NodeJS.ProcessEnv) {
  let shown: (v: { url: string; code: string }) => void;
  const prompt = new Promise<{ url: string; code: string }>((resolve) => (shown = resolve));
  const done = start(['login', ...args], configHome, {
    ...(env ? { env } : {}),
    onStderr: (all) => {
      const m = /open (\S+) and enter the code (\S+)/.exec(all);
      if (m) shown({ url: m[1]!, code: m[2]! });
    },
  });
  return { prompt: Promise.race([prompt, done.then((r) => Promise.reject(new Error(`login ended before printing a code:\n${said(r)}`)))]), done };
}

let browser: Browser;
const homes: string[] = [];
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  for (const h of homes) await rm(h, { recursive: true, force: true });
});

async function newHome(): Promise<string> {
  const h = await mkdtemp(join(tmpdir(), 'lockbox-cli-login-'));
  homes.push(h);
  return h;
}

/** What a person does with the printed URL and code: enter it, check it, then log in (or abort). */
async function confirmInBrowser(url: string, code: string, opts: { login?: string; abort?: boolean } = {}): Promise<void> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(url);
    expect(url.startsWith(stack.oidcIssuer), url).toBe(true);
    await page.getByLabel('Code').fill(code);
    await page.getByRole('button', { name: 'Continue' }).click();
    // The confirmation shows the code again, so the person can compare it with the terminal.
    await page.getByText(code, { exact: true }).waitFor();
    if (opts.abort) {
      await page.getByRole('button', { name: 'Abort' }).click();
      await page.getByRole('alert').filter({ hasText: 'aborted' }).waitFor();
      return;
    }
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Username').fill(opts.login ?? 'alice');
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Signed in' }).waitFor();
  } finally {
    await context.close();
  }
}

interface TokenFile {
  logins: Record<string, { accessToken: string; refreshToken?: string; expiresAt: string; user?: string; authTime?: number }>;
}
const tokenFile = (home: string) => join(home, 'lockbox', 'tokens.json');
const readTokens = async (home: string) => JSON.parse(await readFile(tokenFile(home), 'utf8')) as TokenFile;
const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

/** The provider's token endpoint, asked directly: does this refresh token still work? */
async function refreshStatus(refreshToken: string): Promise<{ status: number; error?: string }> {
  const res = await fetch(`${stack.oidcIssuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: DEV_CLI_CLIENT_ID }).toString(),
  });
  const body = (await res.json()) as { error?: string };
  return { status: res.status, ...(body.error ? { error: body.error } : {}) };
}

describe('lockbox login (device flow at the identity provider)', () => {
  it('login in the browser -> token file 0600 -> whoami and API commands use it, renew it -> logout revokes and removes it', { timeout: 120_000 }, async () => {
    const home = await newHome();
    const login = startLogin(home);
    const { url, code } = await login.prompt;
    expect(code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    await confirmInBrowser(url, code);
    const done = await login.done;
    expect(done.code, said(done)).toBe(0);
    expect(done.stdout).toContain(`Signed in to ${stack.apiUrl} as alice@contoso.com`);
    expect(done.stderr).not.toMatch(STACK_TRACE);

    // The user's alone: 0600 in a 0700 directory; keyed by the API URL; a refresh token to renew with.
    expect((await modeOf(tokenFile(home))).toString(8)).toBe('600');
    expect((await modeOf(join(home, 'lockbox'))).toString(8)).toBe('700');
    const saved = (await readTokens(home)).logins[stack.apiUrl]!;
    expect(saved).toMatchObject({ user: 'alice@contoso.com', accessToken: expect.stringMatching(/^ey/), refreshToken: expect.any(String) });
    expect(Date.parse(saved.expiresAt)).toBeGreaterThan(Date.now() + 10 * 60_000);
    expect(Math.abs(saved.authTime! * 1000 - Date.now())).toBeLessThan(5 * 60_000);

    const who = await start(['whoami'], home);
    expect(who.code, said(who)).toBe(0);
    expect(who.stdout).toContain('alice@contoso.com');
    expect(who.stdout).toMatch(/approver and admin at contoso/);
    expect(who.stdout).toMatch(/logged in\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(.+ ago\)/);

    // Any API command, with the saved token and no LOCKBOX_TOKEN.
    const list = await start(['request', 'list', '--tenant', 'contoso', '--limit', '5', '--json'], home);
    expect(list.code, said(list)).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveProperty('requests');

    // Less than a minute left: the next command renews it with the refresh token first (and keeps the file 0600).
    const file = await readTokens(home);
    file.logins[stack.apiUrl]!.expiresAt = new Date(Date.now() + 20_000).toISOString();
    await writeFile(tokenFile(home), JSON.stringify(file));
    const renewed = await start(['whoami', '--json'], home);
    expect(renewed.code, said(renewed)).toBe(0);
    expect(JSON.parse(renewed.stdout)).toMatchObject({ id: 'alice@contoso.com', via: 'login', authTime: new Date(saved.authTime! * 1000).toISOString() });
    const after = (await readTokens(home)).logins[stack.apiUrl]!;
    expect(after.accessToken).not.toBe(saved.accessToken);
    expect(Date.parse(after.expiresAt)).toBeGreaterThan(Date.now() + 10 * 60_000);
    expect((await modeOf(tokenFile(home))).toString(8)).toBe('600');

    // Two commands at once, both due to renew: one renews, the other waits and uses the result (the provider
    // rotates refresh tokens, and a second use of the same one would end the login).
    const due = await readTokens(home);
    due.logins[stack.apiUrl]!.expiresAt = new Date(Date.now() + 20_000).toISOString();
    await writeFile(tokenFile(home), JSON.stringify(due));
    const both = await Promise.all([start(['whoami'], home), start(['whoami'], home)]);
    for (const r of both) expect(r.code, said(r)).toBe(0);
    const latest = (await readTokens(home)).logins[stack.apiUrl]!;
    expect(latest.refreshToken).not.toBe(after.refreshToken);
    // ... and the saved refresh token is the live one: the next renewal works.
    latest.expiresAt = new Date(Date.now() + 20_000).toISOString();
    await writeFile(tokenFile(home), JSON.stringify({ version: 1, logins: { [stack.apiUrl]: latest } }));
    const next = await start(['whoami'], home);
    expect(next.code, said(next)).toBe(0);

    // Someone loosened the file: it is made 0600 again, with a warning that says what to do.
    await chmod(tokenFile(home), 0o644);
    const loose = await start(['whoami'], home);
    expect(loose.code, said(loose)).toBe(0);
    expect(loose.stderr).toMatch(/was readable by others \(mode 644\); it is now 0600.*lockbox logout/);
    expect((await modeOf(tokenFile(home))).toString(8)).toBe('600');

    // Logout: the entry (here the whole file) is gone and the refresh token no longer works at the provider.
    const refreshToken = (await readTokens(home)).logins[stack.apiUrl]!.refreshToken!;
    const out = await start(['logout'], home);
    expect(out.code, said(out)).toBe(0);
    expect(out.stdout).toContain(`Signed out of ${stack.apiUrl} (alice@contoso.com)`);
    await expect(stat(tokenFile(home))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await refreshStatus(refreshToken)).toEqual({ status: 400, error: 'invalid_grant' });

    const gone = await start(['whoami'], home);
    expect(gone.code, said(gone)).toBe(3);
    expect(gone.stderr).toBe(`lockbox: not signed in to ${stack.apiUrl}: run lockbox login (or set LOCKBOX_TOKEN)\n`);
    const again = await start(['logout'], home);
    expect(again.code, said(again)).toBe(0);
    expect(again.stdout).toContain('Not signed in');
  });

  it('the person aborts at the provider: exit 3, "refused", nothing saved', { timeout: 90_000 }, async () => {
    const home = await newHome();
    const login = startLogin(home, ['--json']);
    const { url, code } = await login.prompt;
    await confirmInBrowser(url, code, { abort: true });
    const done = await login.done;
    expect(done.code, said(done)).toBe(3);
    expect(done.stderr).toContain('lockbox: sign-in was refused at the identity provider (access_denied)');
    expect(done.stderr).not.toMatch(STACK_TRACE);
    expect(done.stdout).toBe('');
    await expect(stat(tokenFile(home))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('this machine\'s clock is 2 h ahead: the ID token fails its check, "clock skew", exit 1, nothing saved', { timeout: 90_000 }, async () => {
    const home = await newHome();
    // The CLI's processes (bin/lockbox.js and the tsx child) start with their clock moved forward, nothing else.
    const shift = join(home, 'clock-ahead.mjs');
    await writeFile(shift, 'const real = Date.now; Date.now = () => real() + 2 * 3600 * 1000;\n');
    const login = startLogin(home, [], { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(shift).href}`.trim() });
    const { url, code } = await login.prompt;
    await confirmInBrowser(url, code);
    const done = await login.done;
    expect(done.code, said(done)).toBe(1);
    expect(done.stderr).not.toMatch(STACK_TRACE);
    expect(done.stderr).toContain('\nlockbox: clock skew: the identity provider\'s token fails its "exp" check by this machine\'s clock (this machine\'s clock is about 2 h ahead of the provider\'s); set the clock right (NTP) and run lockbox login again\n');
    await expect(stat(tokenFile(home))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a saved login whose refresh fails: exit 3 and "run lockbox login"', async () => {
    const home = await newHome();
    const { issuer, clientId, scopes } = (await (await fetch(`${stack.apiUrl}/auth/cli`)).json()) as { issuer: string; clientId: string; scopes: string[] };
    const expired = { issuer, clientId, scopes, accessToken: 'expired', refreshToken: 'not-a-refresh-token', expiresAt: new Date(Date.now() - 1000).toISOString(), user: 'alice@contoso.com' };
    await (await import('node:fs/promises')).mkdir(join(home, 'lockbox'), { recursive: true, mode: 0o700 });
    await writeFile(tokenFile(home), JSON.stringify({ version: 1, logins: { [stack.apiUrl]: expired } }), { mode: 0o600 });
    const r = await start(['request', 'list'], home);
    expect(r.code, said(r)).toBe(3);
    expect(r.stderr).toBe(`lockbox: could not renew your login at ${stack.apiUrl}: your login has expired or was revoked at the identity provider: run lockbox login\n`);
  });
});

describe('lockbox login: what is wrong is named', () => {
  /** A stand-in for a misconfigured Lockbox API: answers only `GET /auth/cli` (and, if asked, a discovery document). */
  async function standIn(answer: (self: string) => { status: number; body: unknown }, discovery?: () => Promise<unknown>): Promise<{ url: string; server: Server }> {
    const server = createServer((req, res) => {
      const self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      if (req.url === '/auth/cli') {
        const a = answer(self);
        res.writeHead(a.status, { 'content-type': a.status === 200 ? 'application/json' : 'application/problem+json' }).end(JSON.stringify(a.body));
      } else if (req.url === '/.well-known/openid-configuration' && discovery) {
        void discovery().then((doc) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc)));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
  }
  const servers: Server[] = [];
  afterAll(() => {
    for (const s of servers) s.close();
  });

  it('the API names an issuer whose discovery document says another: "wrong issuer", exit 1', async () => {
    // As when LOCKBOX_OIDC_ISSUER points at a proxy in front of the provider instead of the provider's own issuer.
    const realDoc = async () => (await fetch(`${stack.oidcIssuer}/.well-known/openid-configuration`)).json();
    const api = await standIn((self) => ({ status: 200, body: { issuer: self, clientId: DEV_CLI_CLIENT_ID, scopes: ['openid'] } }), realDoc);
    servers.push(api.server);
    const r = await start(['login'], await newHome(), { url: api.url });
    expect(r.code, said(r)).toBe(1);
    expect(r.stderr).toMatch(/^lockbox: wrong issuer: .*LOCKBOX_OIDC_ISSUER/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
  });

  it('the provider is down: "cannot be reached", exit 8', async () => {
    const down = `http://127.0.0.1:${await findFreePort()}`;
    const api = await standIn(() => ({ status: 200, body: { issuer: down, clientId: DEV_CLI_CLIENT_ID, scopes: ['openid'] } }));
    servers.push(api.server);
    const r = await start(['login'], await newHome(), { url: api.url });
    expect(r.code, said(r)).toBe(8);
    expect(r.stderr).toBe(`lockbox: the identity provider at ${down} cannot be reached (ECONNREFUSED); is it up? try again shortly\n`);
  });

  it('an API without CLI sign-in: says so and points at LOCKBOX_TOKEN, exit 2', async () => {
    const api = await standIn(() => ({ status: 404, body: { type: 'about:blank', title: 'Not found', status: 404, detail: 'CLI sign-in is not configured' } }));
    servers.push(api.server);
    const r = await start(['login'], await newHome(), { url: api.url });
    expect(r.code, said(r)).toBe(2);
    expect(r.stderr).toMatch(/does not offer CLI sign-in .*LOCKBOX_TOKEN/);
  });

  it('GET /auth/cli is public and names the demo provider, its CLI client and the API resource', async () => {
    const res = await fetch(`${stack.apiUrl}/auth/cli`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ issuer: stack.oidcIssuer, clientId: DEV_CLI_CLIENT_ID, scopes: expect.arrayContaining(['openid', 'offline_access']), resource: 'urn:lockbox:api' });
  });
});
