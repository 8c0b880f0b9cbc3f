/**
 * The API's OpenAPI 3.1 document, generated from the same zod schemas the routes validate with (`z.toJSONSchema`),
 * plus a small table of what zod cannot say: method, path, summary, which schema is the body or the query, the
 * answer and the problems. `GET /openapi.json` serves the document, `GET /docs` a self-contained page rendered from
 * it (docs-page.ts). test/openapi.test.ts fails when the app registers a route this table does not document, or the
 * reverse, and when `redocly lint` finds anything in the document.
 *
 * Over ~300 lines for one reason: ROUTES, the one table of every route (about half the file), stays in one place
 * beside the generator that reads it, so a new route has exactly one row to add.
 */
import { readFileSync } from 'node:fs';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import * as s from './schemas.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type JsonSchema = Record<string, unknown>;

/** One operation as the route table describes it. */
export interface RouteDoc {
  method: Method;
  /** OpenAPI form, `{name}` for a path parameter: `/v1/requests/{id}`. */
  path: string;
  summary: string;
  description?: string;
  /** When the one made from the path would clash (`/` and the portal's `/requests/{id}` next to the API's). */
  operationId?: string;
  tag: 'requests' | 'access' | 'tenants' | 'audit' | 'meta' | 'portal' | 'operator';
  /** Default true for `/v1/...`: needs `Authorization: Bearer <token>` (401 otherwise). */
  auth?: boolean;
  /** The schema of each path parameter. */
  params?: Record<string, z.ZodType>;
  /** An object schema whose fields are the query parameters. */
  query?: z.ZodType;
  headers?: Array<{ name: string; description: string; schema: z.ZodType }>;
  /** The JSON body's schema (named after its export in schemas.ts). */
  body?: z.ZodType;
  /** The success answer: status, what it is, headers worth knowing. */
  response: { status: number; description: string; headers?: Record<string, string>; html?: boolean; text?: boolean; css?: boolean; schema?: z.ZodType };
  /** Non-problem answers besides the success one, e.g. readiness's 503. */
  otherResponses?: Record<number, string>;
  /** Problem statuses specific to the route; 401 (auth), 400/413/415 (body), 400 (query) and 500 are added. */
  problems?: number[];
}

const id = { id: s.RequestIdParam };
const tenant = { tenant: s.TenantParam };
const decision = (action: string, summary: string, body: z.ZodType, description: string, extra: Partial<RouteDoc> = {}): RouteDoc => ({
  method: 'post',
  path: `/v1/requests/{id}/${action}`,
  summary,
  description,
  tag: 'requests',
  params: id,
  body,
  response: { status: 200, description: 'the request after the decision took effect' },
  problems: [403, 404, 409],
  ...extra,
});

