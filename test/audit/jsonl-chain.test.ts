/**
 * The JSON Lines sink's hash chain and pull API, on real files and real processes. The colleague's contract tests
 * (test/jsonl-audit-sink.test.ts) still cover exactly-once and torn lines; these cover what chaining adds.
 */
import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/adapters/audit/cursor.js';
import { verifyJsonlFile } from '../../src/adapters/audit/jsonl-read.js';
import { openJsonlAuditSink } from '../../src/adapters/jsonl-audit-sink.js';
import { AuditEventType, buildAuditEvent, type AuditEvent } from '../../src/domain/audit.js';
import { ChainBreakReason, GENESIS_HASH, type StoredAuditEvent } from '../../src/domain/audit-chain.js';
import { InvalidAuditCursorError, type AuditSink } from '../../src/ports/audit-sink.js';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

function event(tenant: string, requestId: string, seq: number): AuditEvent {
  return buildAuditEvent({
    requestId,
    tenant,
    seq,
    time: new Date(Date.UTC(2030, 0, 1, 9, 0, seq)),
    type: seq === 1 ? AuditEventType.requestCreated : AuditEventType.approversNotified,
    actor: seq === 1 ? 'eve' : 'system',
    details: { note: `step ${seq} — ünïcødé` },
  });
}
const events = (tenant: string, requestId: string, from: number, to: number): AuditEvent[] =>
  Array.from({ length: to - from + 1 }, (_, i) => event(tenant, requestId, from + i));

async function storedLines(file: string): Promise<StoredAuditEvent[]> {
  const text = await readFile(file, 'utf8');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StoredAuditEvent);
}

/** Every tenant's positions are exactly 1..n in file order. */
function expectContiguous(lines: readonly StoredAuditEvent[], tenant: string, n: number): void {
  expect(lines.filter((e) => e.tenant === tenant).map((e) => e.chain.index)).toEqual(
    Array.from({ length: n }, (_, i) => i + 1),
  );
}

