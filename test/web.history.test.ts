/**
 * The portal's History view in headless Chromium against the real stack: requests eve filed and that ended in
 * different ways (rejected, cancelled, approved then revoked) are found by status, resource and period from
 * Lockbox's records, page by page; the API's field error for a bad period shows next to the field; alice (contoso
 * admin) opens the evidence pack of the period, eve (engineer) sees only her own requests and no evidence link; a
 * closed request whose workflow was deleted from Temporal is still listed and still opens.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEMO_PASSWORD } from '../src/dev/demo-sign-in.js';
import { api, eventually } from './support/api.js';
import { accessibilityProblems, launchBrowser, openPortal, SCREENSHOT_DIR, screenshot, signIn, tabTo, type PortalPersona, type PortalTab } from './support/browser.js';
import { useStackTemporal } from './support/temporal.js';

const stack = inject('stack');
const temporal = useStackTemporal();
const run = Date.now().toString(36);
/** Resources no other test uses: A holds a rejected and a cancelled request, B a revoked one, C three for paging. */
const R = { A: `mailbox:history-${run}-a@contoso.com`, B: `mailbox:history-${run}-b@contoso.com`, C: `mailbox:history-${run}-c@contoso.com` };
const eve = api().as('eve');
const alice = api().as('alice');

let browser: Browser;
const ids = { rejected: '', cancelled: '', revoked: '', paged: [] as string[] };
/** The UTC day the requests were filed on (YYYY-MM-DD), as the date inputs take it. */
let day = '';

async function file(resource: string): Promise<string> {
  const res = await eve.post('/v1/requests', { tenant: 'contoso', resource, reason: 'history test', ticket: 'SUP-16', duration: '1h' });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function expectOk(res: Promise<{ status: number; body: unknown }>) {
  const r = await res;
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
}

/** Waits until the records list `id` as closed with `status` (the worker's exports update them shortly after). */
async function recorded(id: string, resource: string, status: string) {
  const found = await eventually(
    async () => ((await eve.get(`/v1/requests?resource=${encodeURIComponent(resource)}`)).body.requests as Array<{ id: string; status: string; closedAt: string | null }>).find((r) => r.id === id),
    (r) => r?.status === status && Boolean(r.closedAt),
    30_000,
  );
  expect(found, id).toMatchObject({ status, closedAt: expect.any(String) });
}

beforeAll(async () => {
  browser = await launchBrowser();
  ids.rejected = await file(R.A);
  await expectOk(alice.post(`/v1/requests/${ids.rejected}/reject`, { reason: 'not this week' }));
  ids.cancelled = await file(R.A);
  await expectOk(eve.post(`/v1/requests/${ids.cancelled}/cancel`, {}));
  ids.revoked = await file(R.B);
  await expectOk(alice.post(`/v1/requests/${ids.revoked}/approve`, {}));
  await eventually(() => eve.get(`/v1/requests/${ids.revoked}`), (r) => r.body.status === 'active');
  await expectOk(eve.post(`/v1/requests/${ids.revoked}/revoke`, { reason: 'done early' }));
  for (let i = 0; i < 3; i++) ids.paged.push(await file(R.C));
  for (const id of ids.paged) await expectOk(eve.post(`/v1/requests/${id}/cancel`, {}));
  await recorded(ids.rejected, R.A, 'rejected');
  await recorded(ids.cancelled, R.A, 'cancelled');
  await recorded(ids.revoked, R.B, 'revoked');
  for (const id of ids.paged) await recorded(id, R.C, 'cancelled');
  day = ((await eve.get(`/v1/requests/${ids.rejected}`)).body.createdAt as string).slice(0, 10);
}, 180_000);
afterAll(async () => {
  await browser?.close();
});

async function portal(persona: PortalPersona, viewport?: { width: number; height: number }): Promise<PortalTab> {
  const tab = await openPortal(browser, stack.apiUrl, viewport);
  await signIn(tab, persona);
  return tab;
}

function expectClean(tab: PortalTab) {
  expect(tab.problems, 'console errors / CSP violations').toEqual([]);
  expect(tab.dialogs, 'dialogs opened by the page').toEqual([]);
}

/** Sets the filters (empty: cleared) and presses Show; resolves once the answer is drawn. */
async function search(page: Page, f: { status?: string; resource?: string; requester?: string; tenant?: string; from?: string; to?: string; limit?: string }) {
  const form = page.locator('#records-form');
  await form.getByLabel('Status').selectOption({ value: f.status ?? '' });
  await form.getByLabel('Resource').fill(f.resource ?? '');
  await form.getByLabel('Requester').fill(f.requester ?? '');
  if (f.tenant !== undefined) await form.getByLabel('Tenant').fill(f.tenant);
  await form.getByLabel('From').fill(f.from ?? '');
  await form.getByLabel('To', { exact: true }).fill(f.to ?? '');
  await form.getByLabel('Rows per page').fill(f.limit ?? '50');
  // A mark the answer overwrites: a count of rows, "No requests ...", or nothing when the API refused the filters.
  await page.evaluate(() => (document.getElementById('records-status')!.textContent = 'waiting for the answer'));
  await form.getByRole('button', { name: 'Show' }).click();
  await expect.poll(() => page.locator('#records-status').textContent()).not.toMatch(/^(waiting for the answer|Loading…)$/);
}

/** Saves `test-results/screenshots/<name>.png` of the History section alone. */
const shoot = (page: Page, name: string) => page.locator('#records').screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });

