import { ActivityCancellationType, ActivityFailure, ApplicationFailure, CancellationScope, condition, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { AuditEventType } from '../../domain/audit.js';
import { approvedUntil, grantFailed, granted, revokeRequested, revoked, revokedWhileGranting } from '../../domain/decide.js';
import { extensionApplied, extensionEnded, pendingExtension } from '../../domain/extension.js';
import { extensionNeeded } from '../../domain/messages.js';
import { stageRule } from '../../domain/policy.js';
import { DecisionAction, type Extension } from '../../domain/request.js';
import type { ResourceTarget } from '../../domain/resources.js';
import { grants, mustSucceed, oneTry } from './proxies.js';
import { failureMessage, type RequestRun } from './request-run.js';

/** How long a grant may keep failing transiently before the request ends `failed`, unless the API set another. */
export const DEFAULT_GRANT_DEADLINE_MS = 5 * 60_000;

/**
 * Grants the approved access, holds it for its window (which an approved extension moves, an early revoke ends),
 * then revokes, always: the revoke runs in a non-cancellable scope and retries until it succeeds. Returns whether
 * the workflow was cancelled in Temporal while access was held.
 */
export async function grantAndHold(run: RequestRun): Promise<{ cancelled: boolean }> {
  const grant = await grantOrEnd(run);
  if (!grant) return { cancelled: false };
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

/**
 * The grant, while the request shows `granting`: retried with backoff until the target's deadline, ended at once
 * by a permanent refusal, stopped by a revoke decided meanwhile (the activity finishes its call at the target before
 * it reports the cancellation, so no grant lands after the clean-up revoke). On any of those the clean-up revoke
 * runs and the request ends; null then. A Temporal cancellation of the workflow is rethrown after the clean-up.
 */
async function grantOrEnd(run: RequestRun): Promise<{ grantedAt: string; endsAt: string } | null> {
  const deadline = positive(run.input.grantDeadlineMs) ?? DEFAULT_GRANT_DEADLINE_MS;
  const granting = proxyActivities<Activities>({
    startToCloseTimeout: '1m',
    scheduleToCloseTimeout: deadline,
    // Heartbeats carry a cancellation to the activity; the SDK sends them at most every 80 % of this.
    heartbeatTimeout: '10s',
    // Said explicitly: left unset, the SDK sends no type and the server's default (try-cancel) does not wait.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1s', maximumInterval: '30s', backoffCoefficient: 2 },
  });
  const notAfter = approvedUntil(run.state);
  const scope = new CancellationScope();
  let stoppedByRevoke = false;
  // The watcher outlives the grant; a Temporal cancellation of the workflow rejects it, which is nothing to handle.
  condition(() => revokeRequested(run.state))
    .then(() => {
      stoppedByRevoke = true;
      scope.cancel();
    })
    .catch(() => undefined);
  const asked = {
    requestId: run.state.id,
    tenant: run.state.tenant,
    resource: run.state.resource,
    principal: run.state.requester,
    durationMs: run.state.durationMs,
    target: run.state.target,
    // An approver's cap on the window: the activity shortens the grant to end by it.
    ...(notAfter ? { notAfter } : {}),
  };
  try {
    // Lockbox's own store: granted from this workflow task, without an activity's round trip through Temporal.
    const now = isBuiltin(run.state.target) ? grantedNow(await oneTry.grantAccessNow(asked).catch(notDone)) : null;
    return now ?? (await scope.run(() => granting.grantAccess(asked)));
  } catch (err) {
    const workflowCancelled = isCancellation(err) && !stoppedByRevoke;
    // Whatever part of the grant happened must not stay behind.
    const cleanup = await CancellationScope.nonCancellable(() => cleanUp(run, deadline));
    if (workflowCancelled) throw err;
    if (stoppedByRevoke && isCancellation(err)) {
      run.commit(revokedWhileGranting(run.state, cleanup?.revokedAt ?? new Date().toISOString(), cleanup?.verified ?? false));
    } else {
      run.commit(grantFailed(run.state, grantFailureReason(err, deadline), new Date()));
    }
    return null;
  }
}

/**
 * The clean-up revoke after a grant that did not complete: bounded by the same deadline as the grant, since the
 * target may be the very thing that is down. If it cannot confirm, the reconciler owns what is left (it revokes access no running request owns); the
 * worker counts it on an alarm metric and the audit says so.
 */
async function cleanUp(run: RequestRun, deadlineMs: number): Promise<{ revokedAt: string; verified: boolean } | null> {
  const bounded = proxyActivities<Activities>({
    startToCloseTimeout: '30s',
    scheduleToCloseTimeout: deadlineMs,
    retry: { initialInterval: '1s', maximumInterval: '30s', backoffCoefficient: 2 },
  });
  try {
    return await bounded.revokeAccess({ ...revokeInput(run), cleanup: true });
  } catch (err) {
    await mustSucceed.reportUnconfirmedCleanup({ requestId: run.state.id, tenant: run.state.tenant, reason: failureMessage(err) });
    run.journal.record([
      { type: AuditEventType.accessCleanupUnconfirmed, actor: 'system', details: { reason: failureMessage(err), owner: 'reconciler' } },
    ]);
    return null;
  }
}

/** A fixed, sanitised reason: the target's refusal code, or that the deadline passed. Never a receiver's text. */
function grantFailureReason(err: unknown, deadlineMs: number): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.nonRetryable) return failureMessage(err);
  // Anything else ended because the deadline passed: the target kept failing for as long as it was allowed to.
  return `grant_deadline_passed: the target did not grant within ${Math.round(deadlineMs / 1000)}s (last error: ${failureMessage(err).slice(0, 200)})`;
}

/** The store the fast grant may write: Lockbox's own (the recorded target, or none recorded: the default). */
function isBuiltin(target: ResourceTarget | undefined): boolean {
  return target === undefined || target.provider === 'builtin';
}

/** A failed local try is "not done" (the usual grant follows); a cancellation of the workflow goes on up. */
function notDone(err: unknown): null {
  if (isCancellation(err)) throw err;
  return null;
}

/** `grantAccessNow`'s answer, checked as anything from outside the sandbox is: a grant with two times, or null. */
export function grantedNow(answer: unknown): { grantedAt: string; endsAt: string } | null {
  if (typeof answer !== 'object' || answer === null || (answer as { granted?: unknown }).granted !== true) return null;
  const { grantedAt, endsAt } = answer as { grantedAt?: unknown; endsAt?: unknown };
  if (typeof grantedAt !== 'string' || typeof endsAt !== 'string') return null;
  const from = Date.parse(grantedAt);
  const to = Date.parse(endsAt);
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) return null;
  return { grantedAt: new Date(from).toISOString(), endsAt: new Date(to).toISOString() };
}

function positive(n: unknown): number | null {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : null;
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
