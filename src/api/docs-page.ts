/**
 * `GET /docs`: a self-contained page rendered on the server from the OpenAPI document (openapi.ts): contents by tag,
 * each operation with its parameters, body fields and answers, then the problem shape.
 */
import type { RequestHandler } from 'express';
import { openApiDocument } from './openapi.js';

type JsonSchema = Record<string, unknown>;

/** `GET /docs`: no script, no CDN, styles inline; the CSP says so. */
export const docsPage: RequestHandler = (_req, res) => {
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
  res.type('html').send(renderDocsPage(openApiDocument()));
};

const esc = (v: unknown) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** Backticks in descriptions become <code>. */
const prose = (t: unknown) => esc(t).replace(/`([^`]+)`/g, '<code>$1</code>');

function resolve(doc: Record<string, any>, schema: JsonSchema): JsonSchema {
  const ref = schema.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
  return ref
    .slice(2)
    .split('/')
    .reduce((node: any, key) => node?.[key], doc) as JsonSchema;
}

/** One line about a schema's type and constraints: `string, pattern ^a$, at most 256`. */
function typeLine(x: JsonSchema): string {
  const parts: string[] = [];
  if (x.const !== undefined) parts.push(`exactly ${JSON.stringify(x.const)}`);
  else if (Array.isArray(x.enum)) parts.push(`one of ${x.enum.map((v) => JSON.stringify(v)).join(', ')}`);
  else if (x.type === 'array') parts.push(`list of ${typeLine((x.items as JsonSchema) ?? {})}`);
  else if (x.type) parts.push(String(x.type));
  else if (x.oneOf || x.anyOf) parts.push('one of the shapes below');
  else parts.push('any');
  const c: Array<[string, string]> = [
    ['pattern', 'pattern'],
    ['minLength', 'min length'],
    ['maxLength', 'max length'],
    ['minimum', 'min'],
    ['maximum', 'max'],
    ['minItems', 'min items'],
    ['maxItems', 'max items'],
    ['default', 'default'],
  ];
  for (const [k, label] of c) if (x[k] !== undefined) parts.push(`${label} ${typeof x[k] === 'string' ? x[k] : JSON.stringify(x[k])}`);
  return parts.join(', ');
}

/** A schema as a nested field table (objects, lists of objects, maps and unions opened up to a few levels). */
function renderSchema(doc: Record<string, any>, raw: JsonSchema, depth = 0): string {
  const x = resolve(doc, raw);
  const variants = (x.oneOf ?? x.anyOf) as JsonSchema[] | undefined;
  if (variants && depth < 4) return `<ol class="variants">${variants.map((v) => `<li>${renderSchema(doc, v, depth + 1)}</li>`).join('')}</ol>`;
  if (x.type === 'array' && x.items && (x.items as JsonSchema).type === 'object') return `list of:${renderSchema(doc, x.items as JsonSchema, depth + 1)}`;
  const props = x.properties as Record<string, JsonSchema> | undefined;
  if (x.type !== 'object' || depth > 4) return `<code>${esc(typeLine(x))}</code>`;
  if (!props) {
    const values = x.additionalProperties as JsonSchema | undefined;
    const keys = x.propertyNames ? ` keyed by <code>${esc(typeLine(x.propertyNames as JsonSchema))}</code>` : '';
    return values && typeof values === 'object' ? `map${keys} of:${renderSchema(doc, values, depth + 1)}` : '<code>object</code>';
  }
  const required = new Set((x.required as string[] | undefined) ?? []);
  const rows = Object.entries(props).map(([name, p]) => {
    const nested = p.type === 'object' || p.oneOf || p.anyOf || (p.type === 'array' && (p.items as JsonSchema | undefined)?.type === 'object');
    const desc = p.description ? `<br>${prose(p.description)}` : '';
    return `<tr><td><code>${esc(name)}</code>${required.has(name) ? ' <span class="req">required</span>' : ''}</td><td>${nested ? renderSchema(doc, p, depth + 1) : `<code>${esc(typeLine(p))}</code>`}${desc}</td></tr>`;
  });
  const closed = x.additionalProperties === false ? '<p class="note">No other fields are accepted.</p>' : '';
  return `<table><tr><th>field</th><th>type</th></tr>${rows.join('')}</table>${closed}`;
}

function renderOperation(doc: Record<string, any>, method: string, path: string, op: Record<string, any>): string {
  const params = (op.parameters ?? []) as Array<Record<string, any>>;
  const paramRows = params
    .map((p) => `<tr><td><code>${esc(p.name)}</code>${p.required ? ' <span class="req">required</span>' : ''}</td><td>${esc(p.in)}</td><td><code>${esc(typeLine(p.schema ?? {}))}</code>${p.description ? `<br>${prose(p.description)}` : ''}</td></tr>`)
    .join('');
  const body = op.requestBody?.content?.['application/json']?.schema;
  const responses = Object.entries(op.responses as Record<string, JsonSchema>).map(([status, r]) => {
    const resolved = resolve(doc, r);
    const headers = Object.entries((resolved.headers ?? {}) as Record<string, { description?: string }>)
      .map(([h, v]) => `<br><code>${esc(h)}</code>: ${prose(v.description ?? '')}`)
      .join('');
    const kind = String(r.$ref ?? '').includes('/Problem') ? ' <span class="note">problem+json</span>' : '';
    return `<li><b>${esc(status)}</b> ${prose(resolved.description ?? '')}${kind}${headers}</li>`;
  });
  const auth = (op.security as unknown[]).length > 0 ? '<span class="auth">bearer token</span>' : '<span class="public">public</span>';
  return `<section id="${esc(op.operationId)}">
