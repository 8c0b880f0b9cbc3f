/**
 * The Lockbox portal: sign-in (identity provider session or a bearer token), then the views the person's roles allow
 * (docs/portal.md). Lists are polled every 2 s and updated in place, so a status change shows without a reload and a
 * half-typed comment or the keyboard focus survives the update.
 *
 * Over ~300 lines for one reason: this module owns the page's mutable state (who is signed in, the sign-out epoch
 * that drops late answers, the poll timer, the open request, the last status seen per request), and every function
 * that changes it lives here, so no other module can change it behind the poller's back. What only draws or asks
 * (cards, detail, actions, forms, settings, history, evidence) is in modules of its own and gets what it needs
 * through `ctx`.
 */
import { ApiError, call, get, session, whenStepUpRequired, whenUnauthorized } from './api.js';
import { historyCard, mineCard, pendingCard, searchText } from './cards.js';
import { loadDetail, renderDetail } from './detail.js';
import { h, syncList, tickCountdowns } from './dom.js';
import { bodySchemas, clearErrors } from './forms.js';
import { setupRecords } from './records.js';
import { setupRequestForm } from './request-form.js';
import { setupSettings } from './settings.js';

const POLL_MS = 2000;
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const SECTIONS = { 'new-request': 'Request access', mine: 'My requests', pending: 'Waiting for a decision', history: 'Decided', records: 'History', settings: 'Tenant settings' };

/** What views and actions share: who is signed in and what they may do. */
const ctx = {
  /** @type {{ id: string, roles: string[], tenantRoles: { tenant: string, role: string }[], temporalUi?: { url: string, namespace: string } } | null} */
  me: null,
  config: { mode: 'production', demoIdentities: [] },
  /** Whether the API offers sign-in at an identity provider (GET /auth/session). */
  signInAvailable: false,
  /** For a session: when and how the person last logged in at the identity provider. */
  login: /** @type {{ authTime: string | null, amr: string[] } | null} */ (null),
  /** Whether the person may approve or reject at this tenant: a role there (customer side) or internal approver. */
  canDecideAt: (/** @type {string} */ _tenant) => false,
  /** Whether the person may review an emergency (break-glass) request of this tenant: its approvers and admins. */
  canReviewAt: (/** @type {string} */ _tenant) => false,
  /** Operators: where the Temporal UI is (from GET /v1/me), or null. */
  temporalUi: null,
  showWorkflows: false,
  /** Requests decided on this page, hidden from "waiting" until the list (eventually consistent) catches up. */
  decided: new Set(),
  announce,
  refresh,
  select,
  /** Forget what is cached of a request after acting on it, so the next refresh reads it afresh. */
  invalidate: (id) => {
    details.delete(id);
    if (id === selected) detailSignature = '';
  },
};

const views = { engineer: false, decider: false, reader: false };
/** The History view of the person signed in (records.js), or null. */
let records = null;
let epoch = 0; // bumped on sign-out: answers to calls made before are dropped
let pollTimer = 0;
let selected = null;
let detailSignature = '';
const details = new Map(); // own active requests: GET /v1/requests/{id} (access window, extensions)
const lastStatus = new Map();
const filedHere = new Map(); // requests filed on this page, shown until the list has them
const newest = {}; // per list, the sequence number of the newest answer drawn
let seq = 0;

// ---- start-up and sign-in ----

