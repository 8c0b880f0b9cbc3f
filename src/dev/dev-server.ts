/**
 * The embedded Temporal: the CLI's dev server on a SQLite file, started, made ready for Lockbox
 * (namespace retention, search attributes) and stopped. Also the search-attribute check used against an
 * existing server (`TEMPORAL_ADDRESS`).
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { msToTs, optionalTsToMs } from '@temporalio/common/lib/time.js';
import { sleep, superviseChild } from './child.js';
import { waitForFrontend } from './frontend.js';
import { isPortFree } from './ports.js';

export { findFreePort, findFreeTemporalPort } from './ports.js';

/** Search attribute types as the Temporal CLI spells them. */
export type SearchAttributeKind = 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

/** Options for {@link startDevServer}. */
export interface DevServerOptions {
  cliPath: string;
  port: number;
  uiPort: number;
  /** SQLite file holding the server's state; workflows survive a restart on the same file. */
  dbFile: string;
  namespace: string;
  searchAttributes: Record<string, 'Keyword'>;
  log?: (line: string) => void;
}

/** A running dev server. */
export interface DevServer {
  /** gRPC frontend, `127.0.0.1:<port>`. */
  address: string;
  uiUrl: string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process has exited. Safe to call twice. */
  stop(): Promise<void>;
}

/** Closed workflows are kept this long; the audit sink, not history, is the long-term record. */
export const RETENTION_SECONDS = 720 * 3600;
const READY_DEADLINE_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const TAIL_LINES = 30;

const INDEXED_TYPE = {
  Keyword: 'KEYWORD',
  Text: 'TEXT',
  Int: 'INT',
  Double: 'DOUBLE',
  Bool: 'BOOL',
  Datetime: 'DATETIME',
  KeywordList: 'KEYWORD_LIST',
} as const satisfies Record<SearchAttributeKind, string>;

