import { Router } from 'express';
import { isOperator, tenantsOf } from '../../domain/directory.js';
import { InvalidAuditCursorError } from '../../ports/audit-sink.js';
import { principalOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { problems } from '../problem.js';
import * as s from '../schemas.js';
import { parse } from '../validate.js';

/**
 * `GET /v1/audit`: the pull feed for a customer's SIEM, like a management activity API. Tenant admins read their own
 * tenant's events, operators everyone's. Events come with their hash-chain links; `next` is a stable cursor that
 * can be polled later for what follows.
 */
export function auditRoutes(deps: ApiDeps): Router {
  const r = Router();
  r.get('/', async (req, res) => {
    const p = principalOf(res);
    const q = parse(s.AuditQuery, req.query);
    const adminOf = tenantsOf(p, 'admin');
    const operator = isOperator(p);
    if (!operator && adminOf.length === 0) throw problems.forbidden('the audit feed is for tenant admins and operators');
    const tenant = q.tenant ?? (operator ? undefined : adminOf.length === 1 ? adminOf[0] : undefined);
    if (!operator && (tenant === undefined || !adminOf.includes(tenant))) {
      throw problems.forbidden(tenant ? `${p.id} is not an admin of tenant ${tenant}` : 'name the tenant: ?tenant=');
    }
    try {
      res.json(await deps.audit.list({ tenant, after: q.after, type: q.type, limit: q.limit }));
    } catch (err) {
      if (err instanceof InvalidAuditCursorError) {
        throw problems.validation([{ field: 'after', pointer: '#/after', message: 'is not a cursor this feed issued' }]);
      }
      throw err;
    }
  });
  return r;
}
