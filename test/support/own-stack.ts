import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { findFreePort, findFreeTemporalPort } from '../../src/dev/dev-server.js';
import { startProc, waitForHttp, type Proc } from './process.js';

const ROOT = join(import.meta.dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/** A whole Lockbox of a test's own (`npm start`: dev server, worker, API) on free ports and a fresh data dir. */
export interface OwnStack {
  apiUrl: string;
  dataDir: string;
  /** Everything the process printed (tests search it for secrets). */
  logFile: string;
  temporalAddress: string;
  namespace: string;
  proc: Proc;
  /** A Temporal client on the stack's own server, opened on first use (to look at workflows directly). */
  temporal(): Promise<Client>;
  /** Stops the process, closes the Temporal client and deletes the data dir. */
  stop(): Promise<void>;
}

/** Starts `src/main/dev.ts` with `env` on top of the test's environment; resolves once /readyz answers 200. */
export async function startOwnStack(env: Record<string, string> = {}, prefix = 'lockbox-own-'): Promise<OwnStack> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  const apiPort = await findFreePort();
  const temporalPort = await findFreeTemporalPort();
  const namespace = 'lockbox';
  const logFile = join(dataDir, 'stack.log');
  const proc = startProc(
    TSX,
    ['src/main/dev.ts'],
    {
      ...process.env,
      TEMPORAL_NAMESPACE: namespace,
      LOCKBOX_TASK_QUEUE: 'lockbox',
      ...env,
      LOCKBOX_DATA_DIR: dataDir,
      LOCKBOX_PORT: String(apiPort),
      LOCKBOX_TEMPORAL_PORT: String(temporalPort),
    },
    ROOT,
    logFile,
  );
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  try {
    await waitForHttp(`${apiUrl}/readyz`, proc, 120_000);
  } catch (err) {
    await proc.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const temporalAddress = `127.0.0.1:${temporalPort}`;
  let client: { connection: Connection; client: Client } | undefined;
  return {
    apiUrl,
    dataDir,
    logFile,
    temporalAddress,
    namespace,
    proc,
    async temporal() {
      if (!client) {
        const connection = await Connection.connect({ address: temporalAddress });
        client = { connection, client: new Client({ connection, namespace }) };
      }
      return client.client;
    },
    async stop() {
      await client?.connection.close().catch(() => undefined);
      await proc.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The Temporal status name of a workflow (`RUNNING`, `COMPLETED`, ...). */
export async function workflowStatus(stack: OwnStack, workflowId: string): Promise<string> {
  const client = await stack.temporal();
  return (await client.workflow.getHandle(workflowId).describe()).status.name;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
