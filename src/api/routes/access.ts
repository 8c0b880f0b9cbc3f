import { Router } from 'express';
import { principalOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import * as s from '../schemas.js';
import { parse } from '../validate.js';

/** `GET /v1/access/check`: is the caller's access in force right now? Read at the grant store, by `endsAt`. */
export function accessRoutes(deps: ApiDeps): Router {
  const r = Router();
  const now = deps.clock ?? (() => new Date());
  r.get('/check', async (req, res) => {
    const p = principalOf(res);
    const q = parse(s.AccessCheckQuery, req.query);
    const [grant] = await deps.store.findActiveGrants({ ...q, principal: p.id, now: now().toISOString() });
    res.json(grant ? { allowed: true, requestId: grant.requestId, endsAt: grant.endsAt } : { allowed: false });
  });
  return r;
}

/** `GET /v1/notifications`: the caller's in-app notifications, newest first. */
export function notificationRoutes(deps: ApiDeps): Router {
  const r = Router();
  r.get('/', async (_req, res) => {
    const notifications = await deps.store.listNotifications({ recipient: principalOf(res).id, limit: 100 });
    res.json({ notifications });
  });
  return r;
}
