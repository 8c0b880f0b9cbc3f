import type { EvidencePack } from './build.js';

const COLUMNS = [
  'id', 'requester', 'resource', 'reason', 'ticket', 'createdAt', 'approvers', 'approverAuthTimes', 'rejectedBy', 'grantedAt', 'endsAt',
  'revokedAt', 'revokeVerified', 'outcome', 'timeToDecisionMs', 'accessDurationMs', 'emergency', 'emergencyReview', 'reviewedBy',
  'escalatedStages',
] as const;

/**
 * One row per request, RFC 4180: CRLF line ends, every field quoted, quotes doubled. A field that a spreadsheet
 * would run as a formula (starting with = + - @, tab or CR) is prefixed with a quote (OWASP CSV injection), since a
 * request's reason is the requester's own text.
 */
export function evidenceCsv(pack: EvidencePack): string {
  const rows = pack.requests.map((r) => [
    r.id, r.requester, r.resource, r.reason, r.ticket, r.createdAt, r.approvers.map((a) => a.actor).join(' '),
    r.approvers.map((a) => a.authTime ?? '').join(' '), r.rejectedBy, r.grantedAt, r.endsAt, r.revokedAt,
    r.revokeVerified === null ? '' : String(r.revokeVerified), r.outcome, r.timeToDecisionMs, r.accessDurationMs,
    r.emergency ? 'true' : 'false', r.emergency?.review ?? '', r.emergency?.reviewedBy ?? '', r.escalatedStages.join(' '),
  ]);
  return [COLUMNS as readonly unknown[], ...rows].map((row) => row.map(field).join(',')).join('\r\n') + '\r\n';
}

function field(value: unknown): string {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replaceAll('"', '""')}"`;
}
