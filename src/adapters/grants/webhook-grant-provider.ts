import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { createGuardedHttp, OutboundReason, OutboundRefusedError, type GuardedHttp, type OutboundResponse } from '../http/guarded-http.js';
import { windowEnd, type GrantInput, type GrantProvider, type GrantResult } from '../../ports/grant-provider.js';
import { checkDuration, GrantTargetError, NonRetryableGrantError } from './errors.js';
import { listedRequestIds, MAX_LIST_ANSWER_BYTES } from './webhook-list.js';

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
 * `{action:"revoke", requestId, revokedAt}`; extend `{action:"extend", requestId, endsAt}`; list `{action:"list"}`
 * (`Idempotency-Key: list:<unix ms>`; a read). Times are ISO-8601 UTC.
 * The receiver must itself end access at `endsAt`, even if the revoke never arrives.
 *
 * Answers: any 2xx is success; for grant and extend it may carry JSON `{grantedAt?, endsAt?}` (ISO-8601 with a
 * zone, `Content-Type: application/json`, at most 16 KiB), the receiver's own record (so a repeated grant returns
 * the first one's times). An `endsAt` later than the approved one is cut back to it; a JSON answer of another
 * shape fails the call (`target_invalid_answer`). The list call must answer JSON `{grants: [{requestId}, ...]}`
 * (at most 1 MiB and 10,000 entries; `webhook-list.ts`), every grant the receiver holds that Lockbox made. 408, 429, 5xx and network errors are retried a few times here
 * with backoff (Temporal retries the activity beyond that); any other status fails at once with
 * `NonRetryableGrantError`. Redirects are not followed. Errors carry only a reason code from `WebhookFailure`
 * or `OutboundReason` and an HTTP status, never what the receiver said.
 */
export interface WebhookGrantProviderOptions {
  grantUrl: string;
  revokeUrl: string;
  /** Without it the provider has no `extend`. */
  extendUrl?: string;
  /** Without it the provider has no `listGranted`, and the reconciler reports the target as not reconcilable. */
  listUrl?: string;
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
  /** The guarded outbound client (operator exceptions included); default one with no exceptions. */
  http?: GuardedHttp;
}

/** The signature header value for a call: `sha256=` + hex HMAC-SHA256(secret, `<timestamp>.<body>`). */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * The fixed reasons a webhook call fails with. Only these (with an HTTP status or a Node error code) reach the
 * error message, and so the audit trail, notifications and the API: never the receiver's own text.
 */
export const WebhookFailure = {
  /** 4xx other than 408/429: the receiver said no; not retried. */
  refused: 'target_refused',
  /** 5xx, 408, 429 after every attempt. */
  unavailable: 'target_unavailable',
  /** No connection (refused, DNS, TLS) after every attempt. */
  unreachable: 'target_unreachable',
  /** No answer in time after every attempt. */
  timeout: 'target_timeout',
  /** A 2xx whose JSON answer is not `{grantedAt?, endsAt?}` with sane times; not retried (the clean-up revokes). */
  invalidAnswer: 'target_invalid_answer',
} as const;

/** Answers longer than this are refused: the answer is two timestamps. */
const MAX_ANSWER_BYTES = 16 * 1024;

function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** The receiver's optional record of the grant. Extra fields are allowed and ignored. */
const Answer = z.object({
  grantedAt: z.iso.datetime({ offset: true }).optional(),
  endsAt: z.iso.datetime({ offset: true }).optional(),
});

/**
 * Reads a 2xx answer: an empty body or a non-JSON content type means "no record"; a JSON body must match `Answer`,
 * else the call fails with `target_invalid_answer` (what the answer said is not repeated).
 */
