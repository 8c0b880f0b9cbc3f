import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { AuditEventType, type AuditEvent } from '../domain/audit.js';
import {
  compareTarget,
  mustHoldAccess,
  targetKey,
  tenantOfRequestId,
  type DriftMode,
  type DriftOutcome,
  type Execution,
  type HeldAccess,
  type Orphan,
  type OrphanOutcome,
  type ReconcileReport,
  type TargetRef,
  type TargetReport,
} from '../domain/reconcile.js';
import { checkTargetUse, EMPTY_CATALOG, resolveTarget, TARGET_ENV_PATTERN, type DeclaredTarget, type ResourceTarget } from '../domain/resources.js';
import type { GrantProvider } from '../ports/grant-provider.js';
import { checkStoredSettings } from '../domain/settings-schema.js';
import { Registry } from 'prom-client';
import type { ActivityDeps } from './deps.js';
import { createReconcileMetrics, type ReconcileMetrics } from './metrics.js';
import { listActiveRequestIds, lookUpRequest, messageOf, queryRequest, type Lookup } from './reconcile-lookup.js';

/** At most this many active requests are checked for drift per run. */
const MAX_ACTIVE = 5_000;

export interface ReconcileOptions {
  metrics?: ReconcileMetrics;
  /** The worker's environment: a target is reconciled only where its connection variable is really set. */
  env?: (name: string) => string | undefined;
  /** Test seam; default the worker's own client (activity context). */
  temporal?: () => Client;
}

/**
 * The reconciler's activities (docs/reconcile.md). They compare what Lockbox granted at each target with the
 * requests that really hold access, revoke what nobody owns (verified, audited `access.orphan_revoked` under a
 * deterministic id, so concurrent runs audit it once) and report drift (`access.drift_detected`).
 */
