import type { ErrorRequestHandler, Response } from 'express';
import type { ZodError } from 'zod';
import type { Logger } from '../config/logger.js';
import { requestIdOf } from './request-id.js';

/** One invalid field, named by its JSON path. */
export interface FieldError {
  field: string;
  pointer: string;
  message: string;
}

/** An RFC 9457 problem. Every error the API returns has this shape. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldError[],
    /** RFC 9457 extension members, e.g. the link to an existing request. */
    readonly extensions?: Record<string, string>,
  ) {
    super(detail);
  }
}

export function fieldErrors(err: ZodError, prefix = ''): FieldError[] {
  return err.issues.map((i) => {
    const path = [...(prefix ? [prefix] : []), ...i.path.map(String)];
    // Unknown keys are reported on the object; name them so the caller knows which field to drop.
    const keys = i.code === 'unrecognized_keys' ? i.keys : [];
    const field = [...path, ...(keys.length === 1 ? keys : [])].join('.') || '(body)';
    // zod says "expected string, received undefined" for a field that is simply missing: say that in words.
    const message = i.code === 'invalid_type' && /received undefined$/.test(i.message) ? 'is required' : i.message;
    return { field, pointer: `#/${field.replaceAll('.', '/')}`, message };
  });
}

export const problems = {
  validation: (errors: FieldError[]) =>
    new Problem(400, 'validation', 'Invalid request', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors),
  unauthenticated: (detail: string) => new Problem(401, 'unauthenticated', 'Not authenticated', detail),
  forbidden: (detail: string) => new Problem(403, 'forbidden', 'Not allowed', detail),
  notFound: (detail: string) => new Problem(404, 'not-found', 'Not found', detail),
  conflict: (detail: string, code = 'conflict') => new Problem(409, code, 'Conflict', detail),
  unprocessable: (detail: string, errors?: FieldError[]) =>
    new Problem(422, 'unprocessable', 'Cannot process request', detail, errors),
  unavailable: (detail: string) => new Problem(503, 'unavailable', 'Service unavailable', detail),
};

export function sendProblem(res: Response, p: Problem): void {
  res
    .status(p.status)
    .type('application/problem+json')
    .json({
      type: `https://lockbox.dev/problems/${p.slug}`,
      title: p.title,
      status: p.status,
      detail: p.detail,
      ...(p.errors ? { errors: p.errors } : {}),
      ...p.extensions,
    });
}

/** body-parser errors carry a `type`; map them to specific 4xx instead of a 500. */
const BODY_ERRORS: Record<string, (e: { message: string; limit?: number }) => Problem> = {
  'entity.too.large': (e) => new Problem(413, 'too-large', 'Request body too large', `the body must be at most ${e.limit} bytes`),
  'entity.parse.failed': () => new Problem(400, 'malformed-json', 'Malformed JSON', 'the request body is not valid JSON'),
  'encoding.unsupported': () => new Problem(415, 'unsupported-encoding', 'Unsupported encoding', 'use utf-8'),
  'charset.unsupported': () => new Problem(415, 'unsupported-encoding', 'Unsupported charset', 'use utf-8'),
  'request.aborted': () => new Problem(400, 'aborted', 'Request aborted', 'the client aborted the request'),
};

/** The last middleware: known problems as they are, anything else as a 500 without internals. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof Problem) return sendProblem(res, err);
    const bodyError = typeof err?.type === 'string' ? BODY_ERRORS[err.type] : undefined;
    if (bodyError) return sendProblem(res, bodyError(err));
    log.error('unhandled error', { reqId: requestIdOf(res), method: req.method, path: req.path, ...requestContext(req), error: err instanceof Error ? err.message : String(err) });
    sendProblem(res, new Problem(500, 'internal', 'Internal error', 'an unexpected error occurred; it has been logged'));
  };
}

const REQUEST_ID = /^\/v1\/requests\/(req-([a-z0-9-]+)-[0-9A-HJKMNP-TV-Z]{26})(?:\/|$)/;
const TENANT_PATH = /^\/v1\/tenants\/([a-z0-9-]{1,64})(?:\/|$)/;
const TENANT = /^[a-z0-9-]{1,64}$/;

/** For error logs: the request (= workflow) id and the tenant the call was about, where the call names them. */
export function requestContext(req: { path: string; query?: unknown; body?: unknown }): { requestId?: string; workflowId?: string; tenant?: string } {
  const byId = REQUEST_ID.exec(req.path);
  if (byId) return { requestId: byId[1], workflowId: byId[1], tenant: byId[2] };
  const named = TENANT_PATH.exec(req.path)?.[1] ?? field(req.body, 'tenant') ?? field(req.query, 'tenant');
  return named && TENANT.test(named) ? { tenant: named } : {};
}

function field(o: unknown, name: string): string | undefined {
  const v = o && typeof o === 'object' ? (o as Record<string, unknown>)[name] : undefined;
  return typeof v === 'string' ? v : undefined;
}
