/** Grants and revokes access at a target system. Both calls are idempotent. */
export interface GrantInput {
  requestId: string;
  tenant: string;
  resource: string;
  principal: string;
  /** The window length; the provider starts it when access really exists. */
  durationMs: number;
  /** ISO-8601 UTC: the window ends by then at the latest (the approvers' `until`), whenever it started. */
  endsBy?: string;
}

/** Where a window that starts at `grantedAt` ends: `durationMs` later, or at `endsBy` if that is sooner. */
export function windowEnd(grantedAt: Date, input: Pick<GrantInput, 'durationMs' | 'endsBy'>): Date {
  const end = grantedAt.getTime() + input.durationMs;
  const by = input.endsBy === undefined ? Number.NaN : Date.parse(input.endsBy);
  return new Date(Number.isFinite(by) ? Math.min(end, by) : end);
}

/** `grantAccessNow`'s answer: granted (as the target says), or not (why: the workflow then grants the usual way). */
export type GrantNow = { granted: true; grantedAt: string; endsAt: string } | { granted: false; error: string };

export interface GrantResult {
  /** ISO-8601 UTC. */
  grantedAt: string;
  /** ISO-8601 UTC, also enforced at the target. */
  endsAt: string;
  /**
   * Set by providers that issue a credential (e.g. a PostgreSQL login): the key under which the credential is kept
   * in the CredentialVault (the request id). Never the secret itself, because this result lands in workflow
   * history. Absent when the provider issues nothing the requester has to fetch.
   */
  credentialRef?: string;
}

/** What a target says about one request's grant; used to check that a revoke really happened. */
export interface GrantVerification {
  /** Whether the access object (role, account, token) still exists at the target. */
  present: boolean;
  /** Open sessions of that access object at the target (0 where the target has no such notion). */
  sessions: number;
}

export interface GrantProvider {
  /** Grants access; a repeated call for the same requestId returns the first call's result. */
  grant(input: GrantInput): Promise<GrantResult>;
  /** Removes access; revoking twice or revoking an unknown request succeeds. */
  revoke(input: { requestId: string; revokedAt: string }): Promise<void>;
  /**
   * Optional: moves the end of an existing grant to `endsAt` (ISO-8601 UTC) at the target and returns the end as
   * it now stands there. Repeating it with the same `endsAt` changes nothing. Fails (non-retryably) when the request
   * has no grant at the target. Providers without it cannot extend; the caller must check for its presence.
   */
  extend?(input: { requestId: string; endsAt: string }): Promise<{ endsAt: string }>;
  /** Optional: asks the target whether the request's access still exists, e.g. after a revoke. */
  verify?(input: { requestId: string }): Promise<GrantVerification>;
  /**
   * Optional: the request ids that have access objects at the target made by Lockbox (for a reconciler that revokes
   * what no workflow owns any more). Objects not made by Lockbox are never listed.
   */
  listGranted?(): Promise<string[]>;
  /**
   * Optional, for targets that keep sessions open past a login's expiry (PostgreSQL): ends the open sessions of
   * access whose window has ended at the target, whether or not its revoke has run; answers how many. The worker
   * calls it every `LOCKBOX_TARGET_SESSION_SWEEP` (src/main/session-sweep.ts). Never touches access Lockbox did not make.
   */
  endExpiredSessions?(): Promise<number>;
  /** Optional: releases connections the provider holds. Call once at shutdown. */
  close?(): Promise<void>;
}