/** Every route the app registers. Add a row here with every new route (the test names the missing ones). */
export const ROUTES: RouteDoc[] = [
  { method: 'get', path: '/healthz', summary: 'Liveness', tag: 'meta', auth: false, response: { status: 200, description: '`{status: "ok"}` while the process is up' } },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness',
    tag: 'meta',
    auth: false,
    response: { status: 200, description: '`{status: "ready", checks}`: Temporal and a worker answer' },
    otherResponses: { 503: '`{status: "not ready", checks}`: which dependency does not answer' },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    description:
      'Operators only (bearer token with the operator role; give the scraper its own operator credential). Requests and latency by route pattern and status (`lockbox_http_requests_total`, `lockbox_http_request_duration_seconds`), decisions by action and outcome (`lockbox_decisions_total`), the process (`process_*`, `nodejs_*`) and the reconciler (`lockbox_reconcile_*`).',
    tag: 'meta',
    auth: true,
    response: { status: 200, description: 'Prometheus text exposition format', text: true },
    problems: [403],
  },
  { method: 'get', path: '/v1/signing-keys', summary: 'Public keys that verify the signatures kept in audit events', tag: 'audit', auth: false, response: { status: 200, description: '`{keys: [{keyId, alg, publicKey}]}`' } },
  {
    method: 'get',
    path: '/auth/cli',
    summary: 'Where `lockbox login` signs in',
    description:
      'Public. The OpenID provider (`issuer`), the command line\'s public client id, the scopes to ask for and, when the provider needs one, the resource indicator (RFC 8707), so `lockbox login` needs only the API\'s URL. The CLI uses the device authorization grant (RFC 8628) and refresh tokens (docs/cli.md). 404 when CLI sign-in is not configured (`LOCKBOX_OIDC_CLI_CLIENT_ID`).',
    tag: 'meta',
    auth: false,
    response: { status: 200, description: '`{issuer, clientId, scopes, resource?}`' },
    problems: [404],
  },
  {
    method: 'get',
    path: '/auth/login',
    summary: 'Start portal sign-in at the OpenID provider',
    description:
      'Public. 302 to the provider (authorization code flow, `response_type=code`, PKCE `S256`, fresh `state` and `nonce`); the flow is bound to this browser by an HttpOnly cookie and ends within 10 minutes. `returnTo` (a path on this site, default `/`) is where the person lands after sign-in; `max_age=0` asks for a fresh login (step-up). See docs/sign-in.md. 404 when sign-in is not configured.',
    tag: 'portal',
    auth: false,
    query: z.object({ returnTo: z.string().max(1024).optional(), max_age: z.string().regex(/^\d{1,6}$/).optional() }),
    response: { status: 302, description: 'to the provider\'s authorization endpoint', headers: { Location: 'the authorization URL' } },
    problems: [404, 503],
  },
  {
    method: 'get',
    path: '/auth/callback',
    summary: 'Where the OpenID provider sends the browser back',
    description:
      'Public. Redeems the code (state, PKCE verifier, nonce, issuer, audience, expiry, `auth_time` checked by openid-client), opens a server-side session (HttpOnly, SameSite=Lax cookie; `__Host-` and Secure over https) and answers 303 to the sign-in\'s `returnTo`. Anything wrong is 401 `sign-in-failed` with `loginUrl`.',
    tag: 'portal',
    auth: false,
    response: { status: 303, description: 'to the page the sign-in started from', headers: { Location: 'the `returnTo` path' } },
    problems: [401, 404],
  },
  {
    method: 'post',
    path: '/auth/logout',
    summary: 'End the portal session',
    description:
      'Needs the session\'s `X-CSRF-Token` (403 `csrf` without it). Ends the session in the store and answers where to go next: the provider\'s end-session endpoint (RP-initiated logout) when it has one, else `/`.',
    tag: 'portal',
    auth: false,
    response: { status: 200, description: '`{signedOut: true, redirect}`' },
    problems: [403],
  },
  {
    method: 'get',
    path: '/auth/session',
    summary: 'Who is signed in to the portal',
    description:
      'Public. `{signedIn: false, signInAvailable, loginUrl}`, or `{signedIn: true, user: {id, roles, tenantRoles, describedRoles}, authTime, amr, acr, expiresAt, idleTimeoutSec, stepUpMaxAgeSec, csrfToken}` for the session cookie sent.',
    tag: 'portal',
    auth: false,
    response: { status: 200, description: 'the session, or `signedIn: false`' },
  },
  { method: 'get', path: '/openapi.json', summary: 'This OpenAPI document', tag: 'meta', auth: false, response: { status: 200, description: 'the OpenAPI 3.1 document' } },
  { method: 'get', path: '/docs', summary: 'This document as a readable page', tag: 'meta', auth: false, response: { status: 200, description: 'an HTML page', html: true } },
  {
    method: 'post',
    path: '/v1/requests',
    summary: 'Ask for access to one resource of a tenant',
    description: 'Engineers only. The tenant must have opted in; the duration must be within its maximum access. Retrying with the same `Idempotency-Key` (per person) returns the same request; the same key with another body is 422. `emergency: true` (break-glass, docs/break-glass.md): a responder the tenant listed, with a ticket, for at most `breakGlass.maxDuration` (400 `duration`), is granted at once (answered `active`); not a responder 403, break-glass off 409 naming `breakGlass.enabled`, over the daily limit 429.',
    tag: 'requests',
    headers: [{ name: 'Idempotency-Key', description: 'makes a retry return the first answer instead of filing a second request', schema: s.IdempotencyKeyHeader }],
    body: s.CreateRequestBody,
    response: { status: 201, description: 'the new request, `pending`', headers: { Location: 'the request\'s URL', 'Idempotent-Replayed': '`true` when the answer is a replay of an earlier create' } },
    problems: [403, 409, 422, 429],
  },
  {
    method: 'get',
    path: '/v1/requests',
    summary: 'List requests the caller may see, newest first',
    description: "From Lockbox's request records (docs/records.md), kept for the tenant's retention after the workflow is gone. A new request is listed at once; a status change shows once the workflow has exported it (usually well under a second). A full page has `next`: pass it as `after` for the next page.",
    tag: 'requests',
    query: s.ListRequestsQuery,
    response: { status: 200, description: '`{requests: [summary], next: id | null}`' },
  },
  { method: 'get', path: '/v1/requests/{id}', summary: 'One request', tag: 'requests', params: id, response: { status: 200, description: 'the request: status, decisions, access window' }, problems: [404, 503] },
  { method: 'get', path: '/v1/requests/{id}/audit', summary: "A request's audit events, in order", tag: 'audit', params: id, response: { status: 200, description: '`{events: [...]}`' }, problems: [404, 503] },
  {
    method: 'get',
    path: '/v1/requests/{id}/credentials',
    summary: 'The credential issued for an active request',
    description: 'For the requester only, and only while access is in force.',
    tag: 'requests',
    params: id,
    response: { status: 200, description: '`{requestId, resource, expiresAt, ...credential}`', headers: { 'Cache-Control': '`no-store`' } },
    problems: [403, 404, 409],
  },
  decision('approve', 'Approve a pending request', s.ApproveBody, 'An approval that completes the last stage answers once access is granted, or after 8 seconds with 202 while the target is still granting (status `granting`; follow `Location`).', {
    otherResponses: { 202: 'the request, approved and `granting`: the grant goes on at the target; follow `Location` until it is `active` or `failed`' },
  }),
  decision('reject', 'Reject a pending request', s.RejectBody, 'Ends the request; nothing is granted.'),
  decision('revoke', 'End active access now', s.RevokeBody, 'Answers once the access is gone.'),
  decision('cancel', 'Withdraw a pending request', s.CancelBody, 'The requester only, while pending.'),
  decision('extend', 'Ask for more time on an active grant', s.ExtendBody, 'The requester only; the same approvers decide it, bounded by the tenant\'s maximum access.'),
  decision('review', 'Review an emergency (break-glass) request', s.ReviewBody, 'A customer approver or admin of the tenant, not the responder (403); emergency requests only (409 `not_emergency`); once (409 `already_reviewed`), while active or after access ended, until the review is overdue. Recorded as `request.reviewed` in the request\'s trail (docs/break-glass.md).', {
    response: { status: 200, description: 'the request with `review: {status, by, at, comment}`' },
  }),
  { method: 'get', path: '/v1/access/check', summary: "Is the caller's access in force now?", tag: 'access', query: s.AccessCheckQuery, response: { status: 200, description: '`{allowed, requestId?, endsAt?}`' } },
  { method: 'get', path: '/v1/notifications', summary: "The caller's in-app notifications, newest first", tag: 'access', response: { status: 200, description: '`{notifications: [...]}`' } },
  {
    method: 'get',
    path: '/v1/tenants/{tenant}/settings',
    summary: "A tenant's approval settings",
    description: 'Tenant admins and operators.',
    tag: 'tenants',
    params: tenant,
    response: { status: 200, description: 'the settings with `version`, `updatedAt`, `updatedBy`', headers: { ETag: '`"<version>"`, for If-Match' } },
    problems: [400, 403, 404],
  },
  {
    method: 'put',
    path: '/v1/tenants/{tenant}/settings',
    summary: "Change a tenant's approval settings",
    description:
      'Tenant admins. Audited as `tenant.settings_changed`. With `If-Match`, a change made since that version is not overwritten (412). `resources` only picks, per resource, a grant target the operator declared for this tenant (`{"db:crm": {"target": "contoso-crm"}}`); a target not declared, or declared for other tenants, is refused with 403 `target-not-allowed` naming the field (`resources.<resource>.target`).',
    tag: 'tenants',
    params: tenant,
    headers: [{ name: 'If-Match', description: 'the ETag of the settings this change is based on', schema: z.string() }],
    body: s.SettingsBody,
    response: { status: 200, description: 'the settings as stored', headers: { ETag: 'the new version' } },
    problems: [403, 409, 412],
  },
  {
    method: 'get',
    path: '/v1/audit',
    summary: 'The audit feed: stored events with their hash-chain links, cursor-paged',
    description: "Tenant admins (their tenant) and operators (every tenant). Poll with `after=<next>` for what follows.",
    tag: 'audit',
    query: s.AuditQuery,
    response: { status: 200, description: '`{events, next, more}`' },
    problems: [403],
  },
  { method: 'get', path: '/', operationId: 'getPortal', summary: 'The web portal', description: 'Sign in with a bearer token; see docs/portal.md. Assets under `/portal/`.', tag: 'portal', auth: false, response: { status: 200, description: 'an HTML page', html: true } },
  { method: 'get', path: '/portal/evidence.css', operationId: 'getPortalEvidenceCss', summary: "The evidence page's stylesheet", description: 'For an evidence page the portal opens from a blob: URL, where the page\'s inline style is refused by the portal\'s CSP (docs/portal.md, History).', tag: 'portal', auth: false, response: { status: 200, description: 'a stylesheet', css: true } },
  { method: 'get', path: '/requests/{id}', operationId: 'getPortalRequest', summary: 'The web portal, opened on one request', description: 'Where links in notifications point.', tag: 'portal', auth: false, params: { id: z.string() }, response: { status: 200, description: 'an HTML page', html: true } },
  {
    method: 'get',
    path: '/v1/portal-config',
    summary: 'What the portal needs before sign-in',
    description: 'Public, so it says nothing about the deployment: the mode, and in the embedded default the demo identities (`[{token, id, roles, tenantRoles}]`). Operators find the Temporal UI in `GET /v1/me`.',
    tag: 'portal',
    auth: false,
    response: { status: 200, description: '`{mode, demoIdentities}`' },
  },
  {
    method: 'post',
    path: '/v1/operator/reconcile',
    summary: 'Run the reconciler now',
    description:
      'Operators only. Revokes access that no running request owns (audited `access.orphan_revoked`) and reports active requests whose access is missing at the target (`access.drift_detected`); see docs/reconcile.md. Calls made while a run is going share it. No body.',
    tag: 'operator',
    response: { status: 200, description: 'the report: `{startedAt, finishedAt, drift, ok, active, targets: [{target, provider, granted, orphans, drift, unsure, skipped?, notReconcilable?, error?}], notReconcilable, errors}`; `notReconcilable` names the targets that cannot list what they granted (a webhook target without `listUrl`)' },
    otherResponses: { 202: '`{status: "running", workflowId}`: the run takes longer than the call waits; it goes on' },
    problems: [403],
  },
  {
    method: 'get',
    path: '/v1/tenants/{tenant}/evidence',
    summary: 'The evidence pack for a period, for auditors',
    description:
      'Tenant admins (their tenant) and operators. Every request filed in [from, to) with requester, reason, ticket, approvers and the freshness of their login, window, grant and revoke times, revoke verification and outcome; counts by outcome; time-to-decision and access-duration distributions; the hash-chain verdict with the period\'s first and last chain hash. `format=json` (default), `csv` (RFC 4180), or `html` (a self-contained printable page with charts). Built from the audit trail (docs/evidence.md).',
    tag: 'audit',
    params: tenant,
    query: s.EvidenceQuery,
    response: { status: 200, description: 'the pack (JSON), or CSV / HTML per `format`' },
    problems: [400, 403, 422],
  },
  {
    method: 'get',
    path: '/v1/me',
    summary: 'Who the bearer token is',
    description: 'Provider-side roles (`engineer`, `internal_approver`, `operator`) hold everywhere; customer-side roles (`approver`, `admin`) each at one tenant. Operators also get where the Temporal UI is.',
    tag: 'portal',
    response: { status: 200, description: '`{id, roles, tenantRoles: [{tenant, role}], temporalUi?: {url, namespace}}`', schema: s.MeResponse },
  },
];

