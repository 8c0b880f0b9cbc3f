/**
 * A real browser for the portal tests: Debian's Chromium (`/usr/bin/chromium`, installed by .ci/run), driven by
 * playwright-core. Playwright never downloads a browser here. Each persona gets its own context (its own
 * sessionStorage), as two people at two machines would.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { TOKENS, type Persona } from './api.js';

export const CHROMIUM = process.env.LOCKBOX_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium; .ci/run does) or set LOCKBOX_CHROMIUM`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}

/** One person's tab, with everything the page complained about (errors, CSP violations, dialogs) collected. */
export interface PortalTab {
  context: BrowserContext;
  page: Page;
  /** Console errors (but answers 4xx) and uncaught exceptions; a CSP violation shows here as "Refused to ...". */
  problems: string[];
  /** Any alert/confirm/prompt the page opened (an injected script would). */
  dialogs: string[];
}

export async function openPortal(browser: Browser, apiUrl: string, viewport = { width: 1100, height: 900 }): Promise<PortalTab> {
  const context = await browser.newContext({ viewport, baseURL: apiUrl, reducedMotion: 'reduce' });
  const page = await context.newPage();
  const problems: string[] = [];
  const dialogs: string[] = [];
  page.on('console', (m) => {
    // A 4xx the page asked for on purpose (a refused decision, a field error) is logged by Chromium too: not a fault.
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  await page.goto('/');
  return { context, page, problems, dialogs };
}

/** The demo tokens the portal tests use: the personas of api.ts and the operator. */
export const PORTAL_TOKENS = { ...TOKENS, oscar: 'oscar-dev-token' } as const;
export type PortalPersona = Persona | 'oscar';

/** Signs in the way a person does: paste the token, press Enter; resolves once the page says who is signed in. */
export async function signIn(tab: PortalTab, persona: PortalPersona): Promise<void> {
  const { page } = tab;
  await page.getByLabel('Bearer token').fill(PORTAL_TOKENS[persona]);
  await page.getByLabel('Bearer token').press('Enter');
  await page.locator('#who-name').filter({ hasText: '@' }).waitFor();
}

/** Saves `test-results/screenshots/<name>.png`: the whole page, or with `fullPage: false` what the screen shows. */
export async function screenshot(page: Page, name: string, { fullPage = true } = {}): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}

/** Presses Tab until `selector` has the focus (keyboard only), at most `max` times; returns how many it took. */
export async function tabTo(page: Page, selector: string, max = 400): Promise<number> {
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return i;
  }
  throw new Error(`${selector} never got the focus after ${max} Tab presses`);
}

/**
 * WCAG checks the page can make of itself: every form control has a label, and text has at least 4.5:1 contrast
 * with the background it is drawn on (3:1 for large text). Returns the failures, readable.
 */
export function accessibilityProblems(page: Page): Promise<string[]> {
  // A string, not a function: the test runner's transform would add helpers (__name) the page does not have.
  return page.evaluate(A11Y_SCRIPT) as Promise<string[]>;
}

const A11Y_SCRIPT = `(() => {
  const out = [];
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (typeof el.className === 'string' && el.className ? '.' + el.className.split(' ').join('.') : '');
  const shown = (el) => el.offsetParent !== null || getComputedStyle(el).position === 'fixed';
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || !shown(el)) continue;
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) out.push('no label: ' + describe(el));
  }
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = (c) => {
    const f = (v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c[3] === undefined || c[3] > 0.5)) return c;
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || seen.has(el) || !n.textContent.trim() || !shown(el)) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    if (el.closest('.visually-hidden') || style.visibility === 'hidden') continue;
    const fg = lum(rgb(style.color));
    const bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) out.push('contrast ' + ratio.toFixed(2) + ': ' + describe(el) + ' "' + n.textContent.trim().slice(0, 40) + '"');
  }
  return out;
})()`;
