import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openJsonlAuditSink } from '../src/adapters/jsonl-audit-sink.js';
import { AuditEventType, buildAuditEvent, type AuditEvent } from '../src/domain/audit.js';
import type { AuditSink } from '../src/ports/audit-sink.js';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

function event(requestId: string, seq: number): AuditEvent {
  return buildAuditEvent({
    requestId,
    tenant: 'contoso',
    seq,
    time: new Date(Date.UTC(2030, 0, 1, 9, 0, seq)),
    type: seq === 1 ? AuditEventType.requestCreated : AuditEventType.approversNotified,
    actor: seq === 1 ? 'eve' : 'system',
    details: { note: `step ${seq} — ünïcødé\nnewline inside a string` },
  });
}

const events = (requestId: string, from: number, to: number): AuditEvent[] =>
  Array.from({ length: to - from + 1 }, (_, i) => event(requestId, from + i));

/** Every raw line must be a whole event and every id must appear once: what a SIEM tailing the file sees. */
async function rawLines(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

async function expectWholeUniqueLines(file: string, expectedCount: number): Promise<void> {
  const lines = await rawLines(file);
  const ids = lines.map((l) => (JSON.parse(l) as AuditEvent).id);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids).toHaveLength(expectedCount);
}

describe('JSON Lines audit sink', () => {
  let dir = '';
  let file = '';
  const sinks: AuditSink[] = [];
  const sink = (): AuditSink => {
    const s = openJsonlAuditSink(file);
    sinks.push(s);
    return s;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lockbox-audit-'));
    file = join(dir, 'audit.jsonl');
  });
  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('stores each event once across repeated appends, and lists one request in seq order', async () => {
    const s = sink();
    await s.append(events('req-a', 1, 3));
    await s.append(events('req-a', 2, 5)); // a retried export overlapping the first
    await s.append([event('req-b', 1), event('req-a', 5), event('req-a', 5)]);
    expect((await s.listByRequest('req-a')).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(await s.listByRequest('req-b')).toEqual([event('req-b', 1)]);
    expect(await s.listByRequest('req-none')).toEqual([]);
    await expectWholeUniqueLines(file, 6);
  });

  it('returns events sorted by seq even when exported out of order', async () => {
    const s = sink();
    await s.append([event('req-a', 3), event('req-a', 1)]);
    await s.append([event('req-a', 2)]);
    expect(await s.listByRequest('req-a')).toEqual(events('req-a', 1, 3));
  });

  it('stays exactly once across a reopen', async () => {
    const first = sink();
    await first.append(events('req-a', 1, 3));
    await first.close();
    const second = sink();
    await second.append(events('req-a', 1, 4));
    expect((await second.listByRequest('req-a')).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    await expectWholeUniqueLines(file, 4);
  });

  it('never interleaves or duplicates under concurrent appends', async () => {
    const s = sink();
    const batches = Array.from({ length: 40 }, (_, i) => events('req-a', (i % 10) * 5 + 1, (i % 10) * 5 + 5));
    await Promise.all(batches.map((b) => s.append(b)));
    await expectWholeUniqueLines(file, 50);
  });

  it('commits concurrent appends in groups after a torn line: each id once, the chain whole, the pull feed in file order', async () => {
    await sink().append([event('req-a', 1)]);
    await appendFile(file, JSON.stringify(event('req-a', 2)).slice(0, 25)); // a crash mid-line
    const s = sink();
    // Overlapping batches from 12 "workflows" at once, some ids in several batches; then another writer's event.
    const batches = Array.from({ length: 60 }, (_, i) => events(`req-${i % 12}`, (i % 3) + 1, (i % 3) + 4));
    await Promise.all(batches.map((b) => s.append(b)));
    await sink().append([event('req-z', 1)]);
    await Promise.all([s.append(events('req-z', 1, 2)), s.append(events('req-0', 5, 6))]);
    const lines = await rawLines(file);
    expect(lines[1]).toBe(JSON.stringify(event('req-a', 2)).slice(0, 25));
    const stored = lines.filter((_, i) => i !== 1).map((l) => (JSON.parse(l) as AuditEvent).id);
    expect(new Set(stored).size).toBe(stored.length);
    // req-a:1 from before, 4 ids per request from the batches (repeats skipped), req-z:1 and :2, req-0:5 and :6.
    expect(stored).toHaveLength(1 + 12 * 4 + 2 + 2);
    expect(await s.verify()).toMatchObject({ ok: true, count: stored.length });
    // The feed reads through the offsets the sink recorded for its own lines instead of reading them back.
    const feed: string[] = [];
    for (let after: string | undefined, more = true; more; ) {
      const page = await s.list({ limit: 7, ...(after ? { after } : {}) });
      feed.push(...page.events.map((e) => e.id));
      after = page.next ?? undefined;
      more = page.more;
    }
    expect(feed).toEqual(stored);
  });

  it('skips a torn last line and starts the next append on a fresh line', async () => {
    await writeFile(file, `${JSON.stringify(event('req-a', 1))}\n${JSON.stringify(event('req-a', 2)).slice(0, 25)}`);
    const s = sink();
    expect(await s.listByRequest('req-a')).toEqual([event('req-a', 1)]);
    await s.append(events('req-a', 1, 3));
    expect(await s.listByRequest('req-a')).toEqual(events('req-a', 1, 3));
    const lines = await rawLines(file);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toBe(JSON.stringify(event('req-a', 2)).slice(0, 25));
  });

  it('counts a whole event that only lost its newline, and terminates it', async () => {
    await writeFile(file, JSON.stringify(event('req-a', 1)));
    const s = sink();
    await s.append(events('req-a', 1, 2));
    await expectWholeUniqueLines(file, 2);
  });

  it('sees ids another writer appended since it last read the file', async () => {
    const s = sink();
    await s.append([event('req-a', 1)]);
    await appendFile(file, `${JSON.stringify(event('req-a', 2))}\n`);
    await s.append(events('req-a', 1, 3));
    await expectWholeUniqueLines(file, 3);
  });

  it('two instances on one file do not duplicate an id, even appending the same batches at once', async () => {
    const a = sink();
    const b = sink();
    const batches = Array.from({ length: 20 }, (_, i) => events('req-a', i * 2 + 1, i * 2 + 2));
    // Same batches in the same order on both: each pair races read-then-write on the same ids.
    await Promise.all(batches.flatMap((batch) => [a.append(batch), b.append(batch)]));
    await expectWholeUniqueLines(file, 40);
    expect(await a.listByRequest('req-a')).toEqual(await b.listByRequest('req-a'));
  });

  it('three processes appending the same events at once store each event once', async () => {
    // A shared start instant, so the processes contend despite tsx's varying start-up time.
    const startAt = Date.now() + 2_000;
    const script = `
      const { openJsonlAuditSink } = await import(${JSON.stringify(join(PROJECT_ROOT, 'src/adapters/jsonl-audit-sink.ts'))});
      const sink = openJsonlAuditSink(${JSON.stringify(file)});
      const ev = (seq) => ({ id: 'req-a:' + seq, seq, time: '2030-01-01T09:00:00.000Z', type: 'request.created',
        tenant: 'contoso', requestId: 'req-a', actor: 'eve', details: { pid: process.pid } });
      await new Promise((r) => setTimeout(r, Math.max(0, ${startAt} - Date.now())));
      for (let seq = 1; seq <= 60; seq++) await sink.append([ev(seq)]);
      await sink.close();
    `;
    const run = promisify(execFile);
    await Promise.all(
      [1, 2, 3].map(() =>
        run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PROJECT_ROOT }),
      ),
    );
    await expectWholeUniqueLines(file, 60);
  }, 60_000);

  it('breaks a lock left behind by a dead process', async () => {
    await writeFile(`${file}.lock`, '2147483646'); // no such pid
    const s = sink();
    await s.append([event('req-a', 1)]);
    expect(await s.listByRequest('req-a')).toEqual([event('req-a', 1)]);
  });

  it('refuses appends after close; closing twice is fine', async () => {
    const s = sink();
    await s.close();
    await s.close();
    await expect(s.append([event('req-a', 1)])).rejects.toThrow(/closed/);
  });
});
