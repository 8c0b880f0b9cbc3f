import express, { type RequestHandler } from 'express';
import { publicKeyOf } from '../domain/ed25519.js';
import { isOperator } from '../domain/directory.js';
import { principalOf, requireAuth } from './auth.js';
import type { ApiDeps } from './deps.js';
import { createHttpMetrics, metricsText } from './http-metrics.js';
import { httpTracing } from './http-tracing.js';
import { docsPage } from './docs-page.js';
import { openApiJson } from './openapi.js';
import { errorHandler, Problem, problems } from './problem.js';
import { requestIds } from './request-id.js';
import { accessRoutes, notificationRoutes } from './routes/access.js';
import { requestRoutes } from './routes/requests.js';
import { reviewRoutes } from './routes/review.js';
import { settingsRoutes } from './routes/settings.js';
import { evidenceRoutes } from './routes/evidence.js';
import { auditRoutes } from './routes/audit.js';
import { operatorRoutes } from './routes/operator.js';
import { meRoutes, portalRoutes } from './routes/web.js';
import { authenticate } from './session/authenticate.js';
import { cookieNames } from './session/cookies.js';
import { authRoutes } from './session/routes.js';

const BODY_LIMIT = '16kb';

/** A body that is not JSON is refused before anything reads it. */
const jsonOnly: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.is(['application/json', 'application/*+json'])) {
    return next(new Problem(415, 'unsupported-media-type', 'Unsupported media type', 'send the body as application/json'));
  }
  next();
};

const operatorsOnly: RequestHandler = (_req, res, next) => {
  const p = principalOf(res);
  next(isOperator(p) ? undefined : problems.forbidden(`${p.id} may not read the metrics: they are for operators`));
};

/** The HTTP API. Every error is problem+json; nothing reaches the client as a stack trace. */
export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  const metrics = createHttpMetrics();
  // Before anything else, so the span covers the whole answer and the handlers run in its context.
  if (deps.tracer) app.use(httpTracing(deps.tracer, metrics.routeOf));
  // First, so every answer carries its id, problems and 404s included.
  app.use(requestIds(deps.log));
  // Then, so every answer is counted.
  app.use(metrics.middleware);
  // Operators only (bearer token): the numbers describe every tenant's traffic and the deployment (docs/security.md).
  app.get('/metrics', requireAuth(deps.auth), operatorsOnly, async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metricsText([metrics.registry, ...(deps.metricsRegistries ?? [])]));
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const r = await deps.readiness();
    res.status(r.ok ? 200 : 503).json({ status: r.ok ? 'ready' : 'not ready', checks: r.checks });
  });

  app.get('/v1/signing-keys', (_req, res) => {
    // Public: lets a customer verify the signatures kept in audit events.
    res.json({ keys: [{ keyId: deps.signer.keyId, alg: 'Ed25519', publicKey: publicKeyOf(deps.signer.secretKey) }] });
  });

  // Portal sign-in: /auth/login, /auth/callback, /auth/logout, /auth/session (docs/sign-in.md).
  if (deps.portalAuth) app.use(authRoutes(deps.portalAuth));
  // The web portal (page, assets, public GET /v1/portal-config): before /v1, whose router requires a token.
  app.use(portalRoutes(deps));

  const v1 = express.Router();
  // A bearer token, or else the portal's session cookie (with X-CSRF-Token on anything that changes state).
  v1.use(authenticate(deps.auth, deps.portalAuth ? { sessions: deps.portalAuth.sessions, cookieName: cookieNames(deps.portalAuth.cookieSecure).session } : undefined));
  v1.use(jsonOnly, express.json({ limit: BODY_LIMIT, type: ['application/json', 'application/*+json'] }));
  v1.use('/requests', requestRoutes(deps));
  v1.use('/requests', reviewRoutes(deps));
  v1.use('/access', accessRoutes(deps));
  v1.use('/notifications', notificationRoutes(deps));
  v1.use('/tenants', settingsRoutes(deps));
  v1.use('/tenants', evidenceRoutes(deps));
  v1.use('/audit', auditRoutes(deps));
  v1.use('/operator', operatorRoutes(deps));
  v1.use('/me', meRoutes(deps));
  app.use('/v1', v1);

  app.get('/openapi.json', openApiJson);
  app.get('/docs', docsPage);
  app.use((req, _res, next) => next(problems.notFound(`no route ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.log));
  return app;
}
