import { createHash, randomBytes } from 'node:crypto';
import { Router, type Response } from 'express';
import { ulid } from 'ulid';
import type { z } from 'zod';
import { DecisionRefusedError, RequestIdUsedError, RequestNotFoundError } from '../../client/errors.js';
import { canAttemptDecision, canCreateRequest, canSeeRequest, listScope, type Principal } from '../../domain/directory.js';
import { tenantOfRequestId } from '../../domain/reconcile.js';
import { signDecision, signRequest } from '../../domain/ed25519.js';
import { formatDuration, parseDuration } from '../../domain/duration.js';
import type { AccessRequest, DecisionAction, NewRequestInput } from '../../domain/request.js';
import { principalOf } from '../auth.js';
import { createRequestReader } from '../records.js';
import type { ApiDeps } from '../deps.js';
import { currentPolicy } from '../policy.js';
import { targetOfNewRequest } from '../targets.js';
import { checkEmergency, overMaxDuration, settledEmergency, takeEmergencySlot } from '../break-glass.js';
import { Problem, problems } from '../problem.js';
import * as s from '../schemas.js';
import { parse } from '../validate.js';
import { requireFreshLogin, stepUpRule } from '../session/step-up.js';
import { authContextOf } from '../session/auth-facts.js';
import { AuditEventType, type AuditEvent } from '../../domain/audit.js';

const MIN_ACCESS_MS = 1_000;
/** An approval's `until` this close leaves no window worth granting (the grant itself takes time). */
const MIN_UNTIL_AHEAD_MS = 10_000;
/** Decisions that need a fresh login at the identity provider. */
const STEP_UP: ReadonlySet<DecisionAction> = new Set(['approve', 'reject', 'revoke']);
const NO_STEP_UP = { maxAgeMs: 0, requireMfa: false };

