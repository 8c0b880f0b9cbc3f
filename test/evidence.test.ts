import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openJsonlAuditSink } from '../src/adapters/jsonl-audit-sink.js';
import { describeVerdict, type StoredAuditEvent } from '../src/domain/audit-chain.js';
import { buildEvidence } from '../src/domain/evidence/build.js';
import { api, eventually, requestBody } from './support/api.js';
import { launchBrowser, SCREENSHOT_DIR } from './support/browser.js';

/**
 * The evidence pack (issue 16) over a few hundred real requests on the shared stack: its counts match the audit
 * file, its CSV parses with a real CSV parser, its HTML renders with charts in headless Chromium, and its chain
 * verdict names an edited event.
 */
const stack = inject('stack');
const http = api();
const as = (token: string) => ({
  post: (path: string, body: unknown = {}) => http.call('POST', path, { token, body }),
  get: (path: string) => http.call('GET', path, { token }),
});
const eve = as('eve-dev-token');
const alice = as('alice-dev-token');
const bob = as('bob-dev-token');
const RUN = `evidence-${Date.now().toString(36)}`;
const N = 200;
let from: string;
let to: string;
const mine = new Map<string, string>(); // id -> expected outcome

/** Runs `fn` over `items`, `width` at a time. */
async function pool<T>(items: readonly T[], width: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}

