import { Router } from 'express';
import { Role } from '../../domain/directory.js';
import { principalOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { problems } from '../problem.js';

/** How long the call waits for the report; the CLI gives up after 60 s, so answer before that. */
const WAIT_MS = 45_000;

/**
 * `POST /v1/operator/reconcile`: runs the reconciler now (docs/reconcile.md) and answers with its report, or with
 * 202 and the workflow id when it takes longer than the call may wait. Operators only: it reads every tenant's
 * grants. Calls made while a run is going share that run.
 */
export function operatorRoutes(deps: ApiDeps): Router {
  const r = Router();
  r.post('/reconcile', async (_req, res) => {
    const p = principalOf(res);
    if (!p.roles.includes(Role.operator)) throw problems.forbidden('running the reconciler is for operators');
    const run = await deps.lockbox.reconcile(WAIT_MS);
    deps.log.info('reconcile run on demand', { by: p.id, done: run.done });
    if (run.done) res.json(run.report);
    else res.status(202).json({ status: 'running', workflowId: run.workflowId });
  });
  return r;
}