const TAGS = [
  { name: 'requests', description: 'File, read and decide access requests' },
  { name: 'access', description: "The caller's access and notifications" },
  { name: 'tenants', description: 'Tenant settings' },
  { name: 'audit', description: 'The audit trail and what verifies it' },
  { name: 'meta', description: 'Health and this documentation' },
  { name: 'portal', description: 'The web portal (docs/portal.md) and what it reads' },
  { name: 'operator', description: 'Operating Lockbox itself' },
];

const PROBLEM_TEXT: Record<number, string> = {
  400: 'Invalid input: `errors` names each field',
  401: 'No or invalid bearer token',
  403: 'Signed in, but not allowed',
  404: 'Not found (a request of another tenant is "not found" too)',
  409: 'Conflict: the request is not in a state that allows this',
  412: 'If-Match does not match the current version',
  413: 'Body too large',
  415: 'Body is not JSON',
  422: 'Well-formed but cannot be processed',
  429: 'Too many: a limit was reached (the problem names it)',
  500: 'Unexpected error (logged; no internals in the answer)',
  503: 'A service this depends on (the identity provider, Temporal) cannot be reached now; try again shortly',
};

const FieldErrorSchema = z.object({ field: z.string(), pointer: z.string(), message: z.string() });
const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(FieldErrorSchema).optional(),
});

