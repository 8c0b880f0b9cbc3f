/**
 * One request as a card in a list: pending for approvers, the engineer's own, decided history. Text from the API is
 * inserted as text (dom.js); the card's `data-signature` (app.js) says when it must be drawn again.
 */
import { cancelForm, decisionForms, extendForm, revokeForm } from './actions.js';
import { badge, countdown, facts, h, timeEl } from './dom.js';

/** The Temporal UI page of a request's workflow (`ui` from GET /v1/me, operators only), or null. */
export function workflowUrl(ui, id) {
  if (!ui?.url) return null;
  return `${ui.url}/namespaces/${encodeURIComponent(ui.namespace)}/workflows/${encodeURIComponent(id)}`;
}

function title(req, key) {
  const id = `${key}-${req.id}-title`;
  // Break-glass requests carry a badge wherever they show (docs/break-glass.md).
  const emergency = req.emergency ? [' ', h('span', { class: 'badge badge-emergency', text: 'Emergency', data: { emergency: 'true' } })] : [];
  return { id, el: h('h3', { id }, h('span', { class: 'resource', text: req.resource }), ' ', h('span', { class: 'tenant', text: `at ${req.tenant}` }), ...emergency) };
}

/** "Details and audit trail", and for provider-side readers the workflow in the Temporal UI. */
export function links(req, ctx, titleId) {
  const details = h('a', {
    text: 'Details and audit trail',
    attrs: { href: `/requests/${encodeURIComponent(req.id)}`, 'aria-describedby': titleId },
    data: { action: 'details', id: req.id },
    on: {
      click: (ev) => {
        const e = /** @type {MouseEvent} */ (ev);
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        ev.preventDefault();
        ctx.select(req.id, true);
      },
    },
  });
  const p = h('p', { class: 'links' }, details);
  const url = ctx.showWorkflows ? workflowUrl(ctx.temporalUi, req.id) : null;
  if (url) {
    p.append(
      h('a', {
        text: 'Workflow in Temporal UI',
        attrs: { href: url, target: '_blank', rel: 'noopener noreferrer', 'aria-describedby': titleId },
        data: { action: 'workflow', id: req.id },
      }),
    );
  }
  return p;
}

/** Deadline as a local time plus a live countdown. */
function deadline(iso, before, after) {
  return h('span', {}, timeEl(iso), ' (', countdown(iso, { before, after }), ')');
}

const card = (req, cls, ...children) =>
  h('li', { class: `card ${cls}`, data: { requestId: req.id, status: req.status } }, h('article', { attrs: { 'aria-labelledby': `${cls}-${req.id}-title` } }, ...children));

/** A pending request for someone who may decide it (or, for operators, just read it). */
export function pendingCard(req, ctx) {
  const t = title(req, 'pending');
  return card(
    req,
    'pending',
    t.el,
    facts([
      ['Status', badge(req.status)],
      ['Requested by', req.requester],
      ['Reason', req.reason],
      ['Ticket', req.ticket],
      ['Duration', req.duration],
      ['Requested', timeEl(req.createdAt)],
      ['Expires', deadline(req.expiresAt, 'in', 'now')],
    ]),
    ctx.canDecideAt(req.tenant) ? decisionForms(req, ctx, 'pending', t.id) : null,
    links(req, ctx, t.id),
  );
}

/** One of the engineer's own requests; `detail` (GET /v1/requests/{id}) adds the access window when active. */
export function mineCard(req, detail, ctx) {
  const t = title(req, 'mine');
  const endsAt = detail?.access?.endsAt;
  const ext = detail?.extensions?.at(-1);
  const when =
    req.status === 'pending'
      ? ['Expires unanswered', deadline(req.expiresAt, 'in', 'now')]
      : req.status === 'active' && endsAt
        ? ['Access ends', deadline(endsAt, 'in', 'now')]
        : req.closedAt
          ? ['Ended', timeEl(req.closedAt)]
          : ['', null];
  const actions = h('div', { class: 'actions' });
  if (req.status === 'pending') actions.append(cancelForm(req, ctx, 'mine', t.id));
  if (req.status === 'active') {
    if (ext?.status !== 'pending') actions.append(extendForm(req, ctx, 'mine', t.id));
    actions.append(revokeForm(req, ctx, 'mine', t.id));
  }
  return card(
    req,
    'mine',
    t.el,
    facts([
      ['Status', badge(req.status)],
      ['Reason', req.reason],
      ['Ticket', req.ticket],
      ['Duration', req.duration],
      ['Requested', timeEl(req.createdAt)],
      when,
      ['More time', ext ? `${ext.duration} asked: ${ext.status}` : null],
    ]),
    actions.childElementCount ? actions : null,
    links(req, ctx, t.id),
  );
}

/** A decided (or ended) request in an approver's or operator's history. */
export function historyCard(req, ctx) {
  const t = title(req, 'history');
  return card(
    req,
    'history',
    t.el,
    facts([
      ['Status', badge(req.status)],
      ['Requested by', req.requester],
      ['Reason', req.reason],
      ['Ticket', req.ticket],
      ['Duration', req.duration],
      ['Requested', timeEl(req.createdAt)],
      ['Closed', req.closedAt ? timeEl(req.closedAt) : null],
    ]),
    links(req, ctx, t.id),
  );
}

/** Text a filter matches against. */
export function searchText(req) {
  return [req.requester, req.resource, req.reason, req.ticket ?? '', req.tenant, req.id].join(' ').toLowerCase();
}
