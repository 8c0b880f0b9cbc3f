import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RECEIVER_HOST } from '../support/outbound.js';

/** One call as the receiver saw it. */
export interface ReceivedCall {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Whether the HMAC signature and timestamp checked out. */
  verified: boolean;
  status: number;
}

/** A scripted answer for the next call: an HTTP status, 'hang' (never answer), or a raw answer (hostile ones). */
export type Scripted = number | 'hang' | { status: number; headers?: Record<string, string>; body?: string };

/**
 * A customer's grant system as a real HTTP server: verifies signatures the way the provider's documentation tells
 * customers to (independently of the provider's code), keeps grants in a Map, answers repeats idempotently, and
 * denies access after `endsAt` on its own.
 */
export interface WebhookReceiver {
  url: string;
  grants: Map<string, { grantedAt: string; endsAt: string; principal: string }>;
  calls: ReceivedCall[];
  /** Answers queued here are used, in order, before normal handling. */
  script: Scripted[];
  hasAccess(requestId: string): boolean;
  close(): Promise<void>;
}

function verify(secret: string, headers: IncomingHttpHeaders, raw: string): boolean {
  const ts = String(headers['x-lockbox-timestamp'] ?? '');
  const sig = String(headers['x-lockbox-signature'] ?? '');
  if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${ts}.${raw}`).digest('hex')}`);
  const given = Buffer.from(sig);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const grants: WebhookReceiver['grants'] = new Map();
  const calls: ReceivedCall[] = [];
  const script: Scripted[] = [];
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(body === undefined ? '' : JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const call: ReceivedCall = { path: req.url ?? '', headers: req.headers, body: raw, verified: verify(secret, req.headers, raw), status: 0 };
      calls.push(call);
      const next = script.shift();
      if (next === 'hang') return; // never answers; the provider's timeout must end it
      const answer = (status: number, body?: unknown) => {
        call.status = status;
        send(res, status, body);
      };
      if (typeof next === 'object') {
        call.status = next.status;
        res.writeHead(next.status, next.headers ?? {}).end(next.body ?? '');
        return;
      }
      if (next !== undefined) return answer(next);
      if (!call.verified) return answer(401, { error: 'bad signature' });
      const msg = JSON.parse(raw) as { action: string; requestId: string; endsAt?: string; principal?: string };
      const existing = grants.get(msg.requestId);
      if (req.url === '/grant' && msg.action === 'grant') {
        // Idempotent: a repeat gets the first grant's record back and changes nothing.
        const g = existing ?? { grantedAt: new Date().toISOString(), endsAt: msg.endsAt ?? '', principal: msg.principal ?? '' };
        grants.set(msg.requestId, g);
        return answer(existing ? 200 : 201, g);
      }
      if (req.url === '/revoke' && msg.action === 'revoke') {
        grants.delete(msg.requestId);
        return answer(204);
      }
      if (req.url === '/extend' && msg.action === 'extend') {
        if (!existing) return answer(404, { error: 'no such grant' });
        existing.endsAt = msg.endsAt ?? existing.endsAt;
        return answer(200, existing);
      }
      if (req.url === '/list' && msg.action === 'list') {
        // What the receiver holds, ended or not (the reconciler revokes what nobody owns; an ended one too).
        return answer(200, { grants: [...grants].map(([requestId, g]) => ({ requestId, endsAt: g.endsAt })) });
      }
      return answer(400, { error: 'unknown action' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, RECEIVER_HOST, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${RECEIVER_HOST}:${port}`,
    grants,
    calls,
    script,
    hasAccess(requestId) {
      const g = grants.get(requestId);
      return g !== undefined && Date.parse(g.endsAt) > Date.now();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
