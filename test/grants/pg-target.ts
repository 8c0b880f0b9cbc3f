import pg from 'pg';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import type { CredentialSecret, CredentialVault } from '../../src/ports/credential-vault.js';

/**
 * A customer database for grant tests: a private, password-checking cluster with a database `app` holding schema
 * `crm` (table `customers` with rows) and schema `hr` (table `salaries`) that no grant ever names.
 */
export interface PgTarget {
  cluster: PrivatePostgres;
  /** The admin URL pointed at database `app`. */
  appAdminUrl: string;
  /** Runs SQL as the admin in `app`. */
  admin(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  /** Opens a connection with a credential as the vault hands it out; the caller ends it. */
  connectAs(c: CredentialSecret, password?: string): Promise<pg.Client>;
  /** True if the credential can log in and read crm.customers right now. */
  canRead(c: CredentialSecret | undefined): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startPgTarget(): Promise<PgTarget> {
  const cluster = await startPrivatePostgres();
  try {
    const boot = new pg.Client({ connectionString: cluster.adminUrl });
    await boot.connect();
    await boot.query('CREATE DATABASE app');
    await boot.end();
    const url = new URL(cluster.adminUrl);
    url.pathname = '/app';
    const appAdminUrl = url.toString();
    const pool = new pg.Pool({ connectionString: appAdminUrl, max: 2 });
    pool.on('error', () => undefined);
    await pool.query(`
      CREATE SCHEMA crm;
      CREATE TABLE crm.customers (id int PRIMARY KEY, name text NOT NULL);
      INSERT INTO crm.customers VALUES (1, 'Contoso'), (2, 'Fabrikam'), (3, 'Northwind');
      CREATE SCHEMA hr;
      CREATE TABLE hr.salaries (name text, amount int);
      INSERT INTO hr.salaries VALUES ('alice', 100);
    `);
    const connectAs = async (c: CredentialSecret, password = c.password): Promise<pg.Client> => {
      const client = new pg.Client({ host: c.host, port: Number(c.port), database: c.database, user: c.username, password, connectionTimeoutMillis: 5_000 });
      // A session cut by the server emits 'error'; unheard, it would crash the test process.
      client.on('error', () => undefined);
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      return client;
    };
    return {
      cluster,
      appAdminUrl,
      admin: (sql, params) => pool.query(sql, params),
      connectAs,
      async canRead(c) {
        if (!c) return false;
        const client = await connectAs(c).catch(() => null);
        if (!client) return false;
        try {
          return (await client.query('SELECT count(*)::int AS n FROM crm.customers')).rows[0]?.n === 3;
        } catch {
          return false;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      async stop() {
        await pool.end().catch(() => undefined);
        await cluster.stop();
      },
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** Wraps a vault so the test remembers every credential it was given, even after revoke deletes it. */
export function recordingVault(inner: CredentialVault): CredentialVault & { issued: Map<string, CredentialSecret> } {
  const issued = new Map<string, CredentialSecret>();
  return {
    issued,
    async put(id, secret) {
      await inner.put(id, secret);
      issued.set(id, secret);
    },
    get: (id) => inner.get(id),
    delete: (id) => inner.delete(id),
    close: () => inner.close(),
  };
}
