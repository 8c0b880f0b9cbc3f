import { RequestNotFoundError } from '../client/errors.js';
import type { RequestSummary } from '../client/lockbox-client.js';
import type { AuditEvent } from '../domain/audit.js';
import type { AccessRequest } from '../domain/request.js';
import type { RecordListQuery, RequestRecord } from '../ports/store.js';
import type { ApiDeps } from './deps.js';
import { problems } from './problem.js';


/**
 * Reads requests the way docs/records.md says: a closed request from Lockbox's own record only (no history
 * replayed, and still there after its workflow is deleted or aged out of Temporal); an open one from its workflow,
 * which is exact while it runs; the record again when the workflow is gone. Lists come from the records.
 */
export function createRequestReader(deps: Pick<ApiDeps, 'store' | 'lockbox'>) {
  /** Runs the live read, or answers from the record when the workflow is gone. */
  async function live<T>(id: string, read: () => Promise<T>, fromRecord: (r: RequestRecord) => Promise<T> | T): Promise<T> {
    const record = await deps.store.getRequestRecord(id);
    if (record?.closed) return fromRecord(record);
    try {
      return await read();
    } catch (err) {
      if (err instanceof RequestNotFoundError && record) return fromRecord(record);
      // A workflow whose worker is too busy to answer a query in time (an expiry burst): say so, not a 500. The
      // record of an open request may lag its workflow, so it is not offered instead.
      if (temporalDidNotAnswer(err)) throw problems.unavailable(`the workflow of request ${id} did not answer in time; try again shortly`);
      throw err;
    }
  }

  return {
    get(id: string): Promise<AccessRequest> {
      return live(id, () => deps.lockbox.get(id), (r) => r.request);
    },

    audit(id: string): Promise<AuditEvent[]> {
      return live(id, () => deps.lockbox.audit(id), () => deps.store.listRequestEvents(id));
    },

    /** The record of a request, if Lockbox has one (closed or not). */
    record(id: string): Promise<RequestRecord | null> {
      return deps.store.getRequestRecord(id);
    },

    async list(f: RecordListQuery): Promise<RequestSummary[]> {
      const records = await deps.store.listRequestRecords(f);
      return records.map(toSummary);
    },
  };
}

export type RequestReader = ReturnType<typeof createRequestReader>;

/** gRPC DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED or UNAVAILABLE from Temporal, on the error or its cause. */
const BUSY_CODES = new Set([4, 8, 14]);
export function temporalDidNotAnswer(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number' && BUSY_CODES.has(code)) return true;
  }
  return false;
}

function toSummary({ request: r, closedAt }: RequestRecord): RequestSummary {
  return {
    id: r.id,
    runId: r.runId ?? '',
    tenant: r.tenant,
    resource: r.resource,
    requester: r.requester,
    reason: r.reason,
    ticket: r.ticket,
    duration: r.duration,
    status: r.status,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    closedAt,
    ...(r.emergency ? { emergency: true as const } : {}),
  };
}