/** Create, read, list and decide access requests. */
export function requestRoutes(deps: ApiDeps): Router {
  const r = Router();
  const now = deps.clock ?? (() => new Date());
  const reader = createRequestReader(deps);

  /** Loads a request the caller may see; others' requests are "not found", so their existence does not leak. */
  async function load(id: unknown, p: Principal): Promise<AccessRequest> {
    const requestId = s.RequestIdParam.safeParse(id);
    if (!requestId.success) throw problems.notFound(`no request with id ${String(id).slice(0, 80)}`);
    try {
      const request = await reader.get(requestId.data);
      if (!canSeeRequest(p, request.tenant, request.requester)) throw new RequestNotFoundError(requestId.data);
      return request;
    } catch (err) {
      if (err instanceof RequestNotFoundError) throw problems.notFound(`no request with id ${requestId.data}`);
      throw err;
    }
  }

  r.post('/', async (req, res) => {
    const p = principalOf(res);
    if (!canCreateRequest(p)) throw problems.forbidden('only engineers can request access');
    const body = parse(s.CreateRequestBody, req.body ?? {});
    const tenant = await currentPolicy(deps, body.tenant);
    if (!tenant) {
      const detail = `tenant ${body.tenant} has not opted in to Lockbox`;
      throw problems.unprocessable(detail, [{ field: 'tenant', pointer: '#/tenant', message: detail }]);
    }
    const settings = tenant.record.settings;
    if (settings.requireTicket && !body.ticket) {
      throw problems.validation([{ field: 'ticket', pointer: '#/ticket', message: `tenant ${body.tenant} requires a ticket` }]);
    }
    // Break-glass (docs/break-glass.md): its own cap replaces the tenant's maximum access.
    const emergency = body.emergency ? await checkEmergency(deps, p, body.tenant, settings, body.ticket, now()) : null;
    const durationMs = parseDuration(body.duration) ?? 0;
    if (emergency && durationMs > emergency.maxDurationMs) throw overMaxDuration(emergency.maxDurationMs);
    if (durationMs < MIN_ACCESS_MS || (!emergency && durationMs > settings.maxAccessMs)) {
      const message = `must be between 1s and ${formatDuration(settings.maxAccessMs)}`;
      throw problems.validation([{ field: 'duration', pointer: '#/duration', message }]);
    }
    const target = targetOfNewRequest(deps, body.tenant, settings.resources, body.resource);

    let id = `req-${body.tenant}-${ulid()}`;
    let fresh = true;
    const key = req.header('idempotency-key');
    if (key !== undefined) {
      const fingerprint = createHash('sha256').update(JSON.stringify(body)).digest('hex');
      const stored = await deps.store.reserveIdempotencyKey({
        principal: p.id,
        key: parse(s.IdempotencyKeyHeader, key, 'Idempotency-Key'),
        fingerprint,
        requestId: id,
      });
      if (stored.fingerprint !== fingerprint) {
        throw problems.unprocessable('this Idempotency-Key was already used with a different request body');
      }
      id = stored.requestId;
      fresh = stored.created;
    }
    // The daily break-glass limit, for this id (a retry with the same Idempotency-Key keeps its slot).
    if (emergency) await takeEmergencySlot(deps, p, body.tenant, id, now());
    const unsigned: Omit<NewRequestInput, 'proof'> = {
      id,
      tenant: body.tenant,
      resource: body.resource,
      requester: p.id,
      reason: body.reason,
      ticket: body.ticket ?? null,
      durationMs,
      requestTtlMs: settings.requestTtlMs,
      createdAt: now().toISOString(),
      policy: tenant.policy,
      target,
      ...(deps.config.grantDeadlineMs ? { grantDeadlineMs: deps.config.grantDeadlineMs } : {}),
      ...(emergency ? { emergency: { reviewWithinMs: emergency.reviewWithinMs } } : {}),
    };
    const request = await deps.lockbox.start({ ...unsigned, proof: signRequest(unsigned, deps.signer) }, fresh).catch((err: unknown) => {
      if (!(err instanceof RequestIdUsedError)) throw err;
      // The key's request ran and ended: it is never run again (its audit trail stays its own). Point at it.
      const link = `/v1/requests/${err.requestId}`;
      throw new Problem(409, 'idempotency-key-used', 'Conflict', `this Idempotency-Key belongs to request ${err.requestId}, which has ended; use a new key for a new request`, undefined, { requestId: err.requestId, link });
    });
    // The record exists from the start, so the request is listed at once; the workflow's exports replace it.
    if (fresh) await deps.store.putRequestRecord({ request, version: 0, events: [] });
    if (!fresh) res.setHeader('Idempotent-Replayed', 'true');
    res.status(201).location(`/v1/requests/${request.id}`).json(emergency ? await settledEmergency(deps, request) : request);
  });

  r.get('/', async (req, res) => {
    const p = principalOf(res);
    const { from, to, ...q } = parse(s.ListRequestsQuery, req.query);
    const requests = await reader.list({ ...q, createdFrom: from, createdTo: to, ...listScope(p) });
    // A full page may have more after it: pass `next` as `after`.
    res.json({ requests, next: requests.length === q.limit ? (requests.at(-1)?.id ?? null) : null });
  });

  r.get('/:id', async (req, res) => {
    res.json(await load(req.params.id, principalOf(res)));
  });

  r.get('/:id/audit', async (req, res) => {
    const request = await load(req.params.id, principalOf(res));
    res.json({ events: await reader.audit(request.id) });
  });

  /**
   * The credential issued for an active request (e.g. a PostgreSQL login), for its requester only and only while the
   * access is in force. Never cached by clients or proxies.
   */
  r.get('/:id/credentials', async (req, res) => {
    const p = principalOf(res);
    const request = await load(req.params.id, p);
    if (request.requester !== p.id) throw problems.forbidden('only the requester can fetch the credentials of a request');
    const endsAt = request.access?.endsAt;
    if (request.status !== 'active' || !endsAt || Date.parse(endsAt) <= now().getTime()) {
      throw problems.conflict(`request is ${request.status}: credentials exist only while access is active`, 'not_active');
    }
    // An early revoke takes a moment at the target; from the moment it is decided, the credential is not handed out.
    if (request.decisions.some((d) => d.action === 'revoke')) {
      throw problems.conflict('access is being revoked: credentials are no longer handed out', 'revoke_pending');
    }
    const secret = await deps.vault.get(request.id);
    if (!secret) throw problems.notFound(`request ${request.id} was granted without a credential to fetch; use the access check`);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ requestId: request.id, resource: request.resource, expiresAt: endsAt, ...secret });
  });

  /**
   * A decision the API has authorised is signed with the policy in force now (current settings), so the workflow
   * checks eligibility at decision time and can tell it from a forged one.
   */
  /**
   * The request a decision goes to, without reading it from Temporal: an approver of the tenant named in the id
   * approving or rejecting needs only the run that owns the id (from the Store) and the tenant's policy. The
   * workflow checks everything else (stage, eligibility, self-approval) itself. Null: take the slow path.
   */
  async function fastPath(id: unknown, action: DecisionAction, p: Principal) {
    if (action !== 'approve' && action !== 'reject') return null;
    const parsed = s.RequestIdParam.safeParse(id);
    const tenantId = parsed.success ? tenantOfRequestId(parsed.data) : null;
    if (!parsed.success || !tenantId || !canAttemptDecision(p, action, tenantId, '')) return null;
    const [runId, current] = await Promise.all([deps.store.getRequestRun(parsed.data), currentPolicy(deps, tenantId)]);
    if (!runId || !current) return null;
    return { id: parsed.data, runId, current, policy: undefined };
  }

  /** Reads the request (404 for whoever may not see it), then checks who may attempt this decision. */
  async function slowPath(id: unknown, action: DecisionAction, p: Principal) {
    const request = await load(id, p);
    if (!canAttemptDecision(p, action, request.tenant, request.requester)) {
      throw problems.forbidden(`${p.id} may not ${action} this request`);
    }
    if (!request.runId) throw problems.conflict(`request ${request.id} has not started yet; try again`, 'not_started');
    // A tenant that opted out since keeps its recorded policy: requests are never orphaned by a settings change.
    return { id: request.id, runId: request.runId, current: await currentPolicy(deps, request.tenant), policy: request.policy };
  }

  const decision = (
    action: DecisionAction,
    schema: z.ZodType<Record<string, string | undefined>>,
    noteField: string,
    extra?: (body: Record<string, string | undefined>, maxAccessMs: number) => { durationMs: number } | { until?: string },
  ) =>
    r.post(`/:id/${action}`, async (req, res: Response) => {
      const p = principalOf(res);
      const body = parse(schema, req.body ?? {});
      const request = (await fastPath(req.params.id, action, p)) ?? (await slowPath(req.params.id, action, p));
      // Step-up (docs/sign-in.md): approve, reject and revoke need a recent login; every decision records it.
      const tenant = request.current;
      const rule = STEP_UP.has(action) ? stepUpRule(deps.portalAuth?.stepUpMaxAgeMs ?? 0, tenant?.record.settings.stepUp) : NO_STEP_UP;
      let login;
      try {
        login = requireFreshLogin(res, rule, `/requests/${encodeURIComponent(request.id)}`, now());
      } catch (err) {
        // Kept for the security team: who tried to decide with a stale or single-factor login (never the token).
        if (err instanceof Problem) {
          deps.log.warn('decision refused: login not fresh or strong enough', { requestId: request.id, user: p.id, action, problem: err.slug });
          await auditLoginRefusal(deps, { requestId: request.id, tenant: tenantOfRequestId(request.id) ?? 'unknown', actor: p.id, action, reason: err.slug, login: authContextOf(res) ?? {}, at: now() });
        }
        throw err;
      }
      const claims = {
        requestId: request.id,
        runId: request.runId,
        action,
        actor: p.id,
        note: body[noteField] ?? null,
        policy: tenant?.policy ?? request.policy!,
        issuedAt: now().toISOString(),
        nonce: randomBytes(16).toString('hex'),
        ...extra?.(body, tenant?.record.settings.maxAccessMs ?? deps.config.maxAccessMs),
        ...login,
      };
      try {
        const after = await deps.lockbox.decide(request.id, action, signDecision(claims, deps.signer));
        // Approved, but the target is slow: accepted, not done. The caller follows the request (Location).
        if (after.status === 'granting') res.status(202).location(`/v1/requests/${after.id}`);
        res.json(after);
      } catch (err) {
        if (err instanceof DecisionRefusedError) {
          throw err.kind === 'forbidden' ? new Problem(403, err.code, 'Not allowed', err.message) : problems.conflict(err.message, err.code);
        }
        if (err instanceof RequestNotFoundError) {
          // The workflow is gone (deleted, or aged out of Temporal) but the request's record says how it ended.
          const record = await reader.record(request.id);
          if (record?.closed) throw problems.conflict(`request is ${record.request.status}`, 'not_pending');
          throw problems.notFound(`no request with id ${request.id}`);
        }
        throw err;
      }
    });
  // An approver may shorten the window: access ends by `until`, whatever the duration asked for.
  decision('approve', s.ApproveBody, 'comment', (body) => {
    if (body.until === undefined) return {};
    const until = Date.parse(body.until);
    if (until < now().getTime() + MIN_UNTIL_AHEAD_MS) {
      throw problems.validation([{ field: 'until', pointer: '#/until', message: `must be at least ${formatDuration(MIN_UNTIL_AHEAD_MS)} from now` }]);
    }
    return { until: new Date(until).toISOString() };
  });
  decision('reject', s.RejectBody, 'reason');
  decision('revoke', s.RevokeBody, 'reason');
  decision('cancel', s.CancelBody, 'reason');
  // More time on an active grant: the same approvers decide it; the tenant's maximum access bounds each extension.
  decision('extend', s.ExtendBody, 'reason', (body, maxAccessMs) => {
    const durationMs = parseDuration(body.duration ?? '') ?? 0;
    if (durationMs < MIN_ACCESS_MS || durationMs > maxAccessMs) {
      throw problems.validation([{ field: 'duration', pointer: '#/duration', message: `must be between 1s and ${formatDuration(maxAccessMs)}` }]);
    }
    return { durationMs };
  });

  return r;
}

