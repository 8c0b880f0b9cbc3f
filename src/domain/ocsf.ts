import { AuditEventType, type AuditEvent } from './audit.js';

/**
 * Lockbox audit events in OCSF (Open Cybersecurity Schema Framework) shape, so a SIEM that reads OCSF (Amazon
 * Security Lake, Splunk's OCSF add-on, Sentinel's ASIM mappings, ...) takes them without glue. Pure.
 *
 * Class chosen, OCSF 1.1.0: "User Access Management", class_uid 3005, in category 3 "Identity & Access
 * Management". It reports "management updates to a user's privileges", which is what a just-in-time grant is:
 *   access.granted  -> activity_id 1 "Assign Privileges"
 *   access.revoked  -> activity_id 2 "Revoke Privileges"
 *   everything else (request created / approved / rejected / expired / cancelled, notifications, failures)
 *                   -> activity_id 99 "Other", with activity_name = the Lockbox event type
 * type_uid = class_uid * 100 + activity_id (300501, 300502, 300599). "Account Change" (3001) was the other
 * candidate, but its activities are about the account itself (create, password, MFA), not access to a resource.
 * OCSF 1.9 deprecates 3005 for "User Management" (3007, activities 14 Assign / 15 Remove Privileges); moving there
 * means changing the constants below and OCSF_VERSION.
 */
export const OCSF_VERSION = '1.1.0';
const CLASS = { uid: 3005, name: 'User Access Management' } as const;
const CATEGORY = { uid: 3, name: 'Identity & Access Management' } as const;
const ACTIVITY = { assign: [1, 'Assign Privileges'], revoke: [2, 'Revoke Privileges'], other: [99, 'Other'] } as const;

/** OCSF severity_id values used here. */
const Severity = { informational: [1, 'Informational'], low: [2, 'Low'], medium: [3, 'Medium'] } as const;

/** An OCSF event as produced by `toOcsf`; attribute names are OCSF's. */
export interface OcsfEvent {
  class_uid: number;
  class_name: string;
  category_uid: number;
  category_name: string;
  activity_id: number;
  activity_name: string;
  type_uid: number;
  type_name: string;
  /** Epoch milliseconds. */
  time: number;
  severity_id: number;
  severity: string;
  status_id: 1 | 2;
  status: 'Success' | 'Failure';
  message: string;
  actor: { user: OcsfUser };
  /** The user whose privileges the request is about: the requester, when the event says who that is. */
  user: OcsfUser;
  privileges?: string[];
  resources: { uid?: string; name: string; type: string }[];
  metadata: {
    version: string;
    uid: string;
    correlation_uid: string;
    sequence: number;
    product: { name: 'Lockbox'; vendor_name: 'Lockbox' };
  };
  /** What OCSF has no attribute for: the tenant, the Lockbox type and the event's own details. */
  unmapped: { tenant: string; lockbox_type: string; details: Record<string, unknown> };
}

/** OCSF user; type_id 1 User, 3 System, 0 Unknown. */
export interface OcsfUser {
  name?: string;
  uid?: string;
  type_id: 0 | 1 | 3;
  type: 'Unknown' | 'User' | 'System';
}

function person(name: string | undefined): OcsfUser {
  if (name === undefined) return { type_id: 0, type: 'Unknown' };
  if (name === 'system') return { name, uid: name, type_id: 3, type: 'System' };
  return { name, uid: name, type_id: 1, type: 'User' };
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Failures and denials are Failure with a raised severity; a rejection is routine but worth a look. */
function outcome(type: string): { status: 1 | 2; severity: readonly [number, string] } {
  if (type.endsWith('failed') || type.endsWith('denied')) return { status: 2, severity: Severity.medium };
  if (type === AuditEventType.requestRejected) return { status: 1, severity: Severity.low };
  return { status: 1, severity: Severity.informational };
}

/** Maps one audit event to OCSF User Access Management (see the module comment for the chosen ids). */
export function toOcsf(e: AuditEvent): OcsfEvent {
  const [activityId, activityName] =
    e.type === AuditEventType.accessGranted
      ? ACTIVITY.assign
      : e.type === AuditEventType.accessRevoked
        ? ACTIVITY.revoke
        : ACTIVITY.other;
  const { status, severity } = outcome(e.type);
  const requester =
    text(e.details.requester) ??
    text(e.details.principal) ??
    (e.type === AuditEventType.requestCreated ? e.actor : undefined);
  const resource = text(e.details.resource);
  const resources = [{ uid: e.requestId, name: e.requestId, type: 'Lockbox Access Request' }];
  if (resource !== undefined) resources.push({ uid: resource, name: resource, type: 'Tenant Resource' });
  return {
    class_uid: CLASS.uid,
    class_name: CLASS.name,
    category_uid: CATEGORY.uid,
    category_name: CATEGORY.name,
    activity_id: activityId,
    activity_name: activityId === ACTIVITY.other[0] ? e.type : activityName,
    type_uid: CLASS.uid * 100 + activityId,
    type_name: `${CLASS.name}: ${activityName}`,
    time: Date.parse(e.time),
    severity_id: severity[0],
    severity: severity[1],
    status_id: status,
    status: status === 1 ? 'Success' : 'Failure',
    message: `${e.type} by ${e.actor} on ${e.requestId} in tenant ${e.tenant}`,
    actor: { user: person(e.actor) },
    user: person(requester),
    ...(activityId === ACTIVITY.other[0] ? {} : { privileges: ['lockbox:access'] }),
    resources,
    metadata: {
      version: OCSF_VERSION,
      uid: e.id,
      correlation_uid: e.requestId,
      sequence: e.seq,
      product: { name: 'Lockbox', vendor_name: 'Lockbox' },
    },
    unmapped: { tenant: e.tenant, lockbox_type: e.type, details: e.details },
  };
}
