import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createWebhookGrantProvider,
  GrantTargetError,
  NonRetryableGrantError,
  webhookSignature,
  type WebhookGrantProviderOptions,
} from '../../src/adapters/grants/webhook-grant-provider.js';
import { MAX_LIST_ANSWER_BYTES, MAX_LISTED_GRANTS } from '../../src/adapters/grants/webhook-list.js';
import { findFreePort } from '../../src/dev/dev-server.js';
import { ulid } from 'ulid';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';
import { receiverHttp } from '../support/outbound.js';

const SECRET = `whsec-${randomBytes(24).toString('hex')}`;
let receiver: WebhookReceiver;

const input = (requestId = `req-contoso-${randomBytes(6).toString('hex')}`) => ({ requestId, tenant: 'contoso', resource: 'app:billing', principal: 'eve@lockbox.dev', durationMs: 60_000 });
const provider = (over: Partial<WebhookGrantProviderOptions> = {}) =>
  createWebhookGrantProvider({
    grantUrl: `${receiver.url}/grant`,
    revokeUrl: `${receiver.url}/revoke`,
    extendUrl: `${receiver.url}/extend`,
    listUrl: `${receiver.url}/list`,
    secret: SECRET,
    timeoutMs: 1_000,
    backoffMs: 10,
    http: receiverHttp(),
    ...over,
  });
const failure = (p: Promise<unknown>) => p.then(() => expect.fail('expected a failure'), (e: unknown) => e as GrantTargetError);
/** Nothing that identifies the secret may be in an error, in any form it could take. */
const expectNoSecret = (err: Error) => {
  const text = `${err.message}\n${err.stack}\n${JSON.stringify(err)}`;
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(SECRET.slice(6, 30));
};

beforeAll(async () => {
  receiver = await startWebhookReceiver(SECRET);
});
afterAll(async () => {
  await receiver.close();
});
beforeEach(() => {
  receiver.calls.length = 0;
  receiver.script.length = 0;
});

describe('webhook grant provider', () => {
  it('signs timestamp + "." + raw body with HMAC-SHA256, as documented', async () => {
    const { requestId } = input();
    await provider().grant(input(requestId));
    const call = receiver.calls[0]!;
    expect(call.verified).toBe(true);
    const ts = String(call.headers['x-lockbox-timestamp']);
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(5);
    const mine = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${call.body}`).digest('hex')}`;
    expect(call.headers['x-lockbox-signature']).toBe(mine);
    expect(webhookSignature(SECRET, ts, call.body)).toBe(mine);
    expect(JSON.parse(call.body)).toMatchObject({ action: 'grant', requestId, tenant: 'contoso', resource: 'app:billing', principal: 'eve@lockbox.dev' });
    expect(call.headers['content-type']).toBe('application/json');
  });

  it('sends an idempotency key per request and action, and a repeated grant gets the first answer', async () => {
    const p = provider();
    const { requestId } = input();
    const first = await p.grant(input(requestId));
    expect(await p.grant(input(requestId))).toEqual(first);
    await p.extend!({ requestId, endsAt: '2031-01-01T00:00:00Z' });
    await p.revoke({ requestId, revokedAt: new Date().toISOString() });
    expect(receiver.calls.map((c) => c.headers['idempotency-key'])).toEqual([
      `${requestId}:grant`,
      `${requestId}:grant`,
      `${requestId}:extend:2031-01-01T00:00:00.000Z`,
      `${requestId}:revoke`,
    ]);
  });

  it('retries 503 and 429, then succeeds', async () => {
    receiver.script.push(503, 429, 503);
    const { requestId } = input();
    await provider({ maxAttempts: 4 }).grant(input(requestId));
    expect(receiver.calls.map((c) => c.status)).toEqual([503, 429, 503, 201]);
    expect(receiver.hasAccess(requestId)).toBe(true);
  });

  it('gives up after maxAttempts with a retryable error', async () => {
    receiver.script.push(500, 502, 503);
    const err = await failure(provider({ maxAttempts: 3 }).grant(input()));
    expect(err).toBeInstanceOf(GrantTargetError);
    expect(err.nonRetryable).toBe(false);
    expect(err.code).toBe('503');
    expect(err.message).toBe('webhook grant: target_unavailable (HTTP 503, 3 attempts)');
    expect(receiver.calls).toHaveLength(3);
    expectNoSecret(err);
  });

  it('does not retry a 400 and says so with NonRetryableGrantError', async () => {
    receiver.script.push(400, 400);
    const err = await failure(provider().grant(input()));
    expect(err).toBeInstanceOf(NonRetryableGrantError);
    expect(err).toMatchObject({ name: 'NonRetryableGrantError', nonRetryable: true, code: '400' });
    expect(err.message).toBe('webhook grant: target_refused (HTTP 400)');
    expect(receiver.calls).toHaveLength(1);
    expectNoSecret(err);
  });

  it('a wrong secret is refused by the receiver (401), not retried, and the error holds neither secret', async () => {
    const wrong = `wrong-${randomBytes(16).toString('hex')}`;
    const err = await failure(provider({ secret: wrong }).grant(input()));
    expect(receiver.calls[0]!.verified).toBe(false);
    expect(err).toMatchObject({ nonRetryable: true, code: '401' });
    expect(err.message).not.toContain(wrong);
    expectNoSecret(err);
  });

  it('enforces the per-attempt timeout against a receiver that never answers', async () => {
    receiver.script.push('hang', 'hang');
    const started = Date.now();
    const err = await failure(provider({ timeoutMs: 300, maxAttempts: 2 }).grant(input()));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(GrantTargetError);
    expect(err.nonRetryable).toBe(false);
    expect(err.message).toBe('webhook grant: target_timeout (no answer within 300 ms, 2 attempts)');
    expect(receiver.calls).toHaveLength(2);
    expectNoSecret(err);
  });

  it('reports an unreachable receiver as retryable, without the URL\'s path or query', async () => {
    const closedPort = await findFreePort(); // free a moment ago, nobody listens (fetch refuses port 1 outright)
    const err = await failure(
      provider({ grantUrl: `http://127.0.0.2:${closedPort}/hooks/${SECRET}/grant?token=${SECRET}`, maxAttempts: 2 }).grant(input()),
    );
    expect(err.nonRetryable).toBe(false);
    expect(err.message).toBe('webhook grant: target_unreachable (ECONNREFUSED, 2 attempts)');
    expectNoSecret(err);
  });

  it('extend on a request the receiver does not know fails for good; revoke of it succeeds', async () => {
    const { requestId } = input();
    const p = provider();
    await expect(p.extend!({ requestId, endsAt: new Date().toISOString() })).rejects.toBeInstanceOf(NonRetryableGrantError);
    await expect(p.revoke({ requestId, revokedAt: new Date().toISOString() })).resolves.toBeUndefined();
    expect(provider({ extendUrl: undefined }).extend).toBeUndefined();
  });

  it('refuses a short secret at construction, without echoing it', () => {
    expect(() => createWebhookGrantProvider({ grantUrl: receiver.url, revokeUrl: receiver.url, secret: 'tiny-secret' })).toThrow(/at least 16/);
  });
});

