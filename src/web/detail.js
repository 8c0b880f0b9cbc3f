/**
 * One request in full: its facts, decisions, access window, extensions, what the signed-in person can do with it,
 * and its audit trail as a timeline (GET /v1/requests/{id}/audit).
 */
import { cancelForm, decisionForms, extendForm, reviewForms, revokeForm } from './actions.js';
import { get } from './api.js';
import { links } from './cards.js';
import { badge, countdown, facts, h, timeEl } from './dom.js';

/** What each audit event type means, in words. */
const EVENT_WORDS = {
  'request.created': 'Access requested',
  'approvers.notified': 'Approvers notified',
  'approvers.reminded': 'Approvers reminded',
  'request.approved': 'Approved',
  'request.rejected': 'Rejected',
  'request.expired': 'Expired unanswered',
  'request.cancelled': 'Cancelled by the requester',
  'access.granted': 'Access granted',
  'access.revoked': 'Access revoked',
  'access.grant_failed': 'Granting access failed',
  'access.extended': 'Access extended',
  'notification.failed': 'A notification could not be delivered',
  'decision.rejected_unauthenticated': 'An unauthenticated decision was refused',
  'request.rejected_unauthenticated': 'An unauthenticated request was refused',
  'extension.requested': 'More time requested',
  'extension.approved': 'More time approved',
  'extension.rejected': 'More time rejected',
  'extension.expired': 'More time request expired',
  'extension.failed': 'Extending access failed',
  'request.emergency_granted': 'Emergency access taken (break-glass)',
  'request.reviewed': 'Emergency access reviewed',
  'request.review_overdue': 'Emergency access not reviewed in time',
};

/** A break-glass review in words: pending (due when), the verdict by whom, or overdue. */
function reviewWords(review) {
  if (review.status === 'pending') return review.dueAt ? h('span', {}, 'pending, due ', timeEl(review.dueAt)) : 'pending (due after access ends)';
  if (review.status === 'overdue') return 'overdue: not reviewed in time';
  return `${review.status} by ${review.by}${review.comment ? `: ${review.comment}` : ''}`;
}

/** Reads the request and its audit trail (both exact: the workflow answers, not visibility). */
export async function loadDetail(id) {
  const path = `/v1/requests/${encodeURIComponent(id)}`;
  const [request, audit] = await Promise.all([get(path), get(`${path}/audit`)]);
  return { request, events: Array.isArray(audit?.events) ? audit.events : [] };
}

/** A short, readable value (signatures and nested settings are cut, never interpreted as markup). */
function show(value) {
  const text = typeof value === 'string' ? value : Array.isArray(value) && value.every((v) => typeof v !== 'object') ? value.join(', ') : JSON.stringify(value);
  return text.length > 240 ? `${text.slice(0, 239)}…` : text;
}

function timeline(list, events) {
  list.replaceChildren(
    ...events.map((e) =>
      h(
        'li',
        { data: { type: e.type } },
        h('p', { class: 'event-head' }, timeEl(e.time), ' ', h('span', { class: 'event-type', text: EVENT_WORDS[e.type] ?? e.type }), ' ', h('code', { text: e.type })),
        h('p', { class: 'event-actor', text: `by ${e.actor}` }),
        Object.keys(e.details ?? {}).length
          ? h('p', { class: 'event-details', text: Object.entries(e.details).map(([k, v]) => `${k}: ${show(v)}`).join('\n') })
          : null,
      ),
    ),
  );
  if (events.length === 0) list.append(h('li', { class: 'muted', text: 'No audit events yet.' }));
}

/**
 * Draws the request into `body` and its events into `auditList`.
 * @param {{ me: { id: string }, canDecideAt: (tenant: string) => boolean }} ctx
 */
export function renderDetail(body, auditList, titleEl, req, events, ctx) {
  titleEl.textContent = `Request for ${req.resource}`;
  const a = req.access;
  const mine = req.requester === ctx.me.id;
  const ext = req.extensions?.at(-1);
  const titleId = titleEl.id;
  const actions = h('div', { class: 'actions' });
  if (req.status === 'pending' && ctx.canDecideAt(req.tenant) && !mine) actions.append(...decisionForms(req, ctx, 'detail', titleId).children);
  if (req.status === 'pending' && mine) actions.append(cancelForm(req, ctx, 'detail', titleId));
  if (req.status === 'active' && mine && ext?.status !== 'pending') actions.append(extendForm(req, ctx, 'detail', titleId));
  if (req.status === 'active' && (mine || ctx.canDecideAt(req.tenant))) actions.append(revokeForm(req, ctx, 'detail', titleId));
  if (req.emergency && req.review?.status === 'pending' && !mine && ctx.canReviewAt?.(req.tenant)) actions.append(...reviewForms(req, ctx, 'detail', titleId).children);
  const decisions = (req.decisions ?? []).map((d) =>
    h('li', {}, h('strong', { text: d.action }), ` by ${d.actor} at `, timeEl(d.at), d.note ? `: ${d.note}` : ''),
  );
  body.replaceChildren(
    facts([
      ['Request id', h('code', { text: req.id })],
      ['Status', badge(req.status)],
      ['Emergency', req.emergency ? h('span', { class: 'badge badge-emergency', text: 'Emergency: granted without approval', data: { emergency: 'true' } }) : null],
      ['Review', req.review ? reviewWords(req.review) : null],
      ['Tenant', req.tenant],
      ['Resource', req.resource],
      ['Requested by', req.requester],
      ['Reason', req.reason],
      ['Ticket', req.ticket],
      ['Duration', req.duration],
      ['Requested', timeEl(req.createdAt)],
      ['Expires unanswered', req.status === 'pending' ? h('span', {}, timeEl(req.expiresAt), ' (', countdown(req.expiresAt), ')') : null],
      ['Waiting for', req.status === 'pending' && req.stage ? `${req.stage} approval` : null],
      ['Access granted', a ? timeEl(a.grantedAt) : null],
      ['Access ends', a && !a.revokedAt && req.status === 'active' ? h('span', {}, timeEl(a.endsAt), ' (', countdown(a.endsAt), ')') : a ? timeEl(a.endsAt) : null],
      ['Access revoked', a?.revokedAt ? timeEl(a.revokedAt) : null],
      ['Ended', req.endedAt ? timeEl(req.endedAt) : null],
      ['Failure', req.failure],
      ['More time', ext ? `${ext.duration} asked (${ext.reason}): ${ext.status}` : null],
    ]),
    decisions.length ? h('h3', { text: 'Decisions' }) : '',
    decisions.length ? h('ul', { class: 'decisions' }, ...decisions) : '',
    actions.childElementCount ? actions : '',
    links(req, ctx, titleId),
  );
  // "Details" would point at this very panel.
  body.querySelector('[data-action="details"]')?.remove();
  timeline(auditList, events);
}
