/**
 * The authorisation matrix: every demo persona x every endpoint -> HTTP status, run against the real API and Temporal
 * (the shared stack). The tables below ARE the policy; read them, then the code that checks them cell by cell.
 *
 * Personas (src/config/demo.ts): eve engineer; alice contoso approver+admin; bob contoso approver; carol contoso
 * approver and fabrikam admin (roles are held per tenant); fiona fabrikam approver+admin; frank fabrikam approver;
 * ian internal approver (provider side); oscar operator; none = no token.
 *
 * Rules the tables follow (issue 4 and src/domain/directory.ts):
 * - only engineers create requests; a requester sees their own requests and may cancel them while pending;
 * - a tenant's approvers/admins see and decide that tenant's requests; to anyone of another tenant a request is
 *   404, not 403, so its existence does not leak;
 * - internal approvers and operators see every request; operators decide nothing (403 on every decision);
 * - an internal approver may attempt approve/reject anywhere, but on contoso (no internal stage) the request's own
 *   rules refuse it (403 not_eligible); revoke is open to the requester, the tenant's approvers and internal approvers;
 * - a request's credentials are its requester's alone (others who may see the request: 403), and exist only while
 *   access is active (409 before);
 * - settings and the evidence pack: the tenant's admin reads (and changes) them, an operator only reads them,
 *   everyone else 403; a role at one tenant never adds up to another role there (carol approves at contoso and
 *   administers fabrikam: contoso's settings are 403 to her);
 * - a tenant approver who is not on the tenant's approver list may attempt a decision (approve, reject, revoke), and
 *   the request's rules refuse it;
 * - /metrics describes every tenant: operators only; the audit feed of a tenant: its admins and operators;
 * - access check and notifications are about the caller, so everyone signed in gets 200;
 * - no token: 401 everywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ulid } from 'ulid';
import { ROUTES } from '../src/api/openapi.js';
import { eventually, type ApiResponse } from './support/api.js';
import { ALL_TOKENS, personas, problemCode, settingsBody, type AnyPersona } from './support/personas.js';

// Decisions act on a FRESH contoso request made by eve per cell (revoke: approved by alice first, so it is active).
// "read"/"audit"/"creds" use one pending contoso request and one pending fabrikam request, both by eve. "creds" is the
// requester's alone, and only while access is active: eve gets 409 on her pending request, everyone else who can see it 403.
// "put" sends the tenant's current settings, as its admin just read them: a cell that succeeds changes nothing.
//
//              POST       GET /v1/requests/{id}   GET        GET      GET           POST /v1/requests/{id}/...      GET|PUT /v1/tenants/{t}/settings         GET        GET             GET       GET /v1/tenants/{t}/evidence
//              /requests  (contoso)  (fabrikam)   /requests  /audit   /credentials  approve reject revoke cancel    contoso      contoso      fabrikam  fabrikam  /access/   /notifications  /metrics  contoso    fabrikam
//              GET /v1/audit?tenant= (the tenant feed: contoso, fabrikam); GET /v1/me; POST /v1/requests/{id}/extend (active)
const STATUS_TABLE = `
  persona | create | read-c | read-f | list | audit | creds | approve | reject | revoke | cancel | get-set-c | put-set-c | get-set-f | put-set-f | check | notifs | metrics | evid-c | evid-f | feed-c | feed-f | me | extend
  eve     |  201   |  200   |  200   | 200  |  200  |  409  |   403   |  403   |  200   |  200   |    403    |    403    |    403    |    403    |  200  |  200   |   403   |  403   |  403 | 403   |  403   | 200 | 200
  alice   |  403   |  200   |  404   | 200  |  200  |  403  |   200   |  200   |  200   |  403   |    200    |    200    |    403    |    403    |  200  |  200   |   403   |  200   |  403 | 200   |  403   | 200 | 403
  bob     |  403   |  200   |  404   | 200  |  200  |  403  |   200   |  200   |  200   |  403   |    403    |    403    |    403    |    403    |  200  |  200   |   403   |  403   |  403 | 403   |  403   | 200 | 403
  carol   |  403   |  200   |  200   | 200  |  200  |  403  |   403   |  403   |  403   |  403   |    403    |    403    |    200    |    200    |  200  |  200   |   403   |  403   |  200 | 403   |  200   | 200 | 403
  fiona   |  403   |  404   |  200   | 200  |  404  |  404  |   404   |  404   |  404   |  404   |    403    |    403    |    200    |    200    |  200  |  200   |   403   |  403   |  200 | 403   |  200   | 200 | 404
  frank   |  403   |  404   |  200   | 200  |  404  |  404  |   404   |  404   |  404   |  404   |    403    |    403    |    403    |    403    |  200  |  200   |   403   |  403   |  403 | 403   |  403   | 200 | 404
  ian     |  403   |  200   |  200   | 200  |  200  |  403  |   403   |  403   |  200   |  403   |    403    |    403    |    403    |    403    |  200  |  200   |   403   |  403   |  403 | 403   |  403   | 200 | 403
  oscar   |  403   |  200   |  200   | 200  |  200  |  403  |   403   |  403   |  403   |  403   |    200    |    403    |    200    |    403    |  200  |  200   |   200   |  200   |  200 | 200   |  200   | 200 | 403
  none    |  401   |  401   |  401   | 401  |  401  |  401  |   401   |  401   |  401   |  401   |    401    |    401    |    401    |    401    |  401  |  401   |   401   |  401   |  401 | 401   |  401   | 401 | 401
`;

// GET /v1/requests: which of two requests by eve (one contoso, one fabrikam, same unique resource) each persona's
// listing shows. Everything else it shows must be within the same scope.
const LIST_TABLE = `
  persona | contoso | fabrikam
  eve     |   yes   |   yes
  alice   |   yes   |   no
  bob     |   yes   |   no
  carol   |   yes   |   yes
  fiona   |   no    |   yes
  frank   |   no    |   yes
  ian     |   yes   |   yes
  oscar   |   yes   |   yes
`;

// Where a refusal comes from: the API's role check ("forbidden") or the request's own rules in the workflow.
const REFUSAL_CODE: Partial<Record<AnyPersona, Partial<Record<string, string>>>> = {
  ian: { approve: 'not_eligible', reject: 'not_eligible' },
  // A contoso approver by role who is not on contoso's approver list: the request's rules refuse her decisions.
  carol: { approve: 'not_eligible', reject: 'not_eligible', revoke: 'not_eligible' },
};

type Endpoint =
  | 'create' | 'read-c' | 'read-f' | 'list' | 'audit' | 'creds' | 'approve' | 'reject' | 'revoke' | 'cancel'
  | 'get-set-c' | 'put-set-c' | 'get-set-f' | 'put-set-f' | 'check' | 'notifs' | 'metrics' | 'evid-c' | 'evid-f'
  | 'feed-c' | 'feed-f' | 'me' | 'extend';
const ENDPOINTS: Endpoint[] = [
  'create', 'read-c', 'read-f', 'list', 'audit', 'creds', 'approve', 'reject', 'revoke', 'cancel',
  'get-set-c', 'put-set-c', 'get-set-f', 'put-set-f', 'check', 'notifs', 'metrics', 'evid-c', 'evid-f',
  'feed-c', 'feed-f', 'me', 'extend',
];
const PERSONAS = Object.keys(ALL_TOKENS) as AnyPersona[];

/** Parses a `a | b | c` table whose first column names the persona; checks it covers exactly the expected columns. */
function parseTable(text: string, columns: readonly string[], rows: readonly string[]): Map<string, Map<string, string>> {
  const lines = text.trim().split('\n').map((l) => l.split('|').map((c) => c.trim()));
  const [header, ...body] = lines;
  if (!header || header[0] !== 'persona') throw new Error('table must start with a "persona | ..." header');
  const cols = header.slice(1);
  if (cols.join(',') !== columns.join(',')) throw new Error(`table columns ${cols.join(',')} != ${columns.join(',')}`);
  const out = new Map<string, Map<string, string>>();
  for (const cells of body) {
    if (cells.length !== header.length) throw new Error(`row "${cells.join(' | ')}" has ${cells.length} cells, not ${header.length}`);
    out.set(cells[0]!, new Map(cols.map((c, i) => [c, cells[i + 1]!])));
  }
  const missing = rows.filter((r) => !out.has(r));
  if (missing.length > 0 || out.size !== rows.length) throw new Error(`table rows must be exactly ${rows.join(',')}; missing ${missing.join(',')}`);
  return out;
}

