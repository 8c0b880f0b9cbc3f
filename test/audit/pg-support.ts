import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';

/** The machine's PostgreSQL (trust auth for postgres on 127.0.0.1). */
export const PG_HOST = '127.0.0.1';
export const PG_PORT = 5432;
const ADMIN_URL = `postgres://postgres@${PG_HOST}:${PG_PORT}/test`;

/** A fresh schema for one test file, and URLs that select it (through another port, e.g. a proxy, if given). */
export async function freshSchema(): Promise<{ schema: string; url: (port?: number) => string; admin: pg.Client; drop: () => Promise<void> }> {
  const schema = `lockbox_audit_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(`SET search_path TO ${schema}`);
  return {
    schema,
    admin,
    url: (port = PG_PORT) => `postgres://postgres@${PG_HOST}:${port}/test?options=-csearch_path%3D${schema}`,
    async drop() {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

/** A free TCP port on 127.0.0.1 that nothing listens on (until someone does). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A TCP proxy on `port` to PostgreSQL: stopping it drops every connection and refuses new ones, which to a client
 * is PostgreSQL going away; starting it again on the same port is PostgreSQL coming back.
 */
export function tcpProxy(port: number): { start: () => Promise<void>; stop: () => Promise<void> } {
  let server: net.Server | null = null;
  const sockets = new Set<net.Socket>();
  return {
    async start() {
      const s = net.createServer((client) => {
        const upstream = net.connect(PG_PORT, PG_HOST);
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', resolve);
      });
      server = s;
    },
    async stop() {
      const s = server;
      server = null;
      for (const sock of sockets) sock.destroy();
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
