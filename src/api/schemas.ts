import { z } from 'zod';
import { parseDuration } from '../domain/duration.js';
import { ProviderRole, TenantRole } from '../domain/directory.js';
import { RequestStatus } from '../domain/request.js';
import { ResourceSettingSchema } from '../domain/settings-schema.js';
import { NOTIFY_CHANNELS, RECORD_RETENTION, STEP_UP_LIMITS } from '../domain/settings.js';

/** One zod schema per endpoint: the single source of validation (and later of the OpenAPI document). */

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

export const TenantId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a tenant id: lowercase letters, digits and -');
/** Resources are `kind:name`, e.g. `mailbox:bob@contoso.com` or `db:crm`. */
export const ResourceId = z
  .string()
  .max(256, 'must be at most 256 characters')
  .regex(/^[a-z][a-z0-9-]*:[\w.@:/+-]+$/, 'must look like kind:name, e.g. mailbox:bob@contoso.com');
const UserId = z.string().regex(/^[\w.+-]+@[\w.-]+$/, 'must be a user id like eve@lockbox.dev');

export const DurationText = z
  .string()
  .max(32)
  .refine((s) => parseDuration(s) !== null, 'must be a duration like 45s, 30m, 4h or PT4H');

export const CreateRequestBody = z.strictObject({
  tenant: TenantId,
  resource: ResourceId,
  reason: text(2000),
  ticket: text(128).optional(),
  duration: DurationText,
  /**
   * Break-glass (docs/break-glass.md): granted at once without approval, for a responder the tenant listed, for at
   * most its `breakGlass.maxDuration`; reason and ticket required; reviewed by the tenant afterwards.
   */
  emergency: z.boolean().optional().describe('break-glass: access at once, without approval, reviewed afterwards (responders only)'),
});
export type CreateRequestBody = z.infer<typeof CreateRequestBody>;

export const ApproveBody = z.strictObject({
  comment: text(2000).optional(),
  until: z.iso
    .datetime({ offset: true, message: 'must be an ISO-8601 time like 2026-12-04T17:00:00Z' })
    .optional()
    .describe('the latest the access may last: the window ends by then, whatever the duration asked for (at least 10s from now)'),
});
export const RejectBody = z.strictObject({ reason: text(2000) });
export const RevokeBody = z.strictObject({ reason: text(2000).optional() });
export const CancelBody = z.strictObject({ reason: text(2000).optional() });
export const ExtendBody = z.strictObject({ duration: DurationText, reason: text(2000) });
/** A tenant approver's or admin's verdict on an emergency (break-glass) request. */
export const ReviewBody = z.strictObject({ verdict: z.enum(['justified', 'unjustified']), comment: text(2000).optional() });

export const RequestIdParam = z.string().regex(/^req-[a-z0-9-]+-[0-9A-HJKMNP-TV-Z]{26}$/, 'is not a request id');

const IsoInstant = z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time, e.g. 2026-12-01T00:00:00Z' });

/** `GET /v1/requests`: filters, a period of creation [from, to), and paging after the last id of a page. */
export const ListRequestsQuery = z
  .strictObject({
    tenant: TenantId.optional(),
    status: z.enum(Object.values(RequestStatus) as [RequestStatus, ...RequestStatus[]]).optional(),
    requester: UserId.optional(),
    resource: ResourceId.optional(),
    from: IsoInstant.optional().describe('created at or after this instant'),
    to: IsoInstant.optional().describe('created before this instant'),
    after: RequestIdParam.optional().describe('the `next` of the previous page: the list goes on after that request'),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.to) > Date.parse(q.from), { message: 'must be after from', path: ['to'] });

export const AccessCheckQuery = z.strictObject({ tenant: TenantId, resource: ResourceId });

export const IdempotencyKeyHeader = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 visible ASCII characters');

/** `breakGlass` in a settings change; omitted: as it is (off unless turned on). */
export const BreakGlassBody = z
  .strictObject({
    enabled: z.boolean(),
    responders: z.array(UserId).max(50),
    maxDuration: DurationText,
    reviewWithin: DurationText,
  })
  .describe('break-glass: responders (user ids) may take access at once for at most maxDuration; reviewed within reviewWithin after it ends, e.g. {"enabled":true,"responders":["eve@lockbox.dev"],"maxDuration":"1h","reviewWithin":"24h"}');

/** `escalation` in a settings change; omitted: as it is; `null`: none. */
export const EscalationBody = z
  .strictObject({ after: DurationText, to: z.array(UserId).min(1, 'escalation needs at least one person').max(50) })
  .describe('a stage without a decision for `after` (shorter than requestTtl) is escalated: the people on `to` (approvers or admins of the tenant) are told and may decide in it, e.g. {"after":"4h","to":["carol@contoso.com"]}');