async function boot() {
  whenUnauthorized(() => signOut('You were signed out: the API no longer accepts your token. Sign in again.'));
  // A decision needs a fresh login: the identity provider asks again, then brings the person back to this request.
  whenStepUpRequired((err) => {
    announce('Deciding needs a fresh login: taking you to sign in again.');
    location.assign(err.loginUrl);
  });
  ctx.config = await get('/v1/portal-config', { auth: false }).catch(() => ctx.config);
  renderDemoIdentities();
  $('signin-form').addEventListener('submit', onSignIn);
  $('sign-out').addEventListener('click', () => void signOutEverywhere());
  setupRequestForm(ctx, async (created) => {
    filedHere.set(created.id, { ...created, closedAt: null });
    await refresh();
  });
  $('pending-filter').addEventListener('input', applyFilter);
  $('detail-close').addEventListener('click', () => closeDetail(true));
  window.addEventListener('popstate', () => void routeFromUrl());
  setInterval(() => tickCountdowns(), 1000);
  // Signed in at the identity provider: the server-side session (cookie) answers.
  const signedIn = await call('GET', '/auth/session', { auth: false, cookie: true }).then((r) => r.body).catch(() => null);
  ctx.signInAvailable = signedIn?.signInAvailable ?? signedIn?.signedIn ?? false;
  if (signedIn?.signedIn) {
    session.csrf = signedIn.csrfToken;
    ctx.login = { authTime: signedIn.authTime, amr: signedIn.amr };
    try {
      return await start(await get('/v1/me'));
    } catch (err) {
      session.csrf = null;
      return showSignIn(words(err));
    }
  }
  const token = session.token;
  if (token) {
    try {
      return start(await get('/v1/me', { token }));
    } catch (err) {
      session.token = null;
      return showSignIn(err instanceof ApiError && err.status === 401 ? 'Your session has ended. Sign in again.' : words(err));
    }
  }
  showSignIn('');
}

function renderDemoIdentities() {
  const ids = ctx.config.demoIdentities ?? [];
  if (!ids.length) return;
  $('demo-list').replaceChildren(
    ...ids.map((d) => h('tr', {}, h('td', {}, h('code', { text: d.token })), h('td', { text: d.id }), h('td', { text: describeRoles(d) }))),
  );
  $('demo').hidden = false;
}

function showSignIn(message) {
  $('signin').hidden = false;
  // Sign-in at the identity provider, coming back to this page (a notification's link to a request, say).
  const link = /** @type {HTMLAnchorElement} */ ($('signin-link'));
  link.href = `/auth/login?returnTo=${encodeURIComponent(location.pathname)}`;
  $('signin-idp').hidden = !ctx.signInAvailable;
  // Pasting a token stays for the embedded demo's tokens, and where no identity provider is configured.
  $('signin-form').hidden = ctx.signInAvailable && ctx.config.mode !== 'embedded';
  $('signin-error').textContent = message;
  if ($('signin-form').hidden) link.focus();
  else /** @type {HTMLInputElement} */ ($('token')).focus();
}

