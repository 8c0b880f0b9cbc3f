/**
 * The `sendNoticeNow` and `sendOutcomeNow` local activities on their own: each answers, never throws, and never runs
 * past its bound (FIRST_NOTICE_WITHIN_MS, SEND_NOW_WITHIN_MS), whatever `withinMs` its input asks for (the input comes from workflow code, which anyone who can start workflows in
 * the namespace could imitate; the request's signature check before it is tested in workflow.failures.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { createActivities } from '../src/activities/index.js';
import type { Logger } from '../src/config/logger.js';
import { FIRST_NOTICE_WITHIN_MS, SEND_NOW_WITHIN_MS } from '../src/domain/messages.js';
import { notDeliveredNow } from '../src/workflows/request/request-run.js';
import type { Notification, Notifier } from '../src/ports/notifier.js';

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const message: Notification = {
  id: 'req-contoso-1:approval_needed:alice@contoso.com',
  recipient: 'alice@contoso.com',
  tenant: 'contoso',
  requestId: 'req-contoso-1',
  kind: 'approval_needed',
  subject: 's',
  body: 'b',
  createdAt: '2030-01-01T09:00:00.000Z',
};
const activitiesWith = (notifier: Notifier) =>
  createActivities({ store: {} as never, trustedKeys: {}, grants: {} as never, notifier, audit: { append: async () => undefined } as never, log: quiet });

describe('sendNoticeNow', () => {
  it('answers delivered with the time it delivered', async () => {
    const sent: string[] = [];
    const before = Date.now();
    const answer = await activitiesWith({ notify: async (n) => void sent.push(n.id) }).sendNoticeNow({ messages: [message], withinMs: FIRST_NOTICE_WITHIN_MS });
    expect(answer.delivered).toBe(true);
    expect(Date.parse((answer as { at: string }).at)).toBeGreaterThanOrEqual(before);
    expect(sent).toEqual([message.id]);
  });

  it('answers not delivered, with the reason, when a channel refuses: it never throws', async () => {
    const answer = await activitiesWith({ notify: async () => Promise.reject(new Error('channel refused alice@contoso.com')) }).sendNoticeNow({ messages: [message], withinMs: 1_000 });
    expect(answer).toEqual({ delivered: false, error: 'channel refused alice@contoso.com' });
  });

  it('gives up at FIRST_NOTICE_WITHIN_MS even when its input asks for an hour', async () => {
    const answer = await activitiesWith({ notify: () => new Promise(() => undefined) }).sendNoticeNow({ messages: [message], withinMs: 3_600_000 });
    expect(answer).toEqual({ delivered: false, error: `not delivered within ${FIRST_NOTICE_WITHIN_MS} ms` });
  });

  it('answers not delivered to input that is not a list of messages', async () => {
    const answer = await activitiesWith({ notify: async () => undefined }).sendNoticeNow({ messages: 'all of them' as never, withinMs: 10 });
    expect(answer).toEqual({ delivered: false, error: 'no messages given' });
  });
});

describe('sendOutcomeNow', () => {
  const to = (recipient: string): Notification => ({ ...message, id: `req-contoso-1:outcome:${recipient}`, recipient, kind: 'outcome' });

  it('answers delivered when every group went out', async () => {
    const sent: string[] = [];
    const answer = await activitiesWith({ notify: async (n) => void sent.push(n.recipient) }).sendOutcomeNow({ direct: [[to('eve@lockbox.dev')], [to('alice@contoso.com')]], admins: null, withinMs: 1_000 });
    expect(answer.delivered).toBe(true);
    expect(sent.sort()).toEqual(['alice@contoso.com', 'eve@lockbox.dev']);
  });

  it('names the groups it did not deliver, by index, and still delivers the others', async () => {
    const sent: string[] = [];
    const notifier: Notifier = {
      notify: async (n) => {
        if (n.recipient === 'eve@lockbox.dev') throw new Error('channel refused eve@lockbox.dev');
        sent.push(n.recipient);
      },
    };
    const answer = await activitiesWith(notifier).sendOutcomeNow({ direct: [[to('eve@lockbox.dev')], [to('alice@contoso.com')]], admins: null, withinMs: 1_000 });
    expect(answer).toEqual({ delivered: false, error: 'channel refused eve@lockbox.dev', failed: [0] });
    expect(sent).toEqual(['alice@contoso.com']);
  });

  it('gives up at SEND_NOW_WITHIN_MS even when its input asks for an hour, naming no group (it cannot know)', async () => {
    const started = Date.now();
    const answer = await activitiesWith({ notify: () => new Promise(() => undefined) }).sendOutcomeNow({ direct: [[to('eve@lockbox.dev')]], admins: null, withinMs: 3_600_000 });
    expect(answer).toEqual({ delivered: false, error: `not delivered within ${SEND_NOW_WITHIN_MS} ms` });
    expect(Date.now() - started).toBeLessThan(SEND_NOW_WITHIN_MS + 1_000);
  });

  it('answers not delivered to input that is not a list of groups', async () => {
    const answer = await activitiesWith({ notify: async () => undefined }).sendOutcomeNow({ direct: ['eve'] as never, admins: null, withinMs: 10 });
    expect(answer).toEqual({ delivered: false, error: 'no outcome given' });
  });
});

describe("the workflow's reading of the answer (notDeliveredNow)", () => {
  it('takes the groups named, in range; otherwise every group', () => {
    expect([...notDeliveredNow({ delivered: false, error: 'x', failed: [0, 2] }, 3)]).toEqual([0, 2]);
    expect([...notDeliveredNow({ delivered: false, error: 'x', failed: [7, -1, '1', 1.5] }, 3)]).toEqual([0, 1, 2]);
    expect([...notDeliveredNow({ delivered: false, error: 'x' }, 2)]).toEqual([0, 1]);
    expect([...notDeliveredNow(null, 2)]).toEqual([0, 1]);
  });
});
