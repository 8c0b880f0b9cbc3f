import { randomBytes } from 'node:crypto';
import type { CredentialVault } from '../../ports/credential-vault.js';
import { windowEnd, type GrantInput, type GrantProvider, type GrantResult } from '../../ports/grant-provider.js';
import { checkDuration, GrantTargetError, NonRetryableGrantError } from './errors.js';
import { openAdminConnection, type Step } from './postgres-admin.js';
import { checkRolePrefix, ident, literal, parseRoleComment, postgresRoleName, readRole, roleComment, type RoleState } from './postgres-roles.js';
import { scramSha256Verifier } from './scram.js';

/** How to reach a customer's PostgreSQL and what a request for it may do there. */
export interface PostgresGrantProviderOptions {
  /**
   * A role with CREATEROLE, membership in pg_signal_backend (to end sessions) and the right to grant the privileges
   * below (owner, or WITH GRANT OPTION). Its password is never put into an error.
   */
  adminUrl: string;
  /** The database to grant on; the admin URL's database when absent. */
  database?: string;
  /** Schemas whose tables (those existing at grant time) the role may use. */
  schemas: string[];
  /** `read` (default): SELECT. `write`: SELECT, INSERT, UPDATE, DELETE. Nothing else either way. */
  privileges?: 'read' | 'write';
  /** Where the generated credential is kept for the requester, under the request id. */
  vault: CredentialVault;
  /** Default `lockbox_`; with the Lockbox comment, it is how Lockbox recognises its roles. */
  rolePrefix?: string;
  /** Test seam; default 32 random bytes, base64url. */
  generatePassword?: () => string;
  /** Test seam; default the system clock. */
  clock?: () => Date;
  /** How long an unused admin connection stays open (default 30 s). */
  idleMs?: number;
}

/** The reason code of a DROP ROLE the server refuses; the activity counts it on its own alarm metric. */
export const DROP_ROLE_REFUSED = 'drop_role_refused';

/**
 * PostgreSQL refuses to drop a role that still owns objects or holds privileges somewhere this connection's
 * DROP OWNED did not reach (another database, a tablespace): SQLSTATE 2BP01. Retrying cannot fix that, but the
 * revoke is still retried (the role stays, without login or privileges here, until someone cleans up), so the
 * error says plainly what is wrong and what to do, and carries a reason code the alarm counts. Other errors pass.
 */
function dropRoleRefused(err: unknown, role: string): unknown {
  if (!(err instanceof GrantTargetError) || err.code !== '2BP01') return err;
  const refused = new GrantTargetError(
    `postgres grant provider: ${DROP_ROLE_REFUSED} (2BP01): role ${role} has no login and no privileges in the granted database, but still owns objects or holds privileges elsewhere (another database); run DROP OWNED BY ${role} in each database, then the revoke completes`,
    '2BP01',
  );
  return Object.assign(refused, { reason: DROP_ROLE_REFUSED });
}

/** A PostgreSQL grant provider always has the optional GrantProvider methods. */
export type PostgresGrantProvider = GrantProvider &
  Required<Pick<GrantProvider, 'extend' | 'verify' | 'listGranted' | 'endExpiredSessions' | 'close'>>;

/**
 * Grants access to a PostgreSQL database the way Vault's database secrets engine does: one login role per request,
 * with a strong random password, `VALID UNTIL` the window's end (so access ends at the database even if revoke never
 * runs) and only the configured privileges; the credential goes to the vault. Revoke removes the privileges, ends
 * the role's sessions and drops it. Every call is idempotent and serialised per request. Needs PostgreSQL 14+.
 */
/** The first key of the catalog lock (two-key advisory locks): "lbac", so it is told apart in pg_locks. */
const ACL_LOCK_CLASS = 0x6c626163;

