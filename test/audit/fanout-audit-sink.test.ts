/** Several sinks at once: a partial failure throws, and the retry completes it without duplicating anything. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFanoutAuditSink } from '../../src/adapters/audit/fanout-audit-sink.js';
import { createHttpAuditSink } from '../../src/adapters/audit/http-audit-sink.js';
import { receiverHttp } from '../support/outbound.js';
import { openJsonlAuditSink } from '../../src/adapters/jsonl-audit-sink.js';
import { AuditEventType, buildAuditEvent, type AuditEvent } from '../../src/domain/audit.js';
import type { AuditSink } from '../../src/ports/audit-sink.js';
import { httpReceiver } from './http-receiver.js';

const events = (requestId: string, n: number): AuditEvent[] =>
  Array.from({ length: n }, (_, i) =>
    buildAuditEvent({
      requestId,
      tenant: 'contoso',
      seq: i + 1,
      time: new Date(Date.UTC(2030, 0, 1, 9, i)),
      type: i === 0 ? AuditEventType.requestCreated : AuditEventType.approversNotified,
      actor: i === 0 ? 'eve' : 'system',
    }),
  );

describe('fan-out audit sink', () => {
  let dir = '';
  let receiver: ReturnType<typeof httpReceiver>;
  let fanout: AuditSink;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lockbox-fanout-'));
    receiver = httpReceiver();
    await receiver.start();
    fanout = createFanoutAuditSink(openJsonlAuditSink(join(dir, 'audit.jsonl')), [
      createHttpAuditSink({ url: receiver.url(), secret: 'fanout-secret', timeoutMs: 1_000, http: receiverHttp() }),
    ]);
  });
  afterEach(async () => {
    await fanout.close();
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('appends to every sink and reads from the first', async () => {
    await fanout.append(events('req-a', 3));
    expect(receiver.received).toHaveLength(1);
    expect((await fanout.listByRequest('req-a')).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await fanout.list({ limit: 10 })).events.map((e) => e.chain.index)).toEqual([1, 2, 3]);
    expect(await fanout.verify()).toMatchObject({ ok: true, count: 3 });
  });

  it('throws when one sink fails; the retry completes it, and the sink that had it stores nothing twice', async () => {
    receiver.respond = () => 503;
    const err = await fanout.append(events('req-a', 3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as Error).message).toMatch(/failed for 1 of 2 sinks \(sink 2: audit delivery .* HTTP 503\)/);
    expect(await fanout.verify()).toMatchObject({ ok: true, count: 3 }); // the file already has the batch

    receiver.respond = () => 200;
    await fanout.append(events('req-a', 3)); // what Temporal's retry does
    expect(await fanout.verify()).toMatchObject({ ok: true, count: 3 }); // no duplicate, chain did not move
    expect((await readFile(join(dir, 'audit.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(3);
    expect(receiver.received.filter((r) => r.body.includes('req-a:3'))).toHaveLength(2); // failed try + retry
  });
});
