import type { AuditEvent } from '../../domain/audit.js';
import { toOcsf } from '../../domain/ocsf.js';
import type { AuditExporter } from '../../ports/audit-sink.js';
import type { GuardedHttp } from '../http/guarded-http.js';
import { idempotencyKey, postOnce, signatureHeaders } from '../http-signing.js';

/** Body shapes: Lockbox's own events, OCSF objects, or Splunk HTTP Event Collector events. */
export const AuditHttpFormat = { native: 'native', ocsf: 'ocsf', splunkHec: 'splunk-hec' } as const;
export type AuditHttpFormat = (typeof AuditHttpFormat)[keyof typeof AuditHttpFormat];

export interface HttpAuditSinkOptions {
  /** The receiver, e.g. a SIEM's HTTP collector or `https://splunk:8088/services/collector/event`. */
  url: string;
  /** Default `native`. */
  format?: AuditHttpFormat;
  /** HMAC secret for X-Lockbox-Signature; required for `native` and `ocsf`, optional for `splunk-hec`. */
  secret?: string;
  /** Splunk HEC token, sent as `Authorization: Splunk <token>`; required for `splunk-hec`. */
  splunkToken?: string;
  /** Splunk index; omitted: the token's default index. */
  splunkIndex?: string;
  /** Per attempt; a slower receiver counts as down. Default 10 s. */
  timeoutMs?: number;
  /** The clock for the signature timestamp (tests). */
  now?: () => Date;
  /** The guarded outbound client (operator exceptions included); default one with no exceptions. */
  http?: GuardedHttp;
}

const SOURCETYPE = 'lockbox:audit';

/** The request body for a batch in `format`. */
export function formatAuditBatch(
  events: readonly AuditEvent[],
  format: AuditHttpFormat,
  splunkIndex?: string,
): string {
  switch (format) {
    case 'native':
      return JSON.stringify(events);
    case 'ocsf':
      return JSON.stringify(events.map(toOcsf));
    case 'splunk-hec':
      // HEC takes several events in one request as concatenated JSON objects; `time` is epoch seconds.
      return events
        .map((e) =>
          JSON.stringify({
            time: Date.parse(e.time) / 1000,
            source: 'lockbox',
            sourcetype: SOURCETYPE,
            ...(splunkIndex === undefined ? {} : { index: splunkIndex }),
            event: e,
          }),
        )
        .join('\n');
  }
}

/**
 * Exports audit batches to an HTTP receiver (a SIEM). One POST per append; any non-2xx, timeout or connection
 * failure throws, so the export activity fails and Temporal retries it with backoff: while the receiver is down
 * the events wait in workflow history, never in this process. A retry resends the same batch with the same
 * Idempotency-Key (sha256 of the event ids), and every event keeps its id, so the receiver de-duplicates.
 * Secrets and the URL's path never appear in an error.
 */
export function createHttpAuditSink(opts: HttpAuditSinkOptions): AuditExporter {
  const format = opts.format ?? 'native';
  if (format === 'splunk-hec' && !opts.splunkToken) throw new Error('HTTP audit sink: splunk-hec needs splunkToken');
  if (format !== 'splunk-hec' && !opts.secret) throw new Error(`HTTP audit sink: format ${format} needs a secret`);
  new URL(opts.url); // fail at start-up on a malformed URL, not on the first event
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let closed = false;

  return {
    async append(events) {
      if (closed) throw new Error('audit sink is closed');
      if (events.length === 0) return;
      const body = formatAuditBatch(events, format, opts.splunkIndex);
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        'User-Agent': 'lockbox-audit',
        'Idempotency-Key': idempotencyKey(events.map((e) => e.id)),
      };
      if (opts.secret) Object.assign(headers, signatureHeaders(opts.secret, body, opts.now?.()));
      if (opts.splunkToken) headers.Authorization = `Splunk ${opts.splunkToken}`;
      await postOnce({ channel: 'audit', url: opts.url, headers, body, timeoutMs, http: opts.http });
    },
    async close() {
      closed = true;
    },
  };
}