const statusTable = parseTable(STATUS_TABLE, ENDPOINTS, PERSONAS);
const listTable = parseTable(LIST_TABLE, ['contoso', 'fabrikam'], PERSONAS.filter((p) => p !== 'none'));

const cells = PERSONAS.flatMap((persona) =>
  ENDPOINTS.map((endpoint) => ({ persona, endpoint, status: Number(statusTable.get(persona)!.get(endpoint)) })),
);

const who = personas();
const eve = who('eve');
const run = ulid().toLowerCase();
/** Pending requests by eve, made once: one per tenant, on one resource no other test uses. */
const LIST_RESOURCE = `mailbox:authz-${run}@shared.example`;
let contosoId = '';
let fabrikamId = '';

async function create(tenant: 'contoso' | 'fabrikam', resource: string): Promise<string> {
  // A ticket always: the policy test may switch requireTicket on for fabrikam while this file runs.
  const res = await eve.post('/v1/requests', { tenant, resource, reason: 'authz matrix', ticket: 'SUP-1', duration: '1h' });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

/** A fresh contoso request by eve for one decision cell; active (approved by alice) when the action needs it. */
async function freshRequest(action: string, persona: AnyPersona): Promise<string> {
  const id = await create('contoso', `mailbox:authz-${run}-${action}-${persona}@contoso.com`);
  if (action === 'revoke' || action === 'extend') {
    const approved = await who('alice').post(`/v1/requests/${id}/approve`, { comment: 'matrix setup' });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.status).toBe('active');
  }
  return id;
}

