/**
 * Issue 14, SSRF: a tenant admin chooses webhook URLs, so the worker must never become a proxy into its own host,
 * the cloud metadata service or the operator's private network. Against real HTTP servers: a "victim" listening on
 * 127.0.0.1 AND ::1 (what an attacker wants to reach) counts every request it gets, and must get none; the tests'
 * allowed receivers listen on 127.0.0.2, which is allow-listed as an operator would (LOCKBOX_OUTBOUND_ALLOW).
 * Non-loopback addresses (10.x, 169.254.169.254) are only ever refused before any connection: no traffic leaves.
 * Needs no stack: LOCKBOX_TEST_NO_STACK=1 npx vitest run test/security/ssrf.test.ts
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createWebhookGrantProvider, GrantTargetError, NonRetryableGrantError } from '../../src/adapters/grants/webhook-grant-provider.js';
import { createGuardedHttp, OutboundRefusedError, type GuardedHttp } from '../../src/adapters/http/guarded-http.js';
import { createWebhookNotifier } from '../../src/adapters/notify/webhook-notifier.js';
import { DeliveryError } from '../../src/adapters/http-signing.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { RECEIVER_HOST, receiverHttp } from '../support/outbound.js';

const MARKER = `RECEIVER-TEXT-${randomBytes(6).toString('hex')}`;
const SECRET = `whsec-${randomBytes(16).toString('hex')}`;

/** What a scripted receiver does with the next request. */
type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Server {
  port: number;
  hits: string[];
  behave: Behaviour;
  close(): Promise<void>;
}

async function serve(hosts: string[], port = 0): Promise<Server> {
  const hits: string[] = [];
  const server: Server = { port, hits, behave: (_q, r) => r.writeHead(200).end(), close: async () => undefined };
  const listeners: http.Server[] = [];
  for (const host of hosts) {
    const s = http.createServer((req, res) => {
      hits.push(`${req.method} ${host} ${req.headers.host} ${req.url}`);
      req.resume();
      req.on('end', () => server.behave(req, res));
    });
    await new Promise<void>((resolve, reject) => s.once('error', reject).listen(server.port, host, resolve));
    server.port = (s.address() as AddressInfo).port;
    listeners.push(s);
  }
  server.close = async () => {
    for (const s of listeners) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  };
  return server;
}

let victim: Server; // 127.0.0.1 and ::1, same port: what an attacker would like the worker to call
let receiver: Server; // 127.0.0.2: an allow-listed receiver
let allowed: GuardedHttp;
const failures: string[] = [];

beforeAll(async () => {
  victim = await serve(['127.0.0.1', '::1']);
  victim.behave = (_q, r) => r.writeHead(200, { 'Content-Type': 'application/json' }).end('{"secret":"internal admin data"}');
  receiver = await serve([RECEIVER_HOST]);
  allowed = receiverHttp({ onFailure: (reason) => failures.push(reason) });
});
afterAll(async () => {
  await victim.close();
  await receiver.close();
});
beforeEach(() => {
  victim.hits.length = 0;
  receiver.hits.length = 0;
  failures.length = 0;
  receiver.behave = (_q, r) => r.writeHead(200).end();
});

