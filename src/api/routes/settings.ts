import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { ulid } from 'ulid';
import { canChangeSettings, canReadSettings } from '../../domain/directory.js';
import { formatDuration, parseDuration } from '../../domain/duration.js';
import { RECORD_RETENTION, canBeApprover, policyFromSettings, validateSettings, type BreakGlassSetting, type EscalationRule, type ReminderRule, type SettingsChange, type StoredSettings, type TenantSettings } from '../../domain/settings.js';
import { checkStoredSettings } from '../../domain/settings-schema.js';
import { POLICY_CHANGED } from '../../domain/signing.js';
import { signDecision, signSettingsChange } from '../../domain/ed25519.js';
import { principalOf } from '../auth.js';
import { readTenantSettings } from '../policy.js';
import type { ApiDeps } from '../deps.js';
import { checkPicks } from '../targets.js';
import { Problem, problems } from '../problem.js';
import * as s from '../schemas.js';
import { parse } from '../validate.js';

/** The settings as the API shows them: durations written like the request API's. */
function view(r: StoredSettings) {
  const { requestTtlMs, maxAccessMs, stepUp, breakGlass, escalation, reminders, recordRetentionMs, ...rest } = r.settings;
  return {
    tenant: r.tenant,
    version: r.version,
    ...rest,
    requestTtl: formatDuration(requestTtlMs),
    maxAccess: formatDuration(maxAccessMs),
    ...(stepUp ? { stepUp: { maxAge: formatDuration(stepUp.maxAgeMs), requireMfa: stepUp.requireMfa } } : {}),
    ...(breakGlass ? { breakGlass: breakGlassView(breakGlass) } : {}),
    ...(escalation ? { escalation: { after: formatDuration(escalation.afterMs), to: escalation.to } } : {}),
    ...(reminders ? { reminders: { count: reminders.count, every: formatDuration(reminders.everyMs) } } : {}),
    recordRetention: formatDuration(recordRetentionMs ?? RECORD_RETENTION.defaultMs),
    updatedAt: r.updatedAt,
    updatedBy: r.updatedBy,
  };
}

/** Break-glass as the API shows it: durations written like the request API's. */
function breakGlassView(b: BreakGlassSetting) {
  return { enabled: b.enabled, responders: b.responders, maxDuration: formatDuration(b.maxDurationMs), reviewWithin: formatDuration(b.reviewWithinMs) };
}

function breakGlassSetting(b: NonNullable<s.SettingsBody['breakGlass']>): BreakGlassSetting {
  return { enabled: b.enabled, responders: b.responders, maxDurationMs: parseDuration(b.maxDuration) ?? 0, reviewWithinMs: parseDuration(b.reviewWithin) ?? 0 };
}

/** Omitted in the body: kept as stored; `null`: removed; else the body's, durations in ms. */
function escalationSetting(b: s.SettingsBody['escalation'], kept: EscalationRule | undefined): EscalationRule | undefined {
  if (b === undefined) return kept;
  return b === null ? undefined : { afterMs: parseDuration(b.after) ?? 0, to: b.to };
}

function remindersSetting(b: s.SettingsBody['reminders'], kept: ReminderRule | undefined): ReminderRule | undefined {
  if (b === undefined) return kept;
  return b === null ? undefined : { count: b.count, everyMs: parseDuration(b.every) ?? 0 };
}

/**
 * Every pending request of the tenant gets the new policy at once (signed, as a signal), so none waits for approvals
 * that can no longer come or that the new quorum no longer needs (`applyPolicyChange`). Best effort: a request the
 * listing missed applies the policy in force at its next decision, as before.
 */
async function tellPendingRequests(deps: ApiDeps, tenant: string, record: StoredSettings, actor: string): Promise<void> {
  const policy = policyFromSettings(tenant, record.version, record.settings, deps.internalApprovers);
  const now = deps.clock ?? (() => new Date());
  const pending = await deps.lockbox.list({ tenant, status: 'pending', limit: 1000 }).catch((err: unknown) => {
    deps.log.warn('could not list pending requests after a settings change', { tenant, error: err instanceof Error ? err.message : String(err) });
    return [];
  });
  await Promise.all(
    pending.map(async (r) => {
      const claims = { requestId: r.id, runId: r.runId, action: POLICY_CHANGED, actor, note: null, policy, issuedAt: now().toISOString(), nonce: randomBytes(16).toString('hex') } as const;
      await deps.lockbox.policyChanged(r.id, signDecision(claims, deps.signer)).catch((err: unknown) => {
        deps.log.warn('could not tell a pending request of a settings change', { requestId: r.id, error: err instanceof Error ? err.message : String(err) });
      });
    }),
  );
}

/**
 * `GET/PUT /v1/tenants/{tenant}/settings`. A change runs as a small workflow that writes the settings and exports the
 * `tenant.settings_changed` audit event together, so no change goes unaudited. `If-Match: "<version>"` guards
 * against overwriting a change one has not seen (412); without it the write applies to the version read just before.
 */
