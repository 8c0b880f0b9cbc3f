import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createGuardedHttp, OutboundReason, OutboundRefusedError, originOf, type GuardedHttp } from './http/guarded-http.js';

/**
 * Outbound HTTP for the audit HTTP sink and the webhook notifiers: one signature scheme and one POST helper.
 *
 * Signature: `X-Lockbox-Timestamp: <unix seconds>` and `X-Lockbox-Signature: sha256=<hex HMAC-SHA256(secret,
 * "<timestamp>.<raw body>")>`. The timestamp is signed so a receiver can refuse replays of an old delivery
 * (`verifySignature` allows 5 minutes by default); the raw body is signed, so the receiver must verify before
 * parsing. The same shape as Stripe's and GitHub's webhook signatures, which receivers already know how to check.
 */
export const SIGNATURE_HEADER = 'X-Lockbox-Signature';
export const TIMESTAMP_HEADER = 'X-Lockbox-Timestamp';

/** `sha256=<hex>` for `timestamp` and `body`. */
export function sign(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The two signature headers for `body`, timestamped `now`. */
export function signatureHeaders(secret: string, body: string, now: Date = new Date()): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: sign(secret, timestamp, body) };
}

/** What a receiver checks: the signature matches and the timestamp is within `toleranceSeconds` of `now`. */
export function verifySignature(input: {
  secret: string;
  body: string;
  timestamp: string | undefined;
  signature: string | undefined;
  now?: Date;
  toleranceSeconds?: number;
}): boolean {
  const { timestamp, signature } = input;
  if (timestamp === undefined || signature === undefined || !/^[0-9]{1,12}$/.test(timestamp)) return false;
  const age = Math.abs((input.now ?? new Date()).getTime() / 1000 - Number(timestamp));
  if (age > (input.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(sign(input.secret, timestamp, input.body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** sha256 hex of the given parts, newline-joined: a stable Idempotency-Key for a delivery. */
export function idempotencyKey(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}

/**
 * A delivery that did not succeed. The message names the channel and the receiver's origin only: webhook URLs
 * often carry their secret in the path (Slack's do), and credentials travel in headers, so neither is ever in it.
 */
export class DeliveryError extends Error {
  constructor(
    readonly channel: string,
    message: string,
    /** The HTTP status, when the receiver answered. */
    readonly status?: number,
    /** The guarded client's reason code (`http_status` for a non-2xx answer), when the HTTP call failed. */
    readonly reason?: OutboundReason,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** The URL's origin (scheme, host, port): what may be said about a receiver in an error or log line. */
export const safeOrigin = originOf;

/**
 * POSTs `body` once through the guarded client and resolves on a 2xx; otherwise throws a DeliveryError (non-2xx,
 * redirect, refused destination, timeout, connection failure). No retries and no buffering here: the caller is an
 * activity, and Temporal retries it with backoff while the payload waits in workflow history.
 */
export async function postOnce(input: {
  channel: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** The guarded outbound client; default one with no operator exceptions. */
  http?: GuardedHttp;
}): Promise<void> {
  const where = `${input.channel} delivery to ${safeOrigin(input.url)}`;
  let status: number;
  try {
    // The answer is read (bounded) and dropped: what the receiver said is not needed, and not trusted.
    ({ status } = await (input.http ?? createGuardedHttp()).request({
      url: input.url,
      method: 'POST',
      headers: input.headers,
      body: input.body,
      timeoutMs: input.timeoutMs,
    }));
  } catch (err) {
    if (!(err instanceof OutboundRefusedError)) throw err;
    const fail = (text: string) => new DeliveryError(input.channel, `${where} ${text}`, err.status, err.reason);
    if (err.reason === OutboundReason.timeout) throw fail(`timed out after ${input.timeoutMs} ms`);
    if (err.reason === OutboundReason.unreachable) throw fail(`could not connect${err.code ? ` (${err.code})` : ''}`);
    throw fail(`failed: ${err.reason}${err.status === undefined ? '' : ` (HTTP ${err.status})`}`);
  }
  if (status < 200 || status > 299) {
    throw new DeliveryError(input.channel, `${where} failed: HTTP ${status}`, status, OutboundReason.httpStatus);
  }
}