const refusal = async (p: Promise<unknown>): Promise<OutboundRefusedError> => {
  const err = await p.then(
    () => expect.fail('expected the call to be refused'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundRefusedError);
  return err as OutboundRefusedError;
};
const post = (client: GuardedHttp, url: string, extra: { timeoutMs?: number; maxResponseBytes?: number } = {}) =>
  client.request({ url, method: 'POST', body: '{"action":"grant"}', headers: { 'Content-Type': 'application/json' }, ...extra });

describe('the guarded outbound client refuses internal destinations before connecting', () => {
  const internal = () => [
    `http://127.0.0.1:${victim.port}/internal/admin`,
    `http://localhost:${victim.port}/internal/admin`, // a DNS name: /etc/hosts says 127.0.0.1
    `http://[::1]:${victim.port}/internal/admin`,
    `http://[::ffff:127.0.0.1]:${victim.port}/internal/admin`,
    `http://0.0.0.0:${victim.port}/internal/admin`, // Linux connects 0.0.0.0 to the loopback listener
    `http://2130706433:${victim.port}/`, // 127.0.0.1 as one decimal number
    `http://0x7f.1:${victim.port}/`, // and in hex, shortened
    `http://[64:ff9b::7f00:1]:${victim.port}/`, // NAT64 of 127.0.0.1
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://[::ffff:169.254.169.254]/latest/meta-data/',
    'http://10.1.2.3:8080/admin',
    'http://172.16.5.4/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://[fd00::1]/',
    'http://[fe80::1]/',
    'http://224.0.0.1/',
  ];

  it('refuses every loopback, private, link-local, metadata and reserved form, and the victim hears nothing', async () => {
    // Even the client that allow-lists 127.0.0.2 refuses 127.0.0.1: an exception is exactly what was listed.
    for (const client of [createGuardedHttp(), allowed]) {
      for (const url of internal()) {
        const started = Date.now();
        const err = await refusal(post(client, url));
        expect(err.reason, url).toBe('destination_refused');
        expect(Date.now() - started, `${url} was refused without waiting on a connection`).toBeLessThan(1_000);
      }
    }
    expect(victim.hits).toEqual([]);
    expect(failures).toEqual(internal().map(() => 'destination_refused'));
  });

  it('refuses a name that resolves to a public AND an internal address (all or nothing), connecting to neither', async () => {
    const client = createGuardedHttp({ resolve: async () => [{ address: '93.184.215.14', family: 4 }, { address: '127.0.0.1', family: 4 }] });
    const err = await refusal(post(client, `http://mixed.example:${victim.port}/`));
    expect(err.reason).toBe('destination_refused');
    expect(err.message).toBe(
      `http://mixed.example:${victim.port} refused: it resolves to 127.0.0.1, a loopback address (allow-list it in LOCKBOX_OUTBOUND_ALLOW if intended)`,
    );
    expect(victim.hits).toEqual([]);
  });

  it('connects to the address it checked, once resolved (no second lookup a rebinding DNS could answer differently)', async () => {
    const answers = [RECEIVER_HOST, '127.0.0.1'];
    let lookups = 0;
    const client = receiverHttp({ resolve: async () => [{ address: answers[lookups++]!, family: 4 }] });
    const res = await post(client, `http://rebind.example:${receiver.port}/hook`);
    expect(res.status).toBe(200);
    expect(lookups).toBe(1);
    // The checked address got the call, under the original name (Host header).
    expect(receiver.hits).toEqual([`POST ${RECEIVER_HOST} rebind.example:${receiver.port} /hook`]);
    expect(victim.hits).toEqual([]);
  });

  it('only http and https, without credentials in the URL', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.com/x', 'gopher://127.0.0.1:6379/_INFO', 'not a url', `http://user:${SECRET}@example.com/`]) {
      const err = await refusal(post(createGuardedHttp(), url));
      expect(err.reason, url).toBe('invalid_url');
      expect(err.message).not.toContain(SECRET);
    }
  });

  it('reaches an allow-listed receiver, and only with the allow-list', async () => {
    expect((await post(allowed, `http://${RECEIVER_HOST}:${receiver.port}/ok`)).status).toBe(200);
    expect((await refusal(post(createGuardedHttp(), `http://${RECEIVER_HOST}:${receiver.port}/ok`))).reason).toBe('destination_refused');
    expect(receiver.hits).toHaveLength(1);
  });
});

describe('what an allowed receiver can do is bounded', () => {
  it('a redirect to 127.0.0.1 is refused, not followed: the victim gets zero requests', async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      receiver.behave = (_q, r) => r.writeHead(status, { Location: `http://127.0.0.1:${victim.port}/internal/admin?${MARKER}` }).end(MARKER);
      const err = await refusal(post(allowed, `http://${RECEIVER_HOST}:${receiver.port}/hook`));
      expect(err).toMatchObject({ reason: 'redirect_refused', status });
      expect(err.message).not.toContain(MARKER);
      expect(err.message).not.toContain('/hook');
    }
    expect(receiver.hits).toHaveLength(5);
    expect(victim.hits).toEqual([]);
  });

  it('an answer over the limit is refused, with or without Content-Length', async () => {
    const big = `${MARKER}${'x'.repeat(70 * 1024)}`;
    receiver.behave = (_q, r) => r.writeHead(200, { 'Content-Type': 'text/plain' }).end(big);
    expect((await refusal(post(allowed, `http://${RECEIVER_HOST}:${receiver.port}/big`))).reason).toBe('response_too_large'); // default 64 KiB
    receiver.behave = (_q, r) => {
      r.writeHead(200, { 'Content-Type': 'text/plain' }); // chunked: the size is only known while reading
      for (let i = 0; i < 8; i++) r.write('y'.repeat(512));
      r.end();
    };
    const err = await refusal(post(allowed, `http://${RECEIVER_HOST}:${receiver.port}/chunked`, { maxResponseBytes: 1_000 }));
    expect(err.reason).toBe('response_too_large');
    expect(err.message).toBe(`http://${RECEIVER_HOST}:${receiver.port} answered more than 1000 bytes`);
    expect((await post(allowed, `http://${RECEIVER_HOST}:${receiver.port}/chunked`, { maxResponseBytes: 4_096 })).body).toHaveLength(4_096);
  });

  it('a slow receiver times out: one that never answers, and one that trickles its answer', async () => {
    receiver.behave = () => undefined;
    let started = Date.now();
    expect((await refusal(post(allowed, `http://${RECEIVER_HOST}:${receiver.port}/hang`, { timeoutMs: 300 }))).reason).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(1_500);
    receiver.behave = (_q, r) => {
      r.writeHead(200, { 'Content-Type': 'text/plain' });
      const drip = setInterval(() => (r.writableEnded || r.destroyed ? clearInterval(drip) : r.write('.')), 50);
      r.on('close', () => clearInterval(drip));
    };
    started = Date.now();
    expect((await refusal(post(allowed, `http://${RECEIVER_HOST}:${receiver.port}/drip`, { timeoutMs: 400 }))).reason).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(failures).toEqual(['timeout', 'timeout']);
  });
});