describe('JSON Lines sink: hash chain', () => {
  let dir = '';
  let file = '';
  const sinks: AuditSink[] = [];
  const sink = (): AuditSink => {
    const s = openJsonlAuditSink(file);
    sinks.push(s);
    return s;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lockbox-audit-chain-'));
    file = join(dir, 'audit.jsonl');
  });
  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('links every stored line per tenant; a retried export neither duplicates nor advances the chain', async () => {
    const s = sink();
    await s.append([...events('contoso', 'req-c1', 1, 3), ...events('fabrikam', 'req-f1', 1, 2)]);
    await s.append(events('contoso', 'req-c1', 2, 5)); // a retry overlapping the first batch
    await s.append(events('contoso', 'req-c1', 1, 5)); // a pure retry
    const lines = await storedLines(file);
    expect(lines).toHaveLength(7);
    expectContiguous(lines, 'contoso', 5);
    expectContiguous(lines, 'fabrikam', 2);
    expect(lines[0]?.chain.prev).toBe(GENESIS_HASH);
    expect(await s.verify()).toMatchObject({ ok: true, count: 7 });
    expect(await s.verify({ tenant: 'fabrikam' })).toMatchObject({ ok: true, count: 2 });
    // listByRequest keeps its contract: the events as exported, without the link.
    expect(await s.listByRequest('req-c1')).toEqual(events('contoso', 'req-c1', 1, 5));
  });

  it('continues the chain after a reopen, and after lines appended by another instance', async () => {
    const a = sink();
    await a.append(events('contoso', 'req-c1', 1, 2));
    const b = sink();
    await b.append(events('contoso', 'req-c2', 1, 2));
    await a.append(events('contoso', 'req-c1', 3, 4)); // a must see b's lines to link after them
    await a.close();
    await sink().append(events('contoso', 'req-c3', 1, 1));
    expectContiguous(await storedLines(file), 'contoso', 7);
    expect(await verifyJsonlFile(file)).toMatchObject({ ok: true, count: 7 });
  });

  it('two instances appending at once, two tenants: one unforked chain per tenant', async () => {
    const [a, b] = [sink(), sink()];
    const batches = Array.from({ length: 20 }, (_, i) => [
      ...events('contoso', `req-c${i}`, 1, 2),
      ...events('fabrikam', `req-f${i}`, 1, 1),
    ]);
    await Promise.all(batches.flatMap((batch) => [a.append(batch), b.append(batch)]));
    const lines = await storedLines(file);
    expectContiguous(lines, 'contoso', 40);
    expectContiguous(lines, 'fabrikam', 20);
    expect(await a.verify()).toMatchObject({ ok: true, count: 60 });
  });

  it('three processes appending the same events at once extend one chain', async () => {
    const startAt = Date.now() + 2_000;
    const script = `
      const { openJsonlAuditSink } = await import(${JSON.stringify(join(PROJECT_ROOT, 'src/adapters/jsonl-audit-sink.ts'))});
      const sink = openJsonlAuditSink(${JSON.stringify(file)});
      const ev = (tenant, seq) => ({ id: 'req-' + tenant + ':' + seq, seq, time: '2030-01-01T09:00:00.000Z',
        type: 'request.created', tenant, requestId: 'req-' + tenant, actor: 'eve', details: {} });
      await new Promise((r) => setTimeout(r, Math.max(0, ${startAt} - Date.now())));
      for (let seq = 1; seq <= 40; seq++) await sink.append([ev('contoso', seq), ev('fabrikam', seq)]);
      await sink.close();
    `;
    const run = promisify(execFile);
    await Promise.all(
      [1, 2, 3].map(() => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PROJECT_ROOT })),
    );
    const lines = await storedLines(file);
    expect(lines).toHaveLength(80);
    expectContiguous(lines, 'contoso', 40);
    expectContiguous(lines, 'fabrikam', 40);
    expect(await verifyJsonlFile(file)).toMatchObject({ ok: true, count: 80 });
  }, 60_000);

  it('verify names an edited line, and the event after a deleted one', async () => {
    const s = sink();
    await s.append(events('contoso', 'req-c1', 1, 5));
    const original = await readFile(file, 'utf8');

    await writeFile(file, original.replace('"actor":"system"', '"actor":"alice"')); // first match: req-c1:2
    expect(await s.verify()).toEqual({
      ok: false,
      count: 1,
      brokenAt: { id: 'req-c1:2', tenant: 'contoso', index: 2, reason: ChainBreakReason.hashMismatch },
    });

    const lines = original.split('\n');
    await writeFile(file, [...lines.slice(0, 2), ...lines.slice(3)].join('\n')); // drop req-c1:3
    expect(await verifyJsonlFile(file)).toMatchObject({
      ok: false,
      count: 2,
      brokenAt: { id: 'req-c1:4', reason: ChainBreakReason.indexMismatch },
    });

    await writeFile(file, original);
    expect(await verifyJsonlFile(file)).toMatchObject({ ok: true, count: 5 });
  });

  it('verify reports a line appended by something other than the sink', async () => {
    const s = sink();
    await s.append(events('contoso', 'req-c1', 1, 2));
    await appendFile(file, `${JSON.stringify(event('contoso', 'req-x', 1))}\n`);
    expect(await s.verify()).toMatchObject({ ok: false, count: 2, brokenAt: { id: 'req-x:1', reason: 'missing_chain' } });
    // The sink keeps chaining its own events after the foreign line; that line stays the reported break.
    await s.append(events('contoso', 'req-c1', 3, 3));
    expect((await storedLines(file)).at(-1)?.chain.index).toBe(3);
  });
});

