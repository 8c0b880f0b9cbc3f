import { createHmac } from 'node:crypto';
import type { GrantInput, GrantProvider, GrantResult } from '../../ports/grant-provider.js';
import { checkDuration, GrantTargetError, NonRetryableGrantError } from './errors.js';

export { GrantTargetError, NonRetryableGrantError } from './errors.js';

/**
 * Where and how Lockbox calls a customer's own grant system.
 *
 * Every call is `POST <url>` with a JSON body and these headers:
 * - `Idempotency-Key: <requestId>:<action>` (`<requestId>:extend:<endsAt>` for extend, since a request can be
 *   extended more than once). Lockbox repeats calls (timeouts, 5xx, activity retries); the receiver must answer a
 *   repeat like the first call and must not grant twice.
 * - `X-Lockbox-Timestamp: <unix seconds>` and `X-Lockbox-Signature: sha256=<hex>`, where
 *   hex = HMAC-SHA256(secret, `<timestamp>.<raw body>`). To verify: recompute it over the raw body bytes exactly as
 *   received, compare in constant time (e.g. `crypto.timingSafeEqual`), and refuse a timestamp more than 5 minutes
 *   from your clock, so a recorded call cannot be replayed later.
 *
 * Bodies: grant `{action:"grant", requestId, tenant, resource, principal, endsAt}`; revoke
 * `{action:"revoke", requestId, revokedAt}`; extend `{action:"extend", requestId, endsAt}`. Times are ISO-8601 UTC.
 * The receiver must itself end access at `endsAt`, even if the revoke never arrives.
 *
 * Answers: any 2xx is success; for grant and extend it may carry JSON `{grantedAt?, endsAt?}`, the receiver's own
 * record (so a repeated grant returns the first one's times). 408, 429, 5xx and network errors are retried a few
 * times here with backoff (Temporal retries the activity beyond that); any other status fails at once with
 * `NonRetryableGrantError`. Redirects are not followed.
 */
export interface WebhookGrantProviderOptions {
  grantUrl: string;
  revokeUrl: string;
  /** Without it the provider has no `extend`. */
  extendUrl?: string;
  /** The shared HMAC key; at least 16 characters (32 random bytes recommended). Never put into an error. */
  secret: string;
  /** Per attempt, default 10 s. */
  timeoutMs?: number;
  /** Attempts per call, default 3. */
  maxAttempts?: number;
  /** First backoff, doubled per attempt with jitter; default 250 ms. */
  backoffMs?: number;
  /** Test seam; default the system clock. */
  clock?: () => Date;
}

/** The signature header value for a call: `sha256=` + hex HMAC-SHA256(secret, `<timestamp>.<body>`). */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Only the origin of a URL appears in errors: user-info, path (Slack-style) and query may all hold tokens. */
function describeUrl(url: string): string {
  return new URL(url).origin;
}

function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** A short, safe reason for a failed fetch: the timeout or the Node network code, never the error's own text. */
function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: unknown; cause?: { code?: unknown } } | null;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `did not answer within ${timeoutMs} ms`;
  const code = e?.cause?.code;
  return `could not be reached${typeof code === 'string' && /^[A-Z_]+$/.test(code) ? ` (${code})` : ''}`;
}

/** Reads an optional `{grantedAt, endsAt}` answer; anything else (empty, not JSON, bad times) is ignored. */
function answeredTimes(text: string): { grantedAt?: string; endsAt?: string } {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const iso = (x: unknown) => (typeof x === 'string' && !Number.isNaN(Date.parse(x)) ? new Date(x).toISOString() : undefined);
    const out: { grantedAt?: string; endsAt?: string } = {};
    const g = iso(v?.grantedAt);
    const e = iso(v?.endsAt);
    if (g) out.grantedAt = g;
    if (e) out.endsAt = e;
    return out;
  } catch {
    return {};
  }
}

/**
 * A GrantProvider that delegates to the customer's HTTP endpoints, so any system can be plugged in. See
 * `WebhookGrantProviderOptions` for the wire contract and how to verify the signature.
 */
export function createWebhookGrantProvider(opts: WebhookGrantProviderOptions): GrantProvider {
  if (opts.secret.length < 16) throw new NonRetryableGrantError('webhook grant provider: secret must be at least 16 characters');
  for (const u of [opts.grantUrl, opts.revokeUrl, opts.extendUrl]) {
    if (u !== undefined && !URL.canParse(u)) throw new NonRetryableGrantError('webhook grant provider: a configured URL is not valid');
  }
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  const backoffMs = opts.backoffMs ?? 250;
  const clock = opts.clock ?? (() => new Date());

  /** POSTs one signed call with retries; returns the 2xx answer's body text. */
  async function call(url: string, idempotencyKey: string, payload: Record<string, string>): Promise<string> {
    const body = JSON.stringify(payload);
    const what = `webhook ${payload.action} for ${payload.requestId}: ${describeUrl(url)}`;
    for (let attempt = 1; ; attempt++) {
      let reason: string;
      let code: string | undefined;
      let waitMs = backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
      try {
        // A fresh timestamp per attempt, so a retry after a long backoff still falls in the receiver's window.
        const timestamp = String(Math.floor(clock().getTime() / 1000));
        const res = await fetch(url, {
          method: 'POST',
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
          headers: {
            'Content-Type': 'application/json',
            'Idempotency-Key': idempotencyKey,
            'X-Lockbox-Timestamp': timestamp,
            'X-Lockbox-Signature': webhookSignature(opts.secret, timestamp, body),
          },
          body,
        });
        if (res.ok) return await res.text();
        await res.body?.cancel().catch(() => undefined);
        code = String(res.status);
        reason = `answered HTTP ${res.status}`;
        if (!isRetryableStatus(res.status)) throw new NonRetryableGrantError(`${what} ${reason}`, code);
        const retryAfter = Number(res.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter > 0) waitMs = Math.min(Math.max(waitMs, retryAfter * 1000), 5_000);
      } catch (err) {
        if (err instanceof NonRetryableGrantError) throw err;
        reason = networkReason(err, timeoutMs);
      }
      if (attempt >= maxAttempts) throw new GrantTargetError(`${what} ${reason} (${attempt} attempts)`, code);
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }

  const provider: GrantProvider = {
    async grant(input: GrantInput): Promise<GrantResult> {
      checkDuration('webhook', input.durationMs);
      const grantedAt = clock();
      const endsAt = new Date(grantedAt.getTime() + input.durationMs).toISOString();
      const { requestId, tenant, resource, principal } = input;
      const answer = answeredTimes(
        await call(opts.grantUrl, `${requestId}:grant`, { action: 'grant', requestId, tenant, resource, principal, endsAt }),
      );
      return { grantedAt: answer.grantedAt ?? grantedAt.toISOString(), endsAt: answer.endsAt ?? endsAt };
    },
    async revoke({ requestId, revokedAt }): Promise<void> {
      await call(opts.revokeUrl, `${requestId}:revoke`, { action: 'revoke', requestId, revokedAt });
    },
  };
  const extendUrl = opts.extendUrl;
  if (extendUrl) {
    provider.extend = async ({ requestId, endsAt }) => {
      const iso = new Date(endsAt).toISOString();
      const answer = answeredTimes(await call(extendUrl, `${requestId}:extend:${iso}`, { action: 'extend', requestId, endsAt: iso }));
      return { endsAt: answer.endsAt ?? iso };
    };
  }
  return provider;
}
