import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { RequestStatus, type AccessRequest } from '../domain/request.js';
import type { Execution } from '../domain/reconcile.js';
import * as defs from '../workflows/definitions.js';

/** A query that takes longer than this (no worker for the request's task queue, say) decides nothing. */
const QUERY_TIMEOUT_MS = 10_000;

/** What Temporal says about one request id: its execution and, where visibility has them, who and what. */
export interface Lookup {
  execution: Execution;
  tenant?: string;
  resource?: string;
  principal?: string;
}

/**
 * Describes the request's workflow (strongly consistent, unlike a visibility listing); its status search attribute
 * says the rest, except while `pending`, when its state is queried (approved and being granted, or not approved).
 * Queries are kept to that: each one makes a worker load the workflow. Never throws: what cannot be told is
 * `unknown`, and the reconciler leaves it for the next run.
 */
export async function lookUpRequest(client: Client, requestId: string): Promise<Lookup> {
  const handle = client.workflow.getHandle(requestId);
  let described;
  try {
    described = await handle.describe();
  } catch (err) {
    if (isNotFound(err)) return { execution: { kind: 'not_found' } };
    return { execution: { kind: 'unknown', error: `describe failed: ${messageOf(err)}` } };
  }
  const sa = described.typedSearchAttributes;
  const who = {
    tenant: sa.get(defs.SearchAttributes.tenant),
    resource: sa.get(defs.SearchAttributes.resource),
    principal: sa.get(defs.SearchAttributes.requester),
  };
  if (described.status.name !== 'RUNNING') return { execution: { kind: 'closed', closeStatus: described.status.name }, ...who };
  const status = (sa.get(defs.SearchAttributes.status) ?? null) as RequestStatus | null;
  if (status !== null && status !== RequestStatus.pending) return { execution: { kind: 'running', status }, ...who };
  return { execution: { kind: 'running', status, request: await queryRequest(client, requestId) }, ...who };
}

/** The running request's state, or null when the query failed or timed out. */
export async function queryRequest(client: Client, requestId: string): Promise<AccessRequest | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), QUERY_TIMEOUT_MS);
  });
  try {
    return await Promise.race([client.workflow.getHandle(requestId).query(defs.getRequestQuery), timeout]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** Ids of this task queue's running requests whose status (visibility, eventually consistent) is `active`. */
export async function listActiveRequestIds(client: Client, taskQueue: string, limit: number): Promise<string[]> {
  if (!/^[\w.:/@+-]+$/.test(taskQueue)) throw new Error('unsafe task queue name in visibility query');
  const query = [
    `WorkflowType = 'accessRequestWorkflow'`,
    `TaskQueue = '${taskQueue}'`,
    `ExecutionStatus = 'Running'`,
    `${defs.SearchAttributes.status.name} = 'active'`,
  ].join(' AND ');
  const ids: string[] = [];
  for await (const info of client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
    ids.push(info.workflowId);
    if (ids.length >= limit) break;
  }
  return ids;
}

function isNotFound(err: unknown): boolean {
  if (err instanceof WorkflowNotFoundError) return true;
  return (err as { code?: number } | null)?.code === 5; // gRPC NOT_FOUND
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