const DECISION_BODY: Record<string, Record<string, string>> = {
  approve: { comment: 'matrix' },
  reject: { reason: 'matrix' },
  revoke: { reason: 'matrix' },
  cancel: { reason: 'matrix' },
  extend: { duration: '30m', reason: 'matrix' },
};
const STATUS_AFTER: Record<string, string> = { approve: 'active', reject: 'rejected', revoke: 'revoked', cancel: 'cancelled', extend: 'active' };

/**
 * PUT the tenant's current settings (read by its admin just before, guarded by If-Match so a concurrent change by
 * another test is never overwritten with an older copy: on 412 / 409 read again and retry).
 */
async function putCurrentSettings(persona: AnyPersona, tenant: 'contoso' | 'fabrikam'): Promise<{ res: ApiResponse; sent: Record<string, unknown> }> {
  const admin = who(tenant === 'contoso' ? 'alice' : 'fiona');
  for (let attempt = 1; ; attempt++) {
    const current = await admin.get(`/v1/tenants/${tenant}/settings`);
    expect(current.status, JSON.stringify(current.body)).toBe(200);
    const sent = settingsBody(current.body);
    const res = await who(persona).put(`/v1/tenants/${tenant}/settings`, sent, { 'if-match': `"${current.body.version}"` });
    if ((res.status === 412 || res.status === 409) && attempt < 5) continue;
    return { res, sent };
  }
}

