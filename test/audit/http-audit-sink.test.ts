/**
 * The HTTP (SIEM) audit sink against a real node:http receiver on 127.0.0.2 (allow-listed): signing, outages, error statuses,
 * timeouts and the three body formats.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpAuditSink, type HttpAuditSinkOptions } from '../../src/adapters/audit/http-audit-sink.js';
import { DeliveryError, verifySignature } from '../../src/adapters/http-signing.js';
import { AuditEventType, buildAuditEvent, type AuditEvent, type AuditEventType as EventType } from '../../src/domain/audit.js';
import type { OcsfEvent } from '../../src/domain/ocsf.js';
import { httpReceiver, type Received } from './http-receiver.js';
import { receiverHttp } from '../support/outbound.js';

const SECRET = 'whsec-audit-7f3a9c-do-not-leak';
const HEC_TOKEN = 'hec-token-0b1e-do-not-leak';

const LIFECYCLE: [EventType, string, Record<string, unknown>][] = [
  [AuditEventType.requestCreated, 'eve', { resource: 'mailbox:bob@contoso.com', reason: 'INC-4711', ticket: 'SUP-4711', duration: '4h' }],
  [AuditEventType.approversNotified, 'system', { recipients: ['alice@contoso.com', 'bob@contoso.com'] }],
  [AuditEventType.requestApproved, 'alice', { comment: 'ok' }],
  [AuditEventType.accessGranted, 'system', { resource: 'mailbox:bob@contoso.com', endsAt: '2030-01-01T13:00:00.000Z' }],
  [AuditEventType.accessRevoked, 'system', { cause: 'window_ended' }],
];
function lifecycle(requestId: string): AuditEvent[] {
  return LIFECYCLE.map(([type, actor, details], i) =>
    buildAuditEvent({ requestId, tenant: 'contoso', seq: i + 1, time: new Date(Date.UTC(2030, 0, 1, 9, i)), type, actor, details }),
  );
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const header = (r: Received, name: string) => r.headers[name.toLowerCase()] as string | undefined;

describe('HTTP audit sink', () => {
  let receiver: ReturnType<typeof httpReceiver>;
  const sink = (opts: Partial<HttpAuditSinkOptions> = {}) =>
    createHttpAuditSink({ url: receiver.url('/siem/ingest?key=path-secret'), secret: SECRET, timeoutMs: 2_000, http: receiverHttp(), ...opts });

  beforeEach(async () => {
    receiver = httpReceiver();
    await receiver.start();
  });
  afterEach(async () => {
    await receiver.stop();
  });

  it('POSTs the batch as JSON with a signature the receiver can verify, and a stable Idempotency-Key', async () => {
    const events = lifecycle('req-contoso-1');
    await sink().append(events);
    await sink().append(events); // a retried export: same batch, same key, so the receiver can drop it
    const [first, retry] = receiver.received;
    if (!first || !retry) throw new Error('expected two deliveries');
    expect(first.method).toBe('POST');
    expect(header(first, 'content-type')).toBe('application/json');
    expect(JSON.parse(first.body)).toEqual(events);
    expect(header(first, 'idempotency-key')).toBe(sha256(events.map((e) => e.id).join('\n')));
    expect(header(retry, 'idempotency-key')).toBe(header(first, 'idempotency-key'));

    const signed = { secret: SECRET, body: first.body, timestamp: header(first, 'x-lockbox-timestamp'), signature: header(first, 'x-lockbox-signature') };
    expect(signed.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature(signed)).toBe(true);
    expect(verifySignature({ ...signed, body: first.body.replace('alice', 'mallory') })).toBe(false);
    expect(verifySignature({ ...signed, secret: 'another secret' })).toBe(false);
    // A captured delivery replayed an hour later is refused.
    expect(verifySignature({ ...signed, now: new Date(Date.now() + 3_600_000) })).toBe(false);
  });

  it('throws while the receiver is down (closed port) and delivers once it is back; nothing is kept in memory', async () => {
    const s = sink();
    const [a, b] = [lifecycle('req-contoso-a'), lifecycle('req-contoso-b')];
    await receiver.stop();
    const down = await s.append(a).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(DeliveryError);
    expect((down as Error).message).toMatch(/could not connect \(ECONNREFUSED\)/);
    expect((down as Error).message).not.toMatch(/path-secret|siem|do-not-leak/);

    await receiver.start(); // same port
    await s.append(b);
    // Only what this call was given: batch a waits in Temporal for its own retry, not in the sink.
    expect(receiver.received.map((r) => JSON.parse(r.body) as AuditEvent[]).flat().map((e) => e.requestId)).toEqual(
      Array(5).fill('req-contoso-b'),
    );
    await s.append(a);
    expect(receiver.received).toHaveLength(2);
  });

  it('throws on a non-2xx answer, naming the status but not the secret, the path or what the receiver said', async () => {
    receiver.respond = () => 500;
    const err = await sink().append(lifecycle('req-contoso-1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).status).toBe(500);
    expect((err as Error).message).toBe(`audit delivery to http://127.0.0.2:${receiver.port} failed: HTTP 500`);
    receiver.respond = () => 302;
    await expect(sink().append(lifecycle('req-contoso-1'))).rejects.toThrow(/HTTP 302/);
    receiver.respond = () => 200;
    await expect(sink().append(lifecycle('req-contoso-1'))).resolves.toBeUndefined();
  });

  it('gives up on a receiver that does not answer within the per-attempt timeout', async () => {
    receiver.respond = () => 'hang';
    const started = Date.now();
    await expect(sink({ timeoutMs: 300 }).append(lifecycle('req-contoso-1'))).rejects.toThrow(/timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('receiver stopped in the middle of a batch of lifecycles: every event arrives, in order per request', async () => {
    const s = sink({ timeoutMs: 500 });
    let failures = 0;
    const exportWithRetry = async (batch: AuditEvent[]) => {
      for (;;) {
        try {
          return await s.append(batch);
        } catch {
          failures += 1;
          await sleep(25);
        }
      }
    };
    for (let i = 0; i < 12; i += 3) {
      if (i === 6) {
        await receiver.stop();
        void sleep(300).then(() => receiver.start());
      }
      await Promise.all(
        [i, i + 1, i + 2].map(async (k) => {
          const events = lifecycle(`req-contoso-${k}`);
          await exportWithRetry(events.slice(0, 3));
          await exportWithRetry(events.slice(3));
        }),
      );
    }
    expect(failures).toBeGreaterThan(0);
    // What the receiver keeps after de-duplicating by event id: everything, once, in seq order per request.
    const firstSeen = new Map<string, AuditEvent>();
    for (const r of receiver.received) for (const e of JSON.parse(r.body) as AuditEvent[]) if (!firstSeen.has(e.id)) firstSeen.set(e.id, e);
    expect(firstSeen.size).toBe(60);
    for (let k = 0; k < 12; k++) {
      const seqs = [...firstSeen.values()].filter((e) => e.requestId === `req-contoso-${k}`).map((e) => e.seq);
      expect(seqs).toEqual([1, 2, 3, 4, 5]);
    }
  });

  it('sends OCSF User Access Management events when asked', async () => {
    await sink({ format: 'ocsf' }).append(lifecycle('req-contoso-1'));
    const ocsf = JSON.parse(receiver.received[0]?.body ?? '[]') as OcsfEvent[];
    expect(ocsf.map((e) => [e.class_uid, e.category_uid, e.activity_id, e.type_uid])).toEqual([
      [3005, 3, 99, 300599],
      [3005, 3, 99, 300599],
      [3005, 3, 99, 300599],
      [3005, 3, 1, 300501],
      [3005, 3, 2, 300502],
    ]);
    const [created, , approved, granted] = ocsf;
    expect(created).toMatchObject({
      activity_name: 'request.created',
      time: Date.UTC(2030, 0, 1, 9, 0),
      severity_id: 1,
      status: 'Success',
      actor: { user: { name: 'eve', type: 'User' } },
      user: { name: 'eve' },
      metadata: { product: { name: 'Lockbox' }, version: '1.1.0', uid: 'req-contoso-1:1', correlation_uid: 'req-contoso-1' },
      unmapped: { tenant: 'contoso', details: { ticket: 'SUP-4711' } },
    });
    expect(approved?.actor.user.name).toBe('alice');
    expect(granted).toMatchObject({ activity_name: 'Assign Privileges', privileges: ['lockbox:access'] });
    expect(granted?.resources).toContainEqual({ uid: 'mailbox:bob@contoso.com', name: 'mailbox:bob@contoso.com', type: 'Tenant Resource' });
  });

  it('speaks Splunk HEC: concatenated events with epoch-second times and the token as Authorization', async () => {
    const events = lifecycle('req-contoso-1');
    await sink({ format: 'splunk-hec', secret: undefined, splunkToken: HEC_TOKEN, splunkIndex: 'security' }).append(events);
    const [r] = receiver.received;
    if (!r) throw new Error('nothing delivered');
    expect(header(r, 'authorization')).toBe(`Splunk ${HEC_TOKEN}`);
    expect(header(r, 'x-lockbox-signature')).toBeUndefined();
    const lines = r.body.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toEqual({
      time: Date.UTC(2030, 0, 1, 9, 0) / 1000,
      source: 'lockbox',
      sourcetype: 'lockbox:audit',
      index: 'security',
      event: events[0],
    });

    receiver.respond = () => 403;
    const err = await sink({ format: 'splunk-hec', splunkToken: HEC_TOKEN }).append(events).catch((e: unknown) => e);
    expect(String(err)).toMatch(/HTTP 403/);
    expect(String(err)).not.toContain(HEC_TOKEN);
  });

  it('refuses a configuration that could not authenticate its deliveries', () => {
    expect(() => createHttpAuditSink({ url: receiver.url() })).toThrow(/needs a secret/);
    expect(() => createHttpAuditSink({ url: receiver.url(), format: 'splunk-hec' })).toThrow(/splunkToken/);
    expect(() => createHttpAuditSink({ url: 'not a url', secret: SECRET })).toThrow();
  });
});
