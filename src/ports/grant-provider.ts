/** Grants and revokes access at a target system. Both calls are idempotent. */
export interface GrantInput {
  requestId: string;
  tenant: string;
  resource: string;
  principal: string;
  /** The window length; the provider starts it when access really exists. */
  durationMs: number;
}

export interface GrantResult {
  /** ISO-8601 UTC. */
  grantedAt: string;
  /** ISO-8601 UTC, also enforced at the target. */
  endsAt: string;
}

export interface GrantProvider {
  /** Grants access; a repeated call for the same requestId returns the first call's result. */
  grant(input: GrantInput): Promise<GrantResult>;
  /** Removes access; revoking twice or revoking an unknown request succeeds. */
  revoke(input: { requestId: string; revokedAt: string }): Promise<void>;
}
