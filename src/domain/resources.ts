/**
 * Grant targets belong to tenants. The operator declares each target once, in the configuration workers and API
 * read at start-up (its kind, where its secret is, which tenants may use it); a tenant's settings only pick, per
 * resource, one of the targets declared for that tenant; a request records the pick by name. Secrets are never
 * part of any of it: a declared target names the environment variable (on the workers) that holds its connection
 * URL or signing secret. Pure: no I/O.
 */

/** What a declared PostgreSQL target grants: a login role per request with these privileges. */
export interface PostgresTargetSpec {
  kind: 'postgres';
  /** Env var holding the admin connection URL; must match TARGET_ENV_PATTERN. */
  connection: string;
  database?: string;
  schemas: string[];
  privileges: 'read' | 'write';
}

/** A customer's own grant system, called over signed HTTP. */
export interface WebhookTargetSpec {
  kind: 'webhook';
  grantUrl: string;
  revokeUrl: string;
  extendUrl?: string;
  /** Lists what the receiver holds that Lockbox granted; without it the reconciler cannot reconcile the target. */
  listUrl?: string;
  /** Env var holding the HMAC secret; must match TARGET_ENV_PATTERN. */
  secret: string;
  timeoutMs?: number;
}

/** A target as the operator declared it: its name, what it is, and the tenants whose settings may pick it. */
export type DeclaredTarget = (PostgresTargetSpec | WebhookTargetSpec) & {
  name: string;
  /** Tenants allowed to grant through it; none: declared only so what it holds is still revoked and reconciled. */
  tenants: readonly string[];
};

/** The operator's declared targets by name; the same on every worker and API of one installation. */
export type TargetCatalog = ReadonlyMap<string, DeclaredTarget>;

export const EMPTY_CATALOG: TargetCatalog = new Map();

/** A catalog from a list of declared targets (names are unique; the config schema checks that). */
export function catalogOf(targets: readonly DeclaredTarget[]): TargetCatalog {
  return new Map(targets.map((t) => [t.name, t]));
}

/** What a tenant's settings say for one resource: the declared target it is granted through. */
export interface ResourceSetting {
  target: string;
}

/**
 * What a request records about where its access is granted: the built-in grant store, or a declared target by
 * name. Fixed at filing, so the revoke goes where the grant went. The worker resolves the name in its own catalog.
 * (Requests filed before targets were declared carry the old inline shape; see `resolveTarget`.)
 */
export type ResourceTarget = { provider: 'builtin' } | { provider: 'catalog'; name: string };

export const BUILTIN_TARGET: ResourceTarget = { provider: 'builtin' };

/** Only these variables may be named by a declared target, so no target can point a worker at another secret. */
export const TARGET_ENV_PATTERN = /^LOCKBOX_TARGET_[A-Z0-9_]{1,64}$/;

/** Target names: lower-case letters, digits and `-`, like tenant ids. */
export const TARGET_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The reason code of every refusal to use a target for a tenant: in the request's failure, audit and errors. */
export const TARGET_NOT_ALLOWED = 'target_not_allowed';

/** The target a resource is granted through under a tenant's settings: a declared one by name, else built-in. */
export function targetFor(resources: Readonly<Record<string, ResourceSetting>> | undefined, resource: string): ResourceTarget {
  const picked = resources && Object.hasOwn(resources, resource) ? resources[resource] : undefined;
  return picked ? { provider: 'catalog', name: picked.target } : BUILTIN_TARGET;
}

/** Whether the operator allows `tenant` to grant through `target`. */
export function allowedFor(target: DeclaredTarget, tenant: string): boolean {
  return target.tenants.includes(tenant);
}

export type TargetResolution =
  | { kind: 'builtin' }
  | { kind: 'declared'; target: DeclaredTarget }
  /** Not in this catalog. `label` is safe to log and show (a checked name, or a fixed phrase). */
  | { kind: 'undeclared'; label: string };

/**
 * Where a request's recorded target points in this catalog. A name resolves to the declared target of that name.
 * The old inline shape (`{provider:'postgres', connection, database, ...}` or `{provider:'webhook', secret, ...}`)
 * resolves only to the one declared target with the same kind, secret variable and database or URLs, and then
 * to the declaration, never to the inline fields; anything else is undeclared.
 */