export function createReconcileActivities(deps: ActivityDeps, opts: ReconcileOptions = {}) {
  const metrics = opts.metrics ?? deps.reconcileMetrics ?? createReconcileMetrics(new Registry());
  const catalog = deps.targets ?? EMPTY_CATALOG;
  const env = opts.env ?? ((name: string) => process.env[name]);
  const temporal = opts.temporal ?? (() => Context.current().client);
  const heartbeat = () => {
    try {
      Context.current().heartbeat();
    } catch {
      // Outside an activity (tests): nothing to report to.
    }
  };

  /**
   * Lockbox's built-in store plus every target the operator declared, from the worker's catalog rather than from
   * tenants' settings: a target no tenant picks any more (or whose tenants were withdrawn) still holds what was
   * granted through it, so it is still reconciled. Settings only add the resource names audit events use.
   */
  async function reconcileTargets(): Promise<TargetRef[]> {
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
        const skipped = skipReason(declared);
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

  function skipReason(target: DeclaredTarget): string | undefined {
    // A webhook target lists through its own list call, checked by the provider; its secret is checked when used.
    if (target.kind === 'webhook') return undefined;
    // A default URL (the embedded demo's machine-wide PostgreSQL) is shared by every Lockbox on the machine: what
    // another installation granted there would look like an orphan here. Only explicit configuration is reconciled.
    if (!TARGET_ENV_PATTERN.test(target.connection) || !env(target.connection)) {
      return `${target.connection} is not set in this worker's environment (a built-in default is never reconciled)`;
    }
    return undefined;
  }

  /** Ids of this task queue's running requests that visibility lists as active (read BEFORE any target is listed). */
  async function listActiveRequests(): Promise<string[]> {
    return listActiveRequestIds(temporal(), Context.current().info.taskQueue, MAX_ACTIVE);
  }

  /** Lists what Lockbox granted at one target and revokes what no running request owns. */
  async function reconcileTarget(input: { ref: TargetRef }): Promise<{ report: TargetReport; granted: string[]; events: AuditEvent[] }> {
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
      const outcome = await revokeOrphan(provider, ref, o, lookups[o.requestId] ?? { execution: { kind: 'not_found' } });
      report.orphans.push(outcome.result);
      if (outcome.event) events.push(outcome.event);
    }
    return { report, granted, events };
  }

  /**
   * Active requests no target listed: each is asked for its state, and where its access must exist now, its own
   * target is asked (`verify`) before it counts as drift. Requests on targets not reconciled this run are left out.
   * Findings name their target by key.
   */
  async function checkDrift(input: { candidates: string[]; refs: TargetRef[]; drift: DriftMode }): Promise<{
    found: Array<{ target: string; outcome: DriftOutcome }>;
    unsure: Array<{ target: string; requestId: string; why: string }>;
    events: AuditEvent[];
  }> {
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
      const found = await confirmDrift(client, provider, ref, held, input.drift);
      if (found === 'unsure') out.unsure.push({ target: ref.key, requestId: id, why: 'drift could not be confirmed' });
      else if (found) {
        out.found.push({ target: ref.key, outcome: found.result });
        out.events.push(found.event);
      }
    }
    return out;
  }

  /** Revokes one orphan through its provider, checks at the target that it is gone, audits it. */
  async function revokeOrphan(provider: GrantProvider, ref: TargetRef, o: Orphan, l: Lookup): Promise<{ result: OrphanOutcome; event?: AuditEvent }> {
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
   * An active request its target did not list, whose state says the access must be there: asks the target
   * (`verify`), then the request once more (a revoke may have begun meanwhile), then reports it, and in `restore`
   * mode grants it again for the rest of its window.
   */
  async function confirmDrift(
    client: Client,
    provider: GrantProvider,
    ref: TargetRef,
    m: HeldAccess,
    mode: DriftMode,
  ): Promise<{ result: DriftOutcome; event: AuditEvent } | null | 'unsure'> {
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

  /** Metrics and a summary log line per run; a failed run is an error line and a counted failure, every time. */
  async function recordReconcileOutcome(report: ReconcileReport): Promise<void> {
    const failedTargets = report.targets.filter((t) => t.error);
    const failedOrphans = report.targets.flatMap((t) => t.orphans.filter((o) => o.outcome === 'failed'));
    if (failedTargets.length) metrics.failures.inc({ stage: 'target' }, failedTargets.length);
    if (failedOrphans.length) metrics.failures.inc({ stage: 'orphan' }, failedOrphans.length);
    if (report.errors.length) metrics.failures.inc({ stage: 'run' }, report.errors.length);
    const summary = {
      targets: report.targets.length,
      orphansRevoked: report.targets.reduce((n, t) => n + t.orphans.filter((o) => o.outcome === 'revoked').length, 0),
      drift: report.targets.reduce((n, t) => n + t.drift.length, 0),
    };
    metrics.notReconcilable.set(report.targets.filter((t) => t.notReconcilable).length);
    if (report.ok) {
      metrics.lastSuccess.set(Date.parse(report.finishedAt) / 1000);
      deps.log.info('reconcile done', summary);
    } else {
      deps.log.error('reconcile failed', {
        ...summary,
        errors: [...report.errors, ...failedTargets.map((t) => `${t.target}: ${t.error}`), ...failedOrphans.map((o) => `${o.requestId}: ${o.error}`)],
      });
    }
  }

  return { reconcileTargets, listActiveRequests, reconcileTarget, checkDrift, recordReconcileOutcome };
}

/** `reconcile:<requestId>:orphan|drift`: the same finding by any run is the same event, stored once by every sink. */
function eventId(requestId: string, kind: 'orphan' | 'drift'): string {
  return `reconcile:${requestId}:${kind}`;
}

/** seq 0: outside the request's own numbered trail (its workflow numbers 1, 2, 3...). */
function reconcileEvent(kind: 'orphan' | 'drift', type: AuditEventType, tenant: string, requestId: string, details: Record<string, unknown>): AuditEvent {
  return { id: eventId(requestId, kind), seq: 0, time: new Date().toISOString(), type, tenant, requestId, actor: 'system', details };
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
