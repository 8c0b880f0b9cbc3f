import { normalizePolicy, type ApprovalPolicy, type EscalationRule, type ReminderRule } from './policy.js';
import type { ResourceSetting } from './resources.js';

/** A tenant's Lockbox settings, as the tenant admin sets them. Durations in milliseconds. */
export interface TenantSettings {
  /** The tenant opted in: its own approvers must approve. */
  customerApproval: boolean;
  /** User ids of the tenant's approvers. */
  approvers: string[];
  /** Distinct tenant approvals needed (<= approvers.length). */
  quorum: number;
  requestTtlMs: number;
  maxAccessMs: number;
  requireTicket: boolean;
  /** A provider-side internal approver must approve first. */
  internalApproval: boolean;
  /** Per resource, the declared target (allowed for this tenant) it is granted through; others use the built-in store. */
  resources?: Record<string, ResourceSetting>;
  /** External notification channels this tenant wants (the in-app list always); omitted: every configured one. */
  channels?: NotifyChannel[];
  /** How fresh (and how strong) an approver's login must be to approve, reject or revoke (docs/sign-in.md). */
  stepUp?: StepUpSetting;
  /** Emergency access without approval, reviewed afterwards (docs/break-glass.md); absent: off. */
  breakGlass?: BreakGlassSetting;
  /** A stage without a decision for `afterMs` goes to the people on `to` too (docs/break-glass.md, "Escalation"); absent: never. */
  escalation?: EscalationRule;
  /** Reminders to undecided approvers, per stage; absent: one, an hour before expiry (half the lifetime when shorter). */
  reminders?: ReminderRule;
  /** How long a closed request's record is kept before it is pruned (docs/records.md); absent: 400 days. */
  recordRetentionMs?: number;
}

/** Request records: kept 400 days after the request closed unless the tenant says otherwise, within these bounds. */
export const RECORD_RETENTION = { defaultMs: 400 * 86_400_000, minMs: 86_400_000, maxMs: 3_660 * 86_400_000 } as const;

/** Bounds of a tenant's escalation list and reminders. */
export type { EscalationRule, ReminderRule } from './policy.js';

export const ESCALATION_LIMITS = { minAfterMs: 1_000, maxTo: 50, maxReminders: 10, minReminderEveryMs: 1_000, maxReminderEveryMs: 7 * 24 * 3_600_000 } as const;

/** Break-glass: listed responders may take access at once, for at most `maxDurationMs`; a review is due after. */
export interface BreakGlassSetting {
  enabled: boolean;
  /** User ids of the provider's people who may file an emergency request for this tenant. */
  responders: string[];
  /** The longest emergency access (ms). */
  maxDurationMs: number;
  /** After the access ends, a customer approver must review it within this time (ms). */
  reviewWithinMs: number;
}

/** Bounds of a tenant's break-glass review deadline. */
export const BREAK_GLASS_LIMITS = { minReviewWithinMs: 1_000, maxReviewWithinMs: 30 * 24 * 3_600_000, maxResponders: 50 } as const;

/** A tenant's step-up rule; the stricter of it and the deployment's LOCKBOX_STEP_UP_MAX_AGE applies. */
export interface StepUpSetting {
  /** A decision needs a login at most this old (ms). */
  maxAgeMs: number;
  /** The login must have used a second factor (the ID token's amr says so). */
  requireMfa: boolean;
}

export const NOTIFY_CHANNELS = ['email', 'slack', 'webhook'] as const;

/** Bounds of a tenant's step-up max age. */
export const STEP_UP_LIMITS = { minMs: 10_000, maxMs: 24 * 3_600_000 } as const;
export type NotifyChannel = (typeof NOTIFY_CHANNELS)[number];

/** Limits a tenant's settings must stay within. */
export const SETTINGS_LIMITS = {
  minDurationMs: 1_000,
  maxRequestTtlMs: 7 * 24 * 3_600_000,
} as const;

export interface SettingsProblem {
  field: string;
  message: string;
}

/**
 * Checks a tenant's new settings. `knownUser` says whether an id is a known approver of this tenant (the caller
 * looks it up). Pure; returns every problem, each naming its field.
 */
export function validateSettings(
  s: TenantSettings,
  limits: { maxAccessMs: number },
  knownUser: (id: string) => boolean,
): SettingsProblem[] {
  const problems: SettingsProblem[] = [];
  const approvers = new Set(s.approvers);
  if (approvers.size !== s.approvers.length) problems.push({ field: 'approvers', message: 'must not list anyone twice' });
  s.approvers.forEach((id, i) => {
    if (!knownUser(id)) problems.push({ field: `approvers.${i}`, message: `${id} is not a known approver of this tenant` });
  });
  if (s.customerApproval && s.approvers.length === 0) {
    problems.push({ field: 'approvers', message: 'customer approval needs at least one approver' });
  }
  if (s.quorum < 1) problems.push({ field: 'quorum', message: 'must be at least 1' });
  if (s.customerApproval && s.quorum > s.approvers.length) {
    problems.push({ field: 'quorum', message: `must not exceed the number of approvers (${s.approvers.length})` });
  }
  if (s.requestTtlMs < SETTINGS_LIMITS.minDurationMs || s.requestTtlMs > SETTINGS_LIMITS.maxRequestTtlMs) {
    problems.push({ field: 'requestTtl', message: 'must be between 1s and 7d' });
  }
  if (s.maxAccessMs < SETTINGS_LIMITS.minDurationMs || s.maxAccessMs > limits.maxAccessMs) {
    problems.push({ field: 'maxAccess', message: `must be between 1s and the provider's limit` });
  }
  problems.push(...checkBreakGlass(s.breakGlass, limits));
  problems.push(...checkEscalation(s, knownUser));
  return problems;
}

