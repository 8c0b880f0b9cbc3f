/**
 * The evidence pack flags break-glass requests and how their mandatory review went (justified, unjustified, overdue,
 * pending), and escalated stages (docs/evidence.md). Built from audit trails written the way the workflow writes
 * them; eve (responder, requester), bob (reviewer), carol (escalation target).
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { buildAuditEvent, type AuditEventType } from '../src/domain/audit.js';
import { linkEvents } from '../src/domain/audit-chain.js';
import { buildEvidence } from '../src/domain/evidence/build.js';
import { evidenceCsv } from '../src/domain/evidence/csv.js';
import { evidenceHtml } from '../src/domain/evidence/html.js';

const T0 = Date.parse('2026-12-01T03:00:00.000Z');
const at = (m: number) => new Date(T0 + m * 60_000);

type Step = [type: AuditEventType, actor: string, details?: Record<string, unknown>];

function trail(n: number, steps: Step[]) {
  const requestId = `req-contoso-${String(n).padStart(26, '0')}`;
  return steps.map(([type, actor, details], i) => buildAuditEvent({ requestId, tenant: 'contoso', seq: i + 1, time: at(n * 100 + i), type, actor, details }));
}

const created: Step = ['request.created', 'eve@lockbox.dev', { resource: 'db:crm', reason: 'outage', ticket: 'INC-1' }];
const emergency: Step = ['request.emergency_granted', 'eve@lockbox.dev', {}];
const events = linkEvents(new Map(), [
  ...trail(1, [created, emergency, ['request.reviewed', 'bob@contoso.com', { verdict: 'justified', comment: 'outage confirmed' }]]),
  ...trail(2, [created, emergency, ['request.reviewed', 'bob@contoso.com', { verdict: 'unjustified', comment: null }]]),
  ...trail(3, [created, emergency, ['request.review_overdue', 'system', {}]]),
  ...trail(4, [created, emergency]),
  ...trail(5, [created, ['request.escalated', 'system', { stage: 'customer' }], ['request.approved', 'carol@contoso.com', { stage: 'customer' }]]),
]);

describe('evidence pack: break-glass and escalation', () => {
  const pack = buildEvidence('contoso', at(0), at(10_000), events, { ok: true, detail: 'ok' }, at(10_000));

  it('flags each emergency request with its review status, and counts them', () => {
    expect(pack.requests.map((r) => r.emergency?.review ?? null)).toEqual(['justified', 'unjustified', 'overdue', 'pending', null]);
    expect(pack.requests[0]?.emergency).toMatchObject({ reviewedBy: 'bob@contoso.com', comment: 'outage confirmed' });
    expect(pack.emergency).toEqual({ total: 4, justified: 1, unjustified: 1, overdue: 1, pending: 1 });
    expect(pack.requests[4]?.escalatedStages).toEqual(['customer']);
  });

  it('the CSV has the flags as columns', () => {
    const rows = parseCsv(evidenceCsv(pack), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.emergency, r.emergencyReview, r.reviewedBy])).toEqual([
      ['true', 'justified', 'bob@contoso.com'],
      ['true', 'unjustified', 'bob@contoso.com'],
      ['true', 'overdue', ''],
      ['true', 'pending', ''],
      ['false', '', ''],
    ]);
    expect(rows[4]?.escalatedStages).toBe('customer');
  });

  it('the HTML page says it in words, unreviewed ones marked', () => {
    const html = evidenceHtml(pack);
    expect(html).toContain('Emergency (break-glass) requests: 4; reviewed justified 1, unjustified 1, overdue (unreviewed) 1, review pending 1.');
    expect(html).toContain('EMERGENCY, review: overdue (UNREVIEWED)');
    expect(html).toContain('EMERGENCY, review: justified by bob@contoso.com');
    expect(html).toContain('escalated: customer');
  });
});
