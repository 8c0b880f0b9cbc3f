import { checkResourcePicks, EMPTY_CATALOG } from '../domain/resources.js';
import { checkStoredSettings } from '../domain/settings-schema.js';
import { canBeApprover, validateSettings, type SettingsChange, type SettingsChangeResult } from '../domain/settings.js';
import { verifySettingsChange } from '../domain/ed25519.js';
import type { ActivityDeps } from './deps.js';

/** The widest access window any settings may hold; the API holds each tenant to the provider's own, lower limit. */
const MAX_ACCESS_CEILING_MS = 366 * 24 * 3_600_000;

/**
 * Tenant settings are applied here, where the power is used, and only as the API signed them: a change started
 * around the API (anyone with Temporal namespace access can start the workflow) or one the rules do not allow is
 * refused and changes nothing, whatever the API checked on the way in.
 */
export function createSettingsActivities(deps: Pick<ActivityDeps, 'store' | 'trustedKeys' | 'log' | 'targets'>) {
  return {
    async applyTenantSettings(change: SettingsChange): Promise<SettingsChangeResult> {
      if (!verifySettingsChange(change, deps.trustedKeys)) {
        deps.log.warn('unsigned settings change refused', { tenant: String(change?.tenant).slice(0, 80) });
        return { ok: false, refused: 'unauthenticated', problems: [{ field: 'proof', message: 'not signed by the Lockbox API' }] };
      }
      const checked = checkStoredSettings(change.settings);
      if (!checked.ok) return { ok: false, refused: 'invalid', problems: checked.problems };
      const users = new Map(
        await Promise.all(
          [...new Set([...checked.settings.approvers, ...(checked.settings.escalation?.to ?? [])])].map(async (id) => [id, await deps.store.getUser(id)] as const),
        ),
      );
      const problems = validateSettings(checked.settings, { maxAccessMs: MAX_ACCESS_CEILING_MS }, (id) => {
        const u = users.get(id);
        return u != null && canBeApprover(u, change.tenant);
      });
      // Each resource must pick a target the operator declared for this tenant, checked here against the worker's own
      // catalog too: a signed change is still only as good as the API's catalog was when it signed.
      problems.push(...checkResourcePicks(deps.targets ?? EMPTY_CATALOG, change.tenant, checked.settings.resources));
      if (problems.length > 0) return { ok: false, refused: 'invalid', problems };
      const result = await deps.store.putTenantSettings({ ...change, settings: checked.settings });
      if (result.ok) return result;
      const cur = result.current;
      // A retry of a write that landed: the stored version is ours, not a concurrent admin's.
      const ours = cur?.version === change.expectedVersion + 1 && cur.updatedAt === change.updatedAt && cur.updatedBy === change.updatedBy;
      return ours && cur ? { ok: true, record: cur } : result;
    },
  };
}
