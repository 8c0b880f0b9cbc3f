/**
 * The `sendNoticeNow` local activity on its own: it answers, never throws, and never runs past FIRST_NOTICE_WITHIN_MS,
 * whatever `withinMs` its input asks for (the input comes from workflow code, which anyone who can start workflows in
 * the namespace could imitate; the request's signature check before it is tested in workflow.failures.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { createActivities } from '../src/activities/index.js';
import type { Logger } from '../src/config/logger.js';
import { FIRST_NOTICE_WITHIN_MS } from '../src/domain/messages.js';
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
