import { checkStoredSettings } from '../domain/settings-schema.js';
import type { TenantSettings } from '../domain/settings.js';
import type { Store } from '../ports/store.js';

/**
 * Seeds the demo tenants' settings once; what a tenant admin changed since is kept. A data dir from an older version
 * may hold the seed in a shape this version no longer reads (inline targets before the operator's catalog): a row
 * nobody changed since the seed is seeded again. An admin's row is kept as it is: the API answers 409
 * settings-invalid naming the field until an admin saves it again.
 */
export async function seedDemoSettings(store: Store, seed: Readonly<Record<string, TenantSettings>>, now: string): Promise<void> {
  for (const [tenant, settings] of Object.entries(seed)) {
    const seeded = await store.putTenantSettings({ tenant, settings, expectedVersion: 0, updatedAt: now, updatedBy: 'demo-seed' });
    const current = seeded.ok ? null : seeded.current;
    if (current && current.updatedBy === 'demo-seed' && !checkStoredSettings(current.settings).ok) {
      await store.putTenantSettings({ tenant, settings, expectedVersion: current.version, updatedAt: now, updatedBy: 'demo-seed' });
    }
  }
}
