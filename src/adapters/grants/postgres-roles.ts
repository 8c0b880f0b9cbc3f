import { createHash } from 'node:crypto';
import pg from 'pg';
import { GrantTargetError, NonRetryableGrantError, redact } from './errors.js';

/** PostgreSQL truncates identifiers beyond 63 bytes; we never let it, so two requests never share a role. */
const MAX_IDENTIFIER = 63;
const MARK = 'lockbox-grant';

/** What Lockbox writes into `COMMENT ON ROLE`, so a reconciler tells its roles apart from hand-made ones. */
export interface RoleComment {
  requestId: string;
  /** ISO-8601 UTC: the first grant's time, returned again by repeated grants. */
  grantedAt: string;
}

/** Role prefixes are plain lower-case identifiers, so role names never need quoting in psql by hand. */
export function checkRolePrefix(prefix: string): string {
  if (!/^[a-z_][a-z0-9_]{0,29}$/.test(prefix)) {
    throw new NonRetryableGrantError('postgres grant provider: rolePrefix must match [a-z_][a-z0-9_]{0,29}');
  }
  return prefix;
}

/**
 * The role of a request: prefix, the request id folded to [a-z0-9_] and cut to fit, then 8 hex digits of its
 * SHA-256, so ids that fold or cut to the same text still get different roles.
 */
export function postgresRoleName(prefix: string, requestId: string): string {
  const hash = createHash('sha256').update(requestId).digest('hex').slice(0, 8);
  const room = MAX_IDENTIFIER - checkRolePrefix(prefix).length - hash.length - 1;
  const folded = requestId.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, room);
  return `${prefix}${folded}_${hash}`;
}

/** The comment text for a Lockbox role. */
export function roleComment(c: RoleComment): string {
  return JSON.stringify({ [MARK]: 1, requestId: c.requestId, grantedAt: c.grantedAt });
}

/** The comment's content if it is a Lockbox comment, otherwise null (hand-made roles, foreign comments). */
export function parseRoleComment(text: string | null | undefined): RoleComment | null {
  if (!text) return null;
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return null;
    const o = v as Record<string, unknown>;
    if (o[MARK] !== 1 || typeof o.requestId !== 'string' || typeof o.grantedAt !== 'string') return null;
    return { requestId: o.requestId, grantedAt: o.grantedAt };
  } catch {
    return null;
  }
}

/** A role as the grant logic needs to see it. */
export interface RoleState {
  canLogin: boolean;
  validUntil: Date | null;
  comment: RoleComment | null;
}

/** Reads a role, or null if there is none. pg_roles is readable by everyone, so no extra privilege is needed. */
export async function readRole(c: pg.ClientBase, role: string): Promise<RoleState | null> {
  const { rows } = await c.query<{ rolcanlogin: boolean; rolvaliduntil: Date | null; comment: string | null }>(
    `SELECT rolcanlogin, rolvaliduntil, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1`,
    [role],
  );
  const row = rows[0];
  if (!row) return null;
  const until = row.rolvaliduntil instanceof Date && !Number.isNaN(row.rolvaliduntil.getTime()) ? row.rolvaliduntil : null;
  return { canLogin: row.rolcanlogin, validUntil: until, comment: parseRoleComment(row.comment) };
}

/** Quotes an identifier (role, schema, database); never splice names into SQL any other way. */
export const ident = (name: string): string => pg.escapeIdentifier(name);
/** Quotes a literal (password verifier, timestamp, comment). */
export const literal = (value: string): string => pg.escapeLiteral(value);

/**
 * SQLSTATE classes that retrying cannot fix: data exceptions (22), authorisation (28), unknown database (3D) or
 * schema (3F), access rules and missing objects (42). Everything else (connection loss, shutdown, lock timeouts,
 * resources) may heal, so the activity retries it.
 */
const PERMANENT_CLASSES = new Set(['22', '28', '3D', '3F', '42']);

/**
 * Turns anything a pg call threw into a safe error: the step, the SQLSTATE (or Node's network code) and, unless the
 * step carried a password, the server's short message with every known secret blanked. Never the URL, never a cause.
 */
export function safePgError(err: unknown, step: string, opts: { secrets: readonly string[]; quiet?: boolean }): GrantTargetError {
  if (err instanceof GrantTargetError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' && /^[0-9A-Z_]{2,40}$/.test(e.code) ? e.code : undefined;
  const said = !opts.quiet && typeof e.message === 'string' ? `: ${redact(e.message, opts.secrets).slice(0, 200)}` : '';
  const message = `postgres grant provider: ${step} failed${code ? ` (${code})` : ''}${said}`;
  const permanent = code !== undefined && /^[0-9A-Z]{5}$/.test(code) && PERMANENT_CLASSES.has(code.slice(0, 2));
  return permanent ? new NonRetryableGrantError(message, code) : new GrantTargetError(message, code);
}