function answeredTimes(what: string, res: OutboundResponse): { grantedAt?: string; endsAt?: string } {
  const type = String(res.headers['content-type'] ?? '');
  if (res.body.length === 0 || !/^application\/([\w.+-]*\+)?json\b/i.test(type)) return {};
  let json: unknown;
  try {
    json = JSON.parse(res.body.toString('utf8'));
  } catch {
    throw new NonRetryableGrantError(`${what}: ${WebhookFailure.invalidAnswer}`, WebhookFailure.invalidAnswer);
  }
  const parsed = Answer.safeParse(json);
  if (!parsed.success) throw new NonRetryableGrantError(`${what}: ${WebhookFailure.invalidAnswer}`, WebhookFailure.invalidAnswer);
  const iso = (t: string | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
  return { grantedAt: iso(parsed.data.grantedAt), endsAt: iso(parsed.data.endsAt) };
}

/** The receiver's end time, never later than what was approved (`latest`); a receiver cannot widen the window. */
function clampEnd(what: string, answered: string | undefined, latest: string, grantedAt?: string): string {
  if (answered === undefined) return latest;
  if (grantedAt !== undefined && Date.parse(answered) < Date.parse(grantedAt)) {
    throw new NonRetryableGrantError(`${what}: ${WebhookFailure.invalidAnswer}`, WebhookFailure.invalidAnswer);
  }
  return Date.parse(answered) > Date.parse(latest) ? latest : answered;
}

/**
 * A GrantProvider that delegates to the customer's HTTP endpoints, so any system can be plugged in. See
 * `WebhookGrantProviderOptions` for the wire contract and how to verify the signature. Every call goes through
 * the guarded outbound client: a URL that resolves to loopback, private or metadata addresses is refused before
 * anything is sent, unless the operator allow-listed it.
 */
export function createWebhookGrantProvider(opts: WebhookGrantProviderOptions): GrantProvider {
  if (opts.secret.length < 16) throw new NonRetryableGrantError('webhook grant provider: secret must be at least 16 characters');
  for (const u of [opts.grantUrl, opts.revokeUrl, opts.extendUrl, opts.listUrl]) {
    if (u !== undefined && !URL.canParse(u)) throw new NonRetryableGrantError('webhook grant provider: a configured URL is not valid');
  }
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  const backoffMs = opts.backoffMs ?? 250;
  const clock = opts.clock ?? (() => new Date());
  const http = opts.http ?? createGuardedHttp();

  /** POSTs one signed call with retries; returns the 2xx answer. */
  async function call(url: string, idempotencyKey: string, payload: Record<string, string>, maxResponseBytes = MAX_ANSWER_BYTES): Promise<OutboundResponse> {
    const body = JSON.stringify(payload);
    const what = `webhook ${payload.action}`;
    for (let attempt = 1; ; attempt++) {
      let reason: string;
      let detail: string;
      let code: string | undefined;
      let waitMs = backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
      try {
        // A fresh timestamp per attempt, so a retry after a long backoff still falls in the receiver's window.
        const timestamp = String(Math.floor(clock().getTime() / 1000));
        const res = await http.request({
          url,
          method: 'POST',
          timeoutMs,
          maxResponseBytes,
          headers: {
            'Content-Type': 'application/json',
            'Idempotency-Key': idempotencyKey,
            'X-Lockbox-Timestamp': timestamp,
            'X-Lockbox-Signature': webhookSignature(opts.secret, timestamp, body),
          },
          body,
        });
        if (res.status >= 200 && res.status <= 299) return res;
        code = String(res.status);
        if (!isRetryableStatus(res.status)) throw new NonRetryableGrantError(`${what}: ${WebhookFailure.refused} (HTTP ${res.status})`, code);
        reason = WebhookFailure.unavailable;
        detail = `HTTP ${res.status}`;
        const retryAfter = Number(res.headers['retry-after']);
        if (Number.isFinite(retryAfter) && retryAfter > 0) waitMs = Math.min(Math.max(waitMs, retryAfter * 1000), 5_000);
      } catch (err) {
        if (err instanceof NonRetryableGrantError) throw err;
        if (!(err instanceof OutboundRefusedError)) throw err;
        if (err.reason === OutboundReason.timeout) {
          reason = WebhookFailure.timeout;
          detail = `no answer within ${timeoutMs} ms`;
        } else if (err.reason === OutboundReason.unreachable) {
          reason = WebhookFailure.unreachable;
          detail = err.code ?? 'no connection';
        } else {
          // Refused by the outbound rules (destination, redirect, size): the same every time, so not retried.
          const status = err.reason === OutboundReason.redirectRefused ? ` (HTTP ${err.status})` : '';
          throw new NonRetryableGrantError(`${what}: ${err.reason}${status}`, err.reason);
        }
      }
      if (attempt >= maxAttempts) throw new GrantTargetError(`${what}: ${reason} (${detail}, ${attempt} attempts)`, code);
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }

  const provider: GrantProvider = {
    async grant(input: GrantInput): Promise<GrantResult> {
      checkDuration('webhook', input.durationMs);
      const grantedAt = clock();
      // The approved window: whatever the receiver answers, access recorded here never ends later than this.
      const endsAt = windowEnd(grantedAt, input).toISOString();
      const { requestId, tenant, resource, principal } = input;
      const res = await call(opts.grantUrl, `${requestId}:grant`, { action: 'grant', requestId, tenant, resource, principal, endsAt });
      const answer = answeredTimes('webhook grant', res);
      const at = answer.grantedAt ?? grantedAt.toISOString();
      // A grant "made" after the approved window ends is no record of this grant.
      if (Date.parse(at) > Date.parse(endsAt)) throw new NonRetryableGrantError(`webhook grant: ${WebhookFailure.invalidAnswer}`, WebhookFailure.invalidAnswer);
      return { grantedAt: at, endsAt: clampEnd('webhook grant', answer.endsAt, endsAt, at) };
    },
    async revoke({ requestId, revokedAt }): Promise<void> {
      await call(opts.revokeUrl, `${requestId}:revoke`, { action: 'revoke', requestId, revokedAt });
    },
  };
  const extendUrl = opts.extendUrl;
  if (extendUrl) {
    provider.extend = async ({ requestId, endsAt }) => {
      const iso = new Date(endsAt).toISOString();
      const res = await call(extendUrl, `${requestId}:extend:${iso}`, { action: 'extend', requestId, endsAt: iso });
      return { endsAt: clampEnd('webhook extend', answeredTimes('webhook extend', res).endsAt, iso) };
    };
  }
  const listUrl = opts.listUrl;
  if (listUrl) {
    provider.listGranted = async () => {
      const res = await call(listUrl, `list:${clock().getTime()}`, { action: 'list' }, MAX_LIST_ANSWER_BYTES);
      return listedRequestIds(res, WebhookFailure.invalidAnswer);
    };
  }
  return provider;
}