export function resolveTarget(catalog: TargetCatalog, target: unknown): TargetResolution {
  if (target === undefined || target === null) return { kind: 'builtin' };
  if (typeof target !== 'object') return { kind: 'undeclared', label: 'a target of unknown shape' };
  const t = target as Record<string, unknown>;
  if (t.provider === 'builtin') return { kind: 'builtin' };
  if (t.provider === 'catalog') {
    const name = typeof t.name === 'string' && TARGET_NAME_PATTERN.test(t.name) ? t.name : null;
    const found = name === null ? undefined : catalog.get(name);
    return found ? { kind: 'declared', target: found } : { kind: 'undeclared', label: name === null ? 'a target without a valid name' : `target ${name}` };
  }
  if (t.provider === 'postgres' || t.provider === 'webhook') {
    const matches = [...catalog.values()].filter((d) => sameInline(d, t));
    if (matches.length === 1) return { kind: 'declared', target: matches[0]! };
    return { kind: 'undeclared', label: `an inline ${t.provider} target that matches no single declared target` };
  }
  return { kind: 'undeclared', label: 'a target of unknown shape' };
}

function sameInline(d: DeclaredTarget, t: Record<string, unknown>): boolean {
  if (d.kind === 'postgres') return t.provider === 'postgres' && t.connection === d.connection && (t.database ?? undefined) === d.database;
  return t.provider === 'webhook' && t.secret === d.secret && t.grantUrl === d.grantUrl && t.revokeUrl === d.revokeUrl;
}

/** What a worker is about to do through a target. */
export type TargetUse = 'grant' | 'extend' | 'revoke';

export type TargetDecision =
  | { ok: true; resolved: { kind: 'builtin' } | { kind: 'declared'; target: DeclaredTarget } }
  | { ok: false; reason: typeof TARGET_NOT_ALLOWED; message: string };

/**
 * Whether a request of `tenant` may use its recorded target for `use`, checked by the worker where the power is
 * used, whatever the API and the settings said. Granting and extending need a target declared here and allowed
 * for the tenant; revoking needs it declared (so access is never left behind, even after the operator withdrew the
 * tenant), and never reaches a target this worker does not know. The message starts with the reason code.
 */
export function checkTargetUse(catalog: TargetCatalog, target: unknown, tenant: string | undefined, use: TargetUse): TargetDecision {
  const resolved = resolveTarget(catalog, target);
  if (resolved.kind === 'builtin') return { ok: true, resolved };
  if (resolved.kind === 'undeclared') {
    return { ok: false, reason: TARGET_NOT_ALLOWED, message: `${TARGET_NOT_ALLOWED}: ${resolved.label} is not declared on this worker` };
  }
  if (use === 'revoke') return { ok: true, resolved };
  const who = typeof tenant === 'string' && TARGET_NAME_PATTERN.test(tenant) ? tenant : null;
  if (who !== null && allowedFor(resolved.target, who)) return { ok: true, resolved };
  return { ok: false, reason: TARGET_NOT_ALLOWED, message: `${TARGET_NOT_ALLOWED}: target ${resolved.target.name} is not allowed for tenant ${who ?? '(unknown)'}` };
}

/** One refused pick in a tenant's settings, naming the field. */
export interface ResourceProblem {
  field: string;
  message: string;
}

/**
 * Checks a tenant's resource picks against the catalog. The same words whether the target does not exist or
 * belongs to others: a tenant admin learns nothing about other tenants' targets by trying names.
 */
export function checkResourcePicks(
  catalog: TargetCatalog,
  tenant: string,
  resources: Readonly<Record<string, ResourceSetting>> | undefined,
): ResourceProblem[] {
  return Object.entries(resources ?? {}).flatMap(([resource, pick]) => {
    const target = catalog.get(pick.target);
    if (target && allowedFor(target, tenant)) return [];
    return [{ field: `resources.${resource}.target`, message: notAllowedMessage(pick.target, tenant) }];
  });
}

/** "target X is not declared or not allowed for tenant T" */
export function notAllowedMessage(target: string, tenant: string): string {
  return `target ${target} is not declared or not allowed for tenant ${tenant}`;
}

/** For logs, metrics and reports: the kind of what a request's target resolves to, without any detail. */
export function kindOf(resolved: { kind: 'builtin' } | { kind: 'declared'; target: DeclaredTarget }): 'builtin' | DeclaredTarget['kind'] {
  return resolved.kind === 'builtin' ? 'builtin' : resolved.target.kind;
}
