import type { ApprovalPolicy } from '../domain/policy.js';
import { checkStoredSettings } from '../domain/settings-schema.js';
import { policyFromSettings } from '../domain/settings.js';
import type { ApiDeps } from './deps.js';
import type { TenantSettingsRecord } from '../ports/store.js';
import { Problem } from './problem.js';

/**
 * The tenant's settings as stored, checked: a row the API would never write (an older version, a hand edit, a
 * forged change) is a clear 409 for that tenant naming the bad fields, never a 500, and never used.
 */
export async function readTenantSettings(deps: Pick<ApiDeps, 'store'>, tenant: string): Promise<TenantSettingsRecord | null> {
  const record = await deps.store.getTenantSettings(tenant);
  if (!record) return null;
  const checked = checkStoredSettings(record.settings);
  if (checked.ok) return { ...record, settings: checked.settings };
  const fields = checked.problems.map((p) => `${p.field}: ${p.message}`).join('; ');
  throw new Problem(
    409,
    'settings-invalid',
    'Tenant settings invalid',
    `the stored settings of tenant ${tenant} (version ${record.version}) are not valid (${fields.slice(0, 500)}); a tenant admin must save them again`,
    checked.problems.map((p) => ({ field: `settings.${p.field}`, pointer: `#/${p.field.replaceAll('.', '/')}`, message: p.message })),
    { tenant, version: String(record.version) },
  );
}

/** The tenant's settings and the approval policy they put in force now, or null for a tenant not opted in. */
export async function currentPolicy(
  deps: Pick<ApiDeps, 'store' | 'internalApprovers'>,
  tenant: string,
): Promise<{ record: TenantSettingsRecord; policy: ApprovalPolicy } | null> {
  const record = await readTenantSettings(deps, tenant);
  if (!record) return null;
  return { record, policy: policyFromSettings(tenant, record.version, record.settings, deps.internalApprovers) };
}
