import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { AuditEvent } from '../domain/audit.js';
import { createRequest } from '../domain/decide.js';
import { isTerminal, type AccessRequest, type DecisionAction, type NewRequestInput, type RequestStatus } from '../domain/request.js';
import type { SettingsChange, SettingsChangeResult } from '../domain/settings.js';
import type { SignedDecision } from '../domain/signing.js';
import * as defs from '../workflows/definitions.js';
import { DecisionRefusedError, RequestIdUsedError, RequestNotFoundError } from './errors.js';
import { endedOutsideWorkflow } from '../domain/reconcile.js';
import { runReconcileNow, type ReconcileNow } from './reconcile.js';
import type { RecordListQuery } from '../ports/record-store.js';

/** What a listing shows of a request: visibility data only (decisions and access come with `get`). */
export interface RequestSummary {
  id: string;
  /** The Temporal run that owns the request (signed into control messages sent to it). */
  runId: string;
  tenant: string;
  resource: string;
  requester: string;
  reason: string;
  ticket: string | null;
  duration: string;
  status: RequestStatus;
  createdAt: string;
  expiresAt: string;
  closedAt: string | null;
  /** Break-glass (from the memo): counted against the responder's daily limit. */
  emergency?: true;
}

/** The caller's scope and the filters of a list (the same as a records query, without period and paging). */
export type ListFilter = Omit<RecordListQuery, 'createdFrom' | 'createdTo' | 'after'>;

/** How long an approve that completes the quorum waits for the grant before it answers with the request `granting`. */
export const GRANT_ANSWER_WITHIN_MS = 8_000;

const UPDATES = {
  approve: defs.approveUpdate,
  reject: defs.rejectUpdate,
  revoke: defs.revokeUpdate,
  cancel: defs.cancelUpdate,
  extend: defs.extendUpdate,
} as const;

