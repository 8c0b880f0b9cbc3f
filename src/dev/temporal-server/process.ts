/** Running the full Temporal server: its config written, the process started on free ports, ready, stopped. */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TLSConfig } from '@temporalio/client';
import { superviseChild } from '../child.js';
import { waitForFrontend } from '../frontend.js';
import { findFreeLowPort } from '../ports.js';
import { DYNAMIC_CONFIG, temporalServerConfig, type TemporalServerTls } from './config.js';
import type { TemporalPostgres } from './schema.js';

const READY_DEADLINE_MS = 90_000;
const STOP_GRACE_MS = 15_000;
const TAIL_LINES = 40;

/** Options for {@link startTemporalServer}. */
export interface TemporalServerOptions {
  serverPath: string;
  /** Working directory: the config is written here; it must exist or will be created. */
  dir: string;
  postgres: TemporalPostgres;
  /** Frontend gRPC port; a free one by default. The other services get free ports of their own. */
  port?: number;
  tls?: TemporalServerTls;
  /** Server log level (default warn). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  log?: (line: string) => void;
}

/** A running server. */
export interface TemporalServer {
  /** Frontend gRPC, `127.0.0.1:<port>`. */
  address: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 15 s; resolves once the process has exited. Safe to call twice. */
  stop(): Promise<void>;
  /** The last lines it printed. */
  output(): string;
}

/**
 * Starts `temporal-server start` (all four services in one process) on free ports and resolves once the frontend
 * answers (over TLS with the system worker's certificate when `tls` is set).
 * @throws Error with the server's last output when it exits or does not answer within 90 s.
 */
export async function startTemporalServer(opts: TemporalServerOptions): Promise<TemporalServer> {
  const log = opts.log ?? (() => undefined);
  // Temporal stores its services' ports in a smallint column (cluster_membership.rpc_port): stay below 32768.
  const taken = new Set<number>();
  const free = async () => {
    const port = await findFreeLowPort(taken);
    taken.add(port);
    return port;
  };
  const ports = {
    frontend: opts.port ?? (await free()),
    frontendHttp: await free(),
    history: await free(),
    matching: await free(),
    worker: await free(),
    membership: [await free(), await free(), await free(), await free()] as [number, number, number, number],
  };
  const configDir = join(opts.dir, 'config');
  await mkdir(configDir, { recursive: true });
  const dynamicConfigFile = join(opts.dir, 'dynamicconfig.yaml');
  await writeFile(dynamicConfigFile, DYNAMIC_CONFIG);
  await writeFile(
    join(configDir, 'development.yaml'),
    temporalServerConfig({ ports, postgres: opts.postgres, tls: opts.tls, logLevel: opts.logLevel ?? 'warn', dynamicConfigFile }),
    { mode: 0o600 }, // it holds the database password
  );

  const child = spawn(opts.serverPath, ['--root', opts.dir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'], {
    cwd: opts.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = superviseChild(child, { tailLines: TAIL_LINES, graceMs: STOP_GRACE_MS, shorten: shortLine });
  const address = `127.0.0.1:${ports.frontend}`;
  try {
    const connection = await waitForFrontend({
      address,
      timeoutMs: READY_DEADLINE_MS,
      exited: server.exited,
      deadReason: server.deadReason,
      tls: opts.tls ? await readinessTls(opts.tls) : undefined,
      // The server creates its own system namespace at start-up; once it is listed, namespaces can be registered.
      ready: async (c) => {
        const { namespaces } = await c.workflowService.listNamespaces({});
        return namespaces.some((n) => n.namespaceInfo?.name === 'temporal-system') ? undefined : 'system namespace not there yet';
      },
    });
    await connection.close();
  } catch (err) {
    await server.stop();
    throw new Error(`Temporal server (${opts.serverPath}) ${(err as Error).message}. Last output:\n${server.tail() || '(none)'}`);
  }
  log(`Temporal server ready at ${address}${opts.tls ? ' (mTLS)' : ''}`);
  return { address, pid: child.pid!, stop: server.stop, output: server.tail };
}

async function readinessTls(tls: TemporalServerTls): Promise<TLSConfig> {
  return {
    serverNameOverride: tls.serverName,
    serverRootCACertificate: Buffer.concat(await Promise.all(tls.rootCaFiles.map((f) => readFile(f)))),
    clientCertPair: { crt: await readFile(tls.clientCertFile), key: await readFile(tls.clientKeyFile) },
  };
}

/** A JSON log line without its Go stack trace, at most 1000 characters. */
function shortLine(line: string): string {
  let out = line;
  if (line.startsWith('{')) {
    try {
      const { stacktrace: _drop, ...rest } = JSON.parse(line) as Record<string, unknown>;
      out = JSON.stringify(rest);
    } catch {
      // not JSON after all
    }
  }
  return out.length > 1000 ? `${out.slice(0, 1000)}...` : out;
}
