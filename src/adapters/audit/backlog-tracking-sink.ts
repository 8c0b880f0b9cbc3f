import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuditEvent } from '../../domain/audit.js';
import type { AuditExporter } from '../../ports/audit-sink.js';

/**
 * How far behind an audit sink is, as this process sees it. Nothing is kept in memory for delivery (the events wait
 * in Temporal history, and the export activity retries the same batch), so what can be measured here is the batches
 * whose export to a sink FAILED and that are waiting for their retry: their events are the sink's backlog until an
 * append that contains them succeeds.
 *
 * - `lockbox_audit_export_backlog_events{sink}`: events whose last export attempt to the sink failed, not delivered
 *   since. Back to 0 once the retries get through.
 * - `lockbox_audit_export_oldest_pending_seconds{sink}`: how long the oldest of them has been failing (0: none).
 * - `lockbox_audit_export_failures_total{sink}`: failed appends (one per failed attempt of a batch).
 *
 * Only the batch being retried is seen: events a request records meanwhile wait behind it in the workflow, where no
 * worker sees them, so the gauge is a lower bound of what is pending. A retry may run in another worker process; an
 * event no attempt in this process has touched for `staleAfterMs` (default 5 minutes, far above the export's
 * longest retry gap of 30 s backoff plus 30 s timeout) is dropped from this process's count.
 */
export interface AuditBacklog {
  /** Wraps `sink` so its appends are counted under `name` (jsonl, postgres, http); all its other methods unchanged. */
  track<S extends AuditExporter>(name: string, sink: S): S;
  /** The current count and oldest age per sink, as the gauges would report them now. */
  snapshot(): Record<string, { events: number; oldestSeconds: number; failures: number }>;
}

export interface AuditBacklogOptions {
  /** Forget a pending event after this long without any attempt in this process. Default 5 minutes. */
  staleAfterMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

interface Pending {
  /** When an attempt first failed with this event in it. */
  since: number;
  /** When an attempt last failed with it. */
  touched: number;
}

/** Remembered so that a slow attempt failing after a faster retry delivered the batch does not count it again. */
const DELIVERED_MEMORY = 20_000;

interface SinkState {
  pending: Map<string, Pending>;
  delivered: Set<string>;
  failures: number;
}

/** Registers the backlog metrics on `registry`; `track` each sink the fan-out writes to. */
export function createAuditBacklog(registry: Registry, opts: AuditBacklogOptions = {}): AuditBacklog {
  const staleAfterMs = opts.staleAfterMs ?? 5 * 60_000;
  const now = opts.now ?? Date.now;
  const sinks = new Map<string, SinkState>();

  const prune = (s: SinkState, at: number): void => {
    for (const [id, p] of s.pending) if (at - p.touched > staleAfterMs) s.pending.delete(id);
  };
  const oldestSeconds = (s: SinkState, at: number): number => {
    let oldest = at;
    for (const p of s.pending.values()) oldest = Math.min(oldest, p.since);
    return (at - oldest) / 1000;
  };

  const failures = new Counter({
    name: 'lockbox_audit_export_failures_total',
    help: 'Failed audit export attempts per sink (each failed batch is retried until it gets through)',
    labelNames: ['sink'] as const,
    registers: [registry],
  });
  /** A gauge per sink, read when scraped (events no attempt has touched for a while are pruned first). */
  const perSinkGauge = (name: string, help: string, value: (s: SinkState, at: number) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['sink'] as const,
      registers: [registry],
      collect() {
        const at = now();
        for (const [sink, s] of sinks) {
          prune(s, at);
          this.set({ sink }, value(s, at));
        }
      },
    });
  };
  perSinkGauge(
    'lockbox_audit_export_backlog_events',
    'Audit events whose export to the sink failed and is waiting for a retry (0 once every retry got through)',
    (s) => s.pending.size,
  );
  perSinkGauge(
    'lockbox_audit_export_oldest_pending_seconds',
    'How long the oldest audit event waiting for a retry to the sink has been failing (0: none waiting)',
    oldestSeconds,
  );

  function stateOf(name: string): SinkState {
    let s = sinks.get(name);
    if (!s) {
      s = { pending: new Map(), delivered: new Set(), failures: 0 };
      sinks.set(name, s);
      failures.inc({ sink: name }, 0); // the series exists (at 0) before the first failure
    }
    return s;
  }

  function delivered(s: SinkState, events: readonly AuditEvent[]): void {
    for (const e of events) {
      s.pending.delete(e.id);
      s.delivered.delete(e.id); // re-inserted last: the set forgets the oldest first
      s.delivered.add(e.id);
    }
    for (const id of s.delivered) {
      if (s.delivered.size <= DELIVERED_MEMORY) break;
      s.delivered.delete(id);
    }
  }

  function failed(name: string, s: SinkState, events: readonly AuditEvent[]): void {
    const at = now();
    s.failures += 1;
    failures.inc({ sink: name });
    for (const e of events) {
      if (s.delivered.has(e.id)) continue; // already in the sink; the retry will find it there
      const p = s.pending.get(e.id);
      if (p) p.touched = at;
      else s.pending.set(e.id, { since: at, touched: at });
    }
    prune(s, at);
  }

  return {
    track(name, sink) {
      const s = stateOf(name);
      return {
        ...sink,
        async append(events: readonly AuditEvent[]) {
          try {
            await sink.append(events);
          } catch (err) {
            failed(name, s, events);
            throw err;
          }
          delivered(s, events);
        },
      };
    },
    snapshot() {
      const at = now();
      const out: Record<string, { events: number; oldestSeconds: number; failures: number }> = {};
      for (const [name, s] of sinks) {
        prune(s, at);
        out[name] = { events: s.pending.size, oldestSeconds: oldestSeconds(s, at), failures: s.failures };
      }
      return out;
    },
  };
}
