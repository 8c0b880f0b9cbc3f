import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RECEIVER_HOST } from './outbound.js';
import { verifySignature } from '../../src/adapters/http-signing.js';
import type { AuditEvent } from '../../src/domain/audit.js';

/**
 * A SIEM's HTTP collector, the way a customer would write one: verifies the HMAC signature over the raw body
 * (401 otherwise), then stores each event by id, exactly once. A re-delivered event (same id) is not stored again,
 * only counted. `stop` closes the port (dropping open connections too); `start` again listens on the SAME port.
 */
export function siemReceiver(secret: string) {
  /** Stored events by id, in the order they were first stored. */
  const stored = new Map<string, AuditEvent>();
  /** Deliveries of an id already stored, per id. */
  const duplicates = new Map<string, number>();
  const stats = { batches: 0, badSignatures: 0 };
  let server: http.Server | null = null;
  let port = 0;

  const receiver = {
    stored,
    duplicates,
    stats,
    get port() {
      return port;
    },
    get url() {
      return `http://${RECEIVER_HOST}:${port}/siem/collect`;
    },
    get listening() {
      return server !== null;
    },
    /** Stored events of one request, in the order they arrived. */
    eventsOf(requestId: string): AuditEvent[] {
      return [...stored.values()].filter((e) => e.requestId === requestId);
    },
    duplicateCount(): number {
      return [...duplicates.values()].reduce((a, b) => a + b, 0);
    },
    async start(): Promise<void> {
      const s = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const ok = verifySignature({
            secret,
            body,
            timestamp: req.headers['x-lockbox-timestamp'] as string | undefined,
            signature: req.headers['x-lockbox-signature'] as string | undefined,
          });
          if (!ok) {
            stats.badSignatures += 1;
            res.writeHead(401).end();
            return;
          }
          let events: AuditEvent[];
          try {
            events = JSON.parse(body) as AuditEvent[];
            if (!Array.isArray(events)) throw new Error('not a batch');
          } catch {
            res.writeHead(400).end();
            return;
          }
          stats.batches += 1;
          for (const e of events) {
            if (stored.has(e.id)) duplicates.set(e.id, (duplicates.get(e.id) ?? 0) + 1);
            else stored.set(e.id, e);
          }
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
        });
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, RECEIVER_HOST, resolve);
      });
      port = (s.address() as AddressInfo).port;
      server = s;
    },
    async stop(): Promise<void> {
      const s = server;
      server = null;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  return receiver;
}
