import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { principalFrom, type Principal } from '../../domain/directory.js';
import type { SessionRecord, SessionStore } from '../../ports/session-store.js';

/** How a session was opened: the facts the ID token gave about the login. */
export interface LoginFacts {
  /** Seconds since the epoch (`auth_time`), when the provider said. */
  authTime?: number;
  amr?: string[];
  acr?: string;
  idToken?: string;
}

/** A session found and still in force. */
export interface LiveSession {
  idHash: string;
  principal: Principal;
  csrfToken: string;
  authTime: string | null;
  amr: string[];
  acr: string | null;
  idToken: string | null;
  expiresAt: string;
  lastSeenAt: string;
}

export type SessionLookup = { ok: true; session: LiveSession } | { ok: false; reason: 'unknown' | 'expired' | 'idle' | 'invalid' };

export interface SessionLimits {
  ttlMs: number;
  idleMs: number;
}

/** SHA-256 hex of a cookie value: what the store keeps. */
export const hashId = (value: string): string => createHash('sha256').update(value).digest('hex');

/** 256 random bits, base64url: a session id, a CSRF token, a sign-in flow id. */
export const randomToken = (): string => randomBytes(32).toString('base64url');

/** Compares two tokens in constant time (of their hashes, so lengths leak nothing either). */
export function sameToken(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** A touch is written at most this often per session: the idle timeout is minutes, so a minute late is fine. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Server-side sessions over the Store: the cookie holds 256 random bits, the store only their hash, the principal as
 * mapped at sign-in, the CSRF token and what the provider said about the login (for step-up).
 */
export function createSessions(store: SessionStore, limits: SessionLimits, clock: () => Date = () => new Date()) {
  return {
    limits,
    /** Opens a session; returns the cookie value (never stored) and the CSRF token. */
    async open(principal: Principal, facts: LoginFacts): Promise<{ id: string; record: SessionRecord }> {
      const now = clock();
      const id = randomToken();
      const record: SessionRecord = {
        idHash: hashId(id),
        principal: { ...principal },
        csrfToken: randomToken(),
        authTime: facts.authTime !== undefined ? new Date(facts.authTime * 1000).toISOString() : null,
        amr: facts.amr ?? [],
        acr: facts.acr ?? null,
        idToken: facts.idToken ?? null,
        createdAt: now.toISOString(),
        lastSeenAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + limits.ttlMs).toISOString(),
      };
      await store.createSession(record);
      return { id, record };
    },

    /** The session behind a cookie value, if it is in force; an ended one is deleted on the spot. */
    async lookup(id: string): Promise<SessionLookup> {
      const idHash = hashId(id);
      const row = await store.getSession(idHash);
      if (!row) return { ok: false, reason: 'unknown' };
      const now = clock().getTime();
      if (now >= Date.parse(row.expiresAt)) {
        await store.deleteSession(idHash);
        return { ok: false, reason: 'expired' };
      }
      if (now - Date.parse(row.lastSeenAt) >= limits.idleMs) {
        await store.deleteSession(idHash);
        return { ok: false, reason: 'idle' };
      }
      // Rows are checked on the way out too: a row that does not read as a principal signs nobody in.
      const principal = principalFrom(row.principal);
      if (!principal) return { ok: false, reason: 'invalid' };
      if (now - Date.parse(row.lastSeenAt) >= TOUCH_EVERY_MS) await store.touchSession(idHash, new Date(now).toISOString());
      return {
        ok: true,
        session: { idHash, principal, csrfToken: row.csrfToken, authTime: row.authTime, amr: row.amr, acr: row.acr, idToken: row.idToken, expiresAt: row.expiresAt, lastSeenAt: row.lastSeenAt },
      };
    },

    async end(idHash: string): Promise<void> {
      await store.deleteSession(idHash);
    },

    /** Deletes ended sessions and abandoned sign-ins (call now and then). */
    async purge(): Promise<number> {
      return store.deleteExpiredSessions(clock().toISOString());
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
