/**
 * Prometheus metrics of the HTTP API, on a registry of the app's own: requests and their latency by route and
 * status, and decisions by action and outcome. The route label is the express route pattern
 * (`/v1/requests/:id/approve`), never the raw path, so request ids cannot blow up the label set; anything no route
 * matches is `(unmatched)`.
 */
import type { RequestHandler } from 'express';
import { Counter, Histogram, Registry } from 'prom-client';
import { ROUTES } from './openapi.js';

const DECISION = /^\/v1\/requests\/:id\/(approve|reject|revoke|cancel|extend)$/;
/** Latency buckets (seconds): an approve waits for the grant, a revoke for the revoke, so the tail is long. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface HttpMetrics {
  registry: Registry;
  /** Counts and times every request; mount before the routes. */
  middleware: RequestHandler;
  /** The express pattern of a request, `(unmatched)` when none. */
  routeOf(method: string, path: string): string;
}

/** `{id}` -> `:id`, and a matcher for it. */
const PATTERNS = ROUTES.map((r) => {
  const express = r.path.replace(/\{(\w+)\}/g, ':$1');
  const source = r.path
    .split('/')
    .map((seg) => (seg.startsWith('{') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return { method: r.method.toUpperCase(), express, re: new RegExp(`^${source}/?$`) };
});

export function createHttpMetrics(): HttpMetrics {
  const registry = new Registry();
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'lockbox_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status', labelNames, registers: [registry] });
  const latency = new Histogram({ name: 'lockbox_http_request_duration_seconds', help: 'Time to answer an HTTP request, by method, route pattern and status', labelNames, buckets: BUCKETS, registers: [registry] });
  const decisions = new Counter({
    name: 'lockbox_decisions_total',
    help: 'Decisions asked for through the API, by action and outcome (accepted, forbidden, conflict, not_found, invalid, unauthenticated, error)',
    labelNames: ['action', 'outcome'] as const,
    registers: [registry],
  });

  const routeOf = (method: string, path: string): string => {
    const m = method === 'HEAD' ? 'GET' : method;
    const hit = PATTERNS.find((p) => p.method === m && p.re.test(path));
    if (hit) return hit.express;
    if (m === 'GET' && path.startsWith('/portal/')) return '/portal/*';
    return '(unmatched)';
  };

  const middleware: RequestHandler = (req, res, next) => {
    const started = process.hrtime.bigint();
    const path = req.path;
    res.once('finish', () => {
      const route = routeOf(req.method, path);
      const labels = { method: req.method, route, status: String(res.statusCode) };
      requests.inc(labels);
      latency.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      const action = DECISION.exec(route)?.[1];
      if (action && req.method === 'POST') decisions.inc({ action, outcome: outcomeOf(res.statusCode) });
    });
    next();
  };
  return { registry, middleware, routeOf };
}

function outcomeOf(status: number): string {
  if (status >= 200 && status < 300) return 'accepted';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 400 || status === 413 || status === 415 || status === 422) return 'invalid';
  return 'error';
}

/** The text of several registries, one after another (their metric names must differ). */
export async function metricsText(registries: readonly Registry[]): Promise<string> {
  const parts = await Promise.all(registries.map((r) => r.metrics()));
  return parts.map((p) => (p.endsWith('\n') || p === '' ? p : `${p}\n`)).join('');
}
