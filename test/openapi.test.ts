/**
 * The OpenAPI document: valid in structure, generated from the routes' zod schemas, and complete: every route the
 * express app registers is documented and every documented route exists. Adding a route without its row in
 * src/api/openapi.ts (ROUTES) fails here, naming the route.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Express } from 'express';
import { describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { createApp } from '../src/api/app.js';
import type { ApiDeps } from '../src/api/deps.js';
import { buildOpenApiDocument, openApiDocument, ROUTES } from '../src/api/openapi.js';
import * as schemas from '../src/api/schemas.js';

/** Deps that satisfy anything asked of them while the app is built: routes are only registered, never called. */
function anything(): any {
  const fn = () => anything();
  return new Proxy(fn, { get: (_t, prop) => (prop === 'then' ? undefined : anything()), apply: () => anything() });
}
const newApp = (): Express => createApp(anything() as ApiDeps);

/** `/v1/requests/:id/` -> `/v1/requests/{id}` */
function toOpenApiPath(path: string): string {
  const p = path.replace(/\/{2,}/g, '/').replace(/:(\w+)/g, '{$1}');
  return p.length > 1 ? p.replace(/\/$/, '') : p;
}

/** Every `METHOD /path` the app answers, found by walking express 5's router stack (app.router) recursively. */
function registeredRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: any[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths: unknown[] = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths) {
          for (const m of Object.keys(layer.route.methods)) out.push(`${m === '_all' ? 'ALL' : m.toUpperCase()} ${toOpenApiPath(prefix + String(p))}`);
        }
      } else if (Array.isArray(layer.handle?.stack)) {
        // A mounted router: its path is the layer's raw path (router 2.x); without one we cannot document it.
        if (typeof layer.rawPath !== 'string') throw new Error(`cannot tell where a router is mounted: ${String(layer.rawPath)}`);
        walk(layer.handle.stack, prefix + (layer.rawPath === '/' ? '' : layer.rawPath));
      }
    }
  };
  walk((app as unknown as { router: { stack: unknown[] } }).router.stack, '');
  return out.sort();
}

function documentedRoutes(doc: Record<string, any>): string[] {
  return Object.entries(doc.paths as Record<string, object>)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

/** What is registered but not documented, and documented but not registered. */
function coverage(app: Express, doc: Record<string, any>) {
  const registered = registeredRoutes(app);
  const documented = documentedRoutes(doc);
  return {
    undocumented: registered.filter((r) => !documented.includes(r)),
    unregistered: documented.filter((r) => !registered.includes(r)),
  };
}

/** Every `$ref` in the document, with where it sits. */
function refs(node: unknown, at = '#'): Array<{ ref: string; at: string }> {
  if (Array.isArray(node)) return node.flatMap((v, i) => refs(v, `${at}/${i}`));
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [{ ref: v, at }] : refs(v, `${at}/${k}`)));
}

function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((node: any, key) => (node !== null && typeof node === 'object' ? node[key] : undefined), doc);
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const doc = openApiDocument();
const operations = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) =>
  Object.entries(ops).map(([method, op]) => ({ path, method, op })),
);