async function onSignIn(ev) {
  ev.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('token'));
  const token = input.value.trim();
  input.removeAttribute('aria-invalid');
  if (!token) {
    $('signin-error').textContent = 'Paste your bearer token first.';
    input.setAttribute('aria-invalid', 'true');
    return input.focus();
  }
  try {
    const me = await get('/v1/me', { token });
    session.token = token;
    input.value = '';
    $('signin-error').textContent = '';
    await start(me);
  } catch (err) {
    $('signin-error').textContent = err instanceof ApiError && err.status === 401 ? `That token was not accepted: ${err.detail}` : words(err);
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

/** `internal approver`, `approver and admin at contoso, admin at fabrikam` (as src/domain/directory.ts says it). */
function describeRoles(p) {
  const roles = p.roles ?? [];
  const pairs = p.tenantRoles ?? [];
  const tenants = [...new Set(pairs.map((g) => g.tenant))];
  const customer = tenants.map((t) => `${pairs.filter((g) => g.tenant === t).map((g) => g.role).join(' and ')} at ${t}`);
  return [...roles.map((r) => r.replaceAll('_', ' ')), ...customer].join(', ') || 'no roles';
}

async function start(me) {
  ctx.me = me;
  const roles = new Set(me.roles);
  const pairs = me.tenantRoles ?? [];
  // Roles are held per tenant: approving at one tenant and administering another never add up.
  const memberOf = new Set(pairs.map((g) => g.tenant));
  views.engineer = roles.has('engineer');
  ctx.canDecideAt = (tenant) => roles.has('internal_approver') || memberOf.has(tenant);
  ctx.canReviewAt = (tenant) => memberOf.has(tenant);
  views.decider = roles.has('internal_approver') || memberOf.size > 0;
  views.reader = views.decider || roles.has('operator');
  ctx.temporalUi = me.temporalUi ?? null;
  ctx.showWorkflows = ctx.temporalUi !== null;
  const adminOf = [...new Set(pairs.filter((g) => g.role === 'admin').map((g) => g.tenant))];
  const visible = {
    'new-request': views.engineer,
    mine: views.engineer,
    pending: views.reader,
    history: views.reader,
    // Everyone: the API shows each person what they may see (their own requests, their tenants', or all).
    records: true,
    settings: adminOf.length > 0,
  };
  for (const [id, on] of Object.entries(visible)) $(id).hidden = !on;
  $('pending-title').textContent = views.decider ? 'Waiting for your decision' : 'Waiting for a decision';
  $('nav-list').replaceChildren(
    ...Object.entries(visible)
      .filter(([, on]) => on)
      .map(([id]) => h('li', {}, h('a', { attrs: { href: `#${id}` }, text: $(`${id}-title`).textContent ?? SECTIONS[id] }))),
  );
  $('who-name').textContent = me.id;
  $('who-login').textContent = ctx.login?.authTime ? `Logged in at ${new Date(ctx.login.authTime).toLocaleTimeString()}${ctx.login.amr?.length ? ` (${ctx.login.amr.join(', ')})` : ''}` : '';
  $('who-roles').textContent = `(${describeRoles(me)})`;
  $('signin').hidden = true;
  $('who').hidden = false;
  $('nav').hidden = false;
  if (adminOf.length) void setupSettings(adminOf, ctx).load();
  records = setupRecords(ctx);
  void records.load();
  void bodySchemas();
  const routed = await routeFromUrl();
  const first = Object.keys(visible).find((id) => visible[id]);
  if (!routed && first) $(`${first}-title`).focus();
  void poll(epoch);
}

/** The sign-out button: a session ends at the server (and at the identity provider, where it supports it). */
async function signOutEverywhere() {
  if (!session.csrf) return signOut('');
  const csrf = session.csrf;
  session.csrf = null;
  try {
    const { body } = await call('POST', '/auth/logout', { auth: false, cookie: true, headers: { 'x-csrf-token': csrf } });
    if (body?.redirect && body.redirect !== '/') return location.assign(body.redirect);
  } catch (err) {
    return signOut(`Signing out failed: ${words(err)}`);
  }
  signOut('');
}

function signOut(message) {
  epoch++;
  session.csrf = null;
  clearTimeout(pollTimer);
  session.token = null;
  ctx.me = null;
  ctx.canDecideAt = () => false;
  ctx.canReviewAt = () => false;
  ctx.temporalUi = null;
  ctx.showWorkflows = false;
  ctx.decided.clear();
  details.clear();
  lastStatus.clear();
  filedHere.clear();
  selected = null;
  records?.clear();
  records = null;
  for (const id of [...Object.keys(SECTIONS), 'detail']) $(id).hidden = true;
  for (const id of ['mine-list', 'pending-list', 'history-list', 'detail-body', 'detail-audit', 'nav-list']) $(id).replaceChildren();
  for (const id of ['new-request-form', 'settings-form']) /** @type {HTMLFormElement} */ ($(id)).reset();
  clearErrors(/** @type {HTMLFormElement} */ ($('new-request-form')), $('new-request-error'));
  $('new-request-done').textContent = '';
  $('who').hidden = true;
  $('nav').hidden = true;
  drawEmergencies([]);
  hideAlert();
  if (location.pathname !== '/') history.replaceState(null, '', '/');
  showSignIn(message);
  announce(message || 'You are signed out.');
}

// ---- polling ----

async function poll(my) {
  if (my !== epoch) return;
  await refresh();
  if (my === epoch) pollTimer = window.setTimeout(() => void poll(my), POLL_MS);
}

/** Reads everything shown, once; errors are said in the alert region (and cleared when calls succeed again). */
async function refresh() {
  if (!ctx.me) return;
  const my = epoch;
  const jobs = [];
  if (views.engineer) jobs.push(refreshMine(my));
  if (views.reader) jobs.push(refreshPending(my), refreshHistory(my));
  if (selected) jobs.push(refreshDetail(my));
  const results = await Promise.allSettled(jobs);
  if (my !== epoch) return;
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) showAlert(words(/** @type {PromiseRejectedResult} */ (failed).reason));
  else hideAlert();
}

