import type { Store } from '../../ports/store.js';

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
