/**
 * Portal sign-in end to end against the stack's real OpenID provider (oidc-provider, started by src/main/dev.ts):
 * headless Chromium signs in through the provider's login form and approves from a notification link; a login older
 * than the step-up max age sends the person through the provider again and back to the request; logout ends the
 * session. Without a browser: every refusal (tampered, expired, idle cookie; missing CSRF token; forged state; a
 * code from another sign-in, which fails the PKCE check; an open redirect; no auth_time) is a clear 401/403/400.
 */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hashId, randomToken } from '../src/api/session/sessions.js';
import { openSqliteStore } from '../src/adapters/sqlite-store.js';
import { DEMO_PASSWORD } from '../src/dev/demo-sign-in.js';
import type { Principal } from '../src/domain/directory.js';
import type { Store } from '../src/ports/store.js';
import { api, eventually } from './support/api.js';
import { launchBrowser, openPortal, screenshot, type PortalTab } from './support/browser.js';
import { personas, problemCode, settingsBody } from './support/personas.js';
import { CookieJar, follow, send, signInOverHttp } from './support/sign-in.js';

const stack = inject('stack');
const run = Date.now().toString(36);
let n = 0;
const resource = () => `mailbox:signin-${run}-${++n}@contoso.com`;
const SESSION = 'lockbox_session';

