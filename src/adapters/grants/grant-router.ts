import { resolveTarget, TARGET_ENV_PATTERN, TARGET_NOT_ALLOWED, type DeclaredTarget, type ResourceTarget, type TargetCatalog } from '../../domain/resources.js';
import type { CredentialVault } from '../../ports/credential-vault.js';
import type { GrantProvider } from '../../ports/grant-provider.js';
import { NonRetryableGrantError } from './errors.js';
import { createPostgresGrantProvider } from './postgres-grant-provider.js';
import { createWebhookGrantProvider } from './webhook-grant-provider.js';
import type { GuardedHttp } from '../http/guarded-http.js';

export interface GrantRouter {
  /**
   * The provider for a request's recorded target: the built-in store, or a target declared in this worker's
   * catalog (one provider per declared target, made on first use and kept, so their number is bounded by the
   * catalog). Anything not declared fails with `target_not_allowed` (non-retryable). Whether the request's tenant
   * may use it is the caller's check (`checkTargetUse`), made before.
   */
  providerFor(target: ResourceTarget | undefined): GrantProvider;
  /**
   * One pass over every declared PostgreSQL target: ends the open sessions of Lockbox roles whose window has ended
   * there (`endExpiredSessions`), each target on its own, so one that is down or not configured on this worker does
   * not hold up the others. Answers what happened per target, for the caller to count and log.
   */
  endExpiredSessions(): Promise<SessionSweep[]>;
  close(): Promise<void>;
}

/** One target's part of a session sweep: sessions ended, or why it could not be swept. */
export type SessionSweep = { target: string; ended: number } | { target: string; error: string };

/**
 * Picks the grant provider for each request from the target recorded in it, resolved in the operator's catalog.
 * Connection URLs and secrets are read from the worker's environment by the variable names the declaration gives,
 * so they never pass through settings, requests or history.
 */
export function createGrantRouter(deps: {
  builtin: GrantProvider;
  vault: CredentialVault;
  env: (name: string) => string | undefined;
  /** The operator's declared targets. */
  targets: TargetCatalog;
  /** The guarded outbound client every webhook target calls through. */
  http?: GuardedHttp;
}): GrantRouter {
  const made = new Map<string, GrantProvider>();
  const secretFrom = (name: string): string => {
    if (!TARGET_ENV_PATTERN.test(name)) throw new NonRetryableGrantError(`grant target names ${name}, which is not a LOCKBOX_TARGET_ variable`);
    const value = deps.env(name);
    if (!value) throw new NonRetryableGrantError(`grant target needs ${name}, which is not set on this worker`);
    return value;
  };

  function make(target: DeclaredTarget): GrantProvider {
    switch (target.kind) {
      case 'postgres':
        return createPostgresGrantProvider({
          adminUrl: secretFrom(target.connection),
          database: target.database,
          schemas: target.schemas,
          privileges: target.privileges,
          vault: deps.vault,
        });
      case 'webhook':
        return createWebhookGrantProvider({
          grantUrl: target.grantUrl,
          revokeUrl: target.revokeUrl,
          extendUrl: target.extendUrl,
          listUrl: target.listUrl,
          secret: secretFrom(target.secret),
          timeoutMs: target.timeoutMs,
          http: deps.http,
        });
    }
  }

  function declared(target: DeclaredTarget): GrantProvider {
    let provider = made.get(target.name);
    if (!provider) {
      provider = make(target);
      made.set(target.name, provider);
    }
    return provider;
  }

  return {
    providerFor(target) {
      const resolved = resolveTarget(deps.targets, target);
      if (resolved.kind === 'builtin') return deps.builtin;
      if (resolved.kind === 'undeclared') throw new NonRetryableGrantError(`${TARGET_NOT_ALLOWED}: ${resolved.label} is not declared on this worker`);
      return declared(resolved.target);
    },
    async endExpiredSessions() {
      const postgres = [...deps.targets.values()].filter((t) => t.kind === 'postgres');
      return Promise.all(
        postgres.map(async (t): Promise<SessionSweep> => {
          try {
            return { target: t.name, ended: (await declared(t).endExpiredSessions?.()) ?? 0 };
          } catch (err) {
            // Errors of this module and the provider are already safe (no URL, no password).
            return { target: t.name, error: err instanceof Error ? err.message : String(err) };
          }
        }),
      );
    },
    async close() {
      await Promise.all([...made.values()].map((p) => p.close?.()));
      made.clear();
    },
  };
}
