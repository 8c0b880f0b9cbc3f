import type { Notifier } from '../../ports/notifier.js';
import type { GuardedHttp } from '../http/guarded-http.js';
import { idempotencyKey, postOnce, signatureHeaders } from '../http-signing.js';
import { renderBody } from './portal-link.js';

export interface WebhookNotifierOptions {
  url: string;
  /** HMAC secret for X-Lockbox-Signature, shared with the receiver. */
  secret: string;
  portalBaseUrl?: string;
  /** Per attempt. Default 10 s. */
  timeoutMs?: number;
  /** The clock for the signature timestamp (tests). */
  now?: () => Date;
  /** The guarded outbound client (operator exceptions included); default one with no exceptions. */
  http?: GuardedHttp;
}

/**
 * A generic signed webhook: POSTs `{"type":"lockbox.notification","notification":{...,"link"?}}` signed like the
 * audit HTTP sink (see http-signing.ts), with `Idempotency-Key` derived from the notification id, so a receiver
 * can drop a retried delivery. Throws on any failure; the error names only the receiver's origin.
 */
export function createWebhookNotifier(opts: WebhookNotifierOptions): Notifier {
  new URL(opts.url); // fail at start-up on a malformed URL
  if (!opts.secret) throw new Error('webhook notifier needs a secret');
  return {
    async notify(n) {
      const { link } = renderBody(n, opts.portalBaseUrl);
      const body = JSON.stringify({
        type: 'lockbox.notification',
        notification: { ...n, ...(link === undefined ? {} : { link }) },
      });
      await postOnce({
        channel: 'webhook',
        url: opts.url,
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'lockbox-notify',
          'Idempotency-Key': idempotencyKey([n.id]),
          ...signatureHeaders(opts.secret, body, opts.now?.()),
        },
        body,
        timeoutMs: opts.timeoutMs ?? 10_000,
        http: opts.http,
      });
    },
  };
}
