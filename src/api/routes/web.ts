/**
 * The web portal: static HTML, CSS and browser ES modules from `src/web/` (no build step), served by the API at `/`.
 * The page talks to the same `/v1` API with the bearer token the person pasted (kept in sessionStorage by the page).
 * Two small JSON routes exist for it: `GET /v1/portal-config` (public: the mode, and the demo identities in the
 * embedded default; nothing about the deployment's internals) and `GET /v1/me` (who the token is: id, provider-side
 * roles, roles per tenant, and for operators where the Temporal UI is), so the page shows the views a person can use.
 */
import { join } from 'node:path';
import express, { Router, type RequestHandler } from 'express';
import type { z } from 'zod';
import type { Config } from '../../config/index.js';
import { DEMO_TOKENS } from '../../config/demo.js';
import { isOperator, type Principal } from '../../domain/directory.js';
import { EVIDENCE_CSS } from '../../domain/evidence/html.js';
import { principalOf } from '../auth.js';
import type { MeResponse } from '../schemas.js';
import type { ApiDeps } from '../deps.js';

/** `src/web`, next to `src/api` (tsx runs the sources, so this holds in development, tests and the image alike). */
export const WEB_DIR = join(import.meta.dirname, '..', '..', 'web');

/**
 * Strict: scripts, styles and fetches only from this origin, no inline script or style, no framing, no plugins.
 * The page inserts every text from the API with textContent; this is the second line of defence.
 */
export const PORTAL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', PORTAL_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  // Request ids in portal URLs stay here, not in the Referer sent to the Temporal UI.
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  next();
};

/** The fields of Config the portal reads; start-api passes the whole Config as `deps.config`, others may not. */
type PortalConfigSource = Partial<Pick<Config, 'mode' | 'temporalPort' | 'temporalAddress' | 'namespace'>>;

/** What `GET /v1/portal-config` answers, to anyone: nothing about where Temporal or anything else runs. */
export interface PortalConfig {
  mode: 'embedded' | 'production';
  /** Embedded default only: the public demo identities, shown on the sign-in form. */
  demoIdentities: Array<{ token: string } & Principal>;
}

/** Where operators find a request's workflow: `<url>/namespaces/<namespace>/workflows/<request id>`. */
export interface TemporalUi {
  /** Base of the Temporal UI, no trailing slash. */
  url: string;
  namespace: string;
}

/** What `GET /v1/me` answers (schemas.ts, also in the OpenAPI document). */
export type Me = z.infer<typeof MeResponse>;

export function portalConfig(c: PortalConfigSource): PortalConfig {
  const mode = c.mode ?? 'embedded';
  return {
    mode,
    demoIdentities:
      mode === 'embedded'
        ? Object.entries(DEMO_TOKENS).map(([token, p]) => ({ token, id: p.id, roles: [...p.roles], tenantRoles: p.tenantRoles.map((g) => ({ ...g })) }))
        : [],
  };
}

/**
 * The Temporal UI sits at the frontend's port + 1000: the embedded dev server's (`--ui-port`, on 127.0.0.1), or by
 * the same convention on the host of TEMPORAL_ADDRESS. Null when neither is known.
 */
export function temporalUi(c: PortalConfigSource): TemporalUi | null {
  const namespace = c.namespace ?? 'lockbox';
  if (c.temporalAddress) {
    const m = /^(.+):(\d+)$/.exec(c.temporalAddress);
    return m?.[1] && m[2] ? { url: `http://${m[1]}:${Number(m[2]) + 1000}`, namespace } : null;
  }
  return typeof c.temporalPort === 'number' ? { url: `http://127.0.0.1:${c.temporalPort + 1000}`, namespace } : null;
}

/** The page, its assets and `GET /v1/portal-config`. Mount on the app before the 404 handler. */
export function portalRoutes(deps: ApiDeps): Router {
  const r = Router();
  // Read at request time: the config is whatever the process was started with.
  r.get('/v1/portal-config', (_req, res) => {
    res.json(portalConfig(deps.config as PortalConfigSource));
  });

  const page: RequestHandler = (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(join(WEB_DIR, 'index.html'));
  };
  r.get('/', securityHeaders, page);
  // Links in notifications (src/adapters/notify/portal-link.ts) open one request.
  r.get('/requests/:id', securityHeaders, page);
  // The evidence page's own stylesheet, for a pack the portal opens from a blob: URL (docs/portal.md, History).
  r.get('/portal/evidence.css', securityHeaders, (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/css; charset=utf-8').send(EVIDENCE_CSS);
  });
  r.use(
    '/portal',
    securityHeaders,
    express.static(WEB_DIR, { index: false, redirect: false, dotfiles: 'ignore', fallthrough: true, cacheControl: true, maxAge: 0 }),
  );
  return r;
}

/**
 * `GET /v1/me`: who the bearer token is, and for operators where the Temporal UI is (the address of the deployment's
 * internals is theirs, not the public's). Mounted inside the authenticated `/v1` router.
 */
export function meRoutes(deps: Pick<ApiDeps, 'config'>): Router {
  const r = Router();
  r.get('/', (_req, res) => {
    const p = principalOf(res);
    const ui = isOperator(p) ? temporalUi(deps.config as PortalConfigSource) : null;
    const me: Me = { id: p.id, roles: p.roles, tenantRoles: p.tenantRoles, ...(ui ? { temporalUi: ui } : {}) };
    res.setHeader('Cache-Control', 'no-store');
    res.json(me);
  });
  return r;
}
