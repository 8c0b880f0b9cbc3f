import type { ApprovalPolicy } from '../domain/policy.js';
import { policyFromSettings } from '../domain/settings.js';
import type { ApiDeps } from './deps.js';
import type { TenantSettingsRecord } from '../ports/store.js';

/** The tenant's settings and the approval policy they put in force now, or null for a tenant not opted in. */
export async function currentPolicy(
  deps: Pick<ApiDeps, 'store' | 'internalApprovers'>,
  tenant: string,
): Promise<{ record: TenantSettingsRecord; policy: ApprovalPolicy } | null> {
  const record = await deps.store.getTenantSettings(tenant);
  if (!record) return null;
  return { record, policy: policyFromSettings(tenant, record.version, record.settings, deps.internalApprovers) };
}
