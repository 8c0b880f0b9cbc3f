import type pg from 'pg';
import type { TenantSettings, TenantSettingsRecord, UserRecord } from '../../ports/store.js';
import { checkExpectedVersion, holds, userFromColumns, userToColumns, type SettingsAndUsers } from './settings-users.js';

/**
 * Created with IF NOT EXISTS under the same advisory lock as the older tables on every open, so a database
 * created by an earlier Lockbox gains them the first time a new one connects. `tenant_roles` (per-tenant roles,
 * `[{"tenant": "contoso", "role": "admin"}]`) came later: NULL in a row an earlier version wrote (see userFromColumns).
 */
export const SETTINGS_USERS_SCHEMA = `
CREATE TABLE IF NOT EXISTS lockbox_tenant_settings (
  tenant     text PRIMARY KEY,
  version    integer NOT NULL CHECK (version > 0),
  settings   jsonb NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL
);
CREATE TABLE IF NOT EXISTS lockbox_users (
  id           text PRIMARY KEY,
  tenants      text[] NOT NULL,
  roles        text[] NOT NULL,
  last_seen_at timestamptz NOT NULL
);
ALTER TABLE lockbox_users ADD COLUMN IF NOT EXISTS tenant_roles jsonb;
`;

/** pg parses jsonb with JSON.parse, text[] into string[] and timestamptz into Date. */
interface TenantSettingsRow {
  tenant: string;
  version: number;
  settings: TenantSettings;
  updated_at: Date;
  updated_by: string;
}

interface UserRow {
  id: string;
  tenants: string[];
  roles: string[];
  tenant_roles: unknown;
  last_seen_at: Date;
}

/** Rejects unparsable times here, with the field's name, rather than as a PostgreSQL cast error. */
function isoUtc(value: string, field: string): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new RangeError(`${field} is not a valid ISO-8601 time`);
  return d.toISOString();
}

function toSettings(row: TenantSettingsRow): TenantSettingsRecord {
  return {
    tenant: row.tenant,
    version: row.version,
    settings: row.settings,
    updatedAt: row.updated_at.toISOString(),
    updatedBy: row.updated_by,
  };
}

function toUser(row: UserRow): UserRecord {
  return userFromColumns({ id: row.id, tenants: row.tenants, roles: row.roles, tenantRoles: row.tenant_roles, lastSeenAt: row.last_seen_at.toISOString() });
}

/** The settings and user methods over a pool whose schema includes {@link SETTINGS_USERS_SCHEMA}. */
export function postgresSettingsAndUsers(pool: pg.Pool): SettingsAndUsers {
  const selectSettings = async (tenant: string): Promise<TenantSettingsRecord | null> => {
    const { rows } = await pool.query<TenantSettingsRow>(`SELECT * FROM lockbox_tenant_settings WHERE tenant = $1`, [
      tenant,
    ]);
    return rows[0] ? toSettings(rows[0]) : null;
  };

  return {
    getTenantSettings: selectSettings,

    async listTenantSettings() {
      // COLLATE "C": byte order, whatever the database's locale, the same order SQLite's BINARY collation gives.
      const { rows } = await pool.query<TenantSettingsRow>(
        `SELECT * FROM lockbox_tenant_settings ORDER BY tenant COLLATE "C"`,
      );
      return rows.map(toSettings);
    },

    async putTenantSettings(input) {
      const expected = checkExpectedVersion(input.expectedVersion);
      // Stringified here: pg would turn a top-level array into a PostgreSQL array literal rather than JSON.
      const settings = JSON.stringify(input.settings);
      const updatedAt = isoUtc(input.updatedAt, 'updatedAt');
      // Each write is one statement that checks the version itself. ON CONFLICT DO NOTHING waits for a concurrent
      // inserter of the tenant and then does nothing; a concurrent UPDATE of the row makes this one wait and then
      // re-check `version = $expected` against the committed row (READ COMMITTED), so exactly one writer wins.
      // An upsert would not do for expected > 0: with no row stored it would insert one as version expected + 1.
      const { rows } =
        expected === 0
          ? await pool.query<TenantSettingsRow>(
              `INSERT INTO lockbox_tenant_settings (tenant, version, settings, updated_at, updated_by)
               VALUES ($1, 1, $2::jsonb, $3, $4) ON CONFLICT (tenant) DO NOTHING RETURNING *`,
              [input.tenant, settings, updatedAt, input.updatedBy],
            )
          : await pool.query<TenantSettingsRow>(
              `UPDATE lockbox_tenant_settings SET version = $2, settings = $3::jsonb, updated_at = $4, updated_by = $5
               WHERE tenant = $1 AND version = $6 RETURNING *`,
              [input.tenant, expected + 1, settings, updatedAt, input.updatedBy, expected],
            );
      if (rows[0]) return { ok: true, record: toSettings(rows[0]) };
      // A fresh snapshot: the record now stored, at least as new as the one that made the write fail.
      return { ok: false, current: await selectSettings(input.tenant) };
    },

    async upsertUser(u) {
      const c = userToColumns(u);
      await pool.query(
        `INSERT INTO lockbox_users (id, tenants, roles, tenant_roles, last_seen_at) VALUES ($1, $2::text[], $3::text[], $4::jsonb, $5)
         ON CONFLICT (id) DO UPDATE SET
           tenants = EXCLUDED.tenants,
           roles = EXCLUDED.roles,
           tenant_roles = EXCLUDED.tenant_roles,
           last_seen_at = GREATEST(lockbox_users.last_seen_at, EXCLUDED.last_seen_at)`,
        [u.id, c.tenants, c.roles, JSON.stringify(c.tenantRoles), isoUtc(u.lastSeenAt, 'lastSeenAt')],
      );
    },

    async getUser(id) {
      const { rows } = await pool.query<UserRow>(`SELECT * FROM lockbox_users WHERE id = $1`, [id]);
      return rows[0] ? toUser(rows[0]) : null;
    },

    async listUsers(q) {
      // `tenants` narrows to the people with some role there (rows of either version); the pair is checked on the record.
      const { rows } = await pool.query<UserRow>(`SELECT * FROM lockbox_users WHERE $1 = ANY(tenants) ORDER BY id COLLATE "C"`, [q.tenant]);
      return rows.map(toUser).filter((u) => holds(u, q.tenant, q.role));
    },
  };
}
