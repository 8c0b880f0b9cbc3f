/**
 * The embedded Temporal dev server against the real CLI binary: retention, search attributes, durability across a
 * restart on the same SQLite file, and the errors a user sees.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { defineSearchAttributeKey } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSearchAttributes, findFreePort, startDevServer, type DevServer } from '../src/dev/dev-server.js';
import { ensureTemporalCli } from '../src/dev/temporal-cli.js';

const NAMESPACE = 'lockbox-test';
const SEARCH_ATTRIBUTES = {
  LockboxTenant: 'Keyword',
  LockboxStatus: 'Keyword',
  LockboxRequester: 'Keyword',
  LockboxResource: 'Keyword',
} as const;
const statusKey = defineSearchAttributeKey('LockboxStatus', 'KEYWORD');

let cliPath: string;
let dir: string;
const running: DevServer[] = [];

beforeAll(async () => {
  // On a machine without a cached CLI this builds it once (~5.5 min); CI prebuilds it in .ci/run.
  cliPath = await ensureTemporalCli({ log: (line) => console.log(line) });
  dir = await mkdtemp(join(tmpdir(), 'lockbox-devserver-'));
}, 15 * 60_000);

afterAll(async () => {
  await Promise.all(running.map((server) => server.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

async function start(port: number, uiPort: number, dbFile: string): Promise<DevServer> {
  const server = await startDevServer({
    cliPath,
    port,
    uiPort,
    dbFile,
    namespace: NAMESPACE,
    searchAttributes: { ...SEARCH_ATTRIBUTES },
  });
  running.push(server);
  return server;
}

async function withConnection<T>(address: string, fn: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 });
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

async function retentionHours(connection: Connection): Promise<number> {
  const { config } = await connection.workflowService.describeNamespace({ namespace: NAMESPACE });
  return (optionalTsToMs(config?.workflowExecutionRetentionTtl) ?? 0) / 3_600_000;
}

describe('startDevServer', () => {
  it('keeps 30 days retention, search attributes and workflows across a restart on the same db file', async () => {
    const port = await findFreePort();
    const uiPort = await findFreePort();
    const dbFile = join(dir, 'data', 'temporal.sqlite');
    const workflowId = `nothing-${Date.now()}`;

    const first = await start(port, uiPort, dbFile);
    expect(first.address).toBe(`127.0.0.1:${port}`);
    expect(first.uiUrl).toBe(`http://127.0.0.1:${uiPort}`);
    await withConnection(first.address, async (connection) => {
      expect(await retentionHours(connection)).toBe(720);
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: NAMESPACE });
      expect(Object.keys(customAttributes)).toEqual(expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)));

      // No worker polls this queue: the workflow stays open, which is what a restart must preserve.
      const client = new Client({ connection, namespace: NAMESPACE });
      await client.workflow.start('Nothing', {
        taskQueue: 'nobody-polls',
        workflowId,
        typedSearchAttributes: [{ key: statusKey, value: 'pending' }],
      });
    });
    await first.stop();
    await expect(withConnection(first.address, (c) => c.workflowService.getSystemInfo({}))).rejects.toThrow();

    const second = await start(port, uiPort, dbFile);
    await withConnection(second.address, async (connection) => {
      expect(await retentionHours(connection)).toBe(720);
      const client = new Client({ connection, namespace: NAMESPACE });
      const description = await client.workflow.getHandle(workflowId).describe();
      expect(description.type).toBe('Nothing');
      expect(description.status.name).toBe('RUNNING');

      let found: string[] = [];
      for (let i = 0; i < 40 && found.length === 0; i++) {
        found = [];
        for await (const wf of client.workflow.list({ query: `LockboxStatus = 'pending'` })) found.push(wf.workflowId);
        if (found.length === 0) await new Promise((r) => setTimeout(r, 250));
      }
      expect(found).toContain(workflowId);
    });
    await second.stop();
  }, 120_000);

  it('adds a missing search attribute to a running server and is idempotent', async () => {
    const server = await start(await findFreePort(), await findFreePort(), join(dir, 'add-sa.sqlite'));
    await withConnection(server.address, async (connection) => {
      await ensureSearchAttributes(connection, NAMESPACE, { LockboxExtra: 'Keyword' });
      await ensureSearchAttributes(connection, NAMESPACE, { LockboxExtra: 'Keyword', LockboxTenant: 'Keyword' });
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: NAMESPACE });
      expect(Object.keys(customAttributes)).toContain('LockboxExtra');
      await expect(ensureSearchAttributes(connection, NAMESPACE, { LockboxExtra: 'Int' })).rejects.toThrow(
        /exists with another type/,
      );
    });
    await server.stop();
  }, 60_000);

  it('says so when the port is already in use', async () => {
    const port = await findFreePort();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      await expect(
        start(port, await findFreePort(), join(dir, 'busy.sqlite')),
      ).rejects.toThrow(new RegExp(`port ${port} .*already in use`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 60_000);

  it('fails with the server output when the binary exits at once', async () => {
    await expect(
      startDevServer({
        cliPath: '/bin/false',
        port: await findFreePort(),
        uiPort: await findFreePort(),
        dbFile: join(dir, 'never.sqlite'),
        namespace: NAMESPACE,
        searchAttributes: {},
      }),
    ).rejects.toThrow(/exited \(code 1\) before it was ready/);
  }, 60_000);
});
