/**
 * The reconciler's rules, pure: which access at a grant target nobody owns any more (orphans), which active request
 * has lost its access at the target (drift), and what a request whose workflow ended outside its own code looks
 * like to a reader. No I/O, no Node built-ins (the reconcile workflow uses the report types).
 */
import type { ResourceTarget } from './resources.js';
import { RequestStatus, isTerminal, type AccessRequest } from './request.js';

/** What Temporal says about the workflow of a request id found at a target. */
export type Execution =
  /**
   * Running. `status` is its `LockboxStatus` as the workflow last set it (describe, consistent with its history);
   * `request` is its queried state, asked only while `pending` (approved and being granted, or not approved at all),
   * null when that query failed.
   */
  | { kind: 'running'; status: RequestStatus | null; request?: RequestView | null }
  /** Closed: completed, failed, terminated, timed out, cancelled (Temporal's own close status). */
  | { kind: 'closed'; closeStatus: string }
  /** No such workflow: deleted by retention, or never made by this Lockbox (a role made by hand). */
  | { kind: 'not_found' }
  /** Temporal could not be asked (timeout, permission): nothing is decided about this id in this run. */
  | { kind: 'unknown'; error: string };

/** The part of a request the rules look at. */
export type RequestView = Pick<AccessRequest, 'status' | 'approvedAt' | 'access' | 'decisions'>;

/** An active request whose access must exist at its target now. */
export interface HeldAccess {
  requestId: string;
  tenant: string;
  resource: string;
  principal: string;
  /** ISO-8601 UTC. */
  grantedAt: string;
  /** ISO-8601 UTC. */
  endsAt: string;
  /** `targetKey` of the request's target. */
  target: string;
}

export interface Orphan {
  requestId: string;
  /** Why nobody owns it, e.g. `workflow TERMINATED`, `workflow not found`, `request revoked`. */
  reason: string;
}

export interface Comparison {
  /** Access at the target that no running workflow holds: revoke it. */
  orphans: Orphan[];
  /** Ids the run could not decide about; they are looked at again next run. */
  unsure: Array<{ requestId: string; why: string }>;
}

/**
 * How close to its start or end a window is left alone: the workflow itself is granting or revoking it then, and
 * what the target says may be a moment behind or ahead of the request's state.
 */
export const SETTLE_MS = 15_000;

/** A stable key for a request's target: `builtin`, or `catalog:<name>` for a declared target. */
export function targetKey(target: ResourceTarget | undefined): string {
  if (!target || target.provider === 'builtin') return 'builtin';
  return `catalog:${target.name}`;
}

/** Whether a running request owns access at its target now: it is active, or approved and being granted. */
export function ownsAccess(r: RequestView): boolean {
  return r.status === RequestStatus.active || r.status === RequestStatus.granting;
}

/**
 * Whether an active request's access must exist at the target now, so that its absence is drift: granted a while
 * ago, not ending soon, no revoke asked for (the workflow may be revoking it this very moment).
 */
export function mustHoldAccess(r: RequestView, now: number): boolean {
  if (r.status !== RequestStatus.active || !r.access || r.access.revokedAt !== null) return false;
  if (r.decisions.some((d) => d.action === 'revoke')) return false;
  return Date.parse(r.access.grantedAt) + SETTLE_MS <= now && now < Date.parse(r.access.endsAt) - SETTLE_MS;
}

/** Orphan or not: null when the workflow owns the access, a string when not, `unsure` when it cannot be told. */
export function orphanReason(e: Execution | undefined): { orphan: string } | { owned: true } | { unsure: string } {
  if (!e) return { unsure: 'not looked up' };
  switch (e.kind) {
    case 'not_found':
      return { orphan: 'workflow not found (deleted by retention, or never made by Lockbox)' };
    case 'closed':
      return { orphan: `workflow ${e.closeStatus}` };
    case 'unknown':
      return { unsure: e.error };
    case 'running':
      if (e.request) {
        if (ownsAccess(e.request)) return { owned: true };
        // A running request that is not approved (reset to before its approval) or already ended holds nothing.
        return { orphan: `request ${e.request.status}${e.request.status === RequestStatus.pending ? ', not approved' : ''}` };
      }
      if (e.status === RequestStatus.active || e.status === RequestStatus.granting) return { owned: true };
      if (e.status !== null && isTerminal(e.status)) return { orphan: `request ${e.status}` };
      return { unsure: e.status === null ? 'the workflow has no status' : 'request state could not be queried' };
  }
}

/** Sorts what Lockbox granted at one target (`granted`: request ids it lists) into orphans and ids left unsure. */
export function compareTarget(input: { granted: readonly string[]; executions: Readonly<Record<string, Execution>> }): Comparison {
  const out: Comparison = { orphans: [], unsure: [] };
  for (const requestId of new Set(input.granted)) {
    const verdict = orphanReason(input.executions[requestId]);
    if ('orphan' in verdict) out.orphans.push({ requestId, reason: verdict.orphan });
    else if ('unsure' in verdict) out.unsure.push({ requestId, why: verdict.unsure });
  }
  return out;
}

/**
 * Active requests no target listed: the ones that may have lost their access. `active` must have been read BEFORE
 * the targets were listed (a request is active only once its grant exists, so one listed active then had its grant
 * then); each candidate still needs confirming against the request and its target before anything is done, since
 * its window may have ended or a revoke begun in between.
 */
