/**
 * The web portal end to end, in headless Chromium (Debian's package, driven by playwright-core) against the real
 * stack: people sign in with their tokens in separate browser contexts, file, approve and reject requests in the
 * page, and see each other's decisions without reloading. Screenshots go to test-results/screenshots/.
 */
import { readdir, readFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WEB_DIR } from '../src/api/routes/web.js';
import { api, eventually } from './support/api.js';
import { accessibilityProblems, launchBrowser, openPortal, screenshot, signIn, tabTo, type PortalPersona, type PortalTab } from './support/browser.js';

const stack = inject('stack');
const run = Date.now().toString(36);
let n = 0;
/** A resource no other test uses, so lists and grants of other tests do not get in the way. */
const resource = () => `mailbox:portal-${run}-${++n}@contoso.com`;
const XSS = '<img src=x onerror=alert(1)>';

let browser: Browser;
const tabs: PortalTab[] = [];
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

async function portal(persona: PortalPersona | null, viewport?: { width: number; height: number }): Promise<PortalTab> {
  const tab = await openPortal(browser, stack.apiUrl, viewport);
  tabs.push(tab);
  if (persona) await signIn(tab, persona);
  return tab;
}

/** Nothing went wrong in the page: no script error, no CSP violation, no dialog. */
function expectClean(tab: PortalTab) {
  expect(tab.problems, 'console errors / CSP violations').toEqual([]);
  expect(tab.dialogs, 'dialogs opened by the page').toEqual([]);
}

async function fillRequestForm(page: Page, v: { tenant?: string; resource: string; reason: string; ticket?: string; duration: string }) {
  const form = page.locator('#new-request-form');
  await form.getByLabel('Tenant', { exact: true }).fill(v.tenant ?? 'contoso');
  await form.getByLabel('Resource').fill(v.resource);
  await form.getByLabel('Reason').fill(v.reason);
  await form.getByLabel('Ticket').fill(v.ticket ?? '');
  await form.getByLabel('Duration').fill(v.duration);
  await form.getByRole('button', { name: 'Request access' }).click();
}

const card = (page: Page, list: 'mine' | 'pending' | 'history', id: string) => page.locator(`#${list}-list li[data-request-id="${id}"]`);
const statusIn = (page: Page, list: 'mine' | 'pending' | 'history', id: string) => card(page, list, id).locator('.badge').textContent({ timeout: 1000 }).catch(() => null);

/** The id of the request for `res` in eve's list, once it is there. */
async function idOfMine(page: Page, res: string): Promise<string> {
  const li = page.locator('#mine-list li', { hasText: res });
  await li.waitFor({ timeout: 15_000 });
  return (await li.getAttribute('data-request-id'))!;
}

