import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { AuditEventType, type AuditEvent } from '../domain/audit.js';
import { formatDuration } from '../domain/duration.js';
import { tenantOfRequestId } from '../domain/reconcile.js';
import { checkStoredSettings } from '../domain/settings-schema.js';
import { RECORD_RETENTION } from '../domain/settings.js';
import type { AccessRequest } from '../domain/request.js';
import type { ActivityDeps } from './deps.js';

/** The request as its workflow stood when it exported a batch, and how many events it had recorded then. */
export interface RecordCopy {
  request: AccessRequest;
  version: number;
}

/** The running activity's info, or null outside an activity (a test calling it directly). */
export function activityInfo(): Context['info'] | null {
  try {
    return Context.current().info;
  } catch {
    return null;
  }
}

/** The workflow that runs this activity, or null outside an activity (a test calling it directly). */
export function callingWorkflowId(): string | null {
  return activityInfo()?.workflowExecution?.workflowId ?? null;
}

/**
 * Keeps Lockbox's record of a request (docs/records.md) with the events it just exported. The copy comes from a
 * workflow, and anyone with access to the Temporal namespace can start one, so it is stored only when it is the
 * request of the workflow exporting it, of the run that owns the request id, and the events are that request's.
 * Anything else is logged and left out of the records (its events still reach the audit sinks).
 *
 * @param caller the workflow that sent the copy (null: the sweep, which read it from the request's own workflow)
 */
export async function keepRecord(
  deps: Pick<ActivityDeps, 'store' | 'log'>,
  events: readonly AuditEvent[],
  copy: RecordCopy,
  caller: string | null,
): Promise<void> {
  const { request } = copy;
  const why = whyNotKept(request, events, copy.version, caller, await deps.store.getRequestRun(request.id));
  if (why) {
    deps.log.warn('request record not kept', { requestId: request.id, reason: why });
    return;
  }
  await deps.store.putRequestRecord({ request, version: copy.version, events });
}

/** Why a copy is not the request's own record to keep, or null when it is. Pure. */
function whyNotKept(request: AccessRequest, events: readonly AuditEvent[], version: number, caller: string | null, owner: string | null): string | null {
  if (caller !== null && caller !== request.id) return 'exported by another workflow';
  if (owner === null || owner !== request.runId) return 'not the run that owns the request id';
  if (tenantOfRequestId(request.id) !== request.tenant) return 'request id of another tenant';
  if (events.some((e) => e.requestId !== request.id || e.tenant !== request.tenant)) return 'events of another request';
  if (!Number.isInteger(version) || version < 0) return 'bad version';
  return null;
}

/** At most this many records per tenant and run; the next run takes the rest. */
const PRUNE_BATCH = 500;

/**
 * Record retention (docs/records.md): each tenant's closed records older than its `recordRetentionMs` (default 400
 * days) are deleted, and the deletion is audited first (`records.pruned`, naming every request id): the event's id
 * comes from the ids it names, so a retry after a crash between the two exports it once and then deletes.
 */
export function createRecordActivities(deps: Pick<ActivityDeps, 'store' | 'audit' | 'log'>) {
  return {
    async pruneRecords(): Promise<{ pruned: number }> {
      const now = Date.now();
      const settings = new Map((await deps.store.listTenantSettings()).map((r) => [r.tenant, r.settings]));
      let pruned = 0;
      for (const tenant of await deps.store.listRecordTenants()) {
        const own = settings.get(tenant);
        const checked = own ? checkStoredSettings(own) : null;
        // A tenant whose settings row is unreadable keeps its records (the longest bound), never loses them early.
        const retentionMs = checked === null ? RECORD_RETENTION.defaultMs : checked.ok ? (checked.settings.recordRetentionMs ?? RECORD_RETENTION.defaultMs) : RECORD_RETENTION.maxMs;
        const closedBefore = new Date(now - retentionMs).toISOString();
        const ids = await deps.store.findPrunableRecords({ tenant, closedBefore, limit: PRUNE_BATCH });
        if (ids.length === 0) continue;
        const digest = createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 32);
        await deps.audit.append([
          {
            id: `records-pruned:${tenant}:${digest}`,
            seq: 0,
            time: new Date(now).toISOString(),
            type: AuditEventType.recordsPruned,
            tenant,
            requestId: `records-pruned-${tenant}`,
            actor: 'system',
            details: { count: ids.length, closedBefore, retention: formatDuration(retentionMs), requestIds: ids },
          },
        ]);
        pruned += (await deps.store.deleteRequestRecords(ids)).length;
      }
      if (pruned > 0) deps.log.info('pruned request records past their retention', { count: pruned });
      return { pruned };
    },
  };
}