describe('the webhook grant provider goes through the guard', () => {
  const input = () => ({ requestId: `req-contoso-${randomBytes(6).toString('hex')}`, tenant: 'contoso', resource: 'app:billing', principal: 'eve@lockbox.dev', durationMs: 60_000 });
  const provider = (base: string, http?: GuardedHttp) =>
    createWebhookGrantProvider({ grantUrl: `${base}/grant?token=${SECRET}`, revokeUrl: `${base}/revoke`, extendUrl: `${base}/extend`, secret: SECRET, timeoutMs: 1_000, backoffMs: 10, http });
  const failure = async (p: Promise<unknown>) => (await p.then(() => expect.fail('expected a failure'), (e: unknown) => e)) as GrantTargetError;

  it('refuses 127.0.0.1, localhost, [::1] and the metadata address for good, saying only the reason code', async () => {
    for (const base of [`http://127.0.0.1:${victim.port}`, `http://localhost:${victim.port}`, `http://[::1]:${victim.port}`, 'http://169.254.169.254']) {
      const err = await failure(provider(base).grant(input()));
      expect(err).toBeInstanceOf(NonRetryableGrantError);
      expect(err).toMatchObject({ message: 'webhook grant: destination_refused', code: 'destination_refused', nonRetryable: true });
    }
    expect(victim.hits).toEqual([]);
  });

  it('a receiver\'s text never reaches the error: refusals, outages, redirects and bad answers become fixed codes', async () => {
    const base = `http://${RECEIVER_HOST}:${receiver.port}`;
    const cases: Array<[Behaviour, string]> = [
      [(_q, r) => r.writeHead(403, { 'Content-Type': 'text/plain' }).end(`denied: ${MARKER}`), 'webhook grant: target_refused (HTTP 403)'],
      [(_q, r) => r.writeHead(503, { 'Content-Type': 'application/json' }).end(`{"error":"${MARKER}"}`), 'webhook grant: target_unavailable (HTTP 503, 3 attempts)'],
      [(_q, r) => r.writeHead(302, { Location: `http://127.0.0.1:${victim.port}/${MARKER}` }).end(MARKER), 'webhook grant: redirect_refused (HTTP 302)'],
      [(_q, r) => r.writeHead(200, { 'Content-Type': 'application/json' }).end(`not json ${MARKER}`), 'webhook grant: target_invalid_answer'],
      [(_q, r) => r.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ endsAt: MARKER })), 'webhook grant: target_invalid_answer'],
      [(_q, r) => r.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ endsAt: 42 })), 'webhook grant: target_invalid_answer'],
      [(_q, r) => r.writeHead(200, { 'Content-Type': 'application/json' }).end(`{"endsAt":"${'9'.repeat(20 * 1024)}"}`), 'webhook grant: response_too_large'],
    ];
    for (const [behave, message] of cases) {
      receiver.behave = behave;
      const err = await failure(provider(base, allowed).grant(input()));
      expect(err.message).toBe(message);
      expect(`${err.message}\n${err.stack}\n${JSON.stringify(err)}`).not.toContain(MARKER);
      expect(err.message).not.toContain(SECRET);
    }
    expect(victim.hits).toEqual([]);
  });

  it('clamps an endsAt beyond the approved window to it; an earlier one stands', async () => {
    const base = `http://${RECEIVER_HOST}:${receiver.port}`;
    const now = new Date('2030-01-01T09:00:00.000Z');
    const clock = () => now;
    let answer: Record<string, string> = {};
    receiver.behave = (_q, r) => r.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
    const p = createWebhookGrantProvider({ grantUrl: `${base}/grant`, revokeUrl: `${base}/revoke`, extendUrl: `${base}/extend`, secret: SECRET, clock, http: allowed });

    answer = { grantedAt: '2030-01-01T09:00:00Z', endsAt: '2099-01-01T00:00:00Z' };
    expect(await p.grant({ ...input(), durationMs: 3_600_000 })).toEqual({ grantedAt: '2030-01-01T09:00:00.000Z', endsAt: '2030-01-01T10:00:00.000Z' });
    answer = { endsAt: '2030-01-01T09:30:00+00:00' };
    expect(await p.grant({ ...input(), durationMs: 3_600_000 })).toEqual({ grantedAt: '2030-01-01T09:00:00.000Z', endsAt: '2030-01-01T09:30:00.000Z' });
    // Extend: never past the end the extension approved.
    answer = { endsAt: '2099-01-01T00:00:00Z' };
    expect(await p.extend!({ requestId: input().requestId, endsAt: '2030-01-01T12:00:00.000Z' })).toEqual({ endsAt: '2030-01-01T12:00:00.000Z' });
    // A record that makes no sense (ends before it began, or begins after the window) is refused, not believed.
    answer = { grantedAt: '2030-01-01T09:00:00Z', endsAt: '2029-01-01T00:00:00Z' };
    expect((await failure(p.grant(input()))).message).toBe('webhook grant: target_invalid_answer');
    answer = { grantedAt: '2099-01-01T00:00:00Z' };
    expect((await failure(p.grant(input()))).message).toBe('webhook grant: target_invalid_answer');
  });
});

