import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { DecisionRefusedError, RequestNotFoundError } from '../../client/errors.js';
import { canReviewEmergency, canSeeRequest } from '../../domain/directory.js';
import { REVIEW } from '../../domain/signing.js';
import { signDecision } from '../../domain/ed25519.js';
import { principalOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { currentPolicy } from '../policy.js';
import { Problem, problems } from '../problem.js';
import * as s from '../schemas.js';
import { parse } from '../validate.js';
import { requireFreshLogin, stepUpRule } from '../session/step-up.js';

/**
 * `POST /v1/requests/{id}/review`: a tenant approver's or admin's verdict on an emergency (break-glass) request
 * (docs/break-glass.md). Signed like a decision and sent as the workflow's `review` update, which checks it again
 * (emergency, not the responder, once) and records `request.reviewed` in the request's trail.
 */
export function reviewRoutes(deps: ApiDeps): Router {
  const r = Router();
  const now = deps.clock ?? (() => new Date());

  r.post('/:id/review', async (req, res) => {
    const p = principalOf(res);
    const body = parse(s.ReviewBody, req.body ?? {});
    const id = s.RequestIdParam.safeParse(req.params.id);
    if (!id.success) throw problems.notFound(`no request with id ${String(req.params.id).slice(0, 80)}`);
    const request = await deps.lockbox.get(id.data).catch((err: unknown) => {
      throw err instanceof RequestNotFoundError ? problems.notFound(`no request with id ${id.data}`) : err;
    });
    if (!canSeeRequest(p, request.tenant, request.requester)) throw problems.notFound(`no request with id ${id.data}`);
    if (request.requester === p.id) throw new Problem(403, 'self_review', 'Not allowed', 'the responder cannot review their own emergency access');
    if (!canReviewEmergency(p, request.tenant)) throw problems.forbidden(`${p.id} is not an approver or admin of tenant ${request.tenant}`);
    if (!request.emergency) throw problems.conflict(`request ${request.id} is not an emergency request; only those are reviewed`, 'not_emergency');
    if (!request.runId) throw problems.conflict(`request ${request.id} has not started yet; try again`, 'not_started');
    const current = await currentPolicy(deps, request.tenant);
    // A verdict for the record is a decision too: the same step-up as approve (docs/sign-in.md), its evidence signed.
    const rule = stepUpRule(deps.portalAuth?.stepUpMaxAgeMs ?? 0, current?.record.settings.stepUp);
    const login = requireFreshLogin(res, rule, `/requests/${encodeURIComponent(request.id)}`, now());
    const claims = {
      requestId: request.id,
      runId: request.runId,
      action: REVIEW,
      actor: p.id,
      note: body.comment ?? null,
      verdict: body.verdict,
      policy: current?.policy ?? request.policy,
      issuedAt: now().toISOString(),
      nonce: randomBytes(16).toString('hex'),
      ...login,
    } as const;
    try {
      res.json(await deps.lockbox.review(request.id, signDecision(claims, deps.signer)));
    } catch (err) {
      if (err instanceof DecisionRefusedError) {
        throw err.kind === 'forbidden' ? new Problem(403, err.code, 'Not allowed', err.message) : problems.conflict(err.message, err.code);
      }
      if (err instanceof RequestNotFoundError) throw problems.notFound(`no request with id ${request.id}`);
      throw err;
    }
  });
  return r;
}
