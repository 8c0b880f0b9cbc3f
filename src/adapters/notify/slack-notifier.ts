import type { Notification, Notifier } from '../../ports/notifier.js';
import type { GuardedHttp } from '../http/guarded-http.js';
import { postOnce } from '../http-signing.js';
import { renderBody } from './portal-link.js';

export interface SlackNotifierOptions {
  /** A Slack (or Mattermost, Rocket.Chat, ...) incoming webhook URL. It is a secret: it is never logged. */
  webhookUrl: string;
  portalBaseUrl?: string;
  /** Per attempt. Default 10 s. */
  timeoutMs?: number;
  /** The guarded outbound client (operator exceptions included); default one with no exceptions. */
  http?: GuardedHttp;
}

/** Slack mrkdwn treats these three as control characters; everything else is shown as written. */
const escapeMrkdwn = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const cut = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

/** The webhook payload: `text` for notifications and clients without blocks, `blocks` for the channel view. */
export function slackPayload(n: Notification, portalBaseUrl?: string): { text: string; blocks: unknown[] } {
  const { text, link } = renderBody(n, portalBaseUrl);
  const blocks: unknown[] = [
    // Slack's limits: 150 characters for a header, 3000 for a section.
    { type: 'header', text: { type: 'plain_text', text: cut(n.subject, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: cut(escapeMrkdwn(n.body), 3000) } },
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: escapeMrkdwn(`For ${n.recipient} · tenant ${n.tenant} · ${n.requestId}`) }],
    },
  ];
  if (link !== undefined) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in Lockbox' }, url: link }],
    });
  }
  return { text: escapeMrkdwn(`${n.subject}\n${text}`), blocks };
}

/**
 * Posts to a Slack-compatible incoming webhook. Throws on any failure (the activity retries, then audits
 * `notification.failed`); the error names only the webhook's host, since the URL's path is its secret. A webhook
 * cannot de-duplicate, so a retry after a lost response may post twice.
 */
export function createSlackNotifier(opts: SlackNotifierOptions): Notifier {
  new URL(opts.webhookUrl); // fail at start-up on a malformed URL
  return {
    async notify(n) {
      await postOnce({
        channel: 'slack',
        url: opts.webhookUrl,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(slackPayload(n, opts.portalBaseUrl)),
        timeoutMs: opts.timeoutMs ?? 10_000,
        http: opts.http,
      });
    },
  };
}