/** The rows shown: id and status, in order. */
const rows = (page: Page) =>
  page.locator('#records-rows tr').evaluateAll((trs) => trs.map((tr) => `${(tr as HTMLElement).dataset.requestId} ${(tr as HTMLElement).dataset.status}`));

describe('the History view', () => {
  it('alice finds requests by resource, status and period, sees exactly those rows, and pages with Load more', async () => {
    const tab = await portal('alice');
    const { page } = tab;
    // A nav entry, reachable with the keyboard, that takes the focus to the view.
    const nav = page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'History' });
    expect(await nav.getAttribute('href')).toBe('#records');
    // From the top of the page (the skip link, the first stop), not from wherever sign-in left the focus: with many
    // pending requests on the shared stack, going round through every card's form would take hundreds of presses.
    await page.locator('a.skip').focus();
    await tabTo(page, '#nav-list a[href="#records"]', 40);
    await page.keyboard.press('Enter');
    expect(page.url()).toMatch(/#records$/);
    // The statuses offered are the API's own (the OpenAPI document of GET /v1/requests).
    const doc = (await api().call('GET', '/openapi.json')).body;
    const statusParam = doc.paths['/v1/requests'].get.parameters.find((p: { name: string }) => p.name === 'status');
    const offered = await page.locator('#rs-status option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(offered).toEqual(['', ...statusParam.schema.enum]);
    // alice has one tenant: no tenant field to choose from.
    expect(await page.locator('#rs-tenant-field').isHidden()).toBe(true);

    await search(page, { resource: R.A });
    expect(await rows(page)).toEqual([`${ids.cancelled} cancelled`, `${ids.rejected} rejected`]);
    const first = page.locator(`#records-rows tr[data-request-id="${ids.cancelled}"] td`);
    expect(await first.allTextContents()).toEqual([ids.cancelled, 'contoso', R.A, 'eve@lockbox.dev', 'cancelled', expect.any(String), expect.any(String)]);
    expect(await first.nth(6).locator('time').count()).toBe(1);

    await search(page, { resource: R.A, status: 'rejected' });
    expect(await rows(page)).toEqual([`${ids.rejected} rejected`]);
    await search(page, { resource: R.B, status: 'revoked', requester: 'eve@lockbox.dev' });
    expect(await rows(page)).toEqual([`${ids.revoked} revoked`]);
    await search(page, { resource: R.B, status: 'cancelled' });
    expect(await rows(page)).toEqual([]);
    expect(await page.locator('#records-status').textContent()).toBe('No requests match these filters.');
    // The period: the day they were filed (both ends inclusive) finds them; the day before does not.
    await search(page, { resource: R.A, from: day, to: day });
    expect(await rows(page)).toHaveLength(2);
    const before = new Date(Date.parse(day) - 86_400_000).toISOString().slice(0, 10);
    await search(page, { resource: R.A, from: before, to: before });
    expect(await rows(page)).toEqual([]);
    await shoot(page, 'history-01-alice-filtered');

    // Paging: two rows, Load more, the third; then no more.
    await search(page, { resource: R.C, limit: '2' });
    const newestFirst = [...ids.paged].reverse().map((id) => `${id} cancelled`);
    expect(await rows(page)).toEqual(newestFirst.slice(0, 2));
    expect(await page.locator('#records-status').textContent()).toBe('2 requests shown; there are more.');
    const more = page.getByRole('button', { name: 'Load more' });
    await more.click();
    await expect.poll(() => rows(page)).toEqual(newestFirst);
    await expect.poll(() => more.isHidden()).toBe(true);
    expect(await page.locator('#records-status').textContent()).toBe('3 requests shown.');
    await shoot(page, 'history-02-alice-paged');
    expect(await accessibilityProblems(page)).toEqual([]);
    expectClean(tab);
  });

  it("shows the API's field error for a period that ends before it starts next to the field", async () => {
    const tab = await portal('alice');
    const { page } = tab;
    await search(page, { resource: R.A, from: '2026-03-10', to: '2026-03-01' });
    await expect.poll(() => page.locator('#rs-to-error').textContent()).toBe('To must be after from.');
    expect(await page.locator('#rs-to').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#rs-to').getAttribute('aria-describedby')).toContain('rs-to-error');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('rs-to');
    await shoot(page, 'history-03-bad-period');
    // Put right, the error goes.
    await search(page, { resource: R.A, from: '2026-03-01', to: '2026-03-10' });
    expect(await page.locator('#rs-to-error').textContent()).toBe('');
    expect(await page.locator('#rs-to').getAttribute('aria-invalid')).toBeNull();
    expectClean(tab);
  });

  it('alice opens the evidence pack of the tenant and period; it names both and keeps its look', async () => {
    const tab = await portal('alice');
    const { page, context } = tab;
    await search(page, { resource: R.A });
    // No period yet: no link, a hint instead.
    expect(await page.locator('#records-evidence').isHidden()).toBe(true);
    expect(await page.locator('#records-evidence-hint').isVisible()).toBe(true);
    await search(page, { from: day, to: day });
    const link = page.getByRole('link', { name: 'Evidence for this period' });
    const next = new Date(Date.parse(day) + 86_400_000).toISOString().slice(0, 10);
    const from = `${day}T00:00:00.000Z`;
    const to = `${next}T00:00:00.000Z`;
    expect(await link.getAttribute('href')).toBe(`/v1/tenants/contoso/evidence?${new URLSearchParams({ from, to, format: 'html' })}`);
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer');

    // The pasted token cannot ride on a link: the page is fetched with it and opened from a blob: URL.
    const popupProblems: string[] = [];
    context.on('page', (p) => p.on('console', (m) => m.type() === 'error' && popupProblems.push(m.text())));
    const [popup] = await Promise.all([context.waitForEvent('page'), link.click()]);
    await popup.waitForURL(/^blob:/, { timeout: 30_000 });
    await popup.waitForLoadState();
    const text = (await popup.locator('body').textContent()) ?? '';
    expect(text).toContain('Access evidence for tenant contoso');
    expect(text).toContain(`Requests filed from ${from} to ${to} (UTC)`);
    expect(text).toContain(ids.rejected);
    // The same rules as the page's own inline stylesheet, from /portal/evidence.css: nothing refused.
    expect(await popup.locator('#counts th').first().evaluate((th) => getComputedStyle(th).backgroundColor)).toBe('rgb(243, 243, 243)');
    expect(popupProblems).toEqual([]);
    // No way back to the portal from that page.
    expect(await popup.evaluate(() => window.opener)).toBeNull();
    await screenshot(popup, 'history-04-evidence');
    await popup.close();
    expectClean(tab);
  });

  it('signed in at the identity provider (session cookie), the evidence link is a plain link the browser follows', async () => {
    const tab = await openPortal(browser, stack.apiUrl);
    const { page, context } = tab;
    await page.getByRole('link', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((u) => u.href.startsWith(stack.oidcIssuer));
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.href.startsWith(stack.apiUrl));
    await page.locator('#who-name').filter({ hasText: '@' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('lockbox.token'))).toBeNull();

    await search(page, { resource: R.A, from: day, to: day });
    expect(await rows(page)).toHaveLength(2);
    const link = page.getByRole('link', { name: 'Evidence for this period' });
    const [popup] = await Promise.all([context.waitForEvent('page'), link.click()]);
    await popup.waitForLoadState();
    expect(popup.url()).toBe(`${stack.apiUrl}${await link.getAttribute('href')}`);
    expect(await popup.locator('h1').textContent()).toBe('Access evidence for tenant contoso');
    expect(await popup.locator('body').textContent()).toContain(`Requests filed from ${day}T00:00:00.000Z`);
    expect(await popup.evaluate(() => window.opener)).toBeNull();
    await popup.close();
    expectClean(tab);
  });

  it('eve sees only her own requests and no evidence link', async () => {
    const tab = await portal('eve');
    const { page } = tab;
    await expect.poll(() => page.locator('#records-status').textContent()).toMatch(/shown/);
    const requesters = await page.locator('#records-rows tr td:nth-child(4)').allTextContents();
    expect(requesters.length).toBeGreaterThan(0);
    expect(new Set(requesters)).toEqual(new Set(['eve@lockbox.dev']));
    // Another's requests are not hers to see, whatever she asks for.
    await search(page, { requester: 'alice@contoso.com' });
    expect(await rows(page)).toEqual([]);
    await search(page, { resource: R.A, tenant: 'contoso', from: day, to: day });
    expect(await rows(page)).toEqual([`${ids.cancelled} cancelled`, `${ids.rejected} rejected`]);
    expect(await page.locator('#records-evidence').isHidden()).toBe(true);
    expect(await page.locator('#records-evidence-hint').isHidden()).toBe(true);
    expect(await page.getByRole('link', { name: 'Evidence for this period' }).count()).toBe(0);
    await shoot(page, 'history-05-eve');
    // Signing out leaves nothing of hers in the view.
    await page.getByRole('button', { name: 'Sign out' }).click();
    expect(await page.locator('#records-rows tr').count()).toBe(0);
    expect(await page.locator('#records').isHidden()).toBe(true);
    expectClean(tab);
  });

  it('at phone width (375 px) the table scrolls in its own box, not the page; labels and contrast hold', async () => {
    const tab = await portal('alice', { width: 375, height: 812 });
    const { page } = tab;
    await search(page, { resource: R.A, from: day, to: day });
    expect(await rows(page)).toHaveLength(2);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    expect(await accessibilityProblems(page)).toEqual([]);
    await shoot(page, 'history-07-phone');
    expectClean(tab);
  });

  it('a closed request whose workflow was deleted from Temporal is still in History, and its details open', async () => {
    const id = ids.cancelled;
    await temporal().workflowService.deleteWorkflowExecution({ namespace: stack.namespace, workflowExecution: { workflowId: id } });
    await eventually(() => temporal().workflow.getHandle(id).describe().then(() => false, () => true), (gone) => gone, 30_000);

    const tab = await portal('alice');
    const { page } = tab;
    await search(page, { resource: R.A });
    expect(await rows(page)).toEqual([`${id} cancelled`, `${ids.rejected} rejected`]);
    await page.locator(`#records-rows tr[data-request-id="${id}"]`).getByRole('link', { name: id }).click();
    await expect.poll(() => page.locator('#detail-body code').first().textContent()).toBe(id);
    expect(page.url()).toBe(`${stack.apiUrl}/requests/${id}`);
    expect(await page.locator('#detail-body .badge').first().textContent()).toBe('cancelled');
    await expect.poll(() => page.locator('#detail-audit li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-type')))).toEqual(
      expect.arrayContaining(['request.created', 'request.cancelled']),
    );
    await screenshot(page, 'history-06-deleted-workflow');
    expectClean(tab);
  });
});
