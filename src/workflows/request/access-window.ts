import { CancellationScope, condition, isCancellation } from '@temporalio/workflow';
import { AuditEventType } from '../../domain/audit.js';
import { grantFailed, granted, revokeRequested, revoked } from '../../domain/decide.js';
import { extensionApplied, extensionEnded, pendingExtension } from '../../domain/extension.js';
import { extensionNeeded } from '../../domain/messages.js';
import { stageRule } from '../../domain/policy.js';
import { DecisionAction, type Extension } from '../../domain/request.js';
import { grants, mustSucceed } from './proxies.js';
import { failureMessage, type RequestRun } from './request-run.js';

/**
 * Grants the approved access, holds it for its window (which an approved extension moves, an early revoke ends),
 * then revokes, always: the revoke runs in a non-cancellable scope and retries until it succeeds. Returns whether
 * the workflow was cancelled in Temporal while access was held.
 */
export async function grantAndHold(run: RequestRun): Promise<{ cancelled: boolean }> {
  let grant: { grantedAt: string; endsAt: string };
  try {
    grant = await grants.grantAccess({
      requestId: run.state.id,
      tenant: run.state.tenant,
      resource: run.state.resource,
      principal: run.state.requester,
      durationMs: run.state.durationMs,
      target: run.state.target,
    });
  } catch (err) {
    // Whatever part of the grant happened must not stay behind.
    await CancellationScope.nonCancellable(() => mustSucceed.revokeAccess(revokeInput(run)));
    if (isCancellation(err)) throw err;
    run.commit(grantFailed(run.state, failureMessage(err), new Date()));
    return { cancelled: false };
  }
  run.commit(granted(run.state, grant));
  let cancelled = false;
  try {
    await holdWindow(run);
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelled = true;
  } finally {
    await CancellationScope.nonCancellable(async () => {
      const { revokedAt, verified } = await mustSucceed.revokeAccess(revokeInput(run));
      const early = run.state.decisions.find((d) => d.action === DecisionAction.revoke);
      const cause = early
        ? { by: early.actor, reason: early.note }
        : cancelled
          ? { by: 'system', reason: 'workflow cancelled in Temporal' }
          : null;
      run.commit(revoked(run.state, revokedAt, cause, verified));
    });
  }
  return { cancelled };
}

/** Where the revoke goes: the target recorded at filing. */
function revokeInput(run: RequestRun) {
  return { requestId: run.state.id, tenant: run.state.tenant, target: run.state.target };
}

/**
 * Waits out the window, which an approved extension moves; ends early on a revoke. An extension nobody decides in
 * time expires and the original end stands. Which timer fired decides, not the clock.
 */
async function holdWindow(run: RequestRun): Promise<void> {
  const key = () => (run.state.extensions ?? []).map((e) => `${e.seq}:${e.status}:${e.stage}`).join(',');
  for (;;) {
    if (revokeRequested(run.state) || !run.state.access) return;
    const ext = pendingExtension(run.state);
    if (ext?.status === 'approved') {
      await applyExtension(run, ext);
      continue;
    }
    const endsAt = Date.parse(run.state.access.endsAt);
    const extDue = ext?.status === 'pending' ? Date.parse(ext.expiresAt) : Number.POSITIVE_INFINITY;
    const wakeAt = Math.min(endsAt, extDue);
    const before = key();
    const notifiedStage = ext?.stage ?? null;
    const woke = await condition(() => revokeRequested(run.state) || key() !== before, Math.max(1, wakeAt - Date.now()));
    if (!woke) {
      // A timer fired: the extension's deadline (it expires), or the window's end (access ends now).
      if (ext?.status === 'pending') run.commit(extensionEnded(run.state, 'expired'));
      if (extDue < endsAt) continue;
      return;
    }
    const now = pendingExtension(run.state);
    if (now?.status === 'pending' && (now.seq !== ext?.seq || now.stage !== notifiedStage)) notifyExtension(run, now);
  }
}

async function applyExtension(run: RequestRun, ext: Extension): Promise<void> {
  const endsAt = new Date(Date.parse(ext.endsAtBefore) + ext.durationMs).toISOString();
  try {
    const moved = await grants.extendAccess({ requestId: run.state.id, tenant: run.state.tenant, endsAt, target: run.state.target });
    run.commit(extensionApplied(run.state, moved.endsAt));
  } catch (err) {
    if (isCancellation(err)) throw err;
    run.commit(extensionEnded(run.state, 'failed', failureMessage(err)));
  }
}

function notifyExtension(run: RequestRun, ext: Extension): void {
  if (!ext.stage) return;
  const recipients = stageRule(run.latestPolicy, ext.stage).approvers.filter((a) => a !== run.state.requester);
  run.send(extensionNeeded(run.state, ext, recipients, new Date()), {
    type: AuditEventType.approversNotified,
    actor: 'system',
    details: { stage: ext.stage, recipients, extension: ext.seq },
  });
}
