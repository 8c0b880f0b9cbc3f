import type Database from 'better-sqlite3';
import type { TenantSettings, TenantSettingsRecord, UserRecord } from '../../ports/store.js';
import { checkExpectedVersion, type SettingsAndUsers } from './settings-users.js';
import { isoUtc } from './sqlite-time.js';

/**
 * Created with IF NOT EXISTS on every open, inside the same IMMEDIATE transaction as the older tables, so a file
 * written by an earlier Lockbox gains them the first time a new one opens it.
 * Settings and the user's tenants and roles are JSON text; times are normalised ISO text like everywhere else.
 */
export const SETTINGS_USERS_SCHEMA = `
CREATE TABLE IF NOT EXISTS tenant_settings (
  tenant     TEXT PRIMARY KEY,
  version    INTEGER NOT NULL,
  settings   TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
  id           TEXT PRIMARY KEY,
  tenants      TEXT NOT NULL,
  roles        TEXT NOT NULL,
  last_seen_at TEXT NOT NULL
);
`;

interface TenantSettingsRow {
  tenant: string;
  version: number;
  settings: string;
  updated_at: string;
  updated_by: string;
}

interface UserRow {
  id: string;
  tenants: string;
  roles: string;
  last_seen_at: string;
}

interface PutInput {
  tenant: string;
  settings: TenantSettings;
  expectedVersion: number;
  updatedAt: string;
  updatedBy: string;
}

function toSettings(row: TenantSettingsRow): TenantSettingsRecord {
  return {
    tenant: row.tenant,
    version: row.version,
    settings: JSON.parse(row.settings) as TenantSettings,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

function toUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    tenants: JSON.parse(row.tenants) as string[],
    roles: JSON.parse(row.roles) as string[],
    lastSeenAt: row.last_seen_at,
  };
}

/** The settings and user methods over an open database whose schema includes {@link SETTINGS_USERS_SCHEMA}. */
export function sqliteSettingsAndUsers(db: Database.Database): SettingsAndUsers {
  const selectSettings = db.prepare<[string], TenantSettingsRow>(`SELECT * FROM tenant_settings WHERE tenant = ?`);
  // BINARY collation: byte order of the UTF-8 text, the same order PostgreSQL's COLLATE "C" gives.
  const selectAllSettings = db.prepare<[], TenantSettingsRow>(`SELECT * FROM tenant_settings ORDER BY tenant`);
  const insertFirstSettings = db.prepare(
    `INSERT INTO tenant_settings (tenant, version, settings, updated_at, updated_by)
     VALUES (?, 1, ?, ?, ?) ON CONFLICT (tenant) DO NOTHING`,
  );
  const updateSettings = db.prepare(
    `UPDATE tenant_settings SET version = ?, settings = ?, updated_at = ?, updated_by = ?
     WHERE tenant = ? AND version = ?`,
  );
  const upsertUserRow = db.prepare(
    `INSERT INTO users (id, tenants, roles, last_seen_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET
       tenants = excluded.tenants,
       roles = excluded.roles,
       last_seen_at = max(users.last_seen_at, excluded.last_seen_at)`,
  );
  const selectUser = db.prepare<[string], UserRow>(`SELECT * FROM users WHERE id = ?`);
  const selectUsers = db.prepare<[string, string], UserRow>(
    `SELECT * FROM users WHERE EXISTS (SELECT 1 FROM json_each(users.tenants) WHERE value = ?)
       AND EXISTS (SELECT 1 FROM json_each(users.roles) WHERE value = ?) ORDER BY id`,
  );

  // Run with .immediate(): the version check and the write happen under the write lock, so another process
  // cannot commit between them, and the record returned on a conflict is the one that caused it.
  const put = db.transaction((input: PutInput) => {
    const expected = checkExpectedVersion(input.expectedVersion);
    const settings = JSON.stringify(input.settings);
    const updatedAt = isoUtc(input.updatedAt, 'updatedAt');
    const { changes } =
      expected === 0
        ? insertFirstSettings.run(input.tenant, settings, updatedAt, input.updatedBy)
        : updateSettings.run(expected + 1, settings, updatedAt, input.updatedBy, input.tenant, expected);
    const row = selectSettings.get(input.tenant);
    if (changes === 1) {
      if (!row) throw new Error('tenant settings vanished after write');
      return { ok: true as const, record: toSettings(row) };
    }
    return { ok: false as const, current: row ? toSettings(row) : null };
  });

  return {
    async getTenantSettings(tenant) {
      const row = selectSettings.get(tenant);
      return row ? toSettings(row) : null;
    },
    async listTenantSettings() {
      return selectAllSettings.all().map(toSettings);
    },
    async putTenantSettings(input) {
      return put.immediate(input);
    },
    async upsertUser(u) {
      // One statement, so atomic on its own: last_seen_at keeps the later of the stored and the given time.
      upsertUserRow.run(u.id, JSON.stringify(u.tenants), JSON.stringify(u.roles), isoUtc(u.lastSeenAt, 'lastSeenAt'));
    },
    async getUser(id) {
      const row = selectUser.get(id);
      return row ? toUser(row) : null;
    },
    async listUsers(q) {
      return selectUsers.all(q.tenant, q.role).map(toUser);
    },
  };
}
