/**
 * A server span per HTTP request when tracing is on, named `<METHOD> <route pattern>` (`POST
 * /v1/requests/:id/approve`: never the raw path or the query, which carry request ids and tenants), with the
 * caller's W3C `traceparent` honoured. Everything the handler does (the Temporal client's start or update) runs in
 * its context, so the workflow's spans join the same trace.
 *
 * Explicit rather than the OpenTelemetry HTTP/express auto-instrumentation: that patches modules through require
 * hooks, and this project loads express as an ES module through `node --import tsx`. Tried here (2026-12-04,
 * instrumentation-http 0.57, instrumentation-express 0.47, express 5): the HTTP one made a span named just `GET`
 * with no route, the express one patched nothing.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { RequestHandler } from 'express';
import { requestIdOf } from './request-id.js';

/** Probes and scrapes answer every few seconds: a trace of each would bury everything else (as in the logs). */
const NOT_TRACED = new Set(['/healthz', '/readyz', '/metrics']);

/** Mount first. `routeOf` names the request's route pattern (http-metrics.ts): known only once it is answered. */
export function httpTracing(tracer: Tracer, routeOf: (method: string, path: string) => string): RequestHandler {
  return (req, res, next) => {
    if (NOT_TRACED.has(req.path)) return next();
    const path = req.path;
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer.startSpan(req.method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'url.scheme': req.protocol } }, parent);
    // For the request's log line (request-id.ts): from a log line to its trace.
    res.locals.traceId = span.spanContext().traceId;
    let ended = false;
    const end = (aborted: boolean) => {
      if (ended) return;
      ended = true;
      const route = routeOf(req.method, path);
      span.updateName(`${req.method} ${route}`);
      span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', res.statusCode);
      const reqId = requestIdOf(res);
      if (reqId) span.setAttribute('lockbox.request_id', reqId);
      if (aborted) span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection before the answer' });
      else if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', () => end(false));
    res.once('close', () => end(!res.writableFinished));
    context.with(trace.setSpan(parent, span), next);
  };
}
