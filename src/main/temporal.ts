import { join } from 'node:path';
import type { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../config/logger.js';
import { ensureSearchAttributes, RETENTION_SECONDS, startDevServer } from '../dev/dev-server.js';
import { ensureTemporalCli } from '../dev/temporal-cli.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/definitions.js';
import { connectClient, describeConnection, temporalConnectionOptions } from './connection.js';

const KEYWORDS = Object.fromEntries(SEARCH_ATTRIBUTE_NAMES.map((n) => [n, 'Keyword' as const]));

/** gRPC status codes the start-up checks tell apart. */
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const PERMISSION_DENIED = 7;
const NAMESPACE_READY_MS = 60_000;

export interface TemporalEndpoint {
  address: string;
  /** The Temporal UI, when Lockbox started the server. */
  uiUrl: string | null;
  stop(): Promise<void>;
}

/**
 * The Temporal server Lockbox talks to: the one at TEMPORAL_ADDRESS (connected with TEMPORAL_TLS_* /
 * TEMPORAL_API_KEY; the namespace registered with 30 days retention and the search attributes added if missing),
 * else the embedded dev server on a SQLite file in the data dir.
 */
export async function provideTemporal(config: Config, log: Logger): Promise<TemporalEndpoint> {
  if (config.temporalAddress) {
    log.info('connecting to Temporal', describeConnection(config, await temporalConnectionOptions(config, config.temporalAddress)));
    const connection = await connectClient(config, config.temporalAddress);
    try {
      await ensureNamespace(connection, config.namespace, log);
      await withRetries(() => ensureSearchAttributes(connection, config.namespace, KEYWORDS));
    } finally {
      await connection.close();
    }
    return { address: config.temporalAddress, uiUrl: null, stop: async () => undefined };
  }
  const cliPath = await ensureTemporalCli({ log: (line) => log.info(line) });
  const server = await startDevServer({
    cliPath,
    port: config.temporalPort,
    uiPort: config.temporalPort + 1000,
    dbFile: join(config.dataDir, 'temporal.db'),
    namespace: config.namespace,
    searchAttributes: KEYWORDS,
    log: (line) => log.info(line),
  });
  return server;
}

/**
 * Registers `namespace` (retention 720 h) unless it exists, then waits until the frontend serves it (a new namespace
 * reaches the servers' caches a few seconds after it is registered). Several replicas may race here: the losers see
 * ALREADY_EXISTS, which is fine. An existing namespace is left as its operator configured it.
 * @throws Error naming the `temporal operator namespace create` command when it is missing and may not be created.
 */
export async function ensureNamespace(connection: Connection, namespace: string, log: Logger): Promise<void> {
  const exists = async () => {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return true;
    } catch (err) {
      if (grpcCode(err) === NOT_FOUND) return false;
      throw err;
    }
  };
  if (!(await exists())) {
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs(RETENTION_SECONDS * 1000),
        description: 'Lockbox access requests',
      });
      log.info('registered Temporal namespace', { namespace, retention: '720h' });
    } catch (err) {
      if (grpcCode(err) !== ALREADY_EXISTS) {
        const hint = `temporal operator namespace create --address ${connection.options.address} --namespace ${namespace} --retention 720h`;
        throw new Error(
          `Temporal namespace ${namespace} does not exist and could not be created (${(err as Error).message})` +
            `; ${grpcCode(err) === PERMISSION_DENIED ? 'this identity may not create namespaces, so ' : ''}ask an operator to run: ${hint}`,
        );
      }
    }
  }
  // Served once a call that goes through the frontend's namespace cache answers.
  const deadline = Date.now() + NAMESPACE_READY_MS;
  for (;;) {
    try {
      await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
      return;
    } catch (err) {
      if (grpcCode(err) !== NOT_FOUND || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Replicas starting together may add the same search attributes at once; the loser's next look finds them. */
async function withRetries(fn: () => Promise<void>, attempts = 3): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1000));
    }
  }
}

function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}
