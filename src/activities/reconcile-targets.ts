/**
 * The reconciler's target side (docs/reconcile.md): which targets a run reconciles, and per target, what it lists as
 * granted that no running request owns, revoked there, verified and audited as `access.orphan_revoked`.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { AuditEventType, type AuditEvent } from '../domain/audit.js';
import { compareTarget, targetKey, tenantOfRequestId, type Execution, type Orphan, type OrphanOutcome, type TargetRef, type TargetReport } from '../domain/reconcile.js';
import { TARGET_ENV_PATTERN, type DeclaredTarget, type ResourceTarget } from '../domain/resources.js';
import { checkStoredSettings } from '../domain/settings-schema.js';
import type { GrantProvider } from '../ports/grant-provider.js';
import { reconcileEvent, type ReconcileContext } from './reconcile-context.js';
import { lookUpRequest, messageOf, type Lookup } from './reconcile-lookup.js';

/**
 * Lockbox's built-in store plus every target the operator declared, from the worker's catalog rather than from
 * tenants' settings: a target no tenant picks any more (or whose tenants were withdrawn) still holds what was
 * granted through it, so it is still reconciled. Settings only add the resource names audit events use.
 */
export async function reconcileTargets(ctx: ReconcileContext): Promise<TargetRef[]> {
  const { deps, catalog } = ctx;
  const refs = new Map<string, TargetRef>();
  const builtin: ResourceTarget = { provider: 'builtin' };
  refs.set(targetKey(builtin), { key: targetKey(builtin), label: 'builtin', target: builtin, provider: 'builtin', tenants: [], resources: [] });
  for (const declared of catalog.values()) {
    const target: ResourceTarget = { provider: 'catalog', name: declared.name };
    const ref: TargetRef = { key: targetKey(target), label: declared.name, target, provider: declared.kind, tenants: [...declared.tenants], resources: [] };
    if (declared.kind === 'webhook' && !declared.listUrl) {
      // Not silently skipped: counted and named in the report, so an operator sees what nothing reconciles.
      ref.skipped = 'not reconcilable: the webhook target has no listUrl (docs/webhook-targets.md, the list call)';
      ref.notReconcilable = true;
    } else {
      const skipped = skipReason(ctx, declared);
      if (skipped) ref.skipped = skipped;
    }
    refs.set(ref.key, ref);
  }
  for (const record of await deps.store.listTenantSettings()) {
    // A row the API would never write (a hand edit, a forged change) names nothing the reconciler trusts.
    const checked = checkStoredSettings(record.settings);
    if (!checked.ok) continue;
    for (const [resource, pick] of Object.entries(checked.settings.resources ?? {})) {
      const ref = refs.get(targetKey({ provider: 'catalog', name: pick.target }));
      // Only picks the operator allows for that tenant name a resource of the target.
      if (ref?.tenants.includes(record.tenant) && !ref.resources.includes(resource)) ref.resources.push(resource);
    }
  }
  return [...refs.values()];
}

function skipReason({ env }: ReconcileContext, target: DeclaredTarget): string | undefined {
  // A webhook target lists through its own list call, checked by the provider; its secret is checked when used.
  if (target.kind === 'webhook') return undefined;
  // A default URL (the embedded demo's machine-wide PostgreSQL) is shared by every Lockbox on the machine: what
  // another installation granted there would look like an orphan here. Only explicit configuration is reconciled.
  if (!TARGET_ENV_PATTERN.test(target.connection) || !env(target.connection)) {
    return `${target.connection} is not set in this worker's environment (a built-in default is never reconciled)`;
  }
  return undefined;
}

