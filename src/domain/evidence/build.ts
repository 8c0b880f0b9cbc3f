import type { StoredAuditEvent } from '../audit-chain.js';

/**
 * The evidence pack for one tenant and period: what an auditor asks for (SOC 2 CC6.1-CC6.3, ISO 27001 A.5.18,
 * NIST 800-53 AC-2(2), AU-9, AU-10): every access request filed in the period with who asked, why, who approved
 * and how fresh their login was, the access window, grant and revoke times, whether the revoke was verified at the
 * target, and how it ended; counts by outcome; time-to-decision and access-duration distributions; and the verdict
 * of the tenant's hash chain with the period's first and last chain hash. Built from the audit trail alone (the
 * exactly-once, hash-chained record), so it holds for requests whose workflows are long gone. Pure.
 */
export interface EvidenceRequest {
  id: string;
  requester: string;
  resource: string;
  reason: string | null;
  ticket: string | null;
  createdAt: string;
  approvers: { actor: string; at: string; stage: string | null; authTime: string | null; amr: string[] | null }[];
  rejectedBy: string | null;
  grantedAt: string | null;
  endsAt: string | null;
  revokedAt: string | null;
  revokeVerified: boolean | null;
  /** Final status (from `request.closed`), or the last known one for a request still open. */
  outcome: string;
  closed: boolean;
  /** First decision's time minus filing, ms; null when nobody decided. */
  timeToDecisionMs: number | null;
  /** Revoke (or window end) minus grant, ms; null when never granted. */
  accessDurationMs: number | null;
  /** Break-glass: granted without approval, and how its mandatory review went; null for ordinary requests. */
  emergency: EmergencyEvidence | null;
  /** Stages escalated because nobody decided in time (`request.escalated`), in order. */
  escalatedStages: string[];
}

/** An emergency request's review as the trail shows it: `pending` until reviewed or overdue. */
export interface EmergencyEvidence {
  review: 'pending' | 'justified' | 'unjustified' | 'overdue';
  reviewedBy: string | null;
  reviewedAt: string | null;
  comment: string | null;
}

export interface Distribution {
  count: number;
  p50: number | null;
  p90: number | null;
  max: number | null;
}

export interface EvidencePack {
  tenant: string;
  from: string;
  to: string;
  generatedAt: string;
  requests: EvidenceRequest[];
  counts: Record<string, number>;
  timeToDecisionMs: Distribution;
  accessDurationMs: Distribution;
  /** Requests filed per day (UTC) by outcome, for the chart. */
  perDay: { day: string; counts: Record<string, number> }[];
  /** Break-glass requests in the period by review status (all zero when there were none). */
  emergency: { total: number; justified: number; unjustified: number; overdue: number; pending: number };
  chain: { ok: boolean; detail: string; firstHash: string | null; lastHash: string | null; events: number };
}

const TERMINAL = new Set(['completed', 'rejected', 'expired', 'cancelled', 'revoked', 'failed']);

/** Builds the pack from the tenant's stored events (any order) for requests filed in [from, to). */
export function buildEvidence(
  tenant: string,
  from: Date,
  to: Date,
  events: readonly StoredAuditEvent[],
  chain: { ok: boolean; detail: string },
  now: Date,
): EvidencePack {
  const byRequest = new Map<string, StoredAuditEvent[]>();
  for (const e of events) {
    if (e.tenant !== tenant) continue;
    const list = byRequest.get(e.requestId) ?? [];
    list.push(e);
    byRequest.set(e.requestId, list);
  }
  const requests: EvidenceRequest[] = [];
  const inPeriod: StoredAuditEvent[] = [];
  for (const [id, list] of byRequest) {
    list.sort((a, b) => a.seq - b.seq);
    const created = list.find((e) => e.type === 'request.created');
    if (!created) continue;
    const t = Date.parse(created.time);
    if (!(t >= from.getTime() && t < to.getTime())) continue;
    inPeriod.push(...list);
    requests.push(summarise(id, created, list));
  }
  requests.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  const counts: Record<string, number> = {};
  for (const r of requests) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  const byIndex = inPeriod.filter((e) => e.chain).sort((a, b) => a.chain.index - b.chain.index);
  return {
    tenant,
    from: from.toISOString(),
    to: to.toISOString(),
    generatedAt: now.toISOString(),
    requests,
    counts,
    timeToDecisionMs: distribution(requests.map((r) => r.timeToDecisionMs)),
    accessDurationMs: distribution(requests.map((r) => r.accessDurationMs)),
    perDay: perDay(requests),
    emergency: emergencyCounts(requests),
    chain: { ...chain, firstHash: byIndex[0]?.chain.hash ?? null, lastHash: byIndex.at(-1)?.chain.hash ?? null, events: byIndex.length },
  };
}