describe('JSON Lines sink: pull API', () => {
  let dir = '';
  let file = '';
  let s: AuditSink;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lockbox-audit-list-'));
    file = join(dir, 'audit.jsonl');
    s = openJsonlAuditSink(file);
  });
  afterEach(async () => {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Follows `next` until a page is not full, the way a customer's poller does. */
  async function drain(q: { tenant?: string; type?: string }, limit: number, after?: string) {
    const seen: StoredAuditEvent[] = [];
    let cursor = after;
    for (;;) {
      const page = await s.list({ ...q, limit, ...(cursor === undefined ? {} : { after: cursor }) });
      seen.push(...page.events);
      cursor = page.next ?? undefined;
      if (!page.more) return { seen, cursor };
    }
  }

  it('pages in stored order with a cursor that stays valid while the file grows', async () => {
    expect(await s.list({ limit: 10 })).toEqual({ events: [], next: null, more: false });
    await s.append([...events('contoso', 'req-c1', 1, 4), ...events('fabrikam', 'req-f1', 1, 3)]);
    const first = await drain({}, 3);
    expect(first.seen.map((e) => e.id)).toEqual([
      'req-c1:1', 'req-c1:2', 'req-c1:3', 'req-c1:4', 'req-f1:1', 'req-f1:2', 'req-f1:3',
    ]);
    expect(first.seen[0]?.chain.index).toBe(1);

    // Nothing new: the cursor stays where it was.
    const idle = await s.list({ limit: 3, after: first.cursor as string });
    expect(idle).toEqual({ events: [], next: first.cursor, more: false });

    await s.append(events('contoso', 'req-c1', 4, 6)); // 4 is a retry: not listed again
    const later = await drain({}, 3, first.cursor);
    expect(later.seen.map((e) => e.id)).toEqual(['req-c1:5', 'req-c1:6']);
  });

  it('filters by tenant and type, and the cursor moves past what the filters skipped', async () => {
    await s.append([...events('contoso', 'req-c1', 1, 3), ...events('fabrikam', 'req-f1', 1, 3)]);
    const fab = await drain({ tenant: 'fabrikam' }, 2);
    expect(fab.seen.map((e) => e.id)).toEqual(['req-f1:1', 'req-f1:2', 'req-f1:3']);
    const created = await drain({ type: AuditEventType.requestCreated }, 10);
    expect(created.seen.map((e) => e.id)).toEqual(['req-c1:1', 'req-f1:1']);
    await s.append(events('contoso', 'req-c2', 1, 1));
    expect((await s.list({ tenant: 'fabrikam', limit: 5, after: fab.cursor as string })).events).toEqual([]);
    expect((await s.list({ tenant: 'contoso', limit: 5, after: fab.cursor as string })).events.map((e) => e.id)).toEqual([
      'req-c2:1',
    ]);
  });

  it('serves a line duplicated by a crashed writer once (the first line per id wins)', async () => {
    await s.append(events('contoso', 'req-c1', 1, 2));
    const [firstLine] = (await readFile(file, 'utf8')).split('\n');
    await appendFile(file, `${firstLine}\n`); // what two writers breaking one stale lock could leave
    await s.append(events('contoso', 'req-c1', 3, 3));
    expect((await s.list({ limit: 10 })).events.map((e) => e.id)).toEqual(['req-c1:1', 'req-c1:2', 'req-c1:3']);
    // The next event links after req-c1:2, not after the repeat, and verify skips an exact repeat...
    expect((await storedLines(file)).at(-1)?.chain.index).toBe(3);
    expect(await s.verify()).toMatchObject({ ok: true, count: 3 });
    // ...but not the same id with other content: that is an edit or a fork.
    await appendFile(file, `${(firstLine ?? '').replace('"actor":"eve"', '"actor":"mallory"')}\n`);
    expect(await s.verify()).toMatchObject({ ok: false, count: 3, brokenAt: { id: 'req-c1:1' } });
  });

  it('refuses a cursor it did not issue', async () => {
    await s.append(events('contoso', 'req-c1', 1, 1));
    await expect(s.list({ limit: 1, after: 'not a cursor' })).rejects.toBeInstanceOf(InvalidAuditCursorError);
    await expect(s.list({ limit: 1, after: encodeCursor('pg', 5) })).rejects.toBeInstanceOf(InvalidAuditCursorError);
    await expect(s.list({ limit: 1, after: encodeCursor('jsonl', 10_000_000) })).rejects.toBeInstanceOf(
      InvalidAuditCursorError,
    );
  });
});