/** Lists what Lockbox granted at one target and revokes what no running request owns. */
export async function reconcileTarget(ctx: ReconcileContext, input: { ref: TargetRef }): Promise<{ report: TargetReport; granted: string[]; events: AuditEvent[] }> {
  const { deps, temporal, heartbeat } = ctx;
  const { ref } = input;
  const provider = deps.grants.providerFor(ref.target);
  const report: TargetReport = { target: ref.label, provider: ref.provider, granted: 0, orphans: [], drift: [], unsure: [] };
  if (!provider.listGranted) {
    return { report: { ...report, skipped: 'not reconcilable: this provider cannot list what it granted', notReconcilable: true }, granted: [], events: [] };
  }
  const client = temporal();
  const listed = await provider.listGranted().catch((err: unknown) => {
    // A refused answer (too large, malformed, a redirect) is refused again on every attempt: reported at once.
    if (err instanceof Error && (err as { nonRetryable?: boolean }).nonRetryable) throw ApplicationFailure.nonRetryable(err.message, 'NonRetryableGrantError');
    throw err;
  });
  const { granted, foreign } = ownedByTargetTenants(ref, listed);
  report.granted = granted.length;
  report.unsure.push(...foreign.map((requestId) => ({ requestId, why: `listed by the target, but its tenant does not use ${ref.label}: left alone` })));
  const lookups: Record<string, Lookup> = {};
  for (const id of granted) {
    heartbeat();
    lookups[id] = await lookUpRequest(client, id);
  }
  const executions: Record<string, Execution> = Object.fromEntries(Object.entries(lookups).map(([id, l]) => [id, l.execution]));
  const cmp = compareTarget({ granted, executions });
  report.unsure.push(...cmp.unsure);
  const events: AuditEvent[] = [];
  for (const o of cmp.orphans) {
    heartbeat();
    const outcome = await revokeOrphan(ctx, provider, ref, o, lookups[o.requestId] ?? { execution: { kind: 'not_found' } });
    report.orphans.push(outcome.result);
    if (outcome.event) events.push(outcome.event);
  }
  return { report, granted, events };
}

/** Revokes one orphan through its provider, checks at the target that it is gone, audits it. */
async function revokeOrphan(ctx: ReconcileContext, provider: GrantProvider, ref: TargetRef, o: Orphan, l: Lookup): Promise<{ result: OrphanOutcome; event?: AuditEvent }> {
  const { deps, metrics } = ctx;
  const record = ref.provider === 'builtin' ? await deps.store.getGrant(o.requestId) : null;
  const tenant = record?.tenant ?? l.tenant ?? declaredTenant(ref, o.requestId);
  const resource = record?.resource ?? l.resource ?? (ref.resources.length === 1 ? ref.resources[0]! : 'unknown');
  const base = { requestId: o.requestId, tenant, resource, reason: o.reason };
  const fields = { ...base, provider: ref.provider, target: ref.label };
  try {
    const before = await provider.verify?.({ requestId: o.requestId });
    if (before && !before.present && before.sessions === 0) {
      deps.log.info('orphan access already gone', fields);
      return { result: { ...base, outcome: 'already_gone' } };
    }
    const revokedAt = new Date().toISOString();
    await provider.revoke({ requestId: o.requestId, revokedAt });
    const after = await provider.verify?.({ requestId: o.requestId });
    if (after && (after.present || after.sessions > 0)) {
      throw new Error(`revoke did not take: access still present at the target (${after.sessions} open session(s))`);
    }
    const event = reconcileEvent('orphan', AuditEventType.accessOrphanRevoked, tenant, o.requestId, {
      resource,
      provider: ref.provider,
      target: ref.label,
      reason: o.reason,
      principal: record?.principal ?? l.principal ?? null,
      revokedAt,
      verified: after !== undefined,
    });
    // Exported here and again by the workflow (unlimited retries): the sink keeps one by id either way.
    await deps.audit.append([event]).catch((err) => deps.log.warn('orphan audit export failed, the workflow retries it', { ...fields, error: messageOf(err) }));
    metrics.orphansRevoked.inc({ provider: ref.provider });
    deps.log.warn('orphan access revoked', { ...fields, verified: after !== undefined });
    return { result: { ...base, outcome: 'revoked' }, event };
  } catch (err) {
    deps.log.error('orphan revoke failed, next run retries', { ...fields, error: messageOf(err) });
    return { result: { ...base, outcome: 'failed', error: messageOf(err) } };
  }
}

/**
 * A webhook receiver is the customer's system and its list is untrusted: only ids of tenants the operator declared
 * for the target are acted on, so one tenant's receiver cannot have requests of another tenant audited as orphans.
 * A retired target (no tenants) and the operator's own targets (built-in, PostgreSQL) are taken as listed.
 */
function ownedByTargetTenants(ref: TargetRef, listed: readonly string[]): { granted: string[]; foreign: string[] } {
  if (ref.provider !== 'webhook' || ref.tenants.length === 0) return { granted: [...listed], foreign: [] };
  const ours = (id: string) => ref.tenants.includes(tenantOfRequestId(id) ?? '');
  return { granted: listed.filter(ours), foreign: listed.filter((id) => !ours(id)) };
}

/** A tenant that declares the target: the one in the request id if it does, else the only one. */
function declaredTenant(ref: TargetRef, requestId: string): string {
  const named = tenantOfRequestId(requestId);
  if (named && ref.tenants.includes(named)) return named;
  return ref.tenants.length === 1 ? ref.tenants[0]! : 'unknown';
}