describe('notifications and the audit HTTP sink go through the guard too', () => {
  it('a signed webhook notifier aimed at 127.0.0.1 is refused before sending', async () => {
    const n = createWebhookNotifier({ url: `http://127.0.0.1:${victim.port}/hooks/${SECRET}`, secret: SECRET });
    const err = await n
      .notify({ id: 'n1', recipient: 'alice@contoso.com', tenant: 'contoso', requestId: 'req-1', kind: 'approval_needed', subject: 's', body: 'b', createdAt: new Date().toISOString() })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ reason: 'destination_refused', message: `webhook delivery to http://127.0.0.1:${victim.port} failed: destination_refused` });
    expect(victim.hits).toEqual([]);
  });
});

describe('LOCKBOX_OUTBOUND_ALLOW', () => {
  it('takes host names, host:port, IPs, ip:port and CIDR ranges, and names the variable when an entry is bad', () => {
    const config = loadConfig({ LOCKBOX_OUTBOUND_ALLOW: ' siem.corp.example, hooks.internal:8443 ,127.0.0.2,[::1]:9000, 10.20.0.0/16, fd00:ab::/32 ,' });
    expect(config.outboundAllow.map((e) => e.kind)).toEqual(['host', 'host', 'ip', 'ip', 'range', 'range']);
    expect(loadConfig({}).outboundAllow).toEqual([]);
    for (const bad of ['http://siem.example', '10.0.0.0/33', 'bad host', '*.corp.example', 'host:99999', '300.1.1.1/8']) {
      expect(() => loadConfig({ LOCKBOX_OUTBOUND_ALLOW: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ LOCKBOX_OUTBOUND_ALLOW: bad }), bad).toThrow(/LOCKBOX_OUTBOUND_ALLOW: ".*" is not a host name/);
    }
  });

  it('an allow-listed name, port or range opens exactly that', async () => {
    const allow = (text: string) => {
      const entries = loadConfig({ LOCKBOX_OUTBOUND_ALLOW: text }).outboundAllow;
      return createGuardedHttp({ allow: entries, resolve: async () => [{ address: RECEIVER_HOST, family: 4 }] });
    };
    const at = (host: string) => `http://${host}:${receiver.port}/x`;
    expect((await post(allow('hooks.internal'), at('hooks.internal'))).status).toBe(200);
    expect((await post(allow(`hooks.internal:${receiver.port}`), at('HOOKS.internal.'))).status).toBe(200);
    expect((await refusal(post(allow(`hooks.internal:${receiver.port + 1}`), at('hooks.internal')))).reason).toBe('destination_refused');
    expect((await refusal(post(allow('other.internal'), at('hooks.internal')))).reason).toBe('destination_refused');
    expect((await post(allow('127.0.0.0/30'), at('hooks.internal'))).status).toBe(200);
    expect((await post(allow('::ffff:127.0.0.0/126'), at(RECEIVER_HOST))).status).toBe(200);
    expect((await refusal(post(allow('127.0.0.0/31'), at(RECEIVER_HOST)))).reason).toBe('destination_refused');
    expect(victim.hits).toEqual([]);
  });
});
