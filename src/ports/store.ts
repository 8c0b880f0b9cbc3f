import type { StoredSettings, TenantSettings } from '../domain/settings.js';
import type { RecordStore } from './record-store.js';
import type { SessionStore } from './session-store.js';

export type { TenantSettings };
export type { LoginFlowRecord, SessionRecord, SessionStore } from './session-store.js';
export type { RecordListQuery, RecordStore, RecordWrite, RequestRecord } from './record-store.js';

/**
 * The API's and activities' own state beside Temporal: idempotency keys, the built-in grant store and the in-app
 * notification list. SQLite in the data dir by default, PostgreSQL when several replicas share it.
 * Every write is idempotent: repeating it with the same key changes nothing and returns what is stored.
 */

/** An idempotency key maps one principal's retried create call onto one request id. */
export interface IdempotencyReservation {
  principal: string;
  key: string;
  /** Hash of the request body: the same key with another body is a client error, not a retry. */
  fingerprint: string;
  requestId: string;
}

/** A grant in Lockbox's built-in grant store. `endsAt` is enforced by every read, revoke or not. */
export interface GrantRecord {
  requestId: string;
  tenant: string;
  resource: string;
  principal: string;
  /** ISO-8601 UTC. */
  grantedAt: string;
  /** ISO-8601 UTC; access is denied from this instant on even if revoke never ran. */
  endsAt: string;
  /** ISO-8601 UTC, or null while not revoked. */
  revokedAt: string | null;
}

/** A notification kept for the in-app list (the embedded default channel). */
export interface NotificationRecord {
  /** Deterministic (e.g. `<requestId>:notify:<seq>:<recipient>`), so a retried activity stores it once. */
  id: string;
  recipient: string;
  tenant: string;
  requestId: string;
  kind: string;
  subject: string;
  body: string;
  /** ISO-8601 UTC. */
  createdAt: string;
}


/** Stored settings with an optimistic-concurrency version (1 for the first write). */
export type TenantSettingsRecord = StoredSettings;

/** A person Lockbox has seen (demo directory or a verified token), for "approvers exist" checks. */
export interface UserRecord {
  id: string;
  /** Provider-side roles (engineer, internal_approver, operator), valid everywhere. */
  roles: string[];
  /** Customer-side roles, each held at one tenant: `{tenant: 'contoso', role: 'admin'}`. */
  tenantRoles: Array<{ tenant: string; role: string }>;
  /** ISO-8601 UTC. */
  lastSeenAt: string;
}

/** Sessions and sign-ins in progress: see session-store.ts. Request records: see record-store.ts. */
export interface Store extends SessionStore, RecordStore {
  /**
   * Stores the reservation unless one exists for (principal, key); returns the stored one either way.
   * `created` tells whether this call stored it.
   */
  reserveIdempotencyKey(r: IdempotencyReservation): Promise<IdempotencyReservation & { created: boolean }>;

  /**
   * Claims a request id for one workflow run, forever: stores (requestId, runId) unless the id is claimed already,
   * and returns the run id that owns it (this one, or the one that claimed it first).
   */
  claimRequestRun(requestId: string, runId: string): Promise<string>;
  /** The run that owns a request id, or null when no run has claimed it (yet). */
  getRequestRun(requestId: string): Promise<string | null>;

  /**
   * Break-glass's daily limit, exact under concurrency (docs/break-glass.md): takes a slot for `requestId` unless
   * `requester` already holds `limit` slots at `tenant` taken at or after `since`. Taking the same request id again
   * (a retried create) succeeds without a second slot. Answers how many slots count against the limit now.
   */
  takeEmergencySlot(q: { tenant: string; requester: string; requestId: string; at: string; since: string; limit: number }): Promise<{ ok: boolean; used: number }>;

  /** Inserts the grant unless one exists for its requestId; returns the stored grant either way. */
  putGrant(g: GrantRecord): Promise<GrantRecord>;
  /** The grant of a request, revoked or not, or null. */
  getGrant(requestId: string): Promise<GrantRecord | null>;
  /**
   * Moves the end of a grant that is not revoked to `endsAt`; returns the grant as stored afterwards (null for an
   * unknown request). Repeating it changes nothing more.
   */
  extendGrant(requestId: string, endsAt: string): Promise<GrantRecord | null>;
  /** Request ids of grants not revoked yet (whatever their endsAt), for the reconciler. */
  listUnrevokedGrants(): Promise<string[]>;
  /** Sets revokedAt if not set yet; revoking an unknown or already revoked grant succeeds and changes nothing. */
  revokeGrant(requestId: string, revokedAt: string): Promise<void>;
  /**
   * Grants of this principal on (tenant, resource) that are in force at `now`: not revoked and `endsAt > now`.
   * Latest-ending first.
   */
  findActiveGrants(q: { tenant: string; resource: string; principal: string; now: string }): Promise<GrantRecord[]>;

  /** Inserts the notification unless its id exists. */
  addNotification(n: NotificationRecord): Promise<void>;
  /** Newest first. */
  listNotifications(q: { recipient: string; limit: number }): Promise<NotificationRecord[]>;

  /** The tenant's settings, or null for a tenant that has not opted in. */
  getTenantSettings(tenant: string): Promise<TenantSettingsRecord | null>;
  /** All tenants' settings, by tenant id. */
  listTenantSettings(): Promise<TenantSettingsRecord[]>;
  /**
   * Writes settings if the stored version is `expectedVersion` (0: none stored yet), as version expectedVersion + 1.
   * Otherwise stores nothing and returns the current record, so two admins never overwrite each other unseen.
   */
  putTenantSettings(input: {
    tenant: string;
    settings: TenantSettings;
    expectedVersion: number;
    updatedAt: string;
    updatedBy: string;
  }): Promise<{ ok: true; record: TenantSettingsRecord } | { ok: false; current: TenantSettingsRecord | null }>;

  /** Inserts or refreshes a user (roles and tenant roles replaced, lastSeenAt moved forward only). */
  upsertUser(u: UserRecord): Promise<void>;
  getUser(id: string): Promise<UserRecord | null>;
  /** Known users who hold this role at this tenant (e.g. its admins, told every outcome), by id. */
  listUsers(q: { tenant: string; role: string }): Promise<UserRecord[]>;

  close(): Promise<void>;
}