/** Typed Temporal calls shared by the API and the CLI: start, decide, read, list. */
export function createLockboxClient(client: Client, taskQueue: string) {
  const handle = (id: string) => client.workflow.getHandle(id);

  async function get(id: string): Promise<AccessRequest> {
    try {
      const state = await handle(id).query(defs.getRequestQuery);
      if (isTerminal(state.status)) return state;
      // A workflow terminated (or timed out) in Temporal answers with its last state, which still says pending or
      // active: say instead that it ended, and why.
      const execution = await handle(id).describe().catch(() => null);
      if (!execution) return state;
      return endedOutsideWorkflow(state, { status: execution.status.name, closedAt: execution.closeTime?.toISOString() ?? null });
    } catch (err) {
      throw mapNotFound(err, id);
    }
  }

  /**
   * The Update's answer or, once it has waited {@link GRANT_ANSWER_WITHIN_MS} and the request is `granting`, the
   * request as it stands. The bound is kept here, not by a timer in the workflow: a timer there would be started and
   * cancelled in the history of every approve. The Update itself goes on until the grant ends.
   */
  async function answeredWhileGranting(id: string, applied: Promise<AccessRequest>): Promise<AccessRequest> {
    applied.catch(() => undefined); // awaited below unless the caller was answered `granting`
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), GRANT_ANSWER_WITHIN_MS);
      });
      const answer = await Promise.race([applied, waited]).finally(() => clearTimeout(timer));
      if (answer) return answer;
      // Not yet applied (a busy worker) or applied and waiting on something else (an extension's target): wait on.
      const current = await get(id).catch(() => null);
      if (current?.status === 'granting') return current;
    }
  }

  /**
   * Runs a signed Update; the workflow's refusal becomes a typed {@link DecisionRefusedError}, and an Update a closed
   * workflow cannot take becomes `closed(request)` (a conflict), else not found.
   */
  async function signedUpdate(
    id: string,
    update: typeof defs.reviewUpdate,
    args: SignedDecision,
    closed: (current: AccessRequest) => DecisionRefusedError,
  ): Promise<AccessRequest> {
    try {
      return await handle(id).executeUpdate(update, { args: [args] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
        const kind = err.cause.type === defs.FailureType.forbidden ? 'forbidden' : 'conflict';
        const code = typeof err.cause.details?.[0] === 'string' ? err.cause.details[0] : kind;
        throw new DecisionRefusedError(kind, code, err.cause.message);
      }
      const current = await get(id).catch(() => null);
      if (current && isTerminal(current.status)) throw closed(current);
      throw mapNotFound(err, id);
    }
  }

  return {
    /**
     * Starts the request's workflow, or attaches to it while it runs (an idempotent retry, `fresh` false). A request
     * id is used by one run, forever: once that run has closed, starting it again throws `RequestIdUsedError`.
     * A fresh request is answered from the same pure function the workflow runs, without a round trip.
     */
    async start(input: NewRequestInput, fresh: boolean): Promise<AccessRequest> {
      const created = createRequest(input).state;
      let runId: string;
      try {
        const started = await client.workflow.start('accessRequestWorkflow', {
          workflowId: input.id,
          taskQueue,
          args: [input],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          workflowIdConflictPolicy: 'USE_EXISTING',
          typedSearchAttributes: [
            { key: defs.SearchAttributes.tenant, value: input.tenant },
            { key: defs.SearchAttributes.status, value: created.status },
            { key: defs.SearchAttributes.requester, value: input.requester },
            { key: defs.SearchAttributes.resource, value: input.resource },
          ],
          memo: {
            reason: created.reason,
            ticket: created.ticket,
            duration: created.duration,
            createdAt: created.createdAt,
            expiresAt: created.expiresAt,
            ...(created.emergency ? { emergency: true } : {}),
          },
        });
        runId = started.firstExecutionRunId;
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) throw new RequestIdUsedError(input.id);
        throw err;
      }
      return fresh ? { ...created, runId } : await get(input.id);
    },

    get,

    async audit(id: string): Promise<AuditEvent[]> {
      try {
        return await handle(id).query(defs.getAuditQuery);
      } catch (err) {
        throw mapNotFound(err, id);
      }
    },

    /**
     * Sends a decision as an Update; answers with the request after it took effect, or a typed refusal. An approve
     * that completes the quorum answers once access is granted (or failed) or, while the target is slow, with the
     * request `granting` after {@link GRANT_ANSWER_WITHIN_MS} (the API's 202).
     */
    decide(id: string, action: DecisionAction, args: SignedDecision): Promise<AccessRequest> {
      // A closed (or closing) workflow takes no updates: the request is over, so this is a conflict, not a missing
      // request and not a server error. The server says so in more than one way, so ask the request itself.
      const applied = signedUpdate(id, UPDATES[action], args, (current) => new DecisionRefusedError('conflict', 'not_pending', `request is ${current.status}`));
      return action === 'approve' ? answeredWhileGranting(id, applied) : applied;
    },

    /** Sends a review of an emergency request (signed by the API); a refusal is typed like a decision's. */
    review(id: string, args: SignedDecision): Promise<AccessRequest> {
      // Closed: the review was made, or is overdue, and the request is over.
      return signedUpdate(id, defs.reviewUpdate, args, (current) =>
        new DecisionRefusedError('conflict', 'review_closed', `request is ${current.status} and its review is ${current.review?.status ?? 'not due'}`),
      );
    },

    /** Tells a pending request that its tenant's settings changed (signed by the API; a signal, not awaited). */
    async policyChanged(id: string, args: SignedDecision): Promise<void> {
      await handle(id).signal(defs.policyChangedSignal, args);
    },

    /** Runs a tenant settings change (write + audit event) as its own workflow and waits for its result. */
    async changeSettings(change: SettingsChange): Promise<SettingsChangeResult> {
      return client.workflow.execute('tenantSettingsWorkflow', {
        workflowId: change.changeId,
        taskQueue,
        args: [change],
        typedSearchAttributes: [{ key: defs.SearchAttributes.tenant, value: change.tenant }],
      });
    },

    /** Runs the reconciler now (operators; docs/reconcile.md) and waits up to `waitMs` for its report. */
    reconcile(waitMs: number): Promise<ReconcileNow> {
      return runReconcileNow(client, taskQueue, waitMs);
    },

    async list(filter: ListFilter): Promise<RequestSummary[]> {
      const query = buildListQuery(filter);
      const out: RequestSummary[] = [];
      for await (const info of client.workflow.list({ query, pageSize: Math.min(filter.limit, 1000) })) {
        out.push(toSummary(info));
        if (out.length >= filter.limit) break;
      }
      return out;
    },
  };
}

