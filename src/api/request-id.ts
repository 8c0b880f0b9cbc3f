/**
 * Every HTTP request gets an id: the caller's `X-Request-Id` when it is well-formed (so a proxy's or client's id
 * follows the call through our logs), else a fresh one. It is echoed in the answer's `X-Request-Id` header, logged
 * once per answered request as `reqId`, and carried by the error log of a 500 (see problem.ts).
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Logger } from '../config/logger.js';

/** Printable, no spaces, at most 128 characters: what a log line and a header can carry safely. */
const WELL_FORMED = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
/** Probes and scrapes answer every few seconds: logging them would bury everything else. */
const NOT_LOGGED = new Set(['/healthz', '/readyz', '/metrics']);

/** The id of the request this answer belongs to (set by {@link requestIds}). */
export function requestIdOf(res: Response): string | undefined {
  const id = res.locals.requestId as unknown;
  return typeof id === 'string' ? id : undefined;
}

/** Assigns, echoes and logs the request id; mount it first. Logs method, path (never the query), status and time. */
export function requestIds(log: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const id = incoming && WELL_FORMED.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    const started = process.hrtime.bigint();
    // Read now: by the time the answer is sent, a mounted router has cut its prefix from req.path (`/abc/approve`).
    const path = req.path;
    res.once('finish', () => {
      if (NOT_LOGGED.has(path)) return;
      const ms = Number((process.hrtime.bigint() - started) / 1000n) / 1000;
      // With tracing on (http-tracing.ts), the trace id finds this call's spans.
      const traceId = typeof res.locals.traceId === 'string' ? res.locals.traceId : undefined;
      log.info('http request', { reqId: id, method: req.method, path, status: res.statusCode, ms, ...(traceId ? { traceId } : {}) });
    });
    next();
  };
}
