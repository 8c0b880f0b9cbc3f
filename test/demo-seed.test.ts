/**
 * The embedded default's demo seed on an existing data dir (src/main/demo-seed.ts): an admin's change is kept; a seed
 * row an older version wrote in a shape this one no longer reads is seeded again, so `npm start` on an old `.lockbox`
 * does not answer 409 settings-invalid for contoso until someone re-saves it. Real SQLite store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../src/adapters/sqlite-store.js';
import { demoTenantSettings } from '../src/config/demo.js';
import { checkStoredSettings } from '../src/domain/settings-schema.js';
import type { TenantSettings } from '../src/domain/settings.js';
import { seedDemoSettings } from '../src/main/demo-seed.js';
import type { Store } from '../src/ports/store.js';

const seed = demoTenantSettings({ requestTtlMs: 12 * 3_600_000, maxAccessMs: 8 * 3_600_000 });
const at = '2026-12-01T00:00:00.000Z';
/** contoso's seed as an older version stored it: an inline target naming an environment variable. */
const oldShape = { ...seed.contoso, resources: { 'db:crm': { provider: 'postgres', connection: 'LOCKBOX_TARGET_DEMO_CRM' } } } as unknown as TenantSettings;

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockbox-seed-'));
  store = openSqliteStore(join(dir, 'lockbox.db'));
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('demo seed on an existing data dir', () => {
  it('seeds an empty store once, then leaves it alone', async () => {
    await seedDemoSettings(store, seed, at);
    await seedDemoSettings(store, seed, '2026-12-02T00:00:00.000Z');
    const contoso = await store.getTenantSettings('contoso');
    expect(contoso).toMatchObject({ version: 1, updatedBy: 'demo-seed', updatedAt: at });
    expect(contoso?.settings).toEqual(seed.contoso);
  });

  it('re-seeds a seed row in a shape this version no longer reads', async () => {
    expect(checkStoredSettings(oldShape).ok).toBe(false);
    await store.putTenantSettings({ tenant: 'contoso', settings: oldShape, expectedVersion: 0, updatedAt: at, updatedBy: 'demo-seed' });
    await seedDemoSettings(store, seed, '2026-12-02T00:00:00.000Z');
    const contoso = await store.getTenantSettings('contoso');
    expect(contoso).toMatchObject({ version: 2, updatedBy: 'demo-seed' });
    expect(checkStoredSettings(contoso?.settings).ok).toBe(true);
    expect(contoso?.settings).toEqual(seed.contoso);
  });

  it("keeps an admin's row, even one this version cannot read (the API names the field until it is saved again)", async () => {
    await store.putTenantSettings({ tenant: 'contoso', settings: oldShape, expectedVersion: 0, updatedAt: at, updatedBy: 'alice@contoso.com' });
    const changed: TenantSettings = { ...seed.fabrikam!, quorum: 1 };
    await store.putTenantSettings({ tenant: 'fabrikam', settings: changed, expectedVersion: 0, updatedAt: at, updatedBy: 'fiona@fabrikam.com' });
    await seedDemoSettings(store, seed, '2026-12-02T00:00:00.000Z');
    expect(await store.getTenantSettings('contoso')).toMatchObject({ version: 1, updatedBy: 'alice@contoso.com', settings: oldShape });
    expect(await store.getTenantSettings('fabrikam')).toMatchObject({ version: 1, updatedBy: 'fiona@fabrikam.com', settings: changed });
  });
});
