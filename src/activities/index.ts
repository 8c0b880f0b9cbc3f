import type { AuditEvent } from '../domain/audit.js';
import type { AuditSink } from '../ports/audit-sink.js';
import { ApplicationFailure } from '@temporalio/activity';
import type { GrantRouter } from '../adapters/grants/grant-router.js';
import { checkTargetUse, EMPTY_CATALOG, kindOf, type ResourceTarget, type TargetUse } from '../domain/resources.js';
import type { GrantInput, GrantNow, GrantResult } from '../ports/grant-provider.js';
import type { Notification, Notifier } from '../ports/notifier.js';
import type { Logger } from '../config/logger.js';
import { verifyMessage, verifyRequest } from '../domain/ed25519.js';
import { FIRST_NOTICE_WITHIN_MS, OUTCOME_NOT_DELIVERED, OUTCOME_WITHIN_MS, type NoticeNow, type OutcomeFailure } from '../domain/messages.js';
import type { NewRequestInput } from '../domain/request.js';
import { DECISION_MESSAGE_PREFIX, type SignatureCheck } from '../domain/signing.js';
import type { Store } from '../ports/store.js';
import { createReconcileActivities } from './reconcile.js';
import type { ActivityDeps } from './deps.js';
import { whileHeartbeating } from './heartbeat.js';
import { withDeadline } from '../adapters/deadline.js';
import { createSettingsActivities } from './settings.js';
import { createSweepActivities } from './sweep.js';
import { activityInfo, callingWorkflowId, createRecordActivities, keepRecord, type RecordCopy } from './records.js';

export type { ActivityDeps } from './deps.js';
export type { GrantMetrics, ReconcileMetrics } from './metrics.js';

/**
 * The activities: thin, idempotent wrappers over the ports. Each can be retried at any point without
 * granting twice, revoking wrongly, notifying twice or exporting an audit event twice.
 */
