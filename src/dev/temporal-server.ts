/**
 * The full Temporal server (not the CLI's dev server) on PostgreSQL: for the production-shape tests and for anyone
 * who wants the real thing on one machine. One module per thing it runs, under temporal-server/:
 *
 * - binaries.ts: {@link ensureTemporalServer} finds or builds (once, cached beside the CLI in `~/.cache/lockbox/bin`,
 *   under a lock) the server binary and its SQL schema tool.
 * - schema.ts: {@link setupTemporalSchema} creates a database and installs Temporal's schema in it with the SQL tool.
 * - config.ts: the config file (two `postgres12` datastores, optional TLS on the frontend).
 * - process.ts: {@link startTemporalServer} writes that config and runs the server until {@link TemporalServer.stop}.
 */
export { ensureTemporalServer, TEMPORAL_SERVER_MODULE, TEMPORAL_SERVER_VERSION, TEMPORAL_SQL_TOOL_MODULE, type TemporalServerBinaries } from './temporal-server/binaries.js';
export { temporalServerConfig, type TemporalServerTls } from './temporal-server/config.js';
export { startTemporalServer, type TemporalServer, type TemporalServerOptions } from './temporal-server/process.js';
export { dropTemporalDatabase, setupTemporalSchema, type PostgresTarget, type TemporalPostgres } from './temporal-server/schema.js';
export { findFreeLowPort } from './ports.js';