export function settingsRoutes(deps: ApiDeps): Router {
  const r = Router();
  const now = deps.clock ?? (() => new Date());

  r.get('/:tenant/settings', async (req, res) => {
    const p = principalOf(res);
    const tenant = parse(s.TenantParam, req.params.tenant, 'tenant');
    if (!canReadSettings(p, tenant)) throw problems.forbidden(`${p.id} may not read the settings of tenant ${tenant}`);
    const record = await readTenantSettings(deps, tenant);
    if (!record) throw problems.notFound(`tenant ${tenant} has not opted in to Lockbox`);
    res.setHeader('ETag', `"${record.version}"`).json(view(record));
  });

  r.put('/:tenant/settings', async (req, res) => {
    const p = principalOf(res);
    const tenant = parse(s.TenantParam, req.params.tenant, 'tenant');
    if (!canChangeSettings(p, tenant)) throw problems.forbidden(`${p.id} may not change the settings of tenant ${tenant}`);
    const body = parse(s.SettingsBody, req.body ?? {});
    // Only what the admin sends is checked here; kept picks are checked where they are used (request, grant).
    checkPicks(deps, tenant, body.resources);
    const current = await deps.store.getTenantSettings(tenant);
    // A stored row that fails its checks is replaced whole: nothing of it is carried over.
    const stored = current ? checkStoredSettings(current.settings) : null;
    const kept = stored?.ok ? stored.settings : undefined;
    const resources = body.resources ?? kept?.resources;
    const channels = body.channels ?? kept?.channels;
    const stepUp = body.stepUp === undefined ? kept?.stepUp : body.stepUp === null ? undefined : { maxAgeMs: parseDuration(body.stepUp.maxAge) ?? 0, requireMfa: body.stepUp.requireMfa };
    // Omitted: kept as it is, so a client that does not know break-glass never turns it off by saving.
    const breakGlass = body.breakGlass ? breakGlassSetting(body.breakGlass) : kept?.breakGlass;
    const escalation = escalationSetting(body.escalation, kept?.escalation);
    const reminders = remindersSetting(body.reminders, kept?.reminders);
    const recordRetentionMs = body.recordRetention === undefined ? kept?.recordRetentionMs : body.recordRetention === null ? undefined : (parseDuration(body.recordRetention) ?? undefined);
    const settings: TenantSettings = {
      customerApproval: body.customerApproval,
      approvers: body.approvers,
      quorum: body.quorum,
      requestTtlMs: parseDuration(body.requestTtl) ?? 0,
      maxAccessMs: parseDuration(body.maxAccess) ?? 0,
      requireTicket: body.requireTicket,
      internalApproval: body.internalApproval,
      ...(resources ? { resources } : {}),
      ...(channels ? { channels } : {}),
      ...(stepUp ? { stepUp } : {}),
      ...(breakGlass ? { breakGlass } : {}),
      ...(escalation ? { escalation } : {}),
      ...(reminders ? { reminders } : {}),
      ...(recordRetentionMs !== undefined ? { recordRetentionMs } : {}),
    };
    const people = [...new Set([...body.approvers, ...(escalation?.to ?? [])])];
    const known = new Map(await Promise.all(people.map(async (id) => [id, await deps.store.getUser(id)] as const)));
    const errors = validateSettings(settings, deps.config, (id) => {
      const u = known.get(id);
      return u !== null && u !== undefined && canBeApprover(u, tenant);
    });
    if (errors.length > 0) {
      throw problems.validation(errors.map((e) => ({ field: e.field, pointer: `#/${e.field.replaceAll('.', '/')}`, message: e.message })));
    }
    const ifMatch = req.header('if-match');
    if (ifMatch !== undefined && ifMatch !== `"${current?.version ?? 0}"`) {
      throw new Problem(412, 'precondition-failed', 'Precondition failed', `the settings changed since version ${ifMatch}; read them again`);
    }
    const unsigned: Omit<SettingsChange, 'proof'> = {
      changeId: `settings-${tenant}-${ulid()}`,
      tenant,
      settings,
      before: current?.settings ?? null,
      expectedVersion: current?.version ?? 0,
      updatedAt: now().toISOString(),
      updatedBy: p.id,
    };
    const result = await deps.lockbox.changeSettings({ ...unsigned, proof: signSettingsChange(unsigned, deps.signer) });
    if (!result.ok && 'refused' in result) {
      // The worker re-checks what it applies; it disagreeing with the API is a deployment problem, said plainly.
      const errors = result.problems.map((e) => ({ field: e.field, pointer: `#/${e.field.replaceAll('.', '/')}`, message: e.message }));
      throw problems.unprocessable(`the worker refused this change (${result.refused})`, errors);
    }
    if (!result.ok) throw problems.conflict('the settings were changed at the same moment by someone else; read them again', 'settings-conflict');
    await tellPendingRequests(deps, tenant, result.record, p.id);
    res.setHeader('ETag', `"${result.record.version}"`).json(view(result.record));
  });
  return r;
}