function summarise(id: string, created: StoredAuditEvent, list: StoredAuditEvent[]): EvidenceRequest {
  const d = (e: StoredAuditEvent | undefined) => (e?.details ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const approvals = list.filter((e) => e.type === 'request.approved' && e.actor !== 'system');
  const rejected = list.find((e) => e.type === 'request.rejected');
  const granted = list.find((e) => e.type === 'access.granted');
  const revoked = list.find((e) => e.type === 'access.revoked' || e.type === 'access.orphan_revoked');
  const closed = list.find((e) => e.type === 'request.closed');
  const lastTerminal = [...list].reverse().find((e) => terminalOf(e.type) !== null);
  const firstDecision = list.find((e) => e.type === 'request.approved' || e.type === 'request.rejected');
  const outcome = str(d(closed).status) ?? (lastTerminal ? terminalOf(lastTerminal.type)! : granted ? 'active' : 'pending');
  const grantedAt = str(d(granted).grantedAt);
  const revokedAt = revoked ? revoked.time : null;
  return {
    id,
    requester: created.actor,
    resource: str(d(created).resource) ?? '',
    reason: str(d(created).reason),
    ticket: str(d(created).ticket),
    createdAt: created.time,
    approvers: approvals.map((e) => {
      const proof = (d(e).proof ?? {}) as Record<string, unknown>;
      return { actor: e.actor, at: e.time, stage: str(d(e).stage), authTime: str(proof.authTime), amr: Array.isArray(proof.amr) ? (proof.amr as string[]) : null };
    }),
    rejectedBy: rejected?.actor ?? null,
    grantedAt,
    endsAt: str(d(granted).endsAt),
    revokedAt,
    revokeVerified: revoked ? (typeof d(revoked).verified === 'boolean' ? (d(revoked).verified as boolean) : null) : null,
    outcome,
    closed: closed !== undefined || TERMINAL.has(outcome),
    timeToDecisionMs: firstDecision ? Date.parse(firstDecision.time) - Date.parse(created.time) : null,
    accessDurationMs: grantedAt && revokedAt ? Date.parse(revokedAt) - Date.parse(grantedAt) : null,
    emergency: emergencyOf(list),
    escalatedStages: list.filter((e) => e.type === 'request.escalated').map((e) => str(d(e).stage) ?? ''),
  };
}

/** The review of a break-glass request from its trail: the verdict, else overdue, else still pending. */
function emergencyOf(list: readonly StoredAuditEvent[]): EmergencyEvidence | null {
  if (!list.some((e) => e.type === 'request.emergency_granted')) return null;
  const reviewed = list.find((e) => e.type === 'request.reviewed');
  const details = (reviewed?.details ?? {}) as Record<string, unknown>;
  const verdict = details.verdict === 'justified' || details.verdict === 'unjustified' ? details.verdict : null;
  if (reviewed && verdict) {
    return { review: verdict, reviewedBy: reviewed.actor, reviewedAt: reviewed.time, comment: typeof details.comment === 'string' ? details.comment : null };
  }
  const overdue = list.some((e) => e.type === 'request.review_overdue');
  return { review: overdue ? 'overdue' : 'pending', reviewedBy: null, reviewedAt: null, comment: null };
}

function emergencyCounts(requests: readonly EvidenceRequest[]): EvidencePack['emergency'] {
  const c = { total: 0, justified: 0, unjustified: 0, overdue: 0, pending: 0 };
  for (const r of requests) {
    if (!r.emergency) continue;
    c.total += 1;
    c[r.emergency.review] += 1;
  }
  return c;
}

/** The status an event ends a request with, if it does. */
function terminalOf(type: string): string | null {
  switch (type) {
    case 'request.rejected':
      return 'rejected';
    case 'request.expired':
      return 'expired';
    case 'request.cancelled':
      return 'cancelled';
    case 'access.grant_failed':
    case 'request.rejected_unauthenticated':
      return 'failed';
    default:
      return null;
  }
}

export function distribution(values: readonly (number | null)[]): Distribution {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  const at = (q: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)]! : null);
  return { count: xs.length, p50: at(0.5), p90: at(0.9), max: xs.at(-1) ?? null };
}

function perDay(requests: readonly EvidenceRequest[]): EvidencePack['perDay'] {
  const days = new Map<string, Record<string, number>>();
  for (const r of requests) {
    const day = r.createdAt.slice(0, 10);
    const c = days.get(day) ?? {};
    c[r.outcome] = (c[r.outcome] ?? 0) + 1;
    days.set(day, c);
  }
  return [...days].sort(([a], [b]) => a.localeCompare(b)).map(([day, counts]) => ({ day, counts }));
}
