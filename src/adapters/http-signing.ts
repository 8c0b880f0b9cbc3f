import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

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
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** The URL's origin (scheme, host, port): what may be said about a receiver in an error or log line. */
export function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * POSTs `body` once and resolves on a 2xx; otherwise throws a DeliveryError (non-2xx, redirect, timeout,
 * connection failure). No retries and no buffering here: the caller is an activity, and Temporal retries it with
 * backoff while the payload waits in workflow history.
 */
export async function postOnce(input: {
  channel: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}): Promise<void> {
  const where = `${input.channel} delivery to ${safeOrigin(input.url)}`;
  let res: Response;
  try {
    res = await fetch(input.url, {
      method: 'POST',
      headers: input.headers,
      body: input.body,
      // A redirect would send a signed payload somewhere nobody configured.
      redirect: 'manual',
      signal: AbortSignal.timeout(input.timeoutMs),
    });
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: unknown } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      throw new DeliveryError(input.channel, `${where} timed out after ${input.timeoutMs} ms`);
    }
    const code = typeof e.cause?.code === 'string' ? ` (${e.cause.code})` : '';
    throw new DeliveryError(input.channel, `${where} could not connect${code}`);
  }
  // Drain the body so the connection can be reused; what the receiver said is not needed (and not trusted).
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status > 299) {
    throw new DeliveryError(input.channel, `${where} failed: HTTP ${res.status}`, res.status);
  }
}