/** zod -> JSON Schema as the client sends it (defaults optional); what JSON cannot express becomes `{}`. */
function jsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  return rest;
}

/** The export name of a schema in schemas.ts, so components are named as in the code. */
function nameOf(schema: z.ZodType, fallback: string): string {
  return Object.entries(s).find(([, v]) => v === schema)?.[0] ?? fallback;
}

/** `post /v1/requests/{id}/approve` -> `postRequestsByIdApprove` */
function operationId(r: RouteDoc): string {
  if (r.operationId) return r.operationId;
  const words = r.path
    .split('/')
    .filter((p) => p && p !== 'v1')
    .flatMap((p) => (p.startsWith('{') ? ['by', p.slice(1, -1)] : p.split(/[^a-zA-Z0-9]+/)))
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1));
  return r.method + words.join('');
}

function operation(r: RouteDoc, components: Record<string, JsonSchema>): Record<string, unknown> {
  const auth = r.auth ?? r.path.startsWith('/v1/');
  const parameters: unknown[] = [];
  for (const [name, schema] of Object.entries(r.params ?? {})) parameters.push({ name, in: 'path', required: true, schema: jsonSchema(schema) });
  if (r.query) {
    const q = jsonSchema(r.query) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
  }
  for (const h of r.headers ?? []) parameters.push({ name: h.name, in: 'header', required: false, description: h.description, schema: jsonSchema(h.schema) });

  const problems = new Set([...(auth ? [401] : []), ...(r.body ? [400, 413, 415] : []), ...(r.query ? [400] : []), ...(r.problems ?? []), 500]);
  const responses: Record<string, unknown> = {
    [r.response.status]: {
      description: r.response.description,
      ...(r.response.headers
        ? { headers: Object.fromEntries(Object.entries(r.response.headers).map(([k, d]) => [k, { description: d, schema: { type: 'string' } }])) }
        : {}),
      content: r.response.html
        ? { 'text/html': { schema: { type: 'string' } } }
        : r.response.text
          ? { 'text/plain': { schema: { type: 'string' } } }
          : r.response.css
            ? { 'text/css': { schema: { type: 'string' } } }
          : { 'application/json': { schema: r.response.schema ? { $ref: `#/components/schemas/${nameOf(r.response.schema, `${operationId(r)}Response`)}` } : { type: 'object' } } },
    },
  };
  if (r.response.schema) components[nameOf(r.response.schema, `${operationId(r)}Response`)] = jsonSchema(r.response.schema);
  for (const [status, description] of Object.entries(r.otherResponses ?? {})) responses[status] = { description, content: { 'application/json': { schema: { type: 'object' } } } };
  for (const status of [...problems].sort((a, b) => a - b)) responses[status] = { $ref: `#/components/responses/Problem${status}` };
  // Node's HTTP server refuses oversized headers before any route runs: every operation can answer it.
  responses[431] = { $ref: '#/components/responses/HeadersTooLarge' };

  let requestBody: unknown;
  if (r.body) {
    const name = nameOf(r.body, `${operationId(r)}Body`);
    components[name] = jsonSchema(r.body);
    requestBody = { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } } };
  }
  return {
    operationId: operationId(r),
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    tags: [r.tag],
    security: auth ? [{ bearer: [] }] : [],
    ...(parameters.length ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
}

function packageJson(): { version?: string; license?: string } {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string; license?: string };
  } catch {
    return {};
  }
}

