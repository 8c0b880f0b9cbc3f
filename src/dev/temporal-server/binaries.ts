/** The full Temporal server's two binaries, found or built once into the cache beside the CLI (see go-binary.ts). */
import { ensureGoBinary, type GoBinarySpec, type Log } from '../go-binary.js';

/** The server release the CLI v1.5.1 embeds, so both behave alike. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_SERVER_MODULE = `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`;
export const TEMPORAL_SQL_TOOL_MODULE = `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`;

/** Paths of the two binaries. */
export interface TemporalServerBinaries {
  /** `temporal-server` (go.temporal.io/server/cmd/server). */
  server: string;
  /** `temporal-sql-tool` (go.temporal.io/server/cmd/tools/sql). */
  sqlTool: string;
}

const BUILT_TOGETHER = {
  lockName: 'server.build.lock',
  lockSubject: 'the Temporal server binaries',
  buildNote: 'a few minutes the first time, cached afterwards.',
  minGo: [1, 25], // the `go` directive of the server's go.mod
} as const;

// The PATH names are the ones the official images use.
const SERVER: GoBinarySpec = {
  ...BUILT_TOGETHER,
  what: 'Temporal server',
  env: 'LOCKBOX_TEMPORAL_SERVER',
  pathNames: ['temporal-server'],
  cacheName: 'server',
  module: TEMPORAL_SERVER_MODULE,
  versionPattern: /^temporal version \d/m,
};
const SQL_TOOL: GoBinarySpec = {
  ...BUILT_TOGETHER,
  what: 'Temporal SQL tool',
  env: 'LOCKBOX_TEMPORAL_SQL_TOOL',
  pathNames: ['temporal-sql-tool'],
  cacheName: 'sql',
  module: TEMPORAL_SQL_TOOL_MODULE,
  versionPattern: /^temporal-sql-tool version \d/m,
};

/**
 * Finds or builds both binaries. Order for each: its environment variable (LOCKBOX_TEMPORAL_SERVER,
 * LOCKBOX_TEMPORAL_SQL_TOOL; used as given or an error), the name on PATH, the cache, else `go install` into the
 * cache under `server.build.lock` (one build at a time, across processes; a waiter reuses the result).
 */
export async function ensureTemporalServer(opts: { log?: Log } = {}): Promise<TemporalServerBinaries> {
  const log: Log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
  return { server: await ensureGoBinary(SERVER, log), sqlTool: await ensureGoBinary(SQL_TOOL, log) };
}