/** `after` under the request lifetime (else the request expires first); `to` known approvers or admins of the tenant. */
function checkEscalation(s: TenantSettings, knownUser: (id: string) => boolean): SettingsProblem[] {
  const problems: SettingsProblem[] = [];
  const e = s.escalation;
  if (e) {
    if (e.afterMs < ESCALATION_LIMITS.minAfterMs) problems.push({ field: 'escalation.after', message: 'must be at least 1s' });
    else if (e.afterMs >= s.requestTtlMs) problems.push({ field: 'escalation.after', message: 'must be shorter than the request lifetime (requestTtl)' });
    if (e.to.length === 0) problems.push({ field: 'escalation.to', message: 'escalation needs at least one person' });
    if (new Set(e.to).size !== e.to.length) problems.push({ field: 'escalation.to', message: 'must not list anyone twice' });
    e.to.forEach((id, i) => {
      if (!knownUser(id)) problems.push({ field: `escalation.to.${i}`, message: `${id} is not a known approver or admin of this tenant` });
    });
  }
  const r = s.reminders;
  if (r) {
    if (!Number.isInteger(r.count) || r.count < 0 || r.count > ESCALATION_LIMITS.maxReminders) problems.push({ field: 'reminders.count', message: 'must be a whole number from 0 to 10' });
    if (r.everyMs < ESCALATION_LIMITS.minReminderEveryMs || r.everyMs > ESCALATION_LIMITS.maxReminderEveryMs) {
      problems.push({ field: 'reminders.every', message: 'must be between 1s and 7d' });
    }
  }
  return problems;
}

function checkBreakGlass(b: BreakGlassSetting | undefined, limits: { maxAccessMs: number }): SettingsProblem[] {
  if (!b) return [];
  const problems: SettingsProblem[] = [];
  if (new Set(b.responders).size !== b.responders.length) problems.push({ field: 'breakGlass.responders', message: 'must not list anyone twice' });
  if (b.enabled && b.responders.length === 0) problems.push({ field: 'breakGlass.responders', message: 'break-glass needs at least one responder' });
  if (b.maxDurationMs < SETTINGS_LIMITS.minDurationMs || b.maxDurationMs > limits.maxAccessMs) {
    problems.push({ field: 'breakGlass.maxDuration', message: `must be between 1s and the provider's limit` });
  }
  if (b.reviewWithinMs < BREAK_GLASS_LIMITS.minReviewWithinMs || b.reviewWithinMs > BREAK_GLASS_LIMITS.maxReviewWithinMs) {
    problems.push({ field: 'breakGlass.reviewWithin', message: 'must be between 1s and 30d' });
  }
  return problems;
}

/**
 * Whether a known person could be listed as a tenant's approver: approver or admin AT THAT tenant. A role held at
 * another tenant counts for nothing here.
 */
export function canBeApprover(p: { tenantRoles: ReadonlyArray<{ tenant: string; role: string }> }, tenant: string): boolean {
  return p.tenantRoles.some((g) => g.tenant === tenant && (g.role === 'approver' || g.role === 'admin'));
}

/** The approval policy a tenant's settings put in force now. */
export function policyFromSettings(
  tenant: string,
  version: number,
  s: TenantSettings,
  internalApprovers: readonly string[],
): ApprovalPolicy {
  return normalizePolicy({
    tenant,
    version,
    customerApproval: s.customerApproval,
    approvers: [...s.approvers],
    quorum: s.quorum,
    internalApproval: s.internalApproval,
    internalApprovers: [...internalApprovers],
    internalQuorum: 1,
    ...(s.escalation ? { escalation: s.escalation } : {}),
    ...(s.reminders ? { reminders: s.reminders } : {}),
  });
}

/** A tenant admin's change of settings, as the API hands it to the settings workflow. */
export interface SettingsChange {
  /** Workflow id and audit request id: `settings-<tenant>-<ulid>`. */
  changeId: string;
  tenant: string;
  settings: TenantSettings;
  /** The settings before, for the audit event (null when the tenant opts in). */
  before: TenantSettings | null;
  expectedVersion: number;
  updatedAt: string;
  updatedBy: string;
  /**
   * The API's signature over every other field. The worker applies only a change that verifies: anyone with access
   * to the Temporal namespace could otherwise start this workflow naming any admin and any settings.
   */
  proof?: { keyId: string; signature: string };
}

export interface StoredSettings {
  tenant: string;
  version: number;
  settings: TenantSettings;
  updatedAt: string;
  updatedBy: string;
}

export type SettingsChangeResult =
  | { ok: true; record: StoredSettings }
  | { ok: false; current: StoredSettings | null }
  /** The worker refused the change: not signed by the API, or settings the rules do not allow. Nothing changed. */
  | { ok: false; refused: 'unauthenticated' | 'invalid'; problems: SettingsProblem[] };