/** `reminders` in a settings change; omitted: as they are; `null`: the built-in single reminder. */
export const RemindersBody = z
  .strictObject({ count: z.number().int('must be a whole number').min(0).max(10), every: DurationText })
  .describe('reminders to the undecided approvers of a stage: `count` of them, `every` apart from the stage\'s start, e.g. {"count":3,"every":"2h"}; null: one, an hour before expiry');

export const SettingsBody = z.strictObject({
  customerApproval: z.boolean(),
  approvers: z.array(z.string().regex(/^[\w.+-]+@[\w.-]+$/, 'must be a user id like alice@contoso.com')).max(50),
  quorum: z.number().int('must be a whole number').min(1, 'must be at least 1').max(50),
  requestTtl: DurationText,
  maxAccess: DurationText,
  requireTicket: z.boolean(),
  internalApproval: z.boolean(),
  /**
   * Per resource, the grant target it goes through: `{"db:crm": {"target": "contoso-crm"}}`, a target the operator
   * declared for this tenant (others: 403 naming the field). Undeclared resources use the built-in grant store.
   * Omitted: as they are; `{}`: none.
   */
  resources: z
    .record(ResourceId, ResourceSettingSchema)
    .optional()
    .describe('per resource, the declared grant target it goes through, e.g. {"db:crm":{"target":"contoso-crm"}}; others use the built-in grant store'),
  /** External notification channels; omitted: as they are (every configured channel by default). */
  channels: z.array(z.enum(NOTIFY_CHANNELS)).max(3).optional(),
  /**
   * Step-up for this tenant's decisions (approve, reject, revoke): a login at most `maxAge` old (the stricter of this
   * and the deployment's), and with a second factor when `requireMfa`. Omitted: as it is; `null`: none (the
   * deployment's rule alone).
   */
  stepUp: z
    .strictObject({
      maxAge: DurationText.refine((t) => {
        const ms = parseDuration(t) ?? 0;
        return ms >= STEP_UP_LIMITS.minMs && ms <= STEP_UP_LIMITS.maxMs;
      }, 'must be between 10s and 24h'),
      requireMfa: z.boolean(),
    })
    .nullable()
    .optional()
    .describe('how fresh and how strong a login must be to decide, e.g. {"maxAge":"5m","requireMfa":true}; null: the deployment\'s rule alone'),
  breakGlass: BreakGlassBody.optional(),
  escalation: EscalationBody.nullable().optional(),
  recordRetention: DurationText.refine((t) => {
    const ms = parseDuration(t) ?? 0;
    return ms >= RECORD_RETENTION.minMs && ms <= RECORD_RETENTION.maxMs;
  }, 'must be between 1d and 3660d')
    .nullable()
    .optional()
    .describe('how long a closed request\'s record is kept, e.g. "730d"; omitted: as it is; null: the default, 400 days'),
  reminders: RemindersBody.nullable().optional(),
});
export type SettingsBody = z.infer<typeof SettingsBody>;

export const TenantParam = TenantId;

export const AuditQuery = z.strictObject({
  tenant: TenantId.optional(),
  after: z.string().max(200).optional(),
  type: z.string().regex(/^[a-z_]+\.[a-z_]+$/, 'must be an event type like request.approved').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `GET /v1/tenants/{tenant}/evidence`: requests filed in [from, to), at most 400 days. */
export const EvidenceQuery = z
  .strictObject({
    from: IsoInstant,
    to: IsoInstant,
    format: z.enum(['json', 'csv', 'html']).default('json'),
  })
  .refine((q) => Date.parse(q.to) > Date.parse(q.from), { message: 'must be after from', path: ['to'] })
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) <= 400 * 24 * 3_600_000, { message: 'the period is at most 400 days', path: ['to'] });

/** `GET /v1/me`: who the bearer token is (an answer, not an input: the OpenAPI document shows it). */
export const MeResponse = z.object({
  id: z.string().describe('the person, as the audit trail names them'),
  roles: z.array(z.enum(ProviderRole)).describe('provider-side roles, valid at every tenant'),
  tenantRoles: z
    .array(z.object({ tenant: TenantId, role: z.enum(TenantRole) }))
    .describe('customer-side roles, each held at one tenant only (an admin may also approve there)'),
  temporalUi: z
    .object({ url: z.string(), namespace: z.string() })
    .optional()
    .describe('operators only: the Temporal UI; a request is at `<url>/namespaces/<namespace>/workflows/<request id>`'),
});
