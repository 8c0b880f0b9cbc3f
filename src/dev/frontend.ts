/** Waiting for a Temporal frontend that is starting up: shared by the CLI's dev server and the full server. */
import { Connection, type TLSConfig } from '@temporalio/client';
import { sleep } from './child.js';

/** Options for {@link waitForFrontend}. */
export interface WaitForFrontendOptions {
  /** `host:port` of the frontend's gRPC. */
  address: string;
  timeoutMs: number;
  /** Resolves when the server process exits: a dead server is reported at once, not after the timeout. */
  exited: Promise<void>;
  /** Says why the server is not running (then the wait fails with that), else undefined. */
  deadReason: () => string | undefined;
  tls?: TLSConfig;
  /** Beyond `getSystemInfo`: undefined when the server is ready for use, else what it still lacks. */
  ready?: (connection: Connection) => Promise<string | undefined>;
}

/**
 * Connects until the frontend answers `getSystemInfo` (and `ready` agrees); resolves with the open connection.
 * @throws Error "<reason>" when the process died, or "did not answer at ADDRESS within N s (last error)".
 */
export async function waitForFrontend(o: WaitForFrontendOptions): Promise<Connection> {
  const deadline = Date.now() + o.timeoutMs;
  const died = o.exited.then(() => undefined);
  let lastError = 'no answer';
  for (;;) {
    const dead = o.deadReason();
    if (dead) throw new Error(dead);
    if (Date.now() > deadline) throw new Error(`did not answer at ${o.address} within ${o.timeoutMs / 1000} s (${lastError})`);
    try {
      const connection = await Promise.race([tryConnect(o), died]);
      if (connection) return connection;
    } catch (err) {
      lastError = (err as Error).message;
      await sleep(250);
    }
  }
}

async function tryConnect(o: WaitForFrontendOptions): Promise<Connection> {
  const connection = await Connection.connect({ address: o.address, tls: o.tls, connectTimeout: 2_000 });
  try {
    await connection.workflowService.getSystemInfo({});
    const notYet = o.ready ? await o.ready(connection) : undefined;
    if (notYet) throw new Error(notYet);
    return connection;
  } catch (err) {
    await connection.close();
    throw err;
  }
}
