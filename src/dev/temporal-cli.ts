/**
 * Finds or builds the Temporal CLI binary that runs the embedded dev server.
 *
 * Order: `LOCKBOX_TEMPORAL_CLI`, `temporal` on PATH, the cached build, else a one-time `go install` into the
 * cache under `temporal.build.lock` (see go-binary.ts).
 */
import { ensureGoBinary, type GoBinarySpec, type Log } from './go-binary.js';

export { temporalCacheDir } from './go-binary.js';

/** The newest CLI tag whose go.mod has no `replace` directive; later tags cannot be `go install`ed. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
/** The `go` directive of that tag's go.mod: older toolchains refuse to build it. */
export const MIN_GO_VERSION: readonly [number, number] = [1, 25];

const CLI: GoBinarySpec = {
  what: 'Temporal CLI',
  env: 'LOCKBOX_TEMPORAL_CLI',
  pathNames: ['temporal'],
  cacheName: 'temporal',
  module: TEMPORAL_CLI_MODULE,
  versionPattern: /temporal version/i,
  lockName: 'temporal.build.lock',
  lockSubject: 'the Temporal CLI',
  buildNote:
    'about 5-6 minutes on 2 cores, cached for every later start, test and CI run. Why: the CLI download site is ' +
    'unreachable from here, so it is compiled from the Go module proxy.',
  minGo: MIN_GO_VERSION,
};

/** Options for {@link ensureTemporalCli}. */
export interface EnsureTemporalCliOptions {
  /** Receives human-readable progress lines; defaults to stderr. */
  log?: Log;
}

/**
 * Returns the path of a working `temporal` binary, building and caching it once if none is found.
 * @throws Error naming what to install when no binary is found and Go is missing or too old.
 */
export async function ensureTemporalCli(opts: EnsureTemporalCliOptions = {}): Promise<string> {
  return ensureGoBinary(CLI, opts.log ?? ((line) => process.stderr.write(`${line}\n`)));
}