/** Runs `load` and hands its answer to `draw` only if no newer answer for `list` was drawn meanwhile. */
async function latest(list, my, load, draw) {
  const n = ++seq;
  const data = await load();
  if (my !== epoch || n < (newest[list] ?? 0)) return;
  newest[list] = n;
  draw(data);
}

function refreshMine(my) {
  return latest('mine', my, async () => {
    // The API filters by requester for ids shaped like e-mail addresses; other ids (some IdPs') are filtered here.
    const byApi = /^[\w.+-]+@[\w.-]+$/.test(ctx.me.id);
    const listed = (await get(byApi ? `/v1/requests?requester=${encodeURIComponent(ctx.me.id)}&limit=50` : '/v1/requests?limit=200')).requests;
    const requests = listed.filter((r) => r.requester === ctx.me.id).slice(0, 50);
    for (const r of requests) filedHere.delete(r.id);
    const all = [...filedHere.values(), ...requests];
    // The access window and extensions are not in the list: read them for active requests (a few per round).
    const stale = all.filter((r) => r.status === 'active' && (details.get(r.id)?.status !== 'active' || details.get(r.id)?.extensions?.at(-1)?.status === 'pending')).slice(0, 10);
    await Promise.all(stale.map(async (r) => details.set(r.id, await get(`/v1/requests/${encodeURIComponent(r.id)}`))));
    return all;
  }, (all) => {
    for (const r of all) {
      const before = lastStatus.get(r.id);
      if (before && before !== r.status) announce(`Your request for ${r.resource} is now ${r.status}.`);
      lastStatus.set(r.id, r.status);
    }
    syncList($('mine-list'), all, {
      key: (r) => r.id,
      signature: (r) => [r.status, details.get(r.id)?.access?.endsAt ?? '', details.get(r.id)?.extensions?.at(-1)?.status ?? ''].join('|'),
      render: (r) => mineCard(r, details.get(r.id), ctx),
      onRemoveFocused: () => $('mine-title').focus(),
    });
    $('mine-empty').hidden = all.length > 0;
  });
}

function refreshPending(my) {
  return latest('pending', my, async () => (await get('/v1/requests?status=pending&limit=100')).requests, (requests) => {
    const ids = new Set(requests.map((r) => r.id));
    for (const id of ctx.decided) if (!ids.has(id)) ctx.decided.delete(id);
    const waiting = requests.filter((r) => !ctx.decided.has(r.id));
    syncList($('pending-list'), waiting, {
      key: (r) => r.id,
      signature: (r) => r.status,
      render: (r) => {
        const li = pendingCard(r, ctx);
        li.dataset.search = searchText(r);
        return li;
      },
      onRemoveFocused: () => $('pending-title').focus(),
    });
    applyFilter();
    $('pending-empty').hidden = waiting.length > 0;
  });
}

function refreshHistory(my) {
  return latest('history', my, async () => (await get('/v1/requests?limit=200')).requests, (requests) => {
    drawEmergencies(requests);
    const decided = requests.filter((r) => r.status !== 'pending').slice(0, 50);
    syncList($('history-list'), decided, {
      key: (r) => r.id,
      signature: (r) => `${r.status}|${r.closedAt ?? ''}`,
      render: (r) => historyCard(r, ctx),
      onRemoveFocused: () => $('history-title').focus(),
    });
    $('history-empty').hidden = decided.length > 0;
  });
}

/**
 * The emergency banner: break-glass access in effect right now at a tenant whose approvals or settings are this
 * person's, each with a way to its request (to review it, or revoke it). Hidden when there is none.
 */
