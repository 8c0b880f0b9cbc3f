/** Free TCP ports on 127.0.0.1 for the servers the dev tools and tests start. */
import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not determine a free port'))));
    });
  });
}

/** Whether `port` on 127.0.0.1 can be listened on right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on 127.0.0.1 between 20000 and 32767 (not in `taken`). Temporal stores its services' ports in a
 * smallint column, and below the kernel's ephemeral range a port found free stays free.
 */
export async function findFreeLowPort(taken: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    if (!taken.has(port) && (await isPortFree(port))) return port;
  }
  throw new Error('no free TCP port found between 20000 and 32767');
}

/**
 * A free port for the Temporal dev server whose UI port (port + 1000, the dev server's default) is free too: a free
 * gRPC port alone lets the UI collide with another server on a busy machine, and the dev server then exits. Both
 * below the kernel's ephemeral range ({@link findFreeLowPort}): a UI port found free there was taken by an outgoing
 * connection before the server bound it, once, in CI (2026-12-05, "bind: address already in use" on 46185).
 */
export async function findFreeTemporalPort(): Promise<number> {
  const tried = new Set<number>();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await findFreeLowPort(tried);
    tried.add(port);
    if (port + 1000 <= 32_767 && (await isPortFree(port + 1000))) return port;
  }
  throw new Error('no free port pair (gRPC and UI = gRPC + 1000) between 20000 and 32767 for the Temporal dev server');
}
