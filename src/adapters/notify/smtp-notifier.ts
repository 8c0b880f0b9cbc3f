import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Notifier } from '../../ports/notifier.js';
import { DeliveryError } from '../http-signing.js';
import { renderBody } from './portal-link.js';

export interface SmtpNotifierOptions {
  host: string;
  port: number;
  /** TLS from the first byte (usually port 465); false: plain, upgraded with STARTTLS when the server offers it. */
  secure: boolean;
  auth?: { user: string; pass: string };
  /** Sender, e.g. `Lockbox <lockbox@example.com>`. */
  from: string;
  portalBaseUrl?: string;
  /** E-mail address of a recipient (a user id); default: the id itself when it looks like an address. */
  addressOf?: (recipient: string) => string | undefined;
  /** Connection, greeting and socket timeouts. Default 10 s. */
  timeoutMs?: number;
  /** Refuse a server certificate that does not verify. Default true; false only for local test servers. */
  rejectUnauthorized?: boolean;
}

/** A Notifier that also owns a connection to close. */
export type ClosableNotifier = Notifier & { close(): Promise<void> };

const looksLikeAddress = (id: string): string | undefined => (/^[^\s@<>]+@[^\s@<>]+$/.test(id) ? id : undefined);

/**
 * E-mail over SMTP (nodemailer). Throws on any failure so the activity retries and finally audits
 * `notification.failed`; the error names the server and the SMTP error code, never the credentials. SMTP cannot
 * promise exactly-once, so the Message-ID is derived from the notification id: a retried send has the same one,
 * and mail systems that de-duplicate by Message-ID show it once.
 */
export function createSmtpNotifier(opts: SmtpNotifierOptions): ClosableNotifier {
  const timeout = opts.timeoutMs ?? 10_000;
  const transport = nodemailer.createTransport({
    host: opts.host,
    port: opts.port,
    secure: opts.secure,
    ...(opts.auth ? { auth: { user: opts.auth.user, pass: opts.auth.pass } } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    tls: { rejectUnauthorized: opts.rejectUnauthorized ?? true },
  });
  const addressOf = opts.addressOf ?? looksLikeAddress;
  const server = `${opts.host}:${opts.port}`;

  return {
    async notify(n) {
      const to = addressOf(n.recipient);
      if (to === undefined) throw new DeliveryError('smtp', `no e-mail address for recipient ${n.recipient}`);
      const { text } = renderBody(n, opts.portalBaseUrl);
      const messageKey = createHash('sha256').update(n.id).digest('hex').slice(0, 32);
      try {
        await transport.sendMail({
          from: opts.from,
          to,
          subject: n.subject,
          text,
          messageId: `<${messageKey}@lockbox>`,
          headers: { 'X-Lockbox-Request': n.requestId, 'X-Lockbox-Tenant': n.tenant },
        });
      } catch (err) {
        // nodemailer's own message can quote the server's reply; the code and response code say enough.
        const e = err as { code?: unknown; originalCode?: unknown; responseCode?: unknown };
        const parts = [e.code, e.originalCode !== e.code ? e.originalCode : undefined, e.responseCode];
        const code = parts.filter((v) => typeof v === 'string' || typeof v === 'number');
        throw new DeliveryError('smtp', `e-mail to ${to} via ${server} failed${code.length ? ` (${code.join(' ')})` : ''}`);
      }
    },
    async close() {
      transport.close();
    },
  };
}

/**
 * Options from one URL, for a single config variable: `smtp://[user:pass@]host[:port]?from=...` (STARTTLS when
 * offered, port 587 by default) or `smtps://...` (TLS, port 465). Throws naming the problem, never the URL.
 */
export function smtpOptionsFromUrl(url: string, extra: Partial<SmtpNotifierOptions> = {}): SmtpNotifierOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('SMTP URL is not a valid URL');
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new Error('SMTP URL must start with smtp:// or smtps://');
  const secure = u.protocol === 'smtps:';
  const from = extra.from ?? u.searchParams.get('from') ?? undefined;
  if (!from) throw new Error('SMTP URL needs a from= parameter (the sender address)');
  return {
    ...extra,
    host: u.hostname,
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    secure,
    from,
    ...(u.username
      ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } }
      : {}),
  };
}
