/**
 * The portal's server-side sessions and its sign-ins in progress, part of the Store port (SQLite or PostgreSQL
 * like the rest). Only hashes of the cookie values are stored: a copy of the table signs nobody in.
 */

/** A signed-in person's session. `principal` is kept as the API mapped it at sign-in (JSON). */
export interface SessionRecord {
  /** SHA-256 (hex) of the session cookie's value. */
  idHash: string;
  /** Who signed in: the API's Principal as mapped from the ID token at sign-in, stored as JSON. */
  principal: { id: string } & Record<string, unknown>;
  /** Sent back by the portal in `X-CSRF-Token` on every state-changing call made with the cookie. */
  csrfToken: string;
  /** ISO-8601 UTC: when the person last authenticated at the identity provider (`auth_time`), or null if not said. */
  authTime: string | null;
  /** Authentication methods (`amr`), as the identity provider said. */
  amr: string[];
  acr: string | null;
  /** The ID token, kept only as `id_token_hint` for the provider's logout. */
  idToken: string | null;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** ISO-8601 UTC; moved forward on use (idle timeout). */
  lastSeenAt: string;
  /** ISO-8601 UTC: the absolute end, whatever the activity. */
  expiresAt: string;
}

/** A sign-in in progress: what the callback must find to accept the provider's answer (one use). */
export interface LoginFlowRecord {
  /** SHA-256 (hex) of the sign-in cookie's value, which binds the flow to the browser that started it. */
  idHash: string;
  state: string;
  nonce: string;
  /** PKCE code verifier (secret until the code is redeemed). */
  codeVerifier: string;
  /** Same-origin path to return to after sign-in. */
  returnTo: string;
  /** Seconds, when the sign-in asked for a fresh login (`max_age`). */
  maxAge: number | null;
  /** ISO-8601 UTC. */
  expiresAt: string;
}

export interface SessionStore {
  /** Stores a new session (idHash is unique: a collision is an error, never an overwrite). */
  createSession(s: SessionRecord): Promise<void>;
  getSession(idHash: string): Promise<SessionRecord | null>;
  /** Moves lastSeenAt forward (never backwards); an unknown id changes nothing. */
  touchSession(idHash: string, lastSeenAt: string): Promise<void>;
  /** Deleting an unknown or already deleted session succeeds. */
  deleteSession(idHash: string): Promise<void>;
  putLoginFlow(f: LoginFlowRecord): Promise<void>;
  /** Returns the flow and deletes it, atomically: of two callers, at most one gets it. */
  takeLoginFlow(idHash: string): Promise<LoginFlowRecord | null>;
  /** Deletes sessions and sign-in flows whose absolute end is at or before `now`; returns how many. */
  deleteExpiredSessions(now: string): Promise<number>;
}
