import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RECEIVER_HOST } from '../support/outbound.js';

export interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** What the receiver answers: a status code, or 'hang' to never answer (a stuck SIEM). */
export type Respond = (r: Received) => number | 'hang';

/**
 * A real HTTP receiver on 127.0.0.2 (allow-listed, see support/outbound.ts) that records every request. `stop`
 * drops open connections too, so the port is really closed; `start` again reuses the same port, as a receiver
 * coming back would.
 */
export function httpReceiver(respond: Respond = () => 200) {
  const received: Received[] = [];
  let server: http.Server | null = null;
  let port = 0;
  const receiver = {
    received,
    respond,
    get port() {
      return port;
    },
    url: (path = '/ingest') => `http://${RECEIVER_HOST}:${port}${path}`,
    async start(): Promise<void> {
      const s = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const r = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
          received.push(r);
          const status = receiver.respond(r);
          if (status === 'hang') return;
          res.writeHead(status, { 'Content-Type': 'application/json' }).end('{"text":"echo"}');
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
