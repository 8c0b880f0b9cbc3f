import type { Store, UserRecord } from '../../ports/store.js';

/** The part of the Store port about tenant settings and users, implemented by each adapter in its own module. */
export type SettingsAndUsers = Pick<
  Store,
  'getTenantSettings' | 'listTenantSettings' | 'putTenantSettings' | 'upsertUser' | 'getUser' | 'listUsers'
>;

/** Versions live in a 32-bit integer column in PostgreSQL; SQLite uses the same bound so both adapters agree. */
const MAX_VERSION = 2_147_483_647;

/** Rejects an `expectedVersion` no stored record can have, so a typo never passes for "none stored" (0). */
export function checkExpectedVersion(expectedVersion: number): number {
  if (!Number.isInteger(expectedVersion) || expectedVersion < 0 || expectedVersion >= MAX_VERSION) {
    throw new RangeError(`expectedVersion must be an integer from 0 to ${MAX_VERSION - 1}`);
  }
  return expectedVersion;
}

type TenantRolePair = UserRecord['tenantRoles'][number];

/**
 * Customer-side role names. Rows written before roles were held per tenant kept one list of tenants and one of roles,
 * which meant every role at every tenant; such a row is read as per-tenant roles only where that is unambiguous.
 */
const LEGACY_TENANT_ROLES: readonly string[] = ['approver', 'admin'];

/** What a user row holds, whichever version wrote it. `tenantRoles` is null for a row written before the column. */
export interface UserColumns {
  id: string;
  tenants: string[];
  roles: string[];
  tenantRoles: unknown;
  lastSeenAt: string;
}

/**
 * A row as a UserRecord. Rows cross a trust boundary (an older version, a hand edit): malformed pairs are dropped,
 * never widened. A row of the previous version (no tenant roles stored) keeps its approver / admin roles only when it
 * names exactly one tenant, where they can only have meant that tenant; with several tenants they are dropped until
 * the person signs in again and the row is rewritten.
 */
export function userFromColumns(c: UserColumns): UserRecord {
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const tenants = strings(c.tenants);
  const roles = strings(c.roles);
  if (c.tenantRoles === null || c.tenantRoles === undefined) {
    const only = tenants.length === 1 ? tenants[0] : undefined;
    return {
      id: c.id,
      roles: roles.filter((r) => !LEGACY_TENANT_ROLES.includes(r)),
      tenantRoles: only === undefined ? [] : roles.filter((r) => LEGACY_TENANT_ROLES.includes(r)).map((role) => ({ tenant: only, role })),
      lastSeenAt: c.lastSeenAt,
    };
  }
  const tenantRoles: TenantRolePair[] = [];
  for (const g of Array.isArray(c.tenantRoles) ? (c.tenantRoles as unknown[]) : []) {
    if (typeof g !== 'object' || g === null) continue;
    const { tenant, role } = g as Record<string, unknown>;
    if (typeof tenant === 'string' && typeof role === 'string') tenantRoles.push({ tenant, role });
  }
  return { id: c.id, roles, tenantRoles, lastSeenAt: c.lastSeenAt };
}

/**
 * The columns to write: `tenants` (each tenant where the person holds a role: what listUsers narrows by, and what an
 * older version reading the row finds), provider-side `roles` only (so an older version reading a new row grants no
 * customer role anywhere), and the pairs themselves.
 */
export function userToColumns(u: UserRecord): { tenants: string[]; roles: string[]; tenantRoles: TenantRolePair[] } {
  const tenantRoles = u.tenantRoles.map((g) => ({ tenant: g.tenant, role: g.role }));
  return { tenants: [...new Set(tenantRoles.map((g) => g.tenant))], roles: [...u.roles], tenantRoles };
}

/** Whether the user holds exactly this role at this tenant. */
export const holds = (u: UserRecord, tenant: string, role: string): boolean => u.tenantRoles.some((g) => g.tenant === tenant && g.role === role);
