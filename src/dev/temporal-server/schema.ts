/** Temporal's SQL schema in PostgreSQL, installed and dropped with `temporal-sql-tool --plugin postgres12`. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Where Temporal keeps its data: a PostgreSQL server reachable over TCP. */
export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  /** Passed to the tools through the environment, never on a command line. */
  password?: string;
}

/** The server's two databases on that PostgreSQL. */
export type TemporalPostgres = PostgresTarget & { databases: { temporal: string; visibility: string } };

const toolArgs = (pg: PostgresTarget, database: string) => ['--plugin', 'postgres12', '--endpoint', pg.host, '--port', String(pg.port), '--user', pg.user, '--database', database];
const toolEnv = (pg: PostgresTarget) => ({ ...process.env, ...(pg.password ? { SQL_PASSWORD: pg.password } : {}) });

/**
 * Creates `database` (unless it exists) and installs Temporal's `temporal` or `visibility` schema in it at the
 * newest version.
 */
export async function setupTemporalSchema(sqlTool: string, pg: PostgresTarget, database: string, schema: 'temporal' | 'visibility'): Promise<void> {
  const run = async (args: string[], okIf?: RegExp) => {
    try {
      await execFileAsync(sqlTool, [...toolArgs(pg, database), ...args], { env: toolEnv(pg), timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      const output = `${e.stdout ?? ''}\n${e.stderr ?? ''}`;
      if (okIf?.test(output)) return;
      throw new Error(`temporal-sql-tool ${args[0]} on database ${database} failed: ${lastLines(output || e.message, 8)}`);
    }
  };
  await run(['create-database'], /already exists/);
  await run(['setup-schema', '-v', '0.0']);
  await run(['update-schema', '--schema-name', `postgresql/v12/${schema}`]);
}

/** Drops a database made by {@link setupTemporalSchema}; a missing one is fine. */
export async function dropTemporalDatabase(sqlTool: string, pg: PostgresTarget, database: string): Promise<void> {
  const args = [...toolArgs(pg, database), 'drop-database', '--force'];
  await execFileAsync(sqlTool, args, { env: toolEnv(pg), timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }).catch(() => undefined);
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}