/** Runs one cell; `verify` runs only when the status matched, to check the cell did what the status says. */
async function runCell(persona: AnyPersona, endpoint: Endpoint): Promise<{ res: ApiResponse; verify: () => Promise<void> }> {
  const p = who(persona);
  switch (endpoint) {
    case 'create': {
      const res = await p.post('/v1/requests', { tenant: 'contoso', resource: `mailbox:authz-${run}-create@contoso.com`, reason: 'matrix', ticket: 'SUP-1', duration: '1h' });
      return { res, verify: async () => {
        if (res.status === 201) expect(res.body).toMatchObject({ tenant: 'contoso', status: 'pending', requester: 'eve@lockbox.dev' });
      } };
    }
    case 'read-c':
    case 'read-f': {
      const id = endpoint === 'read-c' ? contosoId : fabrikamId;
      const res = await p.get(`/v1/requests/${id}`);
      return { res, verify: async () => {
        if (res.status === 200) expect(res.body).toMatchObject({ id, requester: 'eve@lockbox.dev' });
      } };
    }
    case 'list': {
      const res = await p.get('/v1/requests?limit=500');
      return { res, verify: () => checkListScope(persona) };
    }
    case 'audit': {
      const res = await p.get(`/v1/requests/${contosoId}/audit`);
      return { res, verify: async () => {
        if (res.status === 200) expect(res.body.events[0]).toMatchObject({ type: 'request.created', requestId: contosoId });
      } };
    }
    case 'creds': {
      const res = await p.get(`/v1/requests/${contosoId}/credentials`);
      return { res, verify: async () => {
        if (res.status === 409) expect(problemCode(res.body)).toBe('not_active');
      } };
    }
    case 'approve':
    case 'reject':
    case 'revoke':
    case 'cancel':
    case 'extend': {
      const id = await freshRequest(endpoint, persona);
      const before = (await eve.get(`/v1/requests/${id}`)).body;
      const res = await p.post(`/v1/requests/${id}/${endpoint}`, DECISION_BODY[endpoint]);
      return { res, verify: async () => {
        const after = (await eve.get(`/v1/requests/${id}`)).body;
        if (res.status === 200) {
          expect(after.status).toBe(STATUS_AFTER[endpoint]);
        } else {
          // A refused decision changes nothing.
          expect(after.status).toBe(before.status);
          expect(after.decisions).toEqual(before.decisions);
          const code = REFUSAL_CODE[persona]?.[endpoint];
          if (code) expect(problemCode(res.body)).toBe(code);
        }
      } };
    }
    case 'get-set-c':
    case 'get-set-f': {
      const tenant = endpoint === 'get-set-c' ? 'contoso' : 'fabrikam';
      const res = await p.get(`/v1/tenants/${tenant}/settings`);
      return { res, verify: async () => {
        if (res.status === 200) {
          expect(res.body).toMatchObject({ tenant, version: expect.any(Number), requestTtl: expect.any(String) });
          expect(res.headers.get('etag')).toBe(`"${res.body.version}"`);
        }
      } };
    }
    case 'put-set-c':
    case 'put-set-f': {
      const tenant = endpoint === 'put-set-c' ? 'contoso' : 'fabrikam';
      const { res, sent } = await putCurrentSettings(persona, tenant);
      return { res, verify: async () => {
        if (res.status === 200) expect(settingsBody(res.body)).toEqual(sent);
      } };
    }
    case 'check': {
      const res = await p.get(`/v1/access/check?tenant=contoso&resource=${encodeURIComponent(LIST_RESOURCE)}`);
      return { res, verify: async () => {
        if (res.status === 200) expect(res.body).toEqual({ allowed: false });
      } };
    }
    case 'metrics': {
      const res = await p.get('/metrics');
      return { res, verify: async () => {
        if (res.status === 200) expect(String(res.body)).toContain('lockbox_http_requests_total');
      } };
    }
    case 'evid-c':
    case 'evid-f': {
      const tenant = endpoint === 'evid-c' ? 'contoso' : 'fabrikam';
      const res = await p.get(`/v1/tenants/${tenant}/evidence?from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`);
      return { res, verify: async () => {
        if (res.status === 200) expect(res.body).toMatchObject({ tenant });
      } };
    }
    case 'feed-c':
    case 'feed-f': {
      const tenant = endpoint === 'feed-c' ? 'contoso' : 'fabrikam';
      const res = await p.get(`/v1/audit?tenant=${tenant}&limit=5`);
      return { res, verify: async () => {
        if (res.status === 200) for (const e of res.body.events as { tenant: string }[]) expect(e.tenant).toBe(tenant);
      } };
    }
    case 'me': {
      const res = await p.get('/v1/me');
      return { res, verify: async () => {
        if (res.status === 200) expect(res.body.id).toMatch(/@/);
      } };
    }
    case 'notifs': {
      const res = await p.get('/v1/notifications');
      return { res, verify: async () => {
        if (res.status === 200) expect(Array.isArray(res.body.notifications)).toBe(true);
      } };
    }
  }
}

/** The listing shows exactly the table's share of the two fixture requests, and nothing outside the persona's scope. */
async function checkListScope(persona: AnyPersona): Promise<void> {
  if (persona === 'none') return;
  const row = listTable.get(persona)!;
  const expected = { contoso: row.get('contoso') === 'yes', fabrikam: row.get('fabrikam') === 'yes' };
  const ids = (r: ApiResponse) => new Set<string>((r.body?.requests ?? []).map((x: { id: string }) => x.id));
  // Visibility is eventually consistent: wait until what must show does, then nothing else may.
  const res = await eventually(
    () => who(persona).get(`/v1/requests?resource=${encodeURIComponent(LIST_RESOURCE)}`),
    (r) => (!expected.contoso || ids(r).has(contosoId)) && (!expected.fabrikam || ids(r).has(fabrikamId)),
  );
  expect(res.status).toBe(200);
  expect({ contoso: ids(res).has(contosoId), fabrikam: ids(res).has(fabrikamId) }).toEqual(expected);

  const all = await who(persona).get('/v1/requests?limit=500');
  const visibleTenants = Object.entries(expected).filter(([, v]) => v).map(([t]) => t);
  for (const r of all.body.requests as { id: string; tenant: string; requester: string }[]) {
    expect(visibleTenants, `${persona} sees ${r.id}`).toContain(r.tenant);
    if (persona === 'eve') expect(r.requester).toBe('eve@lockbox.dev');
  }
}