describe('the OpenAPI document', () => {
  it('has the required top-level structure of OpenAPI 3.1', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.info.title.length).toBeGreaterThan(0);
    expect(typeof doc.paths).toBe('object');
    expect(Object.keys(doc.paths).length).toBeGreaterThan(0);
    for (const path of Object.keys(doc.paths)) expect(path, 'paths start with /').toMatch(/^\//);
    expect(doc.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    expect(doc.components.schemas.Problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail']));
  });

  it('has well-formed operations: known methods, unique operationIds, described responses, known tags and schemes', () => {
    const ids = operations.map((o) => o.op.operationId);
    expect(new Set(ids).size, `duplicate operationIds: ${ids.join(', ')}`).toBe(ids.length);
    const tags = new Set((doc.tags as Array<{ name: string }>).map((t) => t.name));
    for (const { path, method, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(METHODS, where).toContain(method);
      expect(op.summary, where).toEqual(expect.any(String));
      expect(Object.keys(op.responses).length, `${where} has responses`).toBeGreaterThan(0);
      expect(Object.keys(op.responses).some((s) => /^(2\d\d|30[23])$/.test(s)), `${where} has a success (or redirect) response`).toBe(true);
      for (const [status, r] of Object.entries(op.responses as Record<string, any>)) {
        expect(status, where).toMatch(/^[1-5](\d\d|XX)$|^default$/);
        const resolved = r.$ref ? resolvePointer(doc, r.$ref) : r;
        expect((resolved as { description?: unknown })?.description, `${where} ${status} has a description`).toEqual(expect.any(String));
      }
      for (const tag of op.tags) expect(tags, `${where} tag ${tag}`).toContain(tag);
      for (const req of op.security as Array<Record<string, unknown>>) {
        for (const scheme of Object.keys(req)) expect(doc.components.securitySchemes, `${where} scheme ${scheme}`).toHaveProperty(scheme);
      }
      for (const p of op.parameters ?? []) {
        expect(['query', 'header', 'path', 'cookie'], `${where} parameter ${p.name}`).toContain(p.in);
        expect(p.schema, `${where} parameter ${p.name} has a schema`).toEqual(expect.any(Object));
      }
      const keys = (op.parameters ?? []).map((p: { name: string; in: string }) => `${p.in}:${p.name}`);
      expect(new Set(keys).size, `${where} declares a parameter twice`).toBe(keys.length);
    }
  });

  it('resolves every $ref', () => {
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(10);
    const broken = all.filter(({ ref }) => resolvePointer(doc, ref) === undefined);
    expect(broken, 'unresolvable $refs').toEqual([]);
  });

  it('declares every path parameter, as required, and no path parameter that is not in the path', () => {
    for (const { path, method, op } of operations) {
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = (op.parameters ?? []).filter((p: { in: string }) => p.in === 'path');
      expect(declared.map((p: { name: string }) => p.name).sort(), `${method.toUpperCase()} ${path}`).toEqual(inPath);
      for (const p of declared) expect(p.required, `${method.toUpperCase()} ${path} {${p.name}} is required`).toBe(true);
    }
  });

  it('takes body and query schemas from the zod schemas the routes validate with', () => {
    const create = operations.find((o) => o.method === 'post' && o.path === '/v1/requests')!.op;
    expect(create.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CreateRequestBody' });
    const { $schema: _ignored, ...fromZod } = z.toJSONSchema(schemas.CreateRequestBody, { io: 'input' }) as Record<string, unknown>;
    expect(doc.components.schemas.CreateRequestBody).toEqual(fromZod);
    // Every body component has exactly the fields of its schema, so a field added in schemas.ts shows up here.
    for (const r of ROUTES.filter((x) => x.body)) {
      const op = doc.paths[r.path][r.method];
      const component = resolvePointer(doc, op.requestBody.content['application/json'].schema.$ref) as { properties: object };
      expect(Object.keys(component.properties).sort(), `${r.method} ${r.path}`).toEqual(Object.keys((r.body as z.ZodObject).shape).sort());
    }
    const list = operations.find((o) => o.method === 'get' && o.path === '/v1/requests')!.op;
    const query = list.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name);
    expect(query.sort()).toEqual(Object.keys(schemas.ListRequestsQuery.shape).sort());
    const status = list.parameters.find((p: { name: string }) => p.name === 'status');
    expect(status.schema.enum).toContain('pending');
    // A defaulted query field is optional for the caller.
    expect(list.parameters.find((p: { name: string }) => p.name === 'limit')).toMatchObject({ required: false, schema: { default: 100 } });
  });

  it('documents every route the express app registers, and nothing else', () => {
    const app = newApp();
    const registered = registeredRoutes(app);
    // The walk itself must see routes at every level (app, /v1 router, nested routers), or the check proves nothing.
    expect(registered).toEqual(expect.arrayContaining(['GET /healthz', 'GET /openapi.json', 'GET /docs', 'POST /v1/requests', 'POST /v1/requests/{id}/approve', 'PUT /v1/tenants/{tenant}/settings']));
    const { undocumented, unregistered } = coverage(app, doc);
    expect(undocumented, 'routes the app registers that src/api/openapi.ts ROUTES does not document').toEqual([]);
    expect(unregistered, 'routes documented in src/api/openapi.ts ROUTES that the app does not register').toEqual([]);
  });

  it('notices a route added without documentation, and a documented route that is gone', () => {
    const app = newApp();
    app.post('/v1/requests/:id/undocumented', () => undefined);
    expect(coverage(app, doc).undocumented).toEqual(['POST /v1/requests/{id}/undocumented']);
    const fewer = buildOpenApiDocument(ROUTES.filter((r) => !(r.method === 'get' && r.path === '/v1/notifications')));
    expect(coverage(newApp(), fewer).undocumented).toEqual(['GET /v1/notifications']);
    const extra = buildOpenApiDocument([...ROUTES, { method: 'get', path: '/v1/nowhere', summary: 'x', tag: 'meta', response: { status: 200, description: 'x' } }]);
    expect(coverage(newApp(), extra).unregistered).toEqual(['GET /v1/nowhere']);
  });
});

describe('a standard linter', () => {
  it('finds no error and no warning in the document (redocly lint, recommended rules)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lockbox-openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      await writeFile(file, JSON.stringify(doc));
      const require = createRequire(import.meta.url);
      const cli = join(dirname(require.resolve('@redocly/cli/package.json')), 'bin', 'cli.js');
      // Exits non-zero when it finds errors; the JSON report on stdout says what they are either way.
      const { stdout } = await promisify(execFile)(process.execPath, [cli, 'lint', file, '--extends=recommended', '--format=json'], {
        cwd: dir, // no redocly.yaml of ours: the recommended rules as they come
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
        maxBuffer: 16 * 1024 * 1024,
        timeout: 60_000,
      }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
      const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; message: string; location: Array<{ pointer: string }> }> };
      // Sign-in's two browser legs answer only with a redirect (302 to the provider, 303 back): no 2XX by design.
      const redirectOnly = ROUTES.filter((r) => r.response.status >= 300 && r.response.status < 400).map((r) => `#/paths/${r.path.replaceAll('/', '~1')}/${r.method}/responses`);
      expect(redirectOnly).toEqual(['#/paths/~1auth~1login/get/responses', '#/paths/~1auth~1callback/get/responses']);
      const found = report.problems
        .filter((p) => !(p.ruleId === 'operation-2xx-response' && redirectOnly.includes(p.location[0]?.pointer ?? '')))
        .map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
      expect(found).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: redirectOnly.length });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('GET /openapi.json and GET /docs on the running API', () => {
  const apiUrl = () => inject('stack').apiUrl;

  it('serves the generated document without a token', async () => {
    const res = await fetch(`${apiUrl()}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual(buildOpenApiDocument());
  });

  it('serves a self-contained page listing every operation with its parameters and body fields', async () => {
    const res = await fetch(`${apiUrl()}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    // Nothing loaded from elsewhere: no scripts, no external stylesheets, images or fonts.
    expect(html).not.toMatch(/<script|<link|<img|@import|src=/i);
    for (const { path, method, op } of operations) {
      expect(html, `${method} ${path}`).toContain(`${method.toUpperCase()}</span> <code>${path}</code>`);
      expect(html).toContain(`id="${op.operationId}"`);
    }
    // Parameters and body fields come from the schemas.
    for (const field of Object.keys(schemas.CreateRequestBody.shape)) expect(html).toContain(`<code>${field}</code>`);
    expect(html).toContain('<code>Idempotency-Key</code>');
    expect(html).toContain('one of &#34;pending&#34;');
  });
});
