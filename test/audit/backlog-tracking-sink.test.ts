/**
 * The audit backlog decorator on its own: what the gauges and the counter say while a sink's appends fail, after
 * they get through again, when a slow attempt fails after a retry already delivered, and when the retries moved to
 * another worker. The sink here is a stand-in that fails on command; the real outages are in sink-outage.test.ts.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAuditBacklog } from '../../src/adapters/audit/backlog-tracking-sink.js';
import { buildAuditEvent, type AuditEvent } from '../../src/domain/audit.js';
import type { AuditExporter } from '../../src/ports/audit-sink.js';

function events(requestId: string, from: number, to: number): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (let seq = from; seq <= to; seq++) {
    out.push(buildAuditEvent({ requestId, tenant: 'contoso', seq, time: new Date(0), type: 'request.created', actor: 'eve@contoso.com', details: {} }));
  }
  return out;
}

/** A sink that fails while `down`, and records what it got. */
function standIn() {
  const got: string[] = [];
  const sink = {
    down: false,
    got,
    async append(batch: readonly AuditEvent[]) {
      if (sink.down) throw new Error('sink down');
      got.push(...batch.map((e) => e.id));
    },
    async close() {},
  };
  return sink;
}

async function value(registry: Registry, name: string, sink: string): Promise<number> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name}{sink="${sink}"} `));
  if (!line) throw new Error(`${name}{sink="${sink}"} missing`);
  return Number(line.split(' ')[1]);
}

describe('audit backlog metrics', () => {
  it('count the events of failing batches per sink until an append with them succeeds', async () => {
    const registry = new Registry();
    let clock = 1_000_000;
    const backlog = createAuditBacklog(registry, { now: () => clock });
    const pg = standIn();
    const http = standIn();
    const trackedPg = backlog.track('postgres', pg);
    const trackedHttp = backlog.track('http', http);
    // Both series exist at 0 before anything happened.
    expect(await value(registry, 'lockbox_audit_export_backlog_events', 'postgres')).toBe(0);
    expect(await value(registry, 'lockbox_audit_export_failures_total', 'http')).toBe(0);

    pg.down = true;
    const a = events('req-a', 1, 3);
    const b = events('req-b', 1, 2);
    await expect(trackedPg.append(a)).rejects.toThrow('sink down');
    await trackedHttp.append(a);
    clock += 5_000;
    await expect(trackedPg.append(b)).rejects.toThrow('sink down');
    clock += 10_000;
    await expect(trackedPg.append(a)).rejects.toThrow('sink down'); // a retry: the same events, counted once
    expect(await value(registry, 'lockbox_audit_export_backlog_events', 'postgres')).toBe(5);
    expect(await value(registry, 'lockbox_audit_export_oldest_pending_seconds', 'postgres')).toBe(15);
    expect(await value(registry, 'lockbox_audit_export_failures_total', 'postgres')).toBe(3);
    expect(await value(registry, 'lockbox_audit_export_backlog_events', 'http')).toBe(0);
    expect(await value(registry, 'lockbox_audit_export_oldest_pending_seconds', 'http')).toBe(0);

    pg.down = false;
    await trackedPg.append(a);
    expect(backlog.snapshot().postgres).toEqual({ events: 2, oldestSeconds: 10, failures: 3 });
    await trackedPg.append(b);
    expect(await value(registry, 'lockbox_audit_export_backlog_events', 'postgres')).toBe(0);
    expect(await value(registry, 'lockbox_audit_export_oldest_pending_seconds', 'postgres')).toBe(0);
    expect(pg.got).toEqual([...a, ...b].map((e) => e.id));
  });

  it('an attempt failing after a retry delivered the batch does not count it again', async () => {
    const registry = new Registry();
    const backlog = createAuditBacklog(registry);
    let releaseSlow: (err: Error) => void = () => undefined;
    let calls = 0;
    const sink: AuditExporter = {
      append: () => (++calls === 1 ? new Promise<void>((_, reject) => (releaseSlow = reject)) : Promise.resolve()),
      close: async () => undefined,
    };
    const tracked = backlog.track('http', sink);
    const batch = events('req-c', 1, 2);
    const slow = tracked.append(batch); // timed out as far as Temporal knows; still running
    await tracked.append(batch); // the retry gets through
    releaseSlow(new Error('connection reset'));
    await expect(slow).rejects.toThrow('connection reset');
    expect(backlog.snapshot().http).toEqual({ events: 0, oldestSeconds: 0, failures: 1 });
  });

  it('forgets events no attempt in this process touched for a while (their retry runs in another worker)', async () => {
    const registry = new Registry();
    let clock = 0;
    const backlog = createAuditBacklog(registry, { now: () => clock, staleAfterMs: 60_000 });
    const sink = standIn();
    sink.down = true;
    const tracked = backlog.track('jsonl', sink);
    await expect(tracked.append(events('req-d', 1, 4))).rejects.toThrow();
    clock += 59_000;
    expect(await value(registry, 'lockbox_audit_export_backlog_events', 'jsonl')).toBe(4);
    clock += 2_000;
    expect(await value(registry, 'lockbox_audit_export_backlog_events', 'jsonl')).toBe(0);
  });

  it('leaves the sink\'s other methods as they are', async () => {
    const backlog = createAuditBacklog(new Registry());
    const listed: string[] = [];
    const sink = { ...standIn(), listByRequest: async (id: string) => (listed.push(id), []) };
    const tracked = backlog.track('jsonl', sink);
    expect(await tracked.listByRequest('req-e')).toEqual([]);
    expect(listed).toEqual(['req-e']);
  });
});
