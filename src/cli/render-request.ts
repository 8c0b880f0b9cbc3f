import type { RequestSummary } from '../client/lockbox-client.js';
import { normalizePolicy, stageRule } from '../domain/policy.js';
import type { AccessRequest, Decision } from '../domain/request.js';
import { clip, fields, table, when, whenRelative } from './output.js';

/** Past tense of each decision, for people. */
const DID: Record<Decision['action'], string> = { approve: 'approved', reject: 'rejected', revoke: 'revoked', cancel: 'cancelled', extend: 'asked to extend' };

/** `alice@contoso.com approved (customer stage): "ok"` */
export function describeDecision(d: Decision): string {
  return `${d.actor} ${DID[d.action]}${d.stage ? ` (${d.stage} stage)` : ''}${d.note ? `: "${d.note}"` : ''}`;
}

/** What a pending request waits for: `customer approval, 0 of 1 (alice@contoso.com, bob@contoso.com)`. */
export function waitingFor(r: AccessRequest): string {
  if (r.approvedAt) return 'access to be granted';
  if (!r.stage) return 'a decision';
  const rule = stageRule(normalizePolicy(r.policy), r.stage);
  const got = new Set(r.decisions.filter((d) => d.action === 'approve' && d.stage === r.stage).map((d) => d.actor)).size;
  const who = rule.approvers.length > 0 ? ` (${rule.approvers.join(', ')})` : '';
  return `${r.stage} approval, ${got} of ${rule.quorum}${who}`;
}

/** One line on where a request stands. */
export function statusLine(r: AccessRequest, now = Date.now()): string {
  switch (r.status) {
    case 'pending':
      return `pending: waiting for ${waitingFor(r)}; expires ${whenRelative(r.expiresAt, now)}`;
    case 'granting':
      return 'granting: approved; access is being granted at the target';
    case 'active':
      return `active: access until ${whenRelative(r.access?.endsAt, now)}`;
    case 'failed':
      return `failed${r.failure ? `: ${r.failure}` : ''}`;
    case 'expired':
      return 'expired: nobody decided in time, no access was granted';
    default: {
      // rejected / cancelled / revoked name who ended it; completed is the window running out.
      const last = [...r.decisions].reverse().find((d) => d.action !== 'approve');
      if (!last || r.status === 'completed') return r.status;
      return `${r.status} by ${last.actor}${last.stage ? ` (${last.stage} stage)` : ''}${last.note ? `: "${last.note}"` : ''}`;
    }
  }
}

/** `lockbox request show`: every field a person needs, decisions in order. */
export function renderRequest(r: AccessRequest, now = Date.now()): string {
  const access = r.access
    ? `granted ${when(r.access.grantedAt)}, ${r.access.revokedAt ? `revoked ${when(r.access.revokedAt)}` : `ends ${whenRelative(r.access.endsAt, now)}`}`
    : null;
  const head = fields([
    ['Request', r.id],
    ['Status', statusLine(r, now)],
    ['Tenant', r.tenant],
    ['Resource', r.resource],
    ['Requester', r.requester],
    ['Reason', r.reason],
    ['Ticket', r.ticket],
    ['Duration', r.duration],
    ['Stages', r.stages?.join(' -> ')],
    ['Created', when(r.createdAt)],
    ['Expires', r.status === 'pending' ? whenRelative(r.expiresAt, now) : when(r.expiresAt)],
    ['Access', access],
    ['Ended', r.endedAt ? when(r.endedAt) : null],
  ]);
  const decisions = r.decisions.map((d) => `  ${when(d.at)}  ${describeDecision(d)}`);
  const extensions = (r.extensions ?? []).map((e) => `  ${when(e.requestedAt)}  +${e.duration} ${e.status}${e.stage ? ` (waiting for ${e.stage} approval)` : ''}: "${e.reason}"`);
  return [head, ...(decisions.length ? ['Decisions', ...decisions] : []), ...(extensions.length ? ['Extensions', ...extensions] : [])].join('\n');
}

/** `lockbox request list`: one row per request. */
export function renderList(requests: RequestSummary[]): string {
  if (requests.length === 0) return 'no requests';
  return table(
    ['id', 'status', 'tenant', 'resource', 'requester', 'duration', 'created', 'reason'],
    requests.map((r) => [r.id, r.status, r.tenant, clip(r.resource, 40), r.requester, r.duration, when(r.createdAt), clip(r.reason, 40)]),
  );
}