<h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code> ${auth}</h3>
<p>${prose(op.summary)}${op.description ? `. ${prose(op.description)}` : ''}</p>
${paramRows ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th></tr>${paramRows}</table>` : ''}
${body ? `<h4>Body <code>application/json</code>${body.$ref ? ` (${esc(String(body.$ref).split('/').pop())})` : ''}</h4>${renderSchema(doc, body)}` : ''}
<h4>Responses</h4><ul>${responses.join('')}</ul>
</section>`;
}

/** The whole page: contents by tag, each operation, then the problem shape. */
export function renderDocsPage(doc: Record<string, any>): string {
  const ops = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  );
  const tags = (doc.tags as Array<{ name: string; description: string }>).map((t) => ({ ...t, ops: ops.filter((o) => o.op.tags?.[0] === t.name) }));
  const toc = tags
    .map((t) => `<li>${esc(t.name)}<ul>${t.ops.map((o) => `<li><a href="#${esc(o.op.operationId)}">${esc(o.method.toUpperCase())} ${esc(o.path)}</a></li>`).join('')}</ul></li>`)
    .join('');
  const sections = tags
    .map((t) => `<h2 id="tag-${esc(t.name)}">${esc(t.name)}: ${prose(t.description)}</h2>${t.ops.map((o) => renderOperation(doc, o.method, o.path, o.op)).join('\n')}`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.info.title)} ${esc(doc.info.version)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#1a1a1a;background:#fff}
code{font:13px ui-monospace,monospace;background:#f2f2f2;padding:0 .2em;border-radius:3px;word-break:break-word}
table{border-collapse:collapse;margin:.3rem 0;width:100%}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
section{border-top:1px solid #ddd;padding:.5rem 0}h3{margin:.4rem 0}h4{margin:.6rem 0 .2rem}
.m{display:inline-block;min-width:3.5em;text-align:center;color:#fff;border-radius:3px;padding:0 .3em;font-size:13px}
.get{background:#1f5fa6}.post{background:#1d7a3a}.put{background:#8a5a00}.delete{background:#a61f1f}.patch{background:#5a3d8a}
.req{color:#a61f1f;font-size:12px}.note{color:#555;font-size:13px}.auth,.public{font-size:12px;font-weight:normal;border:1px solid #999;border-radius:3px;padding:0 .3em}
</style></head><body>
<h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
<p>${prose(doc.info.description)} Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}).</p>
<p>Authentication: <code>Authorization: Bearer &lt;token&gt;</code> on every <code>/v1</code> route except the signing keys.</p>
<nav><h2>Contents</h2><ul>${toc}<li><a href="#problems">Problems</a></li></ul></nav>
${sections}
<h2 id="problems">Problems</h2>
<p>Every error is <code>application/problem+json</code>:</p>${renderSchema(doc, { $ref: '#/components/schemas/Problem' })}
<ul>${Object.entries(doc.components.responses as Record<string, { description: string }>).filter(([k]) => k.startsWith('Problem')).map(([k, r]) => `<li><b>${esc(k.replace('Problem', ''))}</b> ${prose(r.description)}</li>`).join('')}</ul>
</body></html>
`;
}
