import type Database from 'better-sqlite3';
import type { TenantSettings, TenantSettingsRecord, UserRecord } from '../../ports/store.js';
import { checkExpectedVersion, holds, userFromColumns, userToColumns, type SettingsAndUsers } from './settings-users.js';
import { isoUtc } from './sqlite-time.js';

/**
 * Created with IF NOT EXISTS on every open, inside the same IMMEDIATE transaction as the older tables, so a file
 * written by an earlier Lockbox gains them the first time a new one opens it.
 * Settings and the user's tenants and roles are JSON text; times are normalised ISO text like everywhere else.
 * `tenant_roles` (per-tenant roles, `[{"tenant": "contoso", "role": "admin"}]`) came later: a file of an earlier
 * version gains the column when opened (see {@link addTenantRolesColumn}); its rows hold NULL there (userFromColumns).
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
  last_seen_at TEXT NOT NULL,
  tenant_roles TEXT
);
`;

/**
 * SQLite has no ADD COLUMN IF NOT EXISTS: look, then add, under the write lock (IMMEDIATE), so two processes opening
 * the same old file do not both add it.
 */
function addTenantRolesColumn(db: Database.Database): void {
  const hasColumn = () => db.prepare<[], { name: string }>(`PRAGMA table_info(users)`).all().some((c) => c.name === 'tenant_roles');
  if (hasColumn()) return;
  db.transaction(() => {
    if (!hasColumn()) db.exec(`ALTER TABLE users ADD COLUMN tenant_roles TEXT`);
  }).immediate();
}

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
  tenant_roles: string | null;
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

/** JSON text as written by any version, or by hand: what does not parse reads as nothing. */
function json(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return [];
  }
}

function toUser(row: UserRow): UserRecord {
  const tenants = json(row.tenants) as string[];
  const roles = json(row.roles) as string[];
  return userFromColumns({ id: row.id, tenants, roles, tenantRoles: json(row.tenant_roles), lastSeenAt: row.last_seen_at });
}

/** The settings and user methods over an open database whose schema includes {@link SETTINGS_USERS_SCHEMA}. */
export function sqliteSettingsAndUsers(db: Database.Database): SettingsAndUsers {
  addTenantRolesColumn(db);
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
    `INSERT INTO users (id, tenants, roles, tenant_roles, last_seen_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET
       tenants = excluded.tenants,
       roles = excluded.roles,
       tenant_roles = excluded.tenant_roles,
       last_seen_at = max(users.last_seen_at, excluded.last_seen_at)`,
  );
  const selectUser = db.prepare<[string], UserRow>(`SELECT * FROM users WHERE id = ?`);
  // `tenants` narrows to the people with some role there (rows of either version); the pair is checked on the record.
  const selectUsers = db.prepare<[string], UserRow>(
    `SELECT * FROM users WHERE json_valid(users.tenants) AND EXISTS (SELECT 1 FROM json_each(users.tenants) WHERE value = ?) ORDER BY id`,
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
      const c = userToColumns(u);
      upsertUserRow.run(u.id, JSON.stringify(c.tenants), JSON.stringify(c.roles), JSON.stringify(c.tenantRoles), isoUtc(u.lastSeenAt, 'lastSeenAt'));
    },
    async getUser(id) {
      const row = selectUser.get(id);
      return row ? toUser(row) : null;
    },
    async listUsers(q) {
      return selectUsers.all(q.tenant).map(toUser).filter((u) => holds(u, q.tenant, q.role));
    },
  };
}
