import { z } from 'zod';
import { TARGET_NAME_PATTERN } from './resources.js';
import { BREAK_GLASS_LIMITS, ESCALATION_LIMITS, NOTIFY_CHANNELS, RECORD_RETENTION, SETTINGS_LIMITS, STEP_UP_LIMITS, type TenantSettings } from './settings.js';

/**
 * A resource's pick in a tenant's settings: the name of a target the operator declared (src/domain/resources.ts).
 * Nothing else: connection variables, URLs and secrets are the operator's, never a tenant's.
 */
export const ResourceSettingSchema = z.strictObject({
  target: z.string().regex(TARGET_NAME_PATTERN, 'must name a grant target the operator declared for this tenant, e.g. contoso-crm'),
});

/**
 * A tenant's settings as stored (durations in milliseconds). The API writes only this shape, but a row can also
 * come from an older version, a hand edit or a forged settings workflow, so every reader checks it before use:
 * a bad row is that tenant's problem (a clear error naming the field), never a crash for everyone.
 */
export const StoredTenantSettingsSchema = z.strictObject({
  customerApproval: z.boolean(),
  approvers: z.array(z.string().regex(/^[\w.+-]+@[\w.-]+$/, 'must be a user id like alice@contoso.com')).max(50),
  quorum: z.number().int().min(1).max(50),
  requestTtlMs: z.number().int().min(SETTINGS_LIMITS.minDurationMs).max(SETTINGS_LIMITS.maxRequestTtlMs),
  maxAccessMs: z.number().int().min(SETTINGS_LIMITS.minDurationMs).max(366 * 24 * 3_600_000),
  requireTicket: z.boolean(),
  internalApproval: z.boolean(),
  // The pick's shape here; whether the operator allows it for the tenant, where it is used (API and worker).
  resources: z.record(z.string().max(256), ResourceSettingSchema).optional(),
  channels: z.array(z.enum(NOTIFY_CHANNELS)).max(3).optional(),
  stepUp: z
    .strictObject({ maxAgeMs: z.number().int().min(STEP_UP_LIMITS.minMs).max(STEP_UP_LIMITS.maxMs), requireMfa: z.boolean() })
    .optional(),
  breakGlass: z
    .strictObject({
      enabled: z.boolean(),
      responders: z.array(z.string().regex(/^[\w.+-]+@[\w.-]+$/, 'must be a user id like eve@lockbox.dev')).max(BREAK_GLASS_LIMITS.maxResponders),
      maxDurationMs: z.number().int().min(SETTINGS_LIMITS.minDurationMs).max(366 * 24 * 3_600_000),
      reviewWithinMs: z.number().int().min(BREAK_GLASS_LIMITS.minReviewWithinMs).max(BREAK_GLASS_LIMITS.maxReviewWithinMs),
    })
    .optional(),
  escalation: z
    .strictObject({
      afterMs: z.number().int().min(ESCALATION_LIMITS.minAfterMs).max(SETTINGS_LIMITS.maxRequestTtlMs),
      to: z.array(z.string().regex(/^[\w.+-]+@[\w.-]+$/, 'must be a user id like carol@contoso.com')).min(1).max(ESCALATION_LIMITS.maxTo),
    })
    .optional(),
  reminders: z
    .strictObject({
      count: z.number().int().min(0).max(ESCALATION_LIMITS.maxReminders),
      everyMs: z.number().int().min(ESCALATION_LIMITS.minReminderEveryMs).max(ESCALATION_LIMITS.maxReminderEveryMs),
    })
    .optional(),
  recordRetentionMs: z.number().int().min(RECORD_RETENTION.minMs).max(RECORD_RETENTION.maxMs).optional(),
})
  // A stored row whose escalation comes after the lifetime would never escalate: refused here too, naming the field.
  .refine((s) => !s.escalation || s.escalation.afterMs < s.requestTtlMs, { path: ['escalation', 'afterMs'], message: 'must be shorter than the request lifetime (requestTtlMs)' });

export type SettingsCheck = { ok: true; settings: TenantSettings } | { ok: false; problems: { field: string; message: string }[] };

/** Checks settings read from the store or handed to the worker; pure, never throws. */
export function checkStoredSettings(value: unknown): SettingsCheck {
  const parsed = StoredTenantSettingsSchema.safeParse(value);
  if (parsed.success) return { ok: true, settings: parsed.data as TenantSettings };
  return {
    ok: false,
    problems: parsed.error.issues.map((i) => ({ field: i.path.map(String).join('.') || '(settings)', message: i.message })),
  };
}
