import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { AuditEventType, buildAuditEvent } from '../domain/audit.js';
import type { SettingsChange, SettingsChangeResult } from '../domain/settings.js';

const mustSucceed = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s', backoffCoefficient: 2 },
});

/**
 * One change of a tenant's settings: the write and its audit event happen together or the write does not happen,
 * and the event is exported exactly once (id `<changeId>:1`) even if the API dies after asking for the change.
 */
export async function tenantSettingsWorkflow(change: SettingsChange): Promise<SettingsChangeResult> {
  const result = await mustSucceed.applyTenantSettings(change);
  if (result.ok) {
    const event = buildAuditEvent({
      requestId: change.changeId,
      tenant: change.tenant,
      seq: 1,
      time: new Date(change.updatedAt),
      type: AuditEventType.tenantSettingsChanged,
      actor: change.updatedBy,
      details: { before: change.before, after: change.settings, version: result.record.version },
    });
    await mustSucceed.exportAudit([event]);
  }
  return result;
}