describe('webhook list call (what the reconciler reads)', () => {
  const lockboxId = () => `req-contoso-${ulid()}`;
  // Earlier tests' ids are not Lockbox's shape, which a list answer must never carry.
  beforeEach(() => receiver.grants.clear());
  const json = (body: unknown) => ({ status: 200, headers: { 'Content-Type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('is a signed POST {action:"list"} answered with the receiver\'s grants, each id once', async () => {
    const p = provider();
    const [a, b] = [lockboxId(), lockboxId()];
    await p.grant(input(a));
    await p.grant(input(b));
    const listed = await p.listGranted!();
    expect(listed).toEqual(expect.arrayContaining([a, b]));
    const call = receiver.calls.at(-1)!;
    expect(call).toMatchObject({ path: '/list', verified: true });
    expect(JSON.parse(call.body)).toEqual({ action: 'list' });
    expect(call.headers['idempotency-key']).toMatch(/^list:\d+$/);
    receiver.script.push(json({ grants: [{ requestId: a, endsAt: 'whatever' }, { requestId: a }] }));
    expect(await p.listGranted!()).toEqual([a]);
    expect(provider({ listUrl: undefined }).listGranted).toBeUndefined();
  });

  it.each([
    ['not JSON', { status: 200, headers: { 'Content-Type': 'application/json' }, body: '{"grants": [' }],
    ['JSON of another shape', json({ requests: [] })],
    ['an id that is no Lockbox request id', json({ grants: [{ requestId: "req-contoso-x'; DROP ROLE postgres; --" }] })],
    ['an id that is not a string', json({ grants: [{ requestId: 42 }] })],
    ['more entries than allowed', json({ grants: Array.from({ length: MAX_LISTED_GRANTS + 1 }, () => ({ requestId: 'req-contoso-01JAAAAAAAAAAAAAAAAAAAAAAA' })) })],
    ['no JSON content type', { status: 200, headers: { 'Content-Type': 'text/plain' }, body: '{"grants": []}' }],
  ])('refuses a malformed answer (%s), without retrying or repeating it', async (_what, answer) => {
    receiver.script.push(answer);
    const err = await failure(provider().listGranted!());
    expect(err).toBeInstanceOf(NonRetryableGrantError);
    expect(err.message).toBe('webhook list: target_invalid_answer');
    expect(receiver.calls).toHaveLength(1);
  });

  it('refuses an answer over 1 MiB, and a redirect to an internal address, naming the rule', async () => {
    receiver.script.push(json({ grants: [], pad: 'x'.repeat(MAX_LIST_ANSWER_BYTES) }));
    const big = await failure(provider().listGranted!());
    expect(big).toBeInstanceOf(NonRetryableGrantError);
    expect(big.message).toBe('webhook list: response_too_large');

    receiver.script.push({ status: 302, headers: { Location: 'http://169.254.169.254/latest/meta-data/' } });
    const moved = await failure(provider().listGranted!());
    expect(moved).toBeInstanceOf(NonRetryableGrantError);
    expect(moved.message).toBe('webhook list: redirect_refused (HTTP 302)');
    // Neither was followed or retried: two calls, both to /list.
    expect(receiver.calls.map((c) => c.path)).toEqual(['/list', '/list']);
  });
});
