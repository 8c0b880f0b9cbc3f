/**
 * Slack-compatible and generic signed webhooks against a REAL local HTTP receiver, and the fan-out over channels.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryError, verifySignature } from '../../src/adapters/http-signing.js';
import { createFanoutNotifier } from '../../src/adapters/notify/fanout-notifier.js';
import { createSlackNotifier } from '../../src/adapters/notify/slack-notifier.js';
import { createWebhookNotifier } from '../../src/adapters/notify/webhook-notifier.js';
import type { Notification, Notifier } from '../../src/ports/notifier.js';
import { httpReceiver, type Received } from '../audit/http-receiver.js';
import { receiverHttp } from '../support/outbound.js';

/** Slack puts the webhook's secret in its path. */
const SLACK_PATH = '/services/T000/B000/xoxb-slack-path-secret';
const WEBHOOK_SECRET = 'whsec-notify-55aa-do-not-leak';
const PORTAL = 'https://lockbox.example.com';

const MESSAGE: Notification = {
  id: 'req-contoso-1:approval_needed:alice@contoso.com',
  recipient: 'alice@contoso.com',
  tenant: 'contoso',
  requestId: 'req-contoso-1',
  kind: 'approval_needed',
  subject: '[Lockbox] eve@lockbox.dev requests access to mailbox:bob@contoso.com',
  body: [
    'eve@lockbox.dev asks for access to mailbox:bob@contoso.com in tenant contoso for 4h.',
    'Reason: <script> & "quotes"',
    'Ticket: SUP-4711',
    'The request expires unanswered at 2030-01-01T21:00:00.000Z.',
  ].join('\n'),
  createdAt: '2030-01-01T09:00:00.000Z',
};

const header = (r: Received | undefined, name: string) => r?.headers[name] as string | undefined;
/** The receivers listen on 127.0.0.2, which these tests allow-list as an operator would. */
const http = receiverHttp();

describe('webhook notifiers', () => {
  let receiver: ReturnType<typeof httpReceiver>;
  beforeEach(async () => {
    receiver = httpReceiver();
    await receiver.start();
  });
  afterEach(async () => {
    await receiver.stop();
  });

  it('Slack: posts text and blocks with the message, the recipient and a button to the portal', async () => {
    await createSlackNotifier({ webhookUrl: receiver.url(SLACK_PATH), portalBaseUrl: PORTAL, http }).notify(MESSAGE);
    const [r] = receiver.received;
    expect(r?.path).toBe(SLACK_PATH);
    const payload = JSON.parse(r?.body ?? '{}') as { text: string; blocks: Record<string, unknown>[] };
    expect(payload.text).toContain('SUP-4711');
    expect(payload.text).toContain('Reason: &lt;script&gt; &amp; "quotes"'); // mrkdwn control characters escaped
    expect(payload.text).toContain(`${PORTAL}/requests/req-contoso-1`);
    expect(payload.blocks.map((b) => b.type)).toEqual(['header', 'section', 'context', 'actions']);
    expect(JSON.stringify(payload.blocks[2])).toContain('For alice@contoso.com');
    expect(payload.blocks[3]).toMatchObject({ elements: [{ type: 'button', url: `${PORTAL}/requests/req-contoso-1` }] });
  });

  it('Slack: a failed post throws, and the error never shows the webhook path', async () => {
    receiver.respond = () => 404;
    const err = await createSlackNotifier({ webhookUrl: receiver.url(SLACK_PATH), http }).notify(MESSAGE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as Error).message).toBe(`slack delivery to http://127.0.0.2:${receiver.port} failed: HTTP 404`);
    await receiver.stop();
    const down = await createSlackNotifier({ webhookUrl: receiver.url(SLACK_PATH), http }).notify(MESSAGE).catch((e: unknown) => e);
    expect(String(down)).toMatch(/could not connect/);
    expect(String(down)).not.toContain('slack-path-secret');
  });

  it('signed webhook: the receiver verifies the signature and gets the message, the link and a stable key', async () => {
    const n = createWebhookNotifier({ url: receiver.url('/hooks/lockbox'), secret: WEBHOOK_SECRET, portalBaseUrl: PORTAL, http });
    await n.notify(MESSAGE);
    await n.notify(MESSAGE); // a retry
    const [r, retry] = receiver.received;
    expect(verifySignature({
      secret: WEBHOOK_SECRET,
      body: r?.body ?? '',
      timestamp: header(r, 'x-lockbox-timestamp'),
      signature: header(r, 'x-lockbox-signature'),
    })).toBe(true);
    expect(JSON.parse(r?.body ?? '{}')).toEqual({
      type: 'lockbox.notification',
      notification: { ...MESSAGE, link: `${PORTAL}/requests/req-contoso-1` },
    });
    expect(header(r, 'idempotency-key')).toBe(createHash('sha256').update(MESSAGE.id).digest('hex'));
    expect(header(retry, 'idempotency-key')).toBe(header(r, 'idempotency-key'));
  });

  it('signed webhook: failures throw without the secret', async () => {
    receiver.respond = () => 500;
    const n = createWebhookNotifier({ url: receiver.url('/hooks/lockbox'), secret: WEBHOOK_SECRET, timeoutMs: 500, http });
    await expect(n.notify(MESSAGE)).rejects.toThrow(/webhook delivery to http:\/\/127\.0\.0\.2:\d+ failed: HTTP 500/);
    receiver.respond = () => 'hang';
    const err = await n.notify(MESSAGE).catch((e: unknown) => e);
    expect(String(err)).toMatch(/timed out after 500 ms/);
    for (const e of [err]) expect(`${String(e)} ${JSON.stringify(e)}`).not.toContain(WEBHOOK_SECRET);
  });
});