export type LockboxClient = ReturnType<typeof createLockboxClient>;

/** Values reaching the visibility query are validated by the API (no quotes); this guards again. */
function quote(value: string): string {
  if (!/^[\w.@:/+-]*$/.test(value)) throw new Error('unsafe value in visibility query');
  return `'${value}'`;
}

function buildListQuery(f: ListFilter): string {
  const clauses = [`WorkflowType = 'accessRequestWorkflow'`];
  const scope: string[] = [];
  if (f.scopeTenants && f.scopeTenants.length > 0) {
    scope.push(`${defs.SearchAttributes.tenant.name} IN (${f.scopeTenants.map(quote).join(', ')})`);
  }
  if (f.scopeRequester) scope.push(`${defs.SearchAttributes.requester.name} = ${quote(f.scopeRequester)}`);
  if (f.scopeTenants !== undefined || f.scopeRequester !== undefined) {
    clauses.push(scope.length > 0 ? `(${scope.join(' OR ')})` : `WorkflowId = ''`);
  }
  if (f.tenant) clauses.push(`${defs.SearchAttributes.tenant.name} = ${quote(f.tenant)}`);
  if (f.status) clauses.push(statusClause(f.status));
  if (f.requester) clauses.push(`${defs.SearchAttributes.requester.name} = ${quote(f.requester)}`);
  if (f.resource) clauses.push(`${defs.SearchAttributes.resource.name} = ${quote(f.resource)}`);
  // No ORDER BY: SQL visibility (the dev server) refuses it; every store lists newest first by default.
  return clauses.join(' AND ');
}

function toSummary(info: WorkflowExecutionInfo): RequestSummary {
  const sa = info.typedSearchAttributes;
  const memo = (info.memo ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    id: info.workflowId,
    runId: info.runId,
    tenant: sa.get(defs.SearchAttributes.tenant) ?? '',
    resource: sa.get(defs.SearchAttributes.resource) ?? '',
    requester: sa.get(defs.SearchAttributes.requester) ?? '',
    reason: str(memo.reason),
    ticket: typeof memo.ticket === 'string' ? memo.ticket : null,
    duration: str(memo.duration),
    status: listedStatus((sa.get(defs.SearchAttributes.status) ?? 'pending') as RequestStatus, info.status.name),
    createdAt: str(memo.createdAt),
    expiresAt: str(memo.expiresAt),
    closedAt: info.closeTime ? info.closeTime.toISOString() : null,
    ...(memo.emergency === true ? { emergency: true as const } : {}),
  };
}

/**
 * Status as `toSummary` reports it: a request still `pending` or `active` in visibility whose workflow is closed
 * (terminated in Temporal) is listed as `failed`, and found by that status.
 */
function statusClause(status: RequestStatus): string {
  const sa = defs.SearchAttributes.status.name;
  if (!isTerminal(status)) return `${sa} = ${quote(status)} AND ExecutionStatus = 'Running'`;
  if (status === 'failed') return `(${sa} = 'failed' OR (${sa} IN ('pending', 'granting', 'active') AND ExecutionStatus != 'Running'))`;
  return `${sa} = ${quote(status)}`;
}

/** A request whose workflow closed without reaching an end of its own (terminated in Temporal) is over: `failed`. */
function listedStatus(status: RequestStatus, execution: string): RequestStatus {
  return execution !== 'RUNNING' && !isTerminal(status) ? 'failed' : status;
}

function isNotFound(err: unknown): boolean {
  if (err instanceof WorkflowNotFoundError) return true;
  const code = (err as { code?: number } | null)?.code;
  return code === 5; // gRPC NOT_FOUND
}

function mapNotFound(err: unknown, id: string): unknown {
  return isNotFound(err) ? new RequestNotFoundError(id) : err;
}