export function driftCandidates(active: readonly string[], grantedAnywhere: Iterable<string>): string[] {
  const granted = new Set(grantedAnywhere);
  return [...new Set(active)].filter((id) => !granted.has(id));
}

/**
 * A request as readers should see it when its workflow is no longer running but its last state is not an end
 * (terminated or timed out in Temporal, so its own code never ran to the end): `failed`, saying why. Its access
 * window is not enforced by the workflow any more; the reconciler revokes what is left at the target.
 */
export function endedOutsideWorkflow(state: AccessRequest, execution: { status: string; closedAt: string | null }): AccessRequest {
  if (isTerminal(state.status) || execution.status === 'RUNNING') return state;
  const how = execution.status.toLowerCase().replace(/_/g, ' ');
  return {
    ...state,
    status: RequestStatus.failed,
    stage: null,
    endedAt: execution.closedAt ?? state.endedAt,
    failure: `the request's workflow was ${how} in Temporal before the request ended${state.access ? '; the reconciler revokes any access left at the target' : ''}`,
  };
}

/** The tenant in a request id `req-<tenant>-<26-character ULID>`, or null. */
export function tenantOfRequestId(requestId: string): string | null {
  const m = /^req-(.+)-[0-9A-HJKMNP-TV-Z]{26}$/.exec(requestId);
  return m?.[1] ?? null;
}

/** What the reconciler does about drift: `fail` reports it (audit, metric, log); `restore` also grants it again. */
export type DriftMode = 'fail' | 'restore';

/** The kind of a grant target, as reports and metrics name it. */
export type TargetProvider = 'builtin' | 'postgres' | 'webhook';

/** The reconcile workflow's input (the schedule's action arguments). */
export interface ReconcileInput {
  drift?: DriftMode;
}

/** A grant target the reconciler looks at: the built-in store and every target the operator declared. */
export interface TargetRef {
  key: string;
  /** For logs and reports, no secret: `builtin` or the declared target's name. */
  label: string;
  target: ResourceTarget;
  /** What kind of target it is (metrics and reports). */
  provider: TargetProvider;
  /** Tenants the operator allows to use it (none for the built-in store, which every unpicked resource uses). */
  tenants: string[];
  /** Resources tenants' settings send to it, for audit events about access whose request is unknown. */
  resources: string[];
  /** Set when the target is not reconciled, saying why. */
  skipped?: string;
  /**
   * Set (with `skipped`) when the target cannot be reconciled at all: it has no way to list what it holds (a
   * webhook target without a list call). Not set for one left out on purpose (a built-in default URL).
   */
  notReconcilable?: true;
}

export interface OrphanOutcome {
  requestId: string;
  tenant: string;
  resource: string;
  reason: string;
  /** `already_gone`: another run (or the workflow) removed it first; nothing was done or audited. */
  outcome: 'revoked' | 'already_gone' | 'failed';
  error?: string;
}

export interface DriftOutcome {
  requestId: string;
  tenant: string;
  resource: string;
  action: 'reported' | 'restored' | 'restore_failed';
  error?: string;
}

export interface TargetReport {
  target: string;
  provider: TargetProvider;
  /** Access objects Lockbox made that the target listed. */
  granted: number;
  orphans: OrphanOutcome[];
  drift: DriftOutcome[];
  unsure: Array<{ requestId: string; why: string }>;
  skipped?: string;
  /** The target cannot list what it holds: nothing it granted is ever reconciled (an operator must add a list call). */
  notReconcilable?: true;
  /** The target could not be reconciled this run (unreachable, bad configuration). */
  error?: string;
}

export interface ReconcileReport {
  /** ISO-8601 UTC. */
  startedAt: string;
  finishedAt: string;
  drift: DriftMode;
  /** False when any target (or the listing of active requests) failed: the run did not check everything. */
  ok: boolean;
  /** Running requests listed as active (visibility) when the run began: the ones checked for drift. */
  active: number;
  targets: TargetReport[];
  /** Labels of the targets that cannot be reconciled at all (`notReconcilable`); they do not make `ok` false. */
  notReconcilable: string[];
  /** Failures outside any one target. */
  errors: string[];
}

/** A target's report when it could not be reconciled at all. */
export function failedTarget(ref: TargetRef, error: string): TargetReport {
  return { target: ref.label, provider: ref.provider, granted: 0, orphans: [], drift: [], unsure: [], error };
}

/** A target's report when it is not reconciled (its provider cannot list grants, no explicit connection). */
export function skippedTarget(ref: TargetRef, why: string): TargetReport {
  return { target: ref.label, provider: ref.provider, granted: 0, orphans: [], drift: [], unsure: [], skipped: why, ...(ref.notReconcilable ? { notReconcilable: true as const } : {}) };
}

/** The run's report: ok only if every target and every orphan revoke succeeded. */
export function finishReport(input: {
  startedAt: string;
  finishedAt: string;
  drift: DriftMode;
  active: number;
  targets: TargetReport[];
  errors: string[];
}): ReconcileReport {
  const targetsOk = input.targets.every((t) => !t.error && t.orphans.every((o) => o.outcome !== 'failed'));
  const notReconcilable = input.targets.filter((t) => t.notReconcilable).map((t) => t.target);
  return { ...input, ok: targetsOk && input.errors.length === 0, notReconcilable };
}
