import type { AuditEvent } from '../../domain/audit.js';
import { readStoredEvent, readStoredRequest } from '../../domain/request-record.js';
import type { RecordListQuery, RequestRecord } from '../../ports/record-store.js';

/** The columns a record row has in both stores (times as ISO text here; each adapter maps its own types). */
export interface RecordColumns {
  request_id: string;
  tenant: string;
  body: unknown;
  version: number;
  closed: boolean;
  closed_at: string | null;
}

/** A row as a record; a row whose copy is malformed or not its own is skipped (null), never shown. */
export function recordFromRow(row: RecordColumns): RequestRecord | null {
  const request = readStoredRequest(row.body, { id: row.request_id, tenant: row.tenant });
  if (!request) return null;
  return { request, version: Number(row.version), closed: row.closed, closedAt: row.closed_at };
}

/** Stored events in order, skipping any row that is malformed or not the request's. */
export function eventsFromRows(rows: ReadonlyArray<{ id: string; request_id: string; event: unknown }>): AuditEvent[] {
  return rows.flatMap((r) => {
    const e = readStoredEvent(r.event, { id: r.id, requestId: r.request_id });
    return e ? [e] : [];
  });
}

/**
 * The WHERE clause of a list query, with placeholders from `ph(n)` (`?` for SQLite, `$n` for PostgreSQL). Values
 * are always parameters, never spliced into the text.
 */
export function recordListWhere(
  q: RecordListQuery,
  sql: { table: string; ph: (n: number) => string; time: (iso: string, field: string) => string },
): { where: string; params: unknown[] } {
  const { ph } = sql;
  const clauses: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown): string => {
    params.push(v);
    return ph(params.length);
  };
  if (q.scopeTenants !== undefined || q.scopeRequester !== undefined) {
    const scope: string[] = [];
    for (const t of q.scopeTenants ?? []) scope.push(`tenant = ${p(t)}`);
    if (q.scopeRequester !== undefined) scope.push(`requester = ${p(q.scopeRequester)}`);
    clauses.push(scope.length > 0 ? `(${scope.join(' OR ')})` : 'FALSE');
  }
  if (q.tenant !== undefined) clauses.push(`tenant = ${p(q.tenant)}`);
  if (q.status !== undefined) clauses.push(`status = ${p(q.status)}`);
  if (q.requester !== undefined) clauses.push(`requester = ${p(q.requester)}`);
  if (q.resource !== undefined) clauses.push(`resource = ${p(q.resource)}`);
  if (q.createdFrom !== undefined) clauses.push(`created_at >= ${p(sql.time(q.createdFrom, 'createdFrom'))}`);
  if (q.createdTo !== undefined) clauses.push(`created_at < ${p(sql.time(q.createdTo, 'createdTo'))}`);
  if (q.after !== undefined) {
    // Keyset paging on (created_at, request_id), both descending; an unknown cursor id gives an empty page.
    const after = q.after;
    const at = (): string => `(SELECT created_at FROM ${sql.table} WHERE request_id = ${p(after)})`;
    clauses.push(`(created_at < ${at()} OR (created_at = ${at()} AND request_id < ${p(after)}))`);
  }
  return { where: clauses.length > 0 ? clauses.join(' AND ') : 'TRUE', params };
}

export function checkRecordLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  return limit;
}