describe('fan-out notifier', () => {
  const channel = (log: string[], failFirst: number): Notifier & { calls: number } => {
    const c = {
      calls: 0,
      async notify(n: Notification) {
        c.calls += 1;
        if (c.calls <= failFirst) throw new DeliveryError('x', 'down');
        log.push(n.id);
      },
    };
    return c;
  };

  it('delivers on every channel; a retry after one failed goes only to the channel that failed', async () => {
    const [mail, chat] = [[], []] as string[][];
    const smtp = channel(mail as string[], 0);
    const slack = channel(chat as string[], 1);
    const n = createFanoutNotifier([
      { name: 'smtp', notifier: smtp },
      { name: 'slack', notifier: slack },
    ]);
    const err = await n.notify(MESSAGE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as Error).message).toBe(`notification ${MESSAGE.id} failed on 1 channel(s): slack: down`);
    await n.notify(MESSAGE); // Temporal's retry
    expect(mail).toEqual([MESSAGE.id]); // no second e-mail
    expect(chat).toEqual([MESSAGE.id]);
    await n.notify({ ...MESSAGE, id: 'another' });
    expect(mail).toEqual([MESSAGE.id, 'another']);
  });

  it('joins a send of the same id still running on a channel instead of sending it twice; a failed one is sent again later', async () => {
    const log: string[] = [];
    let release: () => void = () => undefined;
    let calls = 0;
    let fail = false;
    const slow: Notifier = {
      async notify(n) {
        calls += 1;
        await new Promise<void>((r) => (release = r));
        if (fail) throw new DeliveryError('x', 'down');
        log.push(n.id);
      },
    };
    const n = createFanoutNotifier([{ name: 'smtp', notifier: slow }]);
    const first = n.notify(MESSAGE);
    const second = n.notify(MESSAGE); // the first notice sent again the usual way, while the first send still runs
    await new Promise((r) => setTimeout(r, 10));
    release();
    await Promise.all([first, second]);
    expect(calls).toBe(1);
    expect(log).toEqual([MESSAGE.id]);
    // Both waiters of a failed send hear the failure; the next try sends again.
    fail = true;
    const other = { ...MESSAGE, id: 'other' };
    const a = n.notify(other).catch((e: unknown) => e);
    const b = n.notify(other).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 10));
    release();
    expect(await a).toBeInstanceOf(AggregateError);
    expect(await b).toBeInstanceOf(AggregateError);
    expect(calls).toBe(2);
    fail = false;
    const c = n.notify(other);
    await new Promise((r) => setTimeout(r, 10));
    release();
    await c;
    expect(calls).toBe(3);
    expect(log).toEqual([MESSAGE.id, 'other']);
  });

  it('forgets the oldest deliveries beyond its bound', async () => {
    const log: string[] = [];
    const n = createFanoutNotifier([{ name: 'smtp', notifier: channel(log, 0) }], { remember: 2 });
    for (const id of ['a', 'b', 'c', 'a']) await n.notify({ ...MESSAGE, id });
    expect(log).toEqual(['a', 'b', 'c', 'a']); // 'a' was forgotten when 'c' came
  });
});
