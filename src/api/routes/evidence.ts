import { Router } from 'express';
import { describeVerdict, type StoredAuditEvent } from '../../domain/audit-chain.js';
import { canReadSettings } from '../../domain/directory.js';
import { buildEvidence } from '../../domain/evidence/build.js';
import { evidenceCsv } from '../../domain/evidence/csv.js';
import { evidenceHtml } from '../../domain/evidence/html.js';
import { principalOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { problems } from '../problem.js';
import * as s from '../schemas.js';
import { parse } from '../validate.js';

/** The most events one pack reads; a larger period is a 422 asking for a shorter one (never a timeout). */
const MAX_EVENTS = 200_000;

/**
 * `GET /v1/tenants/{tenant}/evidence?from=&to=&format=json|csv|html`: the evidence pack for auditors, built from
 * the audit sink (docs/evidence.md). Tenant admins see their own tenant, operators any.
 */
export function evidenceRoutes(deps: ApiDeps): Router {
  const r = Router();
  const now = deps.clock ?? (() => new Date());
  r.get('/:tenant/evidence', async (req, res) => {
    const p = principalOf(res);
    const tenant = parse(s.TenantParam, req.params.tenant, 'tenant');
    if (!canReadSettings(p, tenant)) throw problems.forbidden(`${p.id} may not read the evidence of tenant ${tenant}`);
    const q = parse(s.EvidenceQuery, req.query);
    const events: StoredAuditEvent[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await deps.audit.list({ tenant, after, limit: 1000 });
      events.push(...page.events);
      if (events.length > MAX_EVENTS) throw problems.unprocessable(`tenant ${tenant} has more than ${MAX_EVENTS} audit events; ask for a shorter period`);
      if (!page.more || !page.next) break;
      after = page.next;
    }
    const verdict = await deps.audit.verify({ tenant });
    const pack = buildEvidence(tenant, new Date(q.from), new Date(q.to), events, { ok: verdict.ok, detail: describeVerdict(verdict) }, now());
    const name = `lockbox-evidence-${tenant}-${q.from.slice(0, 10)}-${q.to.slice(0, 10)}`;
    res.setHeader('Cache-Control', 'no-store');
    if (q.format === 'csv') {
      res.type('text/csv; charset=utf-8').setHeader('Content-Disposition', `attachment; filename="${name}.csv"`).send(evidenceCsv(pack));
    } else if (q.format === 'html') {
      res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
      res.type('text/html; charset=utf-8').send(evidenceHtml(pack));
    } else {
      res.json(pack);
    }
  });
  return r;
}