/**
 * The OpenAPI license object: the package's SPDX expression, or while it declares none (private, unreleased) SPDX's
 * form for a license outside its list.
 */
function license(pkg: { license?: string }): { name: string; identifier: string } {
  return pkg.license && pkg.license !== 'UNLICENSED' ? { name: pkg.license, identifier: pkg.license } : { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' };
}

/** Builds the OpenAPI 3.1 document from a route table (default: the app's). */
export function buildOpenApiDocument(routes: readonly RouteDoc[] = ROUTES): Record<string, any> {
  const schemas: Record<string, JsonSchema> = { Problem: jsonSchema(ProblemSchema) };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) (paths[r.path] ??= {})[r.method] = operation(r, schemas);
  const responses: Record<string, unknown> = Object.fromEntries(
    Object.entries(PROBLEM_TEXT).map(([status, description]) => [
      `Problem${status}`,
      { description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
    ]),
  );
  responses.HeadersTooLarge = { description: 'Request headers over 16 KiB: refused by the HTTP server before any route runs, without a body' };
  const pkg = packageJson();
  return {
    openapi: '3.1.0',
    info: {
      title: 'Lockbox API',
      version: pkg.version ?? '0.0.0',
      license: license(pkg),
      description:
        'Just-in-time access approval. Errors are `application/problem+json` (RFC 9457). Durations are written `45s`, `30m`, `4h`, `1h30m` or ISO-8601 (`PT4H`).',
    },
    // Relative: the document describes the server that serves it, wherever that is.
    servers: [{ url: '/', description: 'The Lockbox API serving this document' }],
    tags: TAGS,
    paths,
    components: {
      schemas,
      responses,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Embedded default: a demo token (README). Production: an OIDC JWT from the configured issuer.' },
      },
    },
  };
}

let cached: Record<string, any> | undefined;
/** The document for this process's code (built once). */
export function openApiDocument(): Record<string, any> {
  return (cached ??= buildOpenApiDocument());
}

/** `GET /openapi.json` */
export const openApiJson: RequestHandler = (_req, res) => {
  res.json(openApiDocument());
};