export function createPostgresGrantProvider(opts: PostgresGrantProviderOptions): PostgresGrantProvider {
  const prefix = checkRolePrefix(opts.rolePrefix ?? 'lockbox_');
  const privileges = (opts.privileges ?? 'read') === 'write' ? 'SELECT, INSERT, UPDATE, DELETE' : 'SELECT';
  const generatePassword = opts.generatePassword ?? (() => randomBytes(32).toString('base64url'));
  const clock = opts.clock ?? (() => new Date());
  if (opts.schemas.length === 0) throw new NonRetryableGrantError('postgres grant provider: at least one schema is needed');
  let url: URL;
  try {
    url = new URL(opts.adminUrl);
  } catch {
    throw new NonRetryableGrantError('postgres grant provider: adminUrl is not a valid URL');
  }
  if (opts.database) url.pathname = `/${encodeURIComponent(opts.database)}`;
  const database = decodeURIComponent(url.pathname.slice(1));
  if (!database) throw new NonRetryableGrantError('postgres grant provider: no database in adminUrl or options');
  const endpoint = { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || '5432', database };
  const admin = openAdminConnection(url.toString(), [url.password, decodeURIComponent(url.password)], opts.idleMs);
  const lockKey = (role: string) => `lockbox:role:${role}`;
  /**
   * The first step of every transaction that changes a shared catalog row (the database's and schemas' ACLs, each
   * table's ACL, pg_shdepend): PostgreSQL does not queue two such updates of one row, it fails the second with
   * "tuple concurrently updated". Many windows ending together (or many grants at once) would then be retried with
   * backoff, seconds late. A transaction-scoped advisory lock per database queues them instead, across every worker;
   * its two-key form never meets the per-role session locks (one-key). Taken after the role's lock, always.
   */
  const serializeAcl: Step = ['serialize catalog changes', `SELECT pg_advisory_xact_lock(${ACL_LOCK_CLASS}, hashtext(${literal(database)}))`];

  /** True if the role exists and is this request's Lockbox role; a foreign role at that name is never ours to touch. */
  function isOurs(state: RoleState | null, role: string, requestId: string): state is RoleState & { comment: { grantedAt: string } } {
    if (!state) return false;
    if (state.comment?.requestId !== requestId) {
      throw new NonRetryableGrantError(`postgres grant provider: role ${role} exists but was not made by Lockbox for request ${requestId}`);
    }
    return true;
  }

  /**
   * The request a role was made for, if it is Lockbox's: its name must be the one its comment's request id gives (a
   * copied comment proves nothing). Null for any other role.
   */
  const requestOfRole = (rolname: string, comment: string | null): string | null => {
    const c = parseRoleComment(comment);
    return c !== null && postgresRoleName(prefix, c.requestId) === rolname ? c.requestId : null;
  };

  const asResult = (requestId: string, grantedAt: string, endsAt: Date | null): GrantResult => ({
    grantedAt,
    endsAt: (endsAt ?? new Date(0)).toISOString(),
    credentialRef: requestId,
  });

  async function grant(input: GrantInput): Promise<GrantResult> {
    checkDuration('postgres', input.durationMs);
    const role = postgresRoleName(prefix, input.requestId);
    const r = ident(role);
    const password = generatePassword();
    // A SCRAM verifier, not the password, goes to the server, so the plaintext never reaches its statement log.
    const verifier = scramSha256Verifier(password);
    const credential = { username: role, password, ...endpoint };
    const storeCredential = () => opts.vault.put(input.requestId, credential);
    return admin.locked(lockKey(role), [password], async (c) => {
      const existing = await readRole(c, role);
      if (isOurs(existing, role, input.requestId)) {
        if (!existing.canLogin) {
          throw new NonRetryableGrantError(`postgres grant provider: request ${input.requestId} was revoked; no new grant`);
        }
        // The vault is written before the role commits, so a role without a credential means the commit's answer was
        // lost (or the vault was wiped): nobody can know that password, so replacing it takes nothing from anyone.
        if (!(await opts.vault.get(input.requestId))) {
          const setPassword: Step = ['set password', `ALTER ROLE ${r} PASSWORD ${literal(verifier)}`, true];
          await admin.tx(c, [setPassword], [password], storeCredential);
        }
        return asResult(input.requestId, existing.comment.grantedAt, existing.validUntil);
      }
      const grantedAt = clock();
      const endsAt = windowEnd(grantedAt, input);
      const steps: Step[] = [
        serializeAcl,
        [
          'create role',
          `CREATE ROLE ${r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
           PASSWORD ${literal(verifier)} VALID UNTIL ${literal(endsAt.toISOString())}`,
          true,
        ],
        ['comment on role', `COMMENT ON ROLE ${r} IS ${literal(roleComment({ requestId: input.requestId, grantedAt: grantedAt.toISOString() }))}`],
        ['grant connect', `GRANT CONNECT ON DATABASE ${ident(database)} TO ${r}`],
        ...opts.schemas.flatMap((s): Step[] => [
          [`grant usage on schema ${s}`, `GRANT USAGE ON SCHEMA ${ident(s)} TO ${r}`],
          [`grant on tables in schema ${s}`, `GRANT ${privileges} ON ALL TABLES IN SCHEMA ${ident(s)} TO ${r}`],
        ]),
      ];
      let stored = false;
      try {
        // The credential is stored inside the transaction, before COMMIT: a committed role always has one.
        await admin.tx(c, steps, [password], async () => {
          await storeCredential();
          stored = true;
        });
      } catch (err) {
        if (stored) await opts.vault.delete(input.requestId).catch(() => undefined);
        throw err;
      }
      return asResult(input.requestId, grantedAt.toISOString(), endsAt);
    });
  }

  async function revoke({ requestId }: { requestId: string; revokedAt: string }): Promise<void> {
    const role = postgresRoleName(prefix, requestId);
    const r = ident(role);
    await admin.locked(lockKey(role), [], async (c) => {
      const state = await readRole(c, role);
      if (state && state.comment?.requestId !== requestId) return; // a hand-made role at this name: never touch it
      if (state) {
        const { rows } = await c.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)', [opts.schemas]);
        // NOLOGIN first so no session starts while we end the others; privileges go before the sessions, so even one
        // that outlived the terminate could read nothing. DROP OWNED also covers schemas since dropped from the config.
        await admin.tx(c, [
          serializeAcl,
          ['disable login', `ALTER ROLE ${r} NOLOGIN`],
          ['revoke connect', `REVOKE ALL ON DATABASE ${ident(database)} FROM ${r}`],
          ...rows.flatMap(({ nspname: s }): Step[] => [
            [`revoke on tables in schema ${s}`, `REVOKE ALL ON ALL TABLES IN SCHEMA ${ident(s)} FROM ${r}`],
            [`revoke usage on schema ${s}`, `REVOKE ALL ON SCHEMA ${ident(s)} FROM ${r}`],
          ]),
          ['drop owned', `DROP OWNED BY ${r}`],
        ], []);
        // Every session of the role in every database; VALID UNTIL and NOLOGIN only stop new logins.
        const ended = await c.query<{ left: string }>(
          'SELECT count(*) FILTER (WHERE NOT pg_terminate_backend(pid, 5000)) AS left FROM pg_stat_activity WHERE usename = $1',
          [role],
        );
        const left = Number(ended.rows[0]?.left ?? 0);
        // Retryable: the role stays (no login, no privileges) until a retry sees every session gone.
        if (left > 0) throw new GrantTargetError(`postgres grant provider: ${left} session(s) of ${role} did not end`);
        await admin.tx(c, [serializeAcl, ['drop role', `DROP ROLE IF EXISTS ${r}`]], []).catch((err: unknown) => {
          throw dropRoleRefused(err, role);
        });
      }
      await opts.vault.delete(requestId);
    });
  }

  return {
    grant,
    revoke,

    async extend({ requestId, endsAt }) {
      const until = new Date(endsAt);
      if (Number.isNaN(until.getTime())) throw new NonRetryableGrantError('postgres grant provider: endsAt is not a valid time');
      const role = postgresRoleName(prefix, requestId);
      return admin.locked(lockKey(role), [], async (c) => {
        const state = await readRole(c, role);
        if (!isOurs(state, role, requestId) || !state.canLogin) {
          throw new NonRetryableGrantError(`postgres grant provider: request ${requestId} has no active grant to extend`);
        }
        await admin.tx(c, [['extend', `ALTER ROLE ${ident(role)} VALID UNTIL ${literal(until.toISOString())}`]], []);
        return { endsAt: until.toISOString() };
      });
    },

    async verify({ requestId }) {
      const role = postgresRoleName(prefix, requestId);
      const [row] = await admin.query<{ present: boolean; sessions: string }>(
        'verify',
        `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS present,
                (SELECT count(*) FROM pg_stat_activity WHERE usename = $1) AS sessions`,
        [role],
      );
      return { present: row?.present ?? false, sessions: Number(row?.sessions ?? 0) };
    },

    async listGranted() {
      const rows = await admin.query<{ rolname: string; comment: string | null }>(
        'list roles',
        `SELECT rolname, shobj_description(oid, 'pg_authid') AS comment
         FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY rolname`,
        [prefix],
      );
      return rows.flatMap(({ rolname, comment }) => requestOfRole(rolname, comment) ?? []);
    },

    // By the target's own clock (`now()`), whether or not the revoke has run yet. `VALID UNTIL` stops new logins at
    // the window's end, but PostgreSQL keeps a session already open: without this, it would outlive its window by as
    // long as the revoke is late (up to a minute with 1,000 windows ending together on the reference machine). Takes
    // no lock and changes no catalog row, so it never waits for a grant or revoke, nor they for it.
    async endExpiredSessions() {
      const rows = await admin.query<{ pid: number; rolname: string; comment: string | null }>(
        'end expired sessions',
        `SELECT a.pid, r.rolname, shobj_description(r.oid, 'pg_authid') AS comment
         FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
         WHERE starts_with(r.rolname, $1) AND r.rolvaliduntil <= now()`,
        [prefix],
      );
      // Only Lockbox's own roles: a hand-made role is never touched, whatever its name or validity.
      const pids = rows.filter(({ rolname, comment }) => requestOfRole(rolname, comment) !== null).map((r) => r.pid);
      if (pids.length === 0) return 0;
      const [ended] = await admin.query<{ n: string }>(
        'end expired sessions',
        'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM unnest($1::int[]) AS pid',
        [pids],
      );
      return Number(ended?.n ?? 0);
    },

    close: () => admin.end(),
  };
}
