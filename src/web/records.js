/**
 * History: every request the person may see, open or closed, from Lockbox's own records (`GET /v1/requests` with
 * filters, newest first, paged with `next`/`after`), and for a tenant's admins and operators a link to the evidence
 * pack of the chosen tenant and period. A search, not a live list: it reads when the filters are applied or more is
 * asked for. The API judges the filters; its field errors are shown next to the fields (forms.js).
 */
import { ApiError, get } from './api.js';
import { badge, h, timeEl } from './dom.js';
import { evidencePath, openEvidence } from './evidence.js';
import { clearErrors, showErrors } from './forms.js';

/** The statuses of src/domain/request.ts (the API's `status` filter; test/web.history.test.ts compares them). */
export const STATUSES = ['pending', 'granting', 'active', 'completed', 'rejected', 'expired', 'cancelled', 'revoked', 'failed'];
const DAY_MS = 86_400_000;
const $ = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));

/**
 * Wires the History section for the signed-in person.
 * @param {{ me: { id: string, roles: string[], tenantRoles: { tenant: string, role: string }[] },
 *   select: (id: string, push?: boolean) => unknown, announce: (text: string) => void }} ctx
 */
export function setupRecords(ctx) {
  const form = /** @type {HTMLFormElement} */ (document.getElementById('records-form'));
  const formError = $('records-error');
  const rows = $('records-rows');
  const more = /** @type {HTMLButtonElement} */ (document.getElementById('records-more'));
  const link = /** @type {HTMLAnchorElement} */ (document.getElementById('records-evidence-link'));
  const roles = new Set(ctx.me.roles);
  const pairs = ctx.me.tenantRoles ?? [];
  const tenants = [...new Set(pairs.map((g) => g.tenant))].sort();
  // Operators and internal approvers see every tenant; engineers their own requests, wherever they filed them.
  const anyTenant = roles.has('operator') || roles.has('internal_approver') || roles.has('engineer');
  /** Whose evidence this person may read (src/domain/directory.ts canReadSettings): admins of it, operators. */
  const mayReadEvidence = (t) => roles.has('operator') || pairs.some((g) => g.tenant === t && g.role === 'admin');
  let next = null;
  let applied = '';
  let my = 0; // bumped by each new search: answers to older ones are dropped

  $('rs-status').replaceChildren(h('option', { attrs: { value: '' }, text: 'Any status' }), ...STATUSES.map((s) => h('option', { attrs: { value: s }, text: s })));
  const tenantControl = tenantInput(anyTenant, tenants);
  $('rs-tenant-field').querySelector('label')?.after(tenantControl);
  $('rs-tenant-field').hidden = !anyTenant && tenants.length < 2;
  $('rs-tenant-hint').textContent = anyTenant ? 'A tenant id, e.g. contoso; empty: every tenant you see.' : 'One of your tenants, or all of them.';

  /** The filters as query parameters; the period in whole UTC days, `to` inclusive (the next day's midnight). */
  function filters() {
    const q = new URLSearchParams();
    const text = (id) => $(id).value.trim();
    if (text('rs-status')) q.set('status', text('rs-status'));
    if (tenantControl.value.trim()) q.set('tenant', tenantControl.value.trim());
    if (text('rs-resource')) q.set('resource', text('rs-resource'));
    if (text('rs-requester')) q.set('requester', text('rs-requester'));
    const from = $('rs-from').valueAsNumber;
    const to = $('rs-to').valueAsNumber;
    if (!Number.isNaN(from)) q.set('from', new Date(from).toISOString());
    if (!Number.isNaN(to)) q.set('to', new Date(to + DAY_MS).toISOString());
    q.set('limit', text('rs-limit') || '50');
    return q;
  }

  /** Runs the search from the first page (`reset`) or goes on after the last row shown. */
  async function load(reset = true) {
    const n = reset ? ++my : my;
    const q = reset ? filters() : new URLSearchParams(applied);
    if (!reset && next) q.set('after', next);
    more.disabled = true;
    if (reset) $('records-status').textContent = 'Loading…';
    try {
      const page = await get(`/v1/requests?${q}`);
      if (n !== my) return;
      clearErrors(form, formError);
      if (reset) {
        applied = q.toString();
        rows.replaceChildren();
        showEvidence(q);
      }
      rows.append(...page.requests.map(row));
      next = page.next ?? null;
      more.hidden = next === null;
      $('records-table-wrap').hidden = rows.childElementCount === 0;
      const count = rows.childElementCount;
      $('records-status').textContent =
        count === 0 ? 'No requests match these filters.' : `${count} ${count === 1 ? 'request' : 'requests'} shown${next ? '; there are more' : ''}.`;
    } catch (err) {
      if (n !== my) return;
      if (!(err instanceof ApiError)) throw err;
      $('records-status').textContent = '';
      if (reset) showErrors(form, err.errors, formError, err.words);
      else formError.textContent = err.words;
    } finally {
      more.disabled = false;
    }
  }

  function row(r) {
    const open = h('a', {
      attrs: { href: `/requests/${encodeURIComponent(r.id)}` },
      data: { action: 'details', id: r.id },
      on: {
        click: (ev) => {
          const e = /** @type {MouseEvent} */ (ev);
          if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
          ev.preventDefault();
          void ctx.select(r.id, true);
        },
      },
    }, h('code', { text: r.id }));
    const cells = [open, r.tenant, r.resource, r.requester, badge(r.status), timeEl(r.createdAt), r.closedAt ? timeEl(r.closedAt) : '—'];
    return h('tr', { data: { requestId: r.id, status: r.status } }, ...cells.map((c) => h('td', {}, c)));
  }

  /** The evidence link for the tenant and period just applied, if this person may read that tenant's evidence. */
  function showEvidence(q) {
    const tenant = q.get('tenant') ?? (tenants.length === 1 && !anyTenant ? tenants[0] : null);
    const from = q.get('from');
    const to = q.get('to');
    const allowed = roles.has('operator') || tenants.some(mayReadEvidence);
    const ready = Boolean(tenant && from && to && mayReadEvidence(tenant));
    $('records-evidence').hidden = !ready;
    $('records-evidence-hint').hidden = ready || !(tenant ? mayReadEvidence(tenant) : allowed);
    $('records-evidence-hint').textContent = tenant
      ? `For the evidence pack of ${tenant}, choose both days of a period.`
      : 'For an evidence pack, choose a tenant and both days of a period.';
    $('records-evidence-error').textContent = '';
    if (!ready) return;
    link.href = evidencePath(tenant, from, to);
    link.dataset.tenant = tenant;
    $('records-evidence-what').textContent = `(${tenant}, ${from.slice(0, 10)} to ${new Date(Date.parse(to) - DAY_MS).toISOString().slice(0, 10)}, UTC)`;
  }

  link.onclick = (ev) => void openEvidence(ev, link, $('records-evidence-error'));
  link.onauxclick = (ev) => void (ev.button === 1 && openEvidence(ev, link, $('records-evidence-error')));
  form.onsubmit = (ev) => {
    ev.preventDefault();
    void load(true);
  };
  let signedIn = true;
  // After the form has put its defaults back (the reset event comes first).
  form.onreset = () => setTimeout(() => signedIn && void load(true));
  more.onclick = () => void load(false);
  return {
    load,
    /** Signing out: nothing of this person's is left on the page. */
    clear() {
      signedIn = false;
      my++;
      form.reset();
      clearErrors(form, formError);
      tenantControl.remove();
      rows.replaceChildren();
      next = null;
      applied = '';
      more.hidden = true;
      $('records-table-wrap').hidden = true;
      $('records-status').textContent = '';
      $('records-evidence').hidden = true;
      $('records-evidence-hint').hidden = true;
      $('records-evidence-error').textContent = '';
    },
  };
}

/** A select of the person's tenants, or a text input for people who see every tenant. */
function tenantInput(anyTenant, tenants) {
  const props = { id: 'rs-tenant', attrs: { name: 'tenant', 'aria-describedby': 'rs-tenant-hint rs-tenant-error' } };
  if (anyTenant) return /** @type {HTMLInputElement} */ (h('input', { ...props, attrs: { ...props.attrs, autocomplete: 'off', spellcheck: 'false' } }));
  return /** @type {HTMLSelectElement} */ (
    h('select', props, h('option', { attrs: { value: '' }, text: 'All your tenants' }), ...tenants.map((t) => h('option', { attrs: { value: t }, text: t })))
  );
}