/**
 * Starts `temporal server start-dev` and resolves once its frontend answers, the namespace keeps closed
 * workflows for 30 days and the search attributes are registered.
 * @throws Error with the server's last output when it exits, times out or finds its port taken.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const log = opts.log ?? (() => undefined);
  for (const [what, port] of [['Temporal port', opts.port], ['Temporal UI port', opts.uiPort]] as const) {
    if (!(await isPortFree(port))) {
      throw new Error(
        `${what} ${port} on 127.0.0.1 is already in use (another Temporal dev server or Lockbox still running?); ` +
          'stop it or choose another port with LOCKBOX_TEMPORAL_PORT',
      );
    }
  }
  await mkdir(dirname(opts.dbFile), { recursive: true });

  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--ui-port', String(opts.uiPort)];
  args.push('--db-filename', opts.dbFile, '--namespace', opts.namespace);
  for (const [name, kind] of Object.entries(opts.searchAttributes)) args.push('--search-attribute', `${name}=${kind}`);
  // WAL + synchronous=NORMAL measured 2.4x the default journal mode here and still survives a process crash.
  args.push('--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=NORMAL', '--log-level', 'warn');

  const child = spawn(opts.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // Until it is ready its output (a start banner: addresses we print ourselves) only feeds the error message, and
  // shutting down it warns about every connection it closes: noise, not news. In between, it is passed on.
  let passOn = false;
  const server = superviseChild(child, { tailLines: TAIL_LINES, graceMs: STOP_GRACE_MS, onLine: (line) => passOn && log(`temporal: ${line}`) });
  const stop = async () => {
    passOn = false;
    await server.stop();
  };
  const address = `127.0.0.1:${opts.port}`;
  const describeFailure = (why: string) => {
    const output = server.tail();
    const portHint = /address already in use|bind:/i.test(output) ? ` (port ${opts.port} or ${opts.uiPort} is already in use)` : '';
    return new Error(`Temporal dev server (${opts.cliPath}) ${why}${portHint}. Last output:\n${output || '(none)'}`);
  };

  try {
    const deadline = Date.now() + READY_DEADLINE_MS;
    const connection = await waitForFrontend({ address, timeoutMs: READY_DEADLINE_MS, exited: server.exited, deadReason: server.deadReason }).catch(
      (err: Error) => {
        throw describeFailure(err.message);
      },
    );
    try {
      await ensureRetention(connection, opts.namespace, deadline);
      await ensureSearchAttributes(connection, opts.namespace, opts.searchAttributes);
    } finally {
      await connection.close();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  passOn = true;
  log(`Temporal dev server ready at ${address}, UI http://127.0.0.1:${opts.uiPort}`);
  return { address, uiUrl: `http://127.0.0.1:${opts.uiPort}`, stop };
}

/**
 * Makes sure `attrs` are registered in `namespace`, adding missing ones.
 * @throws Error naming the `temporal operator search-attribute create` command to run when they cannot be added
 *   (no permission, Temporal Cloud) or when one exists with another type.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  attrs: Record<string, SearchAttributeKind>,
): Promise<void> {
  const wanted = Object.entries(attrs);
  const howToFix = (names: [string, SearchAttributeKind][]) =>
    [...new Set(names.map(([, kind]) => kind))]
      .map(
        (kind) =>
          `temporal operator search-attribute create --address ${connection.options.address} --namespace ${namespace} ` +
          names.filter(([, k]) => k === kind).map(([name]) => `--name ${name}`).join(' ') +
          ` --type ${kind}`,
      )
      .join(' && ');

  const missing = async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const absent: [string, SearchAttributeKind][] = [];
    for (const [name, kind] of wanted) {
      const have = customAttributes[name];
      if (have === undefined) absent.push([name, kind]);
      else if (have !== encodeSearchAttributeIndexedValueType(INDEXED_TYPE[kind])) {
        throw new Error(`search attribute ${name} in namespace ${namespace} exists with another type; Lockbox needs ${kind}`);
      }
    }
    return absent;
  };

  let absent: [string, SearchAttributeKind][];
  try {
    absent = await missing();
  } catch (err) {
    if ((err as Error).message.startsWith('search attribute')) throw err;
    throw new Error(
      `could not list search attributes of namespace ${namespace} (${(err as Error).message}); ` +
        `make sure they exist: ${howToFix(wanted)}`,
    );
  }
  if (absent.length === 0) return;

  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        absent.map(([name, kind]) => [name, encodeSearchAttributeIndexedValueType(INDEXED_TYPE[kind])!]),
      ),
    });
  } catch (err) {
    throw new Error(
      `search attributes ${absent.map(([n]) => n).join(', ')} are missing in namespace ${namespace} and could not be ` +
        `added (${(err as Error).message}); ask an operator to run: ${howToFix(absent)}`,
    );
  }
  // Registration reaches the frontend's cache shortly after the call returns.
  const deadline = Date.now() + 15_000;
  while ((absent = await missing()).length > 0) {
    if (Date.now() > deadline) throw new Error(`search attributes still missing after adding them: ${howToFix(absent)}`);
    await sleep(250);
  }
}

/** `--namespace` creates namespaces with 24 h retention; raise it once (the change persists in the db file). */
async function ensureRetention(connection: Connection, namespace: string, deadline: number): Promise<void> {
  const retentionMs = async () => {
    for (;;) {
      try {
        const { config } = await connection.workflowService.describeNamespace({ namespace });
        return optionalTsToMs(config?.workflowExecutionRetentionTtl) ?? 0;
      } catch (err) {
        // The dev server registers its namespaces just after the frontend comes up.
        if (Date.now() > deadline) throw new Error(`namespace ${namespace} did not appear: ${(err as Error).message}`);
        await sleep(250);
      }
    }
  };
  if ((await retentionMs()) >= RETENTION_SECONDS * 1000) return;
  await connection.workflowService.updateNamespace({
    namespace,
    config: { workflowExecutionRetentionTtl: msToTs(RETENTION_SECONDS * 1000) },
  });
  const now = await retentionMs();
  if (now < RETENTION_SECONDS * 1000) throw new Error(`namespace ${namespace} retention is ${now / 1000} s after raising it to 720h`);
}