function drawEmergencies(requests) {
  const banner = $('emergency-banner');
  const live = requests.filter((r) => r.emergency && (r.status === 'active' || r.status === 'granting') && ctx.canReviewAt?.(r.tenant));
  const key = live.map((r) => r.id).join(',');
  if (banner.dataset.key === key) return;
  banner.dataset.key = key;
  banner.replaceChildren();
  banner.hidden = live.length === 0;
  if (live.length === 0) return;
  banner.append(
    h('p', { text: live.length === 1 ? 'Emergency access (break-glass) is in effect without approval:' : `${live.length} emergency accesses (break-glass) are in effect without approval:` }),
    h(
      'ul',
      {},
      ...live.map((r) =>
        h('li', { data: { requestId: r.id } }, `${r.requester} on ${r.resource} at ${r.tenant}. `, h('button', { class: 'link', text: 'Open to review or revoke', attrs: { type: 'button' }, on: { click: () => void select(r.id, true) } })),
      ),
    ),
  );
}

function applyFilter() {
  const q = /** @type {HTMLInputElement} */ ($('pending-filter')).value.trim().toLowerCase();
  for (const li of /** @type {HTMLCollectionOf<HTMLElement>} */ ($('pending-list').children)) li.hidden = q !== '' && !(li.dataset.search ?? '').includes(q);
}

// ---- one request ----

async function refreshDetail(my) {
  const id = selected;
  if (!id) return;
  let data;
  try {
    data = await loadDetail(id);
  } catch (err) {
    if (my !== epoch || selected !== id) return;
    if (err instanceof ApiError && err.status === 404) {
      $('detail-title').textContent = 'Request not found';
      $('detail-body').replaceChildren(h('p', { text: `${err.detail}. It may belong to a tenant you do not see.` }));
      $('detail-audit').replaceChildren();
      detailSignature = '';
      return;
    }
    throw err;
  }
  if (my !== epoch || selected !== id) return;
  const signature = JSON.stringify(data);
  if (signature === detailSignature) return;
  detailSignature = signature;
  const hadFocus = $('detail').contains(document.activeElement) && document.activeElement !== $('detail-close');
  renderDetail($('detail-body'), $('detail-audit'), $('detail-title'), data.request, data.events, ctx);
  if (hadFocus) $('detail-title').focus();
}

/** Opens one request (from a card, or a /requests/{id} link). */
async function select(id, push = false) {
  selected = id;
  detailSignature = '';
  $('detail').hidden = false;
  $('detail-title').textContent = 'Loading request…';
  $('detail-body').replaceChildren();
  $('detail-audit').replaceChildren();
  if (push) history.pushState(null, '', `/requests/${encodeURIComponent(id)}`);
  try {
    await refreshDetail(epoch);
  } catch (err) {
    $('detail-body').replaceChildren(h('p', { class: 'card-error', text: words(err) }));
  }
  $('detail').scrollIntoView({ block: 'start' });
  $('detail-title').focus();
}

function closeDetail(push) {
  selected = null;
  $('detail').hidden = true;
  if (push && location.pathname !== '/') history.pushState(null, '', '/');
  $('main').focus();
}

/** `/requests/{id}` opens that request; returns whether it did. */
async function routeFromUrl() {
  const m = /^\/requests\/([^/]+)$/.exec(location.pathname);
  if (!ctx.me) return false;
  if (m?.[1]) {
    await select(decodeURIComponent(m[1]));
    return true;
  }
  if (selected) closeDetail(false);
  return false;
}

// ---- words ----

function words(err) {
  return err instanceof ApiError ? err.words : err instanceof Error ? err.message : String(err);
}

function announce(text) {
  const region = $('announcer');
  region.textContent = '';
  // A fresh text node in a later frame is announced even when the words repeat.
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}

function showAlert(text) {
  const el = $('alert');
  if (el.textContent !== text) el.textContent = text;
  el.hidden = false;
}

function hideAlert() {
  const el = $('alert');
  el.hidden = true;
  el.textContent = '';
}

void boot();