describe('authorisation matrix (persona x endpoint -> status), real API and Temporal', () => {
  beforeAll(async () => {
    contosoId = await create('contoso', LIST_RESOURCE);
    fabrikamId = await create('fabrikam', LIST_RESOURCE);
  });
  afterAll(async () => {
    // Leave nothing pending behind.
    for (const id of [contosoId, fabrikamId]) if (id) await eve.post(`/v1/requests/${id}/cancel`, {});
  });

  it.each(cells)('$persona $endpoint -> $status', async ({ persona, endpoint, status }) => {
    const { res, verify } = await runCell(persona, endpoint);
    expect(res.status, `${persona} ${endpoint}: ${JSON.stringify(res.body)}`).toBe(status);
    if (status >= 400) expect(res.headers.get('content-type')).toContain('application/problem+json');
    await verify();
  });

  it('a request of another tenant is indistinguishable from one that does not exist', async () => {
    const missing = `req-contoso-${ulid()}`;
    for (const persona of ['fiona', 'frank'] as const) {
      const hidden = await who(persona).get(`/v1/requests/${contosoId}`);
      const absent = await who(persona).get(`/v1/requests/${missing}`);
      expect(hidden.status).toBe(404);
      expect(absent.status).toBe(404);
      const shape = (r: ApiResponse, id: string) => ({ ...r.body, detail: String(r.body.detail).replace(id, '<id>') });
      expect(shape(hidden, contosoId)).toEqual(shape(absent, missing));
      // Same for the decision endpoints: 404 before any rule could reveal the request's state.
      const decided = await who(persona).post(`/v1/requests/${contosoId}/approve`, {});
      const decidedAbsent = await who(persona).post(`/v1/requests/${missing}/approve`, {});
      expect(shape(decided, contosoId)).toEqual(shape(decidedAbsent, missing));
    }
  });

  it('every authenticated route of the API is a column of the table, or is left out here for a reason', () => {
    const COLUMNS: Record<string, Endpoint[]> = {
      'POST /v1/requests': ['create'],
      'GET /v1/requests': ['list'],
      'GET /v1/requests/{id}': ['read-c', 'read-f'],
      'GET /v1/requests/{id}/audit': ['audit'],
      'GET /v1/requests/{id}/credentials': ['creds'],
      'POST /v1/requests/{id}/approve': ['approve'],
      'POST /v1/requests/{id}/reject': ['reject'],
      'POST /v1/requests/{id}/revoke': ['revoke'],
      'POST /v1/requests/{id}/cancel': ['cancel'],
      'POST /v1/requests/{id}/extend': ['extend'],
      'GET /v1/access/check': ['check'],
      'GET /v1/notifications': ['notifs'],
      'GET /v1/tenants/{tenant}/settings': ['get-set-c', 'get-set-f'],
      'PUT /v1/tenants/{tenant}/settings': ['put-set-c', 'put-set-f'],
      'GET /v1/audit': ['feed-c', 'feed-f'],
      'GET /v1/tenants/{tenant}/evidence': ['evid-c', 'evid-f'],
      'GET /v1/me': ['me'],
      'GET /metrics': ['metrics'],
    };
    const LEFT_OUT: Record<string, string> = {
      // Runs the reconciler over every target; its own tests (test/reconcile.test.ts) check who may start it.
      'POST /v1/operator/reconcile': 'operators only; side effects on every target',
      // Only for break-glass requests, which need a tenant's settings switched on (test/break-glass.test.ts).
      'POST /v1/requests/{id}/review': 'emergency requests only',
    };
    const authenticated = ROUTES.filter((r) => r.auth ?? r.path.startsWith('/v1/')).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    const uncovered = authenticated.filter((k) => !(k in COLUMNS) && !(k in LEFT_OUT));
    expect(uncovered, 'routes neither in the table nor left out for a reason').toEqual([]);
    for (const cols of Object.values(COLUMNS)) for (const c of cols) expect(ENDPOINTS).toContain(c);
  });

  it('the tables cover every persona and endpoint', () => {
    expect(cells).toHaveLength(PERSONAS.length * ENDPOINTS.length);
    expect(cells.every((c) => [200, 201, 401, 403, 404, 409].includes(c.status))).toBe(true);
  });
});
