/**
 * The reconciler's drift check (docs/reconcile.md): active requests whose access their target did not list, asked
 * again at the target and reported as `access.drift_detected`, or in `restore` mode granted again.
 */
import type { Client } from '@temporalio/client';
import { AuditEventType, type AuditEvent } from '../domain/audit.js';
import { mustHoldAccess, targetKey, type DriftMode, type DriftOutcome, type HeldAccess, type TargetRef } from '../domain/reconcile.js';
import { checkTargetUse, resolveTarget } from '../domain/resources.js';
import type { GrantProvider } from '../ports/grant-provider.js';
import { eventId, reconcileEvent, type ReconcileContext } from './reconcile-context.js';
import { messageOf, queryRequest } from './reconcile-lookup.js';

/**
 * Active requests no target listed: each is asked for its state, and where its access must exist now, its own
 * target is asked (`verify`) before it counts as drift. Requests on targets not reconciled this run are left out.
 * Findings name their target by key.
 */
export async function checkDrift(ctx: ReconcileContext, input: { candidates: string[]; refs: TargetRef[]; drift: DriftMode }): Promise<{
  found: Array<{ target: string; outcome: DriftOutcome }>;
  unsure: Array<{ target: string; requestId: string; why: string }>;
  events: AuditEvent[];
}> {
  const { deps, catalog, temporal, heartbeat } = ctx;
  const client = temporal();
  const refs = new Map(input.refs.map((r) => [r.key, r]));
  const out = { found: [] as Array<{ target: string; outcome: DriftOutcome }>, unsure: [] as Array<{ target: string; requestId: string; why: string }>, events: [] as AuditEvent[] };
  for (const id of input.candidates) {
    heartbeat();
    const r = await queryRequest(client, id);
    if (!r?.access || !mustHoldAccess(r, Date.now())) continue;
    // The request's recorded target as this catalog reads it (older requests carry an inline shape).
    const resolved = resolveTarget(catalog, r.target);
    const ref = refs.get(resolved.kind === 'declared' ? targetKey({ provider: 'catalog', name: resolved.target.name }) : resolved.kind === 'builtin' ? 'builtin' : '');
    if (!ref) continue;
    const held: HeldAccess = { requestId: r.id, tenant: r.tenant, resource: r.resource, principal: r.requester, grantedAt: r.access.grantedAt, endsAt: r.access.endsAt, target: ref.key };
    const provider = deps.grants.providerFor(ref.target);
    const found = await confirmDrift(ctx, client, provider, ref, held, input.drift);
    if (found === 'unsure') out.unsure.push({ target: ref.key, requestId: id, why: 'drift could not be confirmed' });
    else if (found) {
      out.found.push({ target: ref.key, outcome: found.result });
      out.events.push(found.event);
    }
  }
  return out;
}

/**
 * An active request its target did not list, whose state says the access must be there: asks the target
 * (`verify`), then the request once more (a revoke may have begun meanwhile), then reports it, and in `restore`
 * mode grants it again for the rest of its window.
 */
async function confirmDrift(
  ctx: ReconcileContext,
  client: Client,
  provider: GrantProvider,
  ref: TargetRef,
  m: HeldAccess,
  mode: DriftMode,
): Promise<{ result: DriftOutcome; event: AuditEvent } | null | 'unsure'> {
  const { deps, catalog, metrics } = ctx;
  if (!provider.verify) return 'unsure';
  const stillHeld = async () => {
    const r = await queryRequest(client, m.requestId);
    return r !== null && mustHoldAccess(r, Date.now());
  };
  const at = await provider.verify({ requestId: m.requestId });
  if (at.present) return null;
  if (!(await stillHeld())) return null;
  const fields = { requestId: m.requestId, tenant: m.tenant, resource: m.resource, provider: ref.provider, target: ref.label, mode };
  const id = eventId(m.requestId, 'drift');
  const seenBefore = (await deps.audit.listByRequest(m.requestId).catch(() => [])).some((e) => e.id === id);
  let action: DriftOutcome['action'] = 'reported';
  let error: string | undefined;
  if (mode === 'restore') {
    try {
      // Granting again is granting: only through a target the operator still allows for the request's tenant.
      const allowed = checkTargetUse(catalog, ref.target, m.tenant, 'grant');
      if (!allowed.ok) throw new Error(allowed.message);
      const durationMs = Date.parse(m.endsAt) - Date.now();
      await provider.grant({ requestId: m.requestId, tenant: m.tenant, resource: m.resource, principal: m.principal, durationMs });
      const again = await provider.verify({ requestId: m.requestId });
      action = again.present ? 'restored' : 'restore_failed';
      if (!again.present) error = 'the target still has no grant after granting again (a revoked grant is never granted again)';
    } catch (err) {
      action = 'restore_failed';
      error = messageOf(err);
    }
  }
  if (!seenBefore || mode === 'restore') metrics.driftDetected.inc({ provider: ref.provider, action });
  deps.log[action === 'restore_failed' ? 'error' : 'warn'](seenBefore ? 'drift persists: active request has no access at its target' : 'drift: active request has no access at its target', { ...fields, action, ...(error ? { error } : {}) });
  const event = reconcileEvent('drift', AuditEventType.accessDriftDetected, m.tenant, m.requestId, {
    resource: m.resource,
    provider: ref.provider,
    target: ref.label,
    principal: m.principal,
    endsAt: m.endsAt,
    mode,
    action,
    ...(error ? { error } : {}),
  });
  return { result: { requestId: m.requestId, tenant: m.tenant, resource: m.resource, action, ...(error ? { error } : {}) }, event };
}
