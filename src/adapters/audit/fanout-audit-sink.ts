import type { AuditExporter, AuditSink } from '../../ports/audit-sink.js';

/**
 * Several sinks at once, e.g. the JSON Lines file, PostgreSQL and a SIEM. `append` goes to every sink in
 * parallel and throws if any failed, after all have been tried; the retry then appends to all again, which is safe
 * because each sink is exactly-once by event id (a sink that already has the batch does nothing, and its chain
 * does not move). Reads (`list`, `listByRequest`, `verify`) come from `primary`, the sink of record.
 */
export function createFanoutAuditSink(primary: AuditSink, others: readonly AuditExporter[] = []): AuditSink {
  const all: AuditExporter[] = [primary, ...others];
  return {
    async append(events) {
      const results = await Promise.allSettled(all.map((s) => s.append(events)));
      const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ i, reason: r.reason as unknown }] : []));
      if (failed.length === 0) return;
      const detail = failed.map((f) => `sink ${f.i + 1}: ${f.reason instanceof Error ? f.reason.message : String(f.reason)}`);
      throw new AggregateError(
        failed.map((f) => f.reason),
        `audit export failed for ${failed.length} of ${all.length} sinks (${detail.join('; ')})`,
      );
    },
    listByRequest: (requestId) => primary.listByRequest(requestId),
    list: (q) => primary.list(q),
    verify: (q) => primary.verify(q),
    async close() {
      await Promise.allSettled(all.map((s) => s.close()));
    },
  };
}