async function fileAsEve(overrides: Record<string, string> = {}): Promise<string> {
  const res = await api().as('eve').post('/v1/requests', { tenant: 'contoso', resource: resource(), reason: 'portal test', ticket: 'SUP-1', duration: '1h', ...overrides });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

/** A GET with the path sent exactly as written. */
function rawGet(url: string): Promise<{ status: number; body: string }> {
  const u = new URL(url); // keeps %2f as it is
  return new Promise((resolve, reject) => {
    httpGet({ host: u.hostname, port: u.port, path: u.pathname }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('the web portal', () => {
  it('eve files a request in the form and sees it pending; alice approves it in her portal; eve sees it active without a reload', async () => {
    const eve = await portal('eve');
    const res = resource();
    await fillRequestForm(eve.page, { resource: res, reason: 'support case 4711: mailbox sync broken', ticket: 'SUP-4711', duration: '1h' });
    await expect.poll(() => eve.page.locator('#new-request-done').textContent()).toMatch(/^Request req-contoso-\w+ filed/);
    const id = await idOfMine(eve.page, res);
    await expect.poll(() => statusIn(eve.page, 'mine', id)).toBe('pending');
    await expect.poll(() => card(eve.page, 'mine', id).textContent()).toMatch(/Expires unanswered.*\(in 11h 59m \d+s\)/);
    // The token lives in this tab's sessionStorage only: not in the URL, not in localStorage, not in a cookie.
    expect(eve.page.url()).not.toContain('eve-dev-token');
    expect(await eve.page.evaluate(() => ({ session: sessionStorage.getItem('lockbox.token'), local: localStorage.length, cookie: document.cookie }))).toEqual({ session: 'eve-dev-token', local: 0, cookie: '' });
    // Marks this document: if the page reloaded, the mark would be gone.
    await eve.page.evaluate(() => Object.assign(window, { notReloaded: true }));
    await screenshot(eve.page, '01-eve-pending');

    const alice = await portal('alice');
    const pending = card(alice.page, 'pending', id);
    await pending.waitFor({ timeout: 15_000 });
    expect(await pending.textContent()).toContain('support case 4711: mailbox sync broken');
    expect(await pending.textContent()).toContain('eve@lockbox.dev');
    expect(await pending.textContent()).toContain('SUP-4711');
    await expect.poll(() => pending.locator('[role="timer"]').textContent()).toMatch(/^in 11h 59m \d+s$/);
    await pending.getByLabel('Comment (optional)').fill('ok for case 4711');
    await screenshot(alice.page, '02-alice-pending');
    await pending.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => alice.page.locator('#announcer').textContent()).toContain('You approved eve@lockbox.dev');
    await pending.waitFor({ state: 'detached', timeout: 15_000 });
    await expect.poll(() => statusIn(alice.page, 'history', id), { timeout: 15_000 }).toBe('active');

    await expect.poll(() => statusIn(eve.page, 'mine', id), { timeout: 15_000 }).toBe('active');
    await expect.poll(() => card(eve.page, 'mine', id).textContent(), { timeout: 10_000 }).toMatch(/Access ends.*\(in (59m|1h 0m) \d+s\)/);
    expect(await eve.page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await expect.poll(() => eve.page.locator('#announcer').textContent()).toContain('is now active');
    await screenshot(eve.page, '03-eve-active');

    // The audit trail as a timeline, in order.
    await card(alice.page, 'history', id).getByRole('link', { name: 'Details and audit trail' }).click();
    await expect.poll(() => alice.page.locator('#detail-audit li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-type')))).toEqual(
      expect.arrayContaining(['request.created', 'approvers.notified', 'request.approved', 'access.granted']),
    );
    const types = await alice.page.locator('#detail-audit li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-type')));
    expect(types.indexOf('request.created')).toBeLessThan(types.indexOf('request.approved'));
    expect(types.indexOf('request.approved')).toBeLessThan(types.indexOf('access.granted'));
    expect(alice.page.url()).toBe(`${stack.apiUrl}/requests/${id}`);
    expect(await alice.page.locator('#detail-body').textContent()).toContain('ok for case 4711');
    await screenshot(alice.page, '04-alice-audit-timeline');
    expectClean(eve);
    expectClean(alice);
  });

  it('alice ends the access earlier than asked, in her own time; a time that has passed is refused beside the field', async () => {
    const id = await fileAsEve({ duration: '8h' });
    const alice = await portal('alice');
    const pending = card(alice.page, 'pending', id);
    await pending.waitFor({ timeout: 15_000 });
    // Folded by default (a datetime field is several tab stops; most approvals do not need one).
    const field = pending.getByLabel('Access ends by (optional, your time)');
    expect(await field.isVisible()).toBe(false);
    await pending.getByText('End the access earlier').click();
    // What a person types into a datetime-local field: local wall time to the minute, no zone.
    const at = (offsetMs: number) =>
      alice.page.evaluate((ms) => {
        const d = new Date(Date.now() + ms);
        d.setSeconds(0, 0);
        const pad = (n: number) => String(n).padStart(2, '0');
        return { local: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`, utc: d.toISOString() };
      }, offsetMs);
    await field.fill((await at(-3_600_000)).local);
    await pending.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => pending.locator('[data-field="until"] .field-error').textContent()).toMatch(/at least 10s from now/);
    expect(await field.getAttribute('aria-invalid')).toBe('true');
    expect((await api().as('eve').get(`/v1/requests/${id}`)).body).toMatchObject({ status: 'pending', decisions: [] });

    const twoHours = await at(2 * 3_600_000);
    await field.fill(twoHours.local);
    await pending.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => alice.page.locator('#announcer').textContent()).toContain('Access ends by');
    const after = await eventually(() => api().as('eve').get(`/v1/requests/${id}`), (r) => r.body.status === 'active');
    expect(after.body.decisions).toEqual([expect.objectContaining({ actor: 'alice@contoso.com', until: twoHours.utc })]);
    // Eight hours were asked; the window ends by her time.
    expect(after.body.access.endsAt).toBe(twoHours.utc);
    expectClean(alice);
    await api().as('alice').post(`/v1/requests/${id}/revoke`, { reason: 'test done' });
  });

  it('bob rejects with a reason (required, said when missing); eve sees it rejected', async () => {
    const eve = await portal('eve');
    const id = await fileAsEve();
    await expect.poll(() => statusIn(eve.page, 'mine', id), { timeout: 15_000 }).toBe('pending');

    const bob = await portal('bob');
    const pending = card(bob.page, 'pending', id);
    await pending.waitFor({ timeout: 15_000 });
    await pending.getByRole('button', { name: 'Reject' }).click();
    const reason = pending.getByLabel('Reason for rejecting');
    await expect.poll(() => pending.locator('.reject .field-error').textContent()).toContain('Give a reason to reject');
    expect(await reason.getAttribute('aria-invalid')).toBe('true');
    expect(await api().as('eve').get(`/v1/requests/${id}`)).toMatchObject({ body: { status: 'pending' } });

    await reason.fill('not during the freeze');
    await pending.getByRole('button', { name: 'Reject' }).click();
    await pending.waitFor({ state: 'detached', timeout: 15_000 });
    await expect.poll(() => statusIn(eve.page, 'mine', id), { timeout: 15_000 }).toBe('rejected');
    await card(eve.page, 'mine', id).getByRole('link', { name: 'Details and audit trail' }).click();
    await expect.poll(() => eve.page.locator('#detail-body').textContent()).toContain('reject by bob@contoso.com');
    expect(await eve.page.locator('#detail-body').textContent()).toContain('not during the freeze');
    await expect.poll(() => eve.page.locator('#detail-audit li[data-type="request.rejected"]').count()).toBe(1);
    await screenshot(eve.page, '05-eve-rejected');
    expectClean(eve);
    expectClean(bob);
  });

  it("shows the API's field errors next to the fields: a duration above the tenant's maximum, an unknown tenant", async () => {
    const eve = await portal('eve');
    const form = eve.page.locator('#new-request-form');
    const duration = form.getByLabel('Duration');

    // Not a duration at all: said before anything is sent, in the API's words.
    await fillRequestForm(eve.page, { resource: resource(), reason: 'too long', duration: 'soon' });
    await expect.poll(() => eve.page.locator('#nr-duration-error').textContent()).toBe('Duration must be a duration like 45s, 30m, 4h or PT4H.');

    // A duration, but longer than contoso allows: only the API knows; its field error lands next to the field.
    await duration.fill('99h');
    await form.getByRole('button', { name: 'Request access' }).click();
    await expect.poll(() => eve.page.locator('#nr-duration-error').textContent()).toBe('Duration must be between 1s and 8h.');
    expect(await duration.getAttribute('aria-invalid')).toBe('true');
    expect(await eve.page.evaluate(() => document.activeElement?.id)).toBe('nr-duration');
    expect(await eve.page.locator('#nr-duration').getAttribute('aria-describedby')).toContain('nr-duration-error');
    await screenshot(eve.page, '06-eve-duration-error');

    await duration.fill('1h');
    await form.getByLabel('Tenant', { exact: true }).fill('nosuch');
    await form.getByRole('button', { name: 'Request access' }).click();
    await expect.poll(() => eve.page.locator('#nr-tenant-error').textContent()).toBe('Tenant nosuch has not opted in to Lockbox.');
    expect(await eve.page.locator('#nr-duration-error').textContent()).toBe('');
    expect(await duration.getAttribute('aria-invalid')).toBeNull();
    expectClean(eve);
  });

  it('renders a reason with markup as text, never as HTML', async () => {
    const eve = await portal('eve');
    const res = resource();
    await fillRequestForm(eve.page, { resource: res, reason: XSS, duration: '30m' });
    const id = await idOfMine(eve.page, res);
    const alice = await portal('alice');
    const pending = card(alice.page, 'pending', id);
    await pending.waitFor({ timeout: 15_000 });
    for (const [tab, where] of [[eve, card(eve.page, 'mine', id)], [alice, pending]] as const) {
      const reasonCell = where.locator('dd', { hasText: 'onerror' });
      expect(await reasonCell.textContent()).toBe(XSS);
      expect(await reasonCell.evaluate((el) => el.children.length)).toBe(0);
      expect(await tab.page.locator('main img').count()).toBe(0);
    }
    // The request's page and audit trail too.
    await pending.getByRole('link', { name: 'Details and audit trail' }).click();
    await expect.poll(() => alice.page.locator('#detail-body dd', { hasText: 'onerror' }).first().textContent()).toBe(XSS);
    expect(await alice.page.locator('#detail img').count()).toBe(0);
    await screenshot(alice.page, '07-alice-xss-as-text');
    expectClean(eve);
    expectClean(alice);
  });

  it('is usable at phone width (375 px): no sideways scrolling, labels and contrast hold', async () => {
    const id = await fileAsEve({ reason: 'phone check: a rather long reason that has to wrap on a narrow screen without pushing the layout sideways' });
    const phone = { width: 375, height: 812 };
    const eve = await portal('eve', phone);
    await card(eve.page, 'mine', id).waitFor({ timeout: 15_000 });
    expect(await eve.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    expect(await accessibilityProblems(eve.page)).toEqual([]);
    await screenshot(eve.page, '08-phone-eve');
    await screenshot(eve.page, '08-phone-eve-screen', { fullPage: false });

    const alice = await portal('alice', phone);
    await card(alice.page, 'pending', id).waitFor({ timeout: 15_000 });
    expect(await alice.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    expect(await accessibilityProblems(alice.page)).toEqual([]);
    await screenshot(alice.page, '09-phone-alice');
    await screenshot(alice.page, '09-phone-alice-screen', { fullPage: false });
    expectClean(eve);
    expectClean(alice);
  });

  it('keyboard only: alice signs in, tabs to Approve and presses Enter; the focus is visible', async () => {
    const id = await fileAsEve();
    const alice = await portal(null);
    // The token field has the focus on arrival.
    await expect.poll(() => alice.page.evaluate(() => document.activeElement?.id)).toBe('token');
    await alice.page.keyboard.type('alice-dev-token');
    await alice.page.keyboard.press('Enter');
    await card(alice.page, 'pending', id).waitFor({ timeout: 15_000 });
    const button = `button[data-action="approve"][data-id="${id}"]`;
    await tabTo(alice.page, button);
    const ring = await alice.page.evaluate(() => {
      const s = getComputedStyle(document.activeElement!);
      return { style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
    });
    expect(ring.style).not.toBe('none');
    expect(ring.width).toBeGreaterThanOrEqual(2);
    // Survives polls: the list is updated in place.
    await alice.page.waitForTimeout(2500);
    expect(await alice.page.evaluate((sel) => document.activeElement?.matches(sel), button)).toBe(true);
    await screenshot(alice.page, '10-keyboard-focus-on-approve');
    await alice.page.keyboard.press('Enter');
    const after = await eventually(() => api().as('eve').get(`/v1/requests/${id}`), (r) => r.body.status !== 'pending' && r.body.status !== 'granting');
    expect(after.body).toMatchObject({ status: 'active', decisions: [{ action: 'approve', actor: 'alice@contoso.com' }] });
    expect(await accessibilityProblems(alice.page)).toEqual([]);
    expectClean(alice);
  });

  it('links each request to its workflow in the Temporal UI for the operator', async () => {
    const id = await fileAsEve();
    const uiPort = Number(stack.temporalAddress.split(':').pop()) + 1000;
    // Where Temporal runs is for operators (GET /v1/me), never in the public portal config.
    const config = await api().call('GET', '/v1/portal-config');
    expect(config.status).toBe(200);
    expect(JSON.stringify(config.body)).not.toContain(String(uiPort));
    const me = await api().call('GET', '/v1/me', { token: 'oscar-dev-token' });
    expect(me).toMatchObject({ status: 200, body: { temporalUi: { url: `http://127.0.0.1:${uiPort}`, namespace: stack.namespace } } });

    const oscar = await portal('oscar');
    const pending = card(oscar.page, 'pending', id);
    await pending.waitFor({ timeout: 15_000 });
    // Operators read everything and decide nothing: no decision buttons.
    expect(await pending.getByRole('button').count()).toBe(0);
    const link = pending.getByRole('link', { name: 'Workflow in Temporal UI' });
    expect(await link.getAttribute('href')).toBe(`http://127.0.0.1:${uiPort}/namespaces/${stack.namespace}/workflows/${id}`);
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer');
    // Customer approvers are not Temporal users: no such link for them.
    const alice = await portal('alice');
    await card(alice.page, 'pending', id).waitFor({ timeout: 15_000 });
    expect(await card(alice.page, 'pending', id).getByRole('link', { name: 'Workflow in Temporal UI' }).count()).toBe(0);
    await screenshot(oscar.page, '11-operator');
    expectClean(oscar);
  });

  it('eve cancels a pending request and asks for more time on an active one', async () => {
    const eve = await portal('eve');
    const toCancel = await fileAsEve();
    const toExtend = await fileAsEve();
    expect((await api().as('alice').post(`/v1/requests/${toExtend}/approve`, {})).body).toMatchObject({ status: 'active' });

    await card(eve.page, 'mine', toCancel).getByRole('button', { name: 'Cancel request' }).click();
    await expect.poll(() => statusIn(eve.page, 'mine', toCancel), { timeout: 15_000 }).toBe('cancelled');

    const active = card(eve.page, 'mine', toExtend);
    await expect.poll(() => statusIn(eve.page, 'mine', toExtend), { timeout: 15_000 }).toBe('active');
    await active.getByLabel('More time', { exact: true }).fill('30m');
    await active.getByLabel('Why more time').fill('the sync needs another run');
    await active.getByRole('button', { name: 'Ask for more time' }).click();
    await expect.poll(() => card(eve.page, 'mine', toExtend).textContent(), { timeout: 15_000 }).toContain('30m asked: pending');
    const after = await api().as('eve').get(`/v1/requests/${toExtend}`);
    expect(after.body.extensions).toMatchObject([{ duration: '30m', reason: 'the sync needs another run', status: 'pending' }]);
    expectClean(eve);
  });

  it('tenant admin: reads the settings with their version, saves with If-Match, and is told in words about a stale copy', async () => {
    const alice = await portal('alice');
    const form = alice.page.locator('#settings-form');
    await expect.poll(() => alice.page.locator('#settings-version').textContent()).toMatch(/^Version \d+, last changed by /);
    expect(await form.getByLabel('Approvers', { exact: true }).inputValue()).toContain('alice@contoso.com');
    expect(await form.getByLabel('Request lifetime').inputValue()).toBe('12h');
    expect(await alice.page.locator('#st-escalation').textContent()).toMatch(/Request records kept \d+d after a request closes/);

    // A bad value is refused by the API (nothing is written) and named next to its field.
    const quorum = form.getByLabel('Approvals needed (quorum)');
    const original = await quorum.inputValue();
    await quorum.fill('9');
    await form.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => alice.page.locator('#st-quorum-error').textContent(), { timeout: 20_000 }).toMatch(/^Approvals needed \(quorum\) must not exceed the number of approvers/);
    await screenshot(alice.page, '12-settings-error');
    await quorum.fill(original);

    // Saving the same settings (nothing of substance changes; other tests retry on 412) makes a new version.
    const before = Number(/Version (\d+)/.exec((await alice.page.locator('#settings-version').textContent())!)![1]);
    const version = async () => Number(/Version (\d+)/.exec((await alice.page.locator('#settings-version').textContent()) ?? '')?.[1]);
    await form.getByRole('button', { name: 'Save settings' }).click();
    // A settings change runs as a workflow: allow for a loaded machine.
    await expect.poll(version, { timeout: 20_000 }).toBeGreaterThan(before);
    expect(await alice.page.locator('#settings-version').textContent()).toContain('last changed by alice@contoso.com');
    // The announcer is emptied and refilled in the next animation frame (so repeated words are announced again).
    await expect.poll(() => alice.page.locator('#announcer').textContent()).toMatch(/Settings of contoso saved/);

    // Someone else saves meanwhile: the page's copy is stale, and it says so instead of overwriting.
    const current = await api().as('alice').get('/v1/tenants/contoso/settings');
    const { tenant: _t, version: _v, updatedAt: _u, updatedBy: _b, ...body } = current.body;
    const other = await api().call('PUT', '/v1/tenants/contoso/settings', { token: 'alice-dev-token', body, headers: { 'if-match': `"${current.body.version}"` } });
    expect(other.status, JSON.stringify(other.body)).toBe(200);
    await form.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => alice.page.locator('#settings-error').textContent(), { timeout: 20_000 }).toContain('Someone changed these settings after you loaded them');
    expectClean(alice);
  });

  it('signs out: the token is forgotten; a bad token is refused in words; a request link opens that request', async () => {
    const id = await fileAsEve();
    const eve = await portal(null);
    await eve.page.getByLabel('Bearer token').fill('not-a-token');
    await eve.page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => eve.page.locator('#signin-error').textContent()).toBe('That token was not accepted: the bearer token is not valid');

    // A link from a notification opens the request after sign-in.
    await eve.page.goto(`/requests/${id}`);
    await signIn(eve, 'eve');
    await expect.poll(() => eve.page.locator('#detail-body code').first().textContent()).toBe(id);
    expect(await eve.page.evaluate(() => document.activeElement?.id)).toBe('detail-title');

    await eve.page.getByRole('button', { name: 'Sign out' }).click();
    expect(await eve.page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await eve.page.locator('#mine-list li').count()).toBe(0);
    await eve.page.reload();
    await eve.page.getByLabel('Bearer token').waitFor();
    expect(await eve.page.locator('#who').isHidden()).toBe(true);
    expectClean(eve);
  });

  it('serves the page with a strict CSP and no inline script; the scripts never parse API text as HTML', async () => {
    const res = await fetch(`${stack.apiUrl}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/style=/i);
    const asset = await fetch(`${stack.apiUrl}/portal/app.js`);
    expect(asset.headers.get('content-type')).toContain('javascript');
    expect(asset.headers.get('content-security-policy')).toBe(csp);
    // No way out of src/web: a raw, encoded ../ (fetch would normalise a plain one away).
    const escape = await rawGet(`${stack.apiUrl}/portal/..%2fapi%2fapp.ts`);
    expect(escape.status).not.toBe(200);
    expect(escape.body).not.toContain('createApp');

    for (const file of (await readdir(WEB_DIR)).filter((f) => f.endsWith('.js'))) {
      const source = await readFile(join(WEB_DIR, file), 'utf8');
      expect(source, file).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
    }
    // Unknown paths are still the API's problem+json 404, not the page.
    const missing = await fetch(`${stack.apiUrl}/nowhere`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
  });
});
