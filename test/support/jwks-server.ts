import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { JWK } from 'jose';

/** A real JWKS endpoint on 127.0.0.1 that tests can stop, restart on the same port, and rotate keys on. */
export interface JwksServer {
  /** `http://127.0.0.1:<port>/.well-known/jwks.json` */
  url: string;
  /** How many times the key set was served. */
  readonly hits: number;
  setKeys(keys: JWK[]): void;
  /** Stops listening and drops open connections, as an IdP outage would. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

export async function startJwksServer(initialKeys: JWK[]): Promise<JwksServer> {
  let keys = initialKeys;
  let hits = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    hits++;
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys }));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get hits() {
      return hits;
    },
    setKeys(next) {
      keys = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
    start: () => listen(port),
  };
}
