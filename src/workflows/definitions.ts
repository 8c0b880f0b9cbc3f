import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { AuditEvent } from '../domain/audit.js';
import type { AccessRequest } from '../domain/request.js';
import type { SignedDecision } from '../domain/signing.js';

/** Names shared by the workflow, the client and anyone using `temporal workflow signal|update`. */
export const TASK_QUEUE = 'lockbox';

/**
 * A decision as sent to the workflow: the API-signed `SignedDecision` (requests filed before signing took
 * `{actor, note}`). Typed loosely on purpose: anyone with namespace access can send anything, the workflow checks.
 */
export type DecisionArgs = SignedDecision | { actor: string; note?: string | null };

export const approveUpdate = defineUpdate<AccessRequest, [DecisionArgs]>('approve');
export const rejectUpdate = defineUpdate<AccessRequest, [DecisionArgs]>('reject');
export const revokeUpdate = defineUpdate<AccessRequest, [DecisionArgs]>('revoke');
export const cancelUpdate = defineUpdate<AccessRequest, [DecisionArgs]>('cancel');
export const extendUpdate = defineUpdate<AccessRequest, [DecisionArgs]>('extend');

export const approveSignal = defineSignal<[DecisionArgs]>('approve');
export const rejectSignal = defineSignal<[DecisionArgs]>('reject');
export const revokeSignal = defineSignal<[DecisionArgs]>('revoke');
export const cancelSignal = defineSignal<[DecisionArgs]>('cancel');
export const extendSignal = defineSignal<[DecisionArgs]>('extend');

/** The tenant's settings changed: the API sends the new policy, signed, to each pending request of the tenant. */
export const policyChangedSignal = defineSignal<[DecisionArgs]>('policyChanged');

/** A tenant approver's or admin's review of an emergency request (signed by the API like a decision). */
export const reviewUpdate = defineUpdate<AccessRequest, [DecisionArgs]>('review');

export const getRequestQuery = defineQuery<AccessRequest>('getRequest');
export const getAuditQuery = defineQuery<AuditEvent[]>('getAudit');

export const SearchAttributes = {
  tenant: defineSearchAttributeKey('LockboxTenant', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('LockboxStatus', SearchAttributeType.KEYWORD),
  requester: defineSearchAttributeKey('LockboxRequester', SearchAttributeType.KEYWORD),
  resource: defineSearchAttributeKey('LockboxResource', SearchAttributeType.KEYWORD),
} as const;

/** Name -> type, for registering them on a server. */
export const SEARCH_ATTRIBUTE_NAMES = Object.values(SearchAttributes).map((k) => k.name);

/** Application failure types the API maps to HTTP statuses. */
export const FailureType = {
  conflict: 'LockboxConflict',
  forbidden: 'LockboxForbidden',
} as const;