async function fileAsEve(): Promise<string> {
  const res = await api().as('eve').post('/v1/requests', { tenant: 'contoso', resource: resource(), reason: 'sign-in test', duration: '1h' });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

const statusOf = async (id: string) => (await api().as('eve').get(`/v1/requests/${id}`)).body.status as string;

let browser: Browser;
const tabs: PortalTab[] = [];
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** A fresh browser (own cookies) on the portal page `path`. */
async function tab(path = '/'): Promise<PortalTab> {
  const t = await openPortal(browser, stack.apiUrl);
  tabs.push(t);
  if (path !== '/') await t.page.goto(path);
  return t;
}

/** Clicks "Sign in" and logs in at the provider's form; resolves back in the portal, signed in. */
async function signInAt(t: PortalTab, login: string) {
  await t.page.getByRole('link', { name: 'Sign in', exact: true }).click();
  await t.page.waitForURL((u) => u.href.startsWith(stack.oidcIssuer));
  await t.page.getByLabel('Username').fill(login);
  await t.page.getByLabel('Password').fill(DEMO_PASSWORD);
  await t.page.getByRole('button', { name: 'Sign in' }).click();
  await t.page.waitForURL((u) => u.href.startsWith(stack.apiUrl));
  await t.page.locator('#who-name').filter({ hasText: '@' }).waitFor();
}

describe('portal sign-in at the identity provider', () => {
  it('a notification link opens the request; alice signs in at the provider, lands back on it and approves', async () => {
    const id = await fileAsEve();
    // The link alone decides nothing: it opens the page, which asks who you are.
    const alice = await tab(`/requests/${id}`);
    await alice.page.getByRole('link', { name: 'Sign in', exact: true }).waitFor();
    expect(await alice.page.getByRole('link', { name: 'Sign in', exact: true }).getAttribute('href')).toBe(`/auth/login?returnTo=${encodeURIComponent(`/requests/${id}`)}`);
    expect(await statusOf(id)).toBe('pending');
    await signInAt(alice, 'alice');
    expect(alice.page.url()).toBe(`${stack.apiUrl}/requests/${id}`);
    expect(await alice.page.locator('#who-name').textContent()).toBe('alice@contoso.com');
    await expect.poll(() => alice.page.locator('#who-login').textContent()).toMatch(/^Logged in at .+\(pwd\)$/);
    // The session cookie: HttpOnly (no script sees it), SameSite=Lax; nothing in storage.
    const cookies = await alice.context.cookies(stack.apiUrl);
    const session = cookies.find((c) => c.name === SESSION);
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false, path: '/' });
    expect(session!.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await alice.page.evaluate(() => ({ cookie: document.cookie, session: sessionStorage.length, local: localStorage.length }))).toEqual({ cookie: '', session: 0, local: 0 });
    await screenshot(alice.page, 'signin-01-alice-request');

    await alice.page.locator('#detail').getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => statusOf(id), { timeout: 20_000 }).toMatch(/^(granting|active)$/);
    const approved = (await api().as('eve').get(`/v1/requests/${id}/audit`)).body.events.find((e: { type: string }) => e.type === 'request.approved');
    expect(approved).toMatchObject({ actor: 'alice@contoso.com' });
    // The signed decision carries when and how alice logged in, and the trail keeps it (docs/sign-in.md).
    const signedIn = (await alice.page.evaluate(async () => (await fetch('/auth/session')).json())) as { authTime: string; amr: string[] };
    expect(approved.details.proof).toMatchObject({ authTime: signedIn.authTime, amr: ['pwd'] });
    expect(alice.problems).toEqual([]);
  });

  it('a login older than the step-up max age sends alice through the provider again, back to the request', async () => {
    const id = await fileAsEve();
    const alice = await tab(`/requests/${id}`);
    await signInAt(alice, 'alice');
    const before = (await alice.page.locator('#who-login').textContent()) ?? '';
    await new Promise((r) => setTimeout(r, stack.stepUpMaxAgeMs + 1_000));
    await alice.page.locator('#detail').getByRole('button', { name: 'Approve' }).click();
    // The API said step-up-required; the portal went to /auth/login?max_age=0, and the provider asks again.
    await alice.page.waitForURL((u) => u.href.startsWith(stack.oidcIssuer), { timeout: 20_000 });
    await screenshot(alice.page, 'signin-02-step-up-login');
    expect(await statusOf(id)).toBe('pending');
    await alice.page.getByLabel('Username').fill('alice');
    await alice.page.getByLabel('Password').fill(DEMO_PASSWORD);
    await alice.page.getByRole('button', { name: 'Sign in' }).click();
    await alice.page.waitForURL(`${stack.apiUrl}/requests/${id}`);
    await expect.poll(() => alice.page.locator('#who-login').textContent()).not.toBe(before);
    await alice.page.locator('#detail').getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => statusOf(id), { timeout: 20_000 }).toMatch(/^(granting|active)$/);
  }, 120_000);

  it('sign out ends the session at Lockbox and at the provider; the old cookie then gets 401', async () => {
    const bob = await tab('/');
    await signInAt(bob, 'bob');
    const old = (await bob.context.cookies(stack.apiUrl)).find((c) => c.name === SESSION)!.value;
    expect((await fetch(`${stack.apiUrl}/v1/me`, { headers: { cookie: `${SESSION}=${old}` } })).status).toBe(200);
    await bob.page.getByRole('button', { name: 'Sign out' }).click();
    // The provider's RP-initiated logout asks to confirm, then sends the person back to the portal.
    await bob.page.waitForURL((u) => u.href.startsWith(stack.oidcIssuer));
    await bob.page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await bob.page.waitForURL(`${stack.apiUrl}/`);
    await bob.page.getByRole('link', { name: 'Sign in', exact: true }).waitFor();
    const res = await fetch(`${stack.apiUrl}/v1/me`, { headers: { cookie: `${SESSION}=${old}` } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/session is not known/);
    // Signing in again asks for the password again: the provider's session ended too.
    await bob.page.getByRole('link', { name: 'Sign in', exact: true }).click();
    await bob.page.getByLabel('Password').waitFor();
  });
});

