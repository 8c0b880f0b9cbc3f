import { proxyActivities, workflowInfo } from '@temporalio/workflow';
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
 * The worker applies only a change the API signed; a forged one changes nothing and is audited as such.
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
  } else if ('refused' in result && result.refused === 'unauthenticated') {
    // Whoever started this is not the API: the claimed admin is named as a claim only, never as the actor.
    // Nothing in the input is trusted, not even the ids: the event gets an id of its own that no real one can take.
    const claimedActor = typeof change?.updatedBy === 'string' ? change.updatedBy.slice(0, 200) : 'unknown';
    const claimed = typeof change?.tenant === 'string' && /^[a-z0-9-]{1,64}$/.test(change.tenant) ? change.tenant : 'unknown';
    const event = buildAuditEvent({
      requestId: `settings-forged-${workflowInfo().runId}`,
      tenant: claimed,
      seq: 1,
      time: new Date(),
      type: AuditEventType.settingsRejectedUnauthenticated,
      actor: 'unknown',
      details: { claimedActor, reason: 'unsigned or badly signed settings change' },
    });
    await mustSucceed.exportAudit([event]);
  }
  return result;
}
