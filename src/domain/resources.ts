/**
 * How access to a tenant resource is granted. Declared per resource in the tenant's settings; a resource not declared
 * uses Lockbox's built-in grant store (answered by `GET /v1/access/check`). Secrets are never part of this: a target
 * names the environment variable (on the workers) that holds its connection URL or signing secret, so settings,
 * requests and workflow history never carry one.
 */
export type ResourceTarget =
  | { provider: 'builtin' }
  | {
      provider: 'postgres';
      /** Env var holding the admin connection URL; must start with LOCKBOX_TARGET_. */
      connection: string;
      database?: string;
      schemas: string[];
      privileges: 'read' | 'write';
    }
  | {
      provider: 'webhook';
      grantUrl: string;
      revokeUrl: string;
      extendUrl?: string;
      /** Env var holding the HMAC secret; must start with LOCKBOX_TARGET_. */
      secret: string;
      timeoutMs?: number;
    };

export const BUILTIN_TARGET: ResourceTarget = { provider: 'builtin' };

/** Only these variables may be named by a tenant's settings, so no setting can point a worker at another secret. */
export const TARGET_ENV_PATTERN = /^LOCKBOX_TARGET_[A-Z0-9_]{1,64}$/;

/** The target a resource is granted through under these declarations. */
export function targetFor(resources: Readonly<Record<string, ResourceTarget>> | undefined, resource: string): ResourceTarget {
  return (resources && Object.hasOwn(resources, resource) ? resources[resource] : undefined) ?? BUILTIN_TARGET;
}