describe('sign-in refusals', () => {
  let store: Store;
  beforeAll(() => {
    // The running stack's own SQLite file (WAL: several processes share it), to plant sessions in states a
    // browser cannot easily reach (expired, idle, no auth_time).
    store = openSqliteStore(join(stack.dataDir, 'lockbox.db'));
  });
  afterAll(async () => {
    await store?.close();
  });

  async function planted(over: { authTime?: string | null; expiresAt?: string; lastSeenAt?: string; principal?: Principal; amr?: string[] } = {}) {
    const id = randomToken();
    const now = new Date().toISOString();
    const csrf = randomToken();
    await store.createSession({
      idHash: hashId(id),
      principal: { ...(over.principal ?? { id: 'alice@contoso.com', roles: [], tenantRoles: [{ tenant: 'contoso', role: 'approver' }] }) },
      csrfToken: csrf,
      authTime: over.authTime === undefined ? now : over.authTime,
      amr: over.amr ?? ['pwd'],
      acr: null,
      idToken: null,
      createdAt: now,
      lastSeenAt: over.lastSeenAt ?? now,
      expiresAt: over.expiresAt ?? new Date(Date.now() + 3_600_000).toISOString(),
    });
    return { cookie: `${SESSION}=${id}`, csrf };
  }

  const approve = (id: string, headers: Record<string, string>) =>
    fetch(`${stack.apiUrl}/v1/requests/${id}/approve`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });

  it('a cookie-authenticated POST needs the session\'s X-CSRF-Token (403 without or with a wrong one); GET needs none', async () => {
    const { jar, session } = await signInOverHttp(stack.apiUrl, 'alice');
    expect(session).toMatchObject({ signedIn: true, amr: ['pwd'] });
    const cookie = jar.header(stack.apiUrl);
    expect((await fetch(`${stack.apiUrl}/v1/me`, { headers: { cookie } })).status).toBe(200);
    const id = await fileAsEve();
    for (const headers of [{ cookie }, { cookie, 'x-csrf-token': 'wrong' }] as Array<Record<string, string>>) {
      const res = await approve(id, headers);
      expect(res.status).toBe(403);
      expect(problemCode(await res.json())).toBe('csrf');
    }
    expect(await statusOf(id)).toBe('pending');
    const ok = await approve(id, { cookie, 'x-csrf-token': session.csrfToken! });
    expect([200, 202]).toContain(ok.status);
  });

  it('a tampered, expired or idle session cookie is 401, and so is no cookie at all', async () => {
    const live = await planted();
    expect((await fetch(`${stack.apiUrl}/v1/me`, { headers: { cookie: live.cookie } })).status).toBe(200);
    const tampered = live.cookie.slice(0, -1) + (live.cookie.endsWith('A') ? 'B' : 'A');
    const expired = await planted({ expiresAt: new Date(Date.now() - 1000).toISOString() });
    const idle = await planted({ lastSeenAt: new Date(Date.now() - 31 * 60_000).toISOString() });
    const cases: Array<[string | undefined, RegExp]> = [
      [tampered, /not known/],
      [expired.cookie, /has ended/],
      [idle.cookie, /without use/],
      [undefined, /sign in/],
    ];
    for (const [cookie, detail] of cases) {
      const res = await fetch(`${stack.apiUrl}/v1/me`, { headers: cookie ? { cookie } : {} });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { detail: string }).detail).toMatch(detail);
    }
  });

  it('a decision through a session without auth_time, or with an old one, is 401 step-up-required with a loginUrl back to the request', async () => {
    const id = await fileAsEve();
    const noAuthTime = await planted({ authTime: null });
    const old = await planted({ authTime: new Date(Date.now() - stack.stepUpMaxAgeMs - 5_000).toISOString() });
    for (const s of [noAuthTime, old]) {
      const res = await approve(id, { cookie: s.cookie, 'x-csrf-token': s.csrf });
      expect(res.status).toBe(401);
      const body = (await res.json()) as { loginUrl: string; detail: string };
      expect(problemCode(body)).toBe('step-up-required');
      expect(body.loginUrl).toBe(`/auth/login?max_age=0&returnTo=${encodeURIComponent(`/requests/${id}`)}`);
    }
    expect(await statusOf(id)).toBe('pending');
    // Demo bearer tokens of the embedded default are exempt.
    expect((await api().as('alice').post(`/v1/requests/${id}/approve`, {})).status).toBeLessThan(300);
  });

  it("a tenant's own step-up rule: the stricter max age applies, and a second factor when it requires MFA; null removes it", async () => {
    // fabrikam (fiona is its admin): internal approval by ian first, then two of fiona and frank.
    const fiona = personas()('fiona');
    const put = async (stepUp: unknown) => {
      for (let attempt = 1; ; attempt++) {
        const cur = await fiona.get('/v1/tenants/fabrikam/settings');
        const res = await fiona.put('/v1/tenants/fabrikam/settings', { ...settingsBody(cur.body), stepUp }, { 'if-match': `"${cur.body.version}"` });
        if ((res.status === 412 || res.status === 409) && attempt < 5) continue;
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        return res.body;
      }
    };
    const bad = await fiona.put('/v1/tenants/fabrikam/settings', { ...settingsBody((await fiona.get('/v1/tenants/fabrikam/settings')).body), stepUp: { maxAge: '1s', requireMfa: false } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatchObject({ field: 'stepUp.maxAge' });
    expect((await put({ maxAge: '10s', requireMfa: true })).stepUp).toEqual({ maxAge: '10s', requireMfa: true });
    try {
      const filed = await api().as('eve').post('/v1/requests', { tenant: 'fabrikam', resource: resource(), reason: 'step-up per tenant', ticket: 'SUP-1', duration: '1h' });
      expect(filed.status, JSON.stringify(filed.body)).toBe(201);
      const id = filed.body.id as string;
      expect((await personas()('ian').post(`/v1/requests/${id}/approve`, {})).status).toBe(200);
      const fionaAt = (authTime: number, amr: string[]) =>
        planted({ principal: { id: 'fiona@fabrikam.com', roles: [], tenantRoles: [{ tenant: 'fabrikam', role: 'approver' }] }, authTime: new Date(authTime).toISOString(), amr });
      // 15 s old: within the deployment's 30 s, past fabrikam's 10 s.
      const stale = await fionaAt(Date.now() - 15_000, ['pwd', 'otp']);
      const firstMinute = Math.floor(Date.now() / 60_000);
      const staleRes = await approve(id, { cookie: stale.cookie, 'x-csrf-token': stale.csrf });
      expect(staleRes.status).toBe(401);
      expect(problemCode(await staleRes.json())).toBe('step-up-required');
      // Fresh, but a password alone: 403 (logging in the same way again would not help).
      const oneFactor = await fionaAt(Date.now(), ['pwd']);
      const oneRes = await approve(id, { cookie: oneFactor.cookie, 'x-csrf-token': oneFactor.csrf });
      expect(oneRes.status).toBe(403);
      expect(problemCode(await oneRes.json())).toBe('mfa-required');
      // Both refusals are in the audit stream (the tenant's feed), once per person, request and reason a minute:
      // the same refused click again adds nothing.
      await approve(id, { cookie: stale.cookie, 'x-csrf-token': stale.csrf });
      const sameMinute = Math.floor(Date.now() / 60_000) === firstMinute;
      const refusals = await eventually(
        async () => ((await fiona.get('/v1/audit?tenant=fabrikam&type=decision.refused_login&limit=1000')).body.events as Array<{ requestId: string; actor: string; details: { reason: string; action: string; amr?: string[] } }>).filter((e) => e.requestId === id),
        (es) => es.some((e) => e.details.reason === 'mfa-required'),
      );
      expect(refusals.every((e) => e.actor === 'fiona@fabrikam.com' && e.details.action === 'approve')).toBe(true);
      expect(refusals.find((e) => e.details.reason === 'mfa-required')?.details.amr).toEqual(['pwd']);
      const stepUps = refusals.filter((e) => e.details.reason === 'step-up-required').length;
      if (sameMinute) expect(stepUps).toBe(1);
      else expect(stepUps).toBeGreaterThanOrEqual(1);
      expect((await api().as('eve').get(`/v1/requests/${id}`)).body.decisions).toHaveLength(1);
      // Fresh and with a second factor: the decision goes through, and the trail says how she logged in.
      const strong = await fionaAt(Date.now(), ['pwd', 'otp']);
      const ok = await approve(id, { cookie: strong.cookie, 'x-csrf-token': strong.csrf });
      expect(ok.status, await ok.clone().text()).toBe(200);
      const events = (await api().as('eve').get(`/v1/requests/${id}/audit`)).body.events as Array<{ type: string; actor: string; details: { proof?: { amr?: string[] } } }>;
      expect(events.find((e) => e.type === 'request.approved' && e.actor === 'fiona@fabrikam.com')?.details.proof?.amr).toEqual(['pwd', 'otp']);
      await api().as('eve').post(`/v1/requests/${id}/cancel`, {});
    } finally {
      expect((await put(null)).stepUp).toBeUndefined();
    }
  }, 60_000);

  it('the step-up login URL asks the provider for a fresh login (max_age=0, prompt=login)', async () => {
    const res = await send(new CookieJar(), `${stack.apiUrl}/auth/login?max_age=0&returnTo=%2Frequests%2Freq-contoso-x`);
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get('location')!);
    expect(to.origin).toBe(stack.oidcIssuer);
    expect(Object.fromEntries(to.searchParams)).toMatchObject({ response_type: 'code', code_challenge_method: 'S256', max_age: '0', prompt: 'login', client_id: 'lockbox-portal' });
    for (const p of ['state', 'nonce', 'code_challenge']) expect(to.searchParams.get(p)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('returnTo must be a path on this site', async () => {
    for (const bad of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'requests/x', '/x\u0000y']) {
      const res = await send(new CookieJar(), `${stack.apiUrl}/auth/login?returnTo=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(400);
    }
  });

  it('a callback with a forged state, without the sign-in cookie, or with a code from another sign-in (PKCE) is 401', async () => {
    // Forged state: the sign-in cookie is right, the state is not.
    const jar = new CookieJar();
    await send(jar, `${stack.apiUrl}/auth/login`);
    const forged = await send(jar, `${stack.apiUrl}/auth/callback?code=abc&state=forged&iss=${encodeURIComponent(stack.oidcIssuer)}`);
    expect(forged.status).toBe(401);
    expect(problemCode(await forged.json())).toBe('sign-in-failed');
    expect(jar.get(stack.apiUrl, SESSION)).toBeUndefined();

    // No sign-in started in this browser (a link someone sent): refused, whatever the query says.
    const stranger = await send(new CookieJar(), `${stack.apiUrl}/auth/callback?code=abc&state=abc`);
    expect(stranger.status).toBe(401);

    // Two sign-ins; the victim's browser gets the attacker's code with the victim's own state: the code was issued
    // for another PKCE challenge, so the provider refuses to redeem it with this browser's verifier.
    const attacker = new CookieJar();
    const victim = new CookieJar();
    const codeFor = async (j: CookieJar) => {
      const form = await follow(j, `${stack.apiUrl}/auth/login`);
      await form.res.text();
      const res = await send(j, form.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `login=eve&password=${DEMO_PASSWORD}` });
      // Follow the provider's redirects up to, not into, Lockbox's callback: the code stays unredeemed.
      let url = new URL(res.headers.get('location')!, form.url).href;
      while (!url.startsWith(`${stack.apiUrl}/auth/callback`)) url = new URL((await send(j, url)).headers.get('location')!, url).href;
      return new URL(url).searchParams;
    };
    const theirs = await codeFor(attacker);
    const mine = await codeFor(victim);
    const swapped = await send(victim, `${stack.apiUrl}/auth/callback?code=${theirs.get('code')}&state=${mine.get('state')}&iss=${encodeURIComponent(stack.oidcIssuer)}`);
    expect(swapped.status).toBe(401);
    expect(((await swapped.json()) as { detail: string }).detail).toMatch(/invalid_grant/);
    expect(victim.get(stack.apiUrl, SESSION)).toBeUndefined();
    // The sign-in flow is used up: the right code afterwards is refused too (one use).
    const replay = await send(victim, `${stack.apiUrl}/auth/callback?${mine.toString()}`);
    expect(replay.status).toBe(401);
  });

  it('a wrong password stays at the provider; no session is made', async () => {
    const jar = new CookieJar();
    const form = await follow(jar, `${stack.apiUrl}/auth/login`);
    await form.res.text();
    const res = await send(jar, form.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'login=alice&password=guess' });
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('Unknown user or wrong password');
    expect(jar.get(stack.apiUrl, SESSION)).toBeUndefined();
  });

  it('GET /auth/session says who is signed in, when they logged in and how; signed out: signedIn false', async () => {
    const { session } = await signInOverHttp(stack.apiUrl, 'fiona');
    expect(session).toMatchObject({ signedIn: true, amr: ['pwd'], user: { id: 'fiona@fabrikam.com' } });
    expect(Date.now() - Date.parse(session.authTime!)).toBeLessThan(60_000);
    const none = await (await fetch(`${stack.apiUrl}/auth/session`)).json();
    expect(none).toMatchObject({ signedIn: false, signInAvailable: true });
  });
});
