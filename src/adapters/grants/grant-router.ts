import type { ResourceTarget } from '../../domain/resources.js';
import { TARGET_ENV_PATTERN } from '../../domain/resources.js';
import type { CredentialVault } from '../../ports/credential-vault.js';
import type { GrantProvider } from '../../ports/grant-provider.js';
import { NonRetryableGrantError } from './errors.js';
import { createPostgresGrantProvider } from './postgres-grant-provider.js';
import { createWebhookGrantProvider } from './webhook-grant-provider.js';
import type { GuardedHttp } from '../http/guarded-http.js';

export interface GrantRouter {
  /** The provider for a request's target; providers are made once per distinct target and kept. */
  providerFor(target: ResourceTarget | undefined): GrantProvider;
  close(): Promise<void>;
}

/**
 * Picks the grant provider for each request from the target recorded in it. Connection URLs and secrets are read
 * from the worker's environment by the variable names the target gives, so they never pass through settings,
 * requests or history.
 */
export function createGrantRouter(deps: {
  builtin: GrantProvider;
  vault: CredentialVault;
  env: (name: string) => string | undefined;
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

  function make(target: Exclude<ResourceTarget, { provider: 'builtin' }>): GrantProvider {
    switch (target.provider) {
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
          secret: secretFrom(target.secret),
          timeoutMs: target.timeoutMs,
          http: deps.http,
        });
    }
  }

  return {
    providerFor(target) {
      if (!target || target.provider === 'builtin') return deps.builtin;
      const key = JSON.stringify(target);
      let provider = made.get(key);
      if (!provider) {
        provider = make(target);
        made.set(key, provider);
      }
      return provider;
    },
    async close() {
      await Promise.all([...made.values()].map((p) => p.close?.()));
      made.clear();
    },
  };
}