const auditFile = async () =>
  (await readFile(join(stack.dataDir, 'audit.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as StoredAuditEvent);

beforeAll(async () => {
  from = new Date(Date.now() - 1000).toISOString();
  await pool([...Array(N).keys()], 8, async (i) => {
    // The first reason is what a spreadsheet would run as a formula: the CSV must defuse it.
    const reason = i === 0 ? '=HYPERLINK("http://evil.example","case 1")' : `evidence drill ${i}`;
    const res = await eve.post('/v1/requests', requestBody({ resource: `mailbox:${RUN}-${i}@contoso.com`, duration: '1h', reason }));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = res.body.id as string;
    switch (i % 4) {
      case 0:
        expect((await bob.post(`/v1/requests/${id}/reject`, { reason: 'not now' })).status).toBe(200);
        mine.set(id, 'rejected');
        break;
      case 1:
        expect((await eve.post(`/v1/requests/${id}/cancel`, { reason: 'fixed it' })).status).toBe(200);
        mine.set(id, 'cancelled');
        break;
      case 2:
        expect((await alice.post(`/v1/requests/${id}/approve`, { comment: 'ok' })).status).toBe(200);
        expect((await alice.post(`/v1/requests/${id}/revoke`, { reason: 'done' })).status).toBe(200);
        mine.set(id, 'revoked');
        break;
      default:
        mine.set(id, 'pending');
    }
  });
  // Every closed request's trail is in the audit file (its last event is request.closed).
  await eventually(auditFile, (events) => [...mine].filter(([, o]) => o !== 'pending').every(([id]) => events.some((e) => e.requestId === id && e.type === 'request.closed')), 90_000);
  to = new Date(Date.now() + 1000).toISOString();
}, 300_000);

afterAll(async () => {
  await pool([...mine].filter(([, o]) => o === 'pending'), 8, async ([id]) => {
    await eve.post(`/v1/requests/${id}/cancel`, { reason: 'test over' });
  });
});

const query = (format: string) => `/v1/tenants/contoso/evidence?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&format=${format}`;

describe('the evidence pack', () => {
  it('lists every request of the period with its outcome, and its counts match the audit file', async () => {
    const res = await alice.get(query('json'));
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
    const pack = res.body;
    const byId = new Map<string, any>(pack.requests.map((r: any) => [r.id, r]));
    for (const [id, outcome] of mine) expect(byId.get(id)?.outcome, id).toBe(outcome);
    // Independently from the file: the period's requests and their last terminal event.
    const events = await auditFile();
    const created = events.filter((e) => e.tenant === 'contoso' && e.type === 'request.created' && e.time >= from && e.time < to);
    expect(pack.requests.length).toBeGreaterThanOrEqual(created.length);
    for (const c of created) expect(byId.has(c.requestId), c.requestId).toBe(true);
    const closedInFile = new Map(events.filter((e) => e.type === 'request.closed').map((e) => [e.requestId, (e.details as { status: string }).status]));
    for (const r of pack.requests) if (closedInFile.has(r.id)) expect(r.outcome, r.id).toBe(closedInFile.get(r.id));
    const total = Object.values(pack.counts as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(total).toBe(pack.requests.length);
    const revoked = pack.requests.find((r: any) => mine.get(r.id) === 'revoked');
    expect(revoked).toMatchObject({ approvers: [expect.objectContaining({ actor: 'alice@contoso.com' })], revokeVerified: true });
    expect(revoked.grantedAt).not.toBeNull();
    expect(pack.timeToDecisionMs.count).toBeGreaterThanOrEqual(N / 2);
    expect(pack.chain).toMatchObject({ ok: true, firstHash: expect.stringMatching(/^[0-9a-f]{64}$/), lastHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('as CSV that a real CSV parser reads back, row for row; formula-like text is defused', async () => {
    const res = await http.call('GET', query('csv'), { token: 'alice-dev-token' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    const rows = parseCsv(res.body as string, { columns: true }) as Array<Record<string, string>>;
    const json = (await alice.get(query('json'))).body;
    expect(rows.length).toBeGreaterThanOrEqual(json.requests.length - 5);
    for (const [id, outcome] of mine) expect(rows.find((r) => r.id === id)?.outcome, id).toBe(outcome);
    expect(Object.keys(rows[0]!)).toEqual(expect.arrayContaining(['requester', 'reason', 'ticket', 'approvers', 'revokeVerified', 'outcome']));
    expect(rows.find((r) => r.reason?.includes('HYPERLINK'))?.reason).toBe(`'=HYPERLINK("http://evil.example","case 1")`);
  });

  it('as a self-contained HTML page that renders its charts in a real browser', async () => {
    const res = await http.call('GET', query('html'), { token: 'oscar-dev-token' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const dir = await mkdtemp(join(tmpdir(), 'lockbox-evidence-'));
    const file = join(dir, 'evidence.html');
    await writeFile(file, res.body as string);
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(`file://${file}`);
      expect(await page.locator('#chain-verdict').textContent()).toContain('Verified: ok');
      expect(await page.locator('#chart-per-day svg rect').count()).toBeGreaterThan(0);
      expect(await page.locator('#chart-decision svg rect').count()).toBeGreaterThan(0);
      expect(await page.locator('#chart-duration svg rect').count()).toBeGreaterThan(0);
      expect(await page.locator('#requests tr').count()).toBeGreaterThan(N);
      expect(await page.locator('script').count()).toBe(0);
      await page.screenshot({ path: join(SCREENSHOT_DIR, 'evidence.png'), fullPage: false });
    } finally {
      await browser.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('from the CLI: lockbox evidence writes the CSV an admin asked for', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lockbox-evidence-cli-'));
    try {
      const out = join(dir, 'pack.csv');
      const bin = join(import.meta.dirname, '..', 'bin', 'lockbox.js');
      await promisify(execFile)(process.execPath, [bin, 'evidence', '--tenant', 'contoso', '--from', from, '--to', to, '--format', 'csv', '--out', out], {
        env: { ...process.env, LOCKBOX_URL: stack.apiUrl, LOCKBOX_TOKEN: 'alice-dev-token' },
      });
      const rows = parseCsv(await readFile(out, 'utf8'), { columns: true }) as Array<Record<string, string>>;
      for (const [id, outcome] of mine) expect(rows.find((r) => r.id === id)?.outcome, id).toBe(outcome);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is for the tenant\'s admins and operators only, and names a bad period', async () => {
    expect((await bob.get(query('json'))).status).toBe(403);
    expect((await eve.get(query('json'))).status).toBe(403);
    expect((await as('fiona-dev-token').get(query('json'))).status).toBe(403);
    const bad = await alice.get(`/v1/tenants/contoso/evidence?from=${encodeURIComponent(to)}&to=${encodeURIComponent(from)}`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toContain('to');
  });

  it('names the first edited event in its chain verdict (a copy of the real audit file, read by the real sink)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lockbox-evidence-chain-'));
    try {
      const copy = join(dir, 'audit.jsonl');
      await copyFile(join(stack.dataDir, 'audit.jsonl'), copy);
      const lines = (await readFile(copy, 'utf8')).split('\n').filter(Boolean);
      const revokedId = [...mine].find(([, o]) => o === 'revoked')![0];
      const target = lines.findIndex((l) => l.includes(`"${revokedId}"`) && l.includes('"request.approved"'));
      expect(target).toBeGreaterThanOrEqual(0);
      const edited = JSON.parse(lines[target]!);
      edited.actor = 'mallory@evil.example';
      lines[target] = JSON.stringify(edited);
      await writeFile(copy, `${lines.join('\n')}\n`);
      const sink = openJsonlAuditSink(copy);
      try {
        const verdict = await sink.verify({ tenant: 'contoso' });
        expect(verdict.ok).toBe(false);
        const events = lines.map((l) => JSON.parse(l) as StoredAuditEvent);
        const pack = buildEvidence('contoso', new Date(from), new Date(to), events, { ok: verdict.ok, detail: describeVerdict(verdict) }, new Date());
        expect(pack.chain.ok).toBe(false);
        expect(pack.chain.detail).toContain(edited.id);
      } finally {
        await sink.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