export function createActivities(deps: ActivityDeps) {
  /**
   * The worker's own check, where the power is used: the request's target must be declared in this worker's
   * catalog and, to grant or extend, allowed for the request's tenant, whatever the API, the settings row or the
   * workflow input said. A refusal is non-retryable (`target_not_allowed`): the request ends failed, nothing granted.
   */
  function checkedTarget(input: { requestId: string; tenant?: string; target?: ResourceTarget }, use: TargetUse) {
    const decision = checkTargetUse(deps.targets ?? EMPTY_CATALOG, input.target, input.tenant, use);
    if (decision.ok) return { provider: kindOf(decision.resolved), router: deps.grants.providerFor(input.target) };
    deps.log.error('target refused for this request', { requestId: input.requestId, tenant: input.tenant, use, reason: decision.message });
    return { refused: decision.message };
  }

  /** A grant at a checked target: counted, logged (never the credential) and its failure sanitised. */
  async function grantThrough(input: GrantInput, kind: string, call: () => Promise<GrantResult>): Promise<GrantResult> {
    try {
      const result = await call();
      deps.metrics?.grants.inc({ provider: kind, outcome: 'ok' });
      deps.log.info('access granted', { requestId: input.requestId, tenant: input.tenant, resource: input.resource, principal: input.principal, endsAt: result.endsAt });
      return result;
    } catch (err) {
      deps.metrics?.grants.inc({ provider: kind, outcome: 'failed' });
      deps.log.warn('grant failed', { requestId: input.requestId, tenant: input.tenant, resource: input.resource, error: errorMessage(err) });
      throw asFailure(err);
    }
  }

  return {
    /**
     * What a request's workflow needs before it trusts anything: which run owns the request id (the first run to
     * claim it, forever), and whether the API signed the input (checked against this worker's trusted keys, never
     * the caller's). Local: its answer is recorded in history, so a replay never verifies again.
     */
    async beginRequest(input: { requestId: string; runId: string; input: NewRequestInput }): Promise<{ owner: string; signed: boolean }> {
      const owner = await deps.store.claimRequestRun(input.requestId, input.runId);
      return { owner, signed: input.input?.id === input.requestId && verifyRequest(input.input, deps.trustedKeys) };
    },

    /**
     * A decision's signature, checked for its workflow (local, node:crypto): only a decision message
     * (`lockbox-decision-v1`) signed by a trusted key verifies; anything else is false, never an error.
     */
    async verifySignature(check: SignatureCheck): Promise<boolean> {
      return typeof check?.message === 'string' && check.message.startsWith(DECISION_MESSAGE_PREFIX) && verifyMessage(check.message, check.keyId, check.signature, deps.trustedKeys);
    },

    async sendNotifications(messages: Notification[]): Promise<void> {
      await deliverEach(deps, messages);
    },

    /**
     * The approvers' first notice, from the request's first workflow task (local: its answer is a marker in history,
     * with no activity task and no workflow task of its own). Never fails: a notice not delivered within `withinMs`
     * (at most {@link FIRST_NOTICE_WITHIN_MS}) answers `delivered: false` and the workflow sends it the usual way,
     * retried and audited if it fails; a channel that delivered meanwhile is not sent to twice (the fan-out remembers).
     */
    async sendNoticeNow(input: { messages: Notification[]; withinMs: number }): Promise<NoticeNow> {
      if (!Array.isArray(input?.messages)) return { delivered: false, error: 'no messages given' };
      const withinMs = Math.min(Math.max(0, Number(input.withinMs) || 0), FIRST_NOTICE_WITHIN_MS);
      try {
        // Still sending at the deadline: it runs on, and the workflow's usual send joins it (the fan-out).
        await withDeadline(deliverEach(deps, input.messages), Date.now() + withinMs, () => new Error(`not delivered within ${withinMs} ms`));
        return { delivered: true, at: new Date().toISOString() };
      } catch (err) {
        return { delivered: false, error: errorMessage(err) };
      }
    },

    /** Tells every known admin of the message's tenant (the customer hears every outcome); returns who. */
    async notifyTenantAdmins(message: Notification): Promise<string[]> {
      return tellTenantAdmins(deps, message);
    },

    /**
     * A request's outcome to everyone who hears it, in one activity (one task fewer for every request that ends):
     * each `direct` group (the requester; the approvers of a failed grant) and, given `admins`, every admin of the
     * tenant, all at once. If a group fails, the failure's details name each failed group by its index (`admins`
     * is the last) with its own reason, so the workflow audits each on its own. A retry re-sends only what a channel
     * has not delivered yet (the fan-out remembers), so a flaky Slack does not mean a second e-mail.
     */
    async sendOutcome(input: Outcome): Promise<void> {
      const failed = await deliverOutcome(deps, input);
      if (failed.length > 0) throw ApplicationFailure.retryable(failed.map((f) => f.error).join('; '), OUTCOME_NOT_DELIVERED, failed);
    },

    /**
     * A request's end in one activity (one activity task and one workflow task fewer for every request that ends):
     * the outcome as `sendOutcome` sends it, then, once everyone has heard it, the trail's last batch exported as
     * `exportAudit` exports it. The outcome gets {@link OUTCOME_WITHIN_MS}: a group not told by then fails the activity
     * at once, without a retry and with nothing exported (`OutcomeNotDelivered`, non-retryable, naming the groups),
     * and the workflow goes the usual way (`sendOutcome` to those groups, retried and audited), so a slow channel holds
     * the trail no longer than that. A batch the sinks refuse answers `exported: false` (the workflow exports it the
     * usual way, retried), so that the outcome is never sent again for it. Retried only when an attempt got no
     * answer (a worker that died, a timeout); from the second attempt on, an outcome not delivered is retried too,
     * never handed back: the attempt before may have exported the batch, `request.closed` included, and the usual way
     * would then number its own events over it.
     */
    async finishRequest(input: Outcome & { events: AuditEvent[]; record?: RecordCopy }): Promise<{ exported: boolean }> {
      const deadline = Date.now() + OUTCOME_WITHIN_MS;
      const failed = await withDeadline(deliverOutcome(deps, input), deadline, () => new Error(`outcome not delivered within ${OUTCOME_WITHIN_MS} ms`)).catch(
        (err: unknown): OutcomeFailure[] => [{ group: -1, error: errorMessage(err) }],
      );
      if (failed.length > 0) {
        const message = failed.map((f) => f.error).join('; ');
        if ((activityInfo()?.attempt ?? 1) > 1) throw ApplicationFailure.retryable(message, OUTCOME_NOT_DELIVERED);
        throw ApplicationFailure.nonRetryable(message, OUTCOME_NOT_DELIVERED, failed);
      }
      try {
        await exportTrail(deps, input.events, input.record);
        return { exported: true };
      } catch (err) {
        deps.log.warn('audit export at the end of a request failed; the workflow exports it again', { requestId: input.events[0]?.requestId, error: errorMessage(err) });
        return { exported: false };
      }
    },

    async grantAccess(input: GrantInput & { target?: ResourceTarget; notAfter?: string }): Promise<GrantResult> {
      const { target: _recorded, notAfter, ...asked } = input;
      const checked = checkedTarget(input, 'grant');
      if ('refused' in checked) {
        deps.metrics?.grants.inc({ provider: 'none', outcome: 'refused' });
        throw ApplicationFailure.nonRetryable(checked.refused, 'TargetNotAllowed');
      }
      const grant = cappedGrant(asked, notAfter, Date.now());
      if ('refused' in grant) {
        deps.metrics?.grants.inc({ provider: checked.provider, outcome: 'refused' });
        throw ApplicationFailure.nonRetryable(grant.refused, 'ApprovedWindowEnded');
      }
      return grantThrough(input, checked.provider, () => whileHeartbeating(() => checked.router.grant(grant)));
    },

    /**
     * The grant from the workflow task that took in the approval (local: its answer is a marker in history, with no
     * activity task and no workflow task of its own), for Lockbox's own grant store only: a row written in the
     * worker's own database, idempotent by request id, never resurrected once revoked. One try; it never fails: a
     * declared target or a refusal answers `granted: false` without calling anything, an error (counted and logged)
     * answers the same, and the workflow then grants the usual way (`grantAccess`: retried, refused, audited).
     */
    async grantAccessNow(input: GrantInput & { target?: ResourceTarget; notAfter?: string }): Promise<GrantNow> {
      if (typeof input !== 'object' || input === null) return { granted: false, error: 'no grant asked' };
      const decision = checkTargetUse(deps.targets ?? EMPTY_CATALOG, input.target, input.tenant, 'grant');
      if (!decision.ok || kindOf(decision.resolved) !== 'builtin') return { granted: false, error: 'not a grant in Lockbox\'s own store' };
      const { target: _recorded, notAfter, ...asked } = input;
      const grant = cappedGrant(asked, notAfter, Date.now());
      if ('refused' in grant) return { granted: false, error: grant.refused };
      try {
        const result = await grantThrough(input, 'builtin', () => deps.grants.providerFor(input.target).grant(grant));
        return { granted: true, grantedAt: result.grantedAt, endsAt: result.endsAt };
      } catch (err) {
        return { granted: false, error: errorMessage(err) };
      }
    },

    /**
     * Revokes, then checks at the target that the access is really gone (no grant, no role, no open session) before
     * reporting success: a revoke that "succeeded" but left access behind is retried like a failure.
     */
    async revokeAccess(input: { requestId: string; tenant?: string; target?: ResourceTarget; cleanup?: boolean }): Promise<{ revokedAt: string; verified: boolean }> {
      const revokedAt = new Date().toISOString();
      // Any declared target, whoever may grant through it now; never one this worker does not know.
      const checked = checkedTarget(input, 'revoke');
      if ('refused' in checked) {
        deps.metrics?.revokeFailures.inc({ provider: 'none' });
        // A clean-up after a refused grant: nothing was sent there, and nothing ever will be; the alarm is raised now.
        if (input.cleanup) throw ApplicationFailure.nonRetryable(checked.refused, 'TargetNotAllowed');
        // Granted while declared, withdrawn since: retried (loudly) until the operator declares it again.
        throw new Error(`${checked.refused}; the revoke is retried until it is declared again`);
      }
      const kind = checked.provider;
      const provider = checked.router;
      try {
        await provider.revoke({ requestId: input.requestId, revokedAt });
        const check = await provider.verify?.({ requestId: input.requestId });
        if (check && (check.present || check.sessions > 0)) {
          throw new Error(`revoke did not take: access still present at the target (${check.sessions} open session(s))`);
        }
        deps.metrics?.revokes.inc({ provider: kind });
        deps.log.info('access revoked', { requestId: input.requestId, revokedAt, verified: check !== undefined });
        return { revokedAt, verified: check !== undefined };
      } catch (err) {
        // Loud on purpose: a revoke that keeps failing must be visible while it is retried (it is never given up).
        deps.metrics?.revokeFailures.inc({ provider: kind });
        if (reasonOf(err) === 'drop_role_refused') deps.metrics?.dropRoleFailures?.inc();
        deps.log.error('revoke failed, will retry', { requestId: input.requestId, error: errorMessage(err) });
        // A clean-up after a grant that did not complete, to a destination the rules refuse: retrying cannot help
        // (nothing will ever be sent there), so the clean-up ends now and the workflow raises its alarm at once.
        if (input.cleanup && refusedByRules(err)) throw ApplicationFailure.nonRetryable(errorMessage(err), 'CleanupRefusedByRules');
        throw err;
      }
    },

    /** Moves the end of a grant at its target (an approved extension). */
    async extendAccess(input: { requestId: string; tenant?: string; endsAt: string; target?: ResourceTarget }): Promise<{ endsAt: string }> {
      const checked = checkedTarget(input, 'extend');
      if ('refused' in checked) throw ApplicationFailure.nonRetryable(checked.refused, 'TargetNotAllowed');
      const provider = checked.router;
      if (!provider.extend) throw ApplicationFailure.nonRetryable('this resource\'s grant target cannot extend a grant', 'NonRetryableGrantError');
      try {
        return await provider.extend({ requestId: input.requestId, endsAt: input.endsAt });
      } catch (err) {
        throw asFailure(err);
      }
    },

    /** An alarm: a clean-up revoke could not confirm in time; the reconciler owns what is left at the target. */
    async reportUnconfirmedCleanup(input: { requestId: string; tenant: string; reason: string }): Promise<void> {
      deps.metrics?.cleanupUnconfirmed?.inc();
      deps.log.error('clean-up revoke unconfirmed; the reconciler owns it', { requestId: input.requestId, tenant: input.tenant, reason: input.reason.slice(0, 200) });
    },

    /**
     * Exports a batch of a workflow's audit events to the sinks and, for a request, keeps its record (the copy of
     * the request as it stood then) with them in the Store; a retry repeats both, and both store each event once.
     */
    async exportAudit(events: AuditEvent[], record?: RecordCopy): Promise<void> {
      await exportTrail(deps, events, record);
    },

    /** Tenant settings, applied only as the API signed them. */
    ...createSettingsActivities(deps),

    /** The reconciler's (docs/reconcile.md). */
    ...createReconcileActivities(deps),

    /** The sweep of requests closed outside their workflow (part of each reconcile). */
    ...createSweepActivities(deps),

    /** Record retention (part of each reconcile; docs/records.md). */
    ...createRecordActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** A request's outcome: each `direct` group (the requester; the approvers of a failed grant) and the tenant's admins. */
export interface Outcome {
  direct: Notification[][];
  admins: Notification | null;
}

/** Sends every group of an outcome at once; answers the groups that failed (`admins` is the last index). */
async function deliverOutcome(deps: ActivityDeps, input: Outcome): Promise<OutcomeFailure[]> {
  const direct = Array.isArray(input?.direct) ? input.direct : [];
  const groups = [...direct.map((messages) => () => deliverEach(deps, messages)), ...(input?.admins ? [() => tellTenantAdmins(deps, input.admins!)] : [])];
  const results = await Promise.allSettled(groups.map((send) => send()));
  return results.flatMap((r, group) => (r.status === 'rejected' ? [{ group, error: errorMessage(r.reason) }] : []));
}

/** A batch of a trail to the sinks and, with `record`, the request's record kept with it; both store each event once. */
async function exportTrail(deps: ActivityDeps, events: AuditEvent[], record?: RecordCopy): Promise<void> {
  await deps.audit.append(events);
  if (record) await keepRecord(deps, events, record, callingWorkflowId());
}

/** Every known admin of the message's tenant, told the message (each with an id of their own); returns who. */
async function tellTenantAdmins(deps: ActivityDeps, message: Notification): Promise<string[]> {
  const admins = (await deps.store.listUsers({ tenant: message.tenant, role: 'admin' })).map((u) => u.id).filter((id) => id !== message.recipient);
  await deliverEach(deps, admins.map((admin) => ({ ...message, id: `${message.id}:admin:${admin}`, recipient: admin })));
  return admins;
}

/**
 * Tries every message, even after one failed (one recipient's failing channel must not keep the others from hearing
 * anything), then throws if any failed, so the activity is retried; the notifier skips what it already delivered.
 */
async function deliverEach(deps: ActivityDeps, messages: readonly Notification[]): Promise<void> {
  const causes: unknown[] = [];
  for (const m of messages) {
    try {
      await deps.notifier.notify(m);
      deps.log.info('notification sent', { requestId: m.requestId, tenant: m.tenant, recipient: m.recipient, kind: m.kind });
    } catch (err) {
      causes.push(err);
    }
  }
  if (causes.length === 1) throw causes[0];
  if (causes.length > 1) throw new AggregateError(causes, causes.map(errorMessage).join('; '));
}

/** Configuration errors at the target are not retried: retrying cannot fix them, and the request ends as failed. */
function asFailure(err: unknown): unknown {
  if (err instanceof Error && (err as { nonRetryable?: boolean }).nonRetryable) {
    return ApplicationFailure.nonRetryable(err.message, 'NonRetryableGrantError');
  }
  return err;
}

/** A provider's reason code on its error, if it has one. */
function reasonOf(err: unknown): unknown {
  return (err as { reason?: unknown } | null)?.reason;
}

/** The outbound rules refused the call (never sent): the guarded client's reason codes. */
function refusedByRules(err: unknown): boolean {
  const reason = (err as { reason?: unknown } | null)?.reason;
  return reason === 'destination_refused' || reason === 'redirect_refused' || /\b(destination_refused|redirect_refused)\b/.test(errorMessage(err));
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A grant shorter than this is not worth making: an approver's cap that leaves less refuses the grant instead. */
export const MIN_CAPPED_GRANT_MS = 1_000;

/**
 * The grant as the provider gets it: the window asked for, shortened to end by the approvers' cap (`notAfter`, the
 * earliest `until` of the approvals) when there is one. Computed at the moment of the call (a retried grant gets what
 * is left). A cap that is not a time, or that leaves less than a second, refuses the grant: access never outlives it.
 */
export function cappedGrant(asked: GrantInput, notAfter: unknown, now: number): GrantInput | { refused: string } {
  if (notAfter === undefined) return asked;
  const cap = typeof notAfter === 'string' ? Date.parse(notAfter) : Number.NaN;
  if (!Number.isFinite(cap)) return { refused: 'approved_window_invalid: the approvers\' until is not a time' };
  const left = Math.floor(cap - now);
  if (left < MIN_CAPPED_GRANT_MS) {
    return { refused: `approved_window_ended: the approvers' until (${new Date(cap).toISOString()}) passed before access was granted` };
  }
  return { ...asked, durationMs: Math.min(asked.durationMs, left), endsBy: new Date(cap).toISOString() };
}
