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

export interface Store {
  /**
   * Stores the reservation unless one exists for (principal, key); returns the stored one either way.
   * `created` tells whether this call stored it.
   */
  reserveIdempotencyKey(r: IdempotencyReservation): Promise<IdempotencyReservation & { created: boolean }>;

  /** Inserts the grant unless one exists for its requestId; returns the stored grant either way. */
  putGrant(g: GrantRecord): Promise<GrantRecord>;
  /** The grant of a request, revoked or not, or null. */
  getGrant(requestId: string): Promise<GrantRecord | null>;
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

  close(): Promise<void>;
}