/**
 * `decision.refused_login` into the audit stream (seq 0: outside the workflow's numbered trail, as the reconciler's
 * events are). The id holds the minute, so a person retrying the same refused click does not flood the trail: the
 * sink keeps one event per id. Best effort: a sink that is down costs a log line, never the refusal's answer.
 */
async function auditLoginRefusal(
  deps: ApiDeps,
  e: { requestId: string; tenant: string; actor: string; action: DecisionAction; reason: string; login: { authTime?: number; amr?: string[] }; at: Date },
): Promise<void> {
  const minute = Math.floor(e.at.getTime() / 60_000);
  const event: AuditEvent = {
    id: `login-refused:${e.requestId}:${e.actor}:${e.action}:${e.reason}:${minute}`,
    seq: 0,
    time: e.at.toISOString(),
    type: AuditEventType.decisionRefusedLogin,
    tenant: e.tenant,
    requestId: e.requestId,
    actor: e.actor,
    details: {
      action: e.action,
      reason: e.reason,
      ...(e.login.authTime !== undefined ? { authTime: new Date(e.login.authTime * 1000).toISOString() } : {}),
      ...(e.login.amr ? { amr: e.login.amr } : {}),
    },
  };
  await deps.audit.append([event]).catch((err: unknown) => {
    deps.log.warn('could not audit a refused decision', { requestId: e.requestId, error: err instanceof Error ? err.message : String(err) });
  });
}
