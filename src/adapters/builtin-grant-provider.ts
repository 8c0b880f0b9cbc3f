import { windowEnd, type GrantInput, type GrantProvider, type GrantResult } from '../ports/grant-provider.js';
import type { Store } from '../ports/store.js';
import { NonRetryableGrantError } from './grants/errors.js';

/**
 * Lockbox's own grant store: a row per request, carrying its end time. The access check denies after `endsAt`
 * even if the revoke never ran (defence in depth), and a second grant of the same request returns the first.
 */
export function createBuiltinGrantProvider(store: Store, clock: () => Date = () => new Date()): GrantProvider {
  return {
    async grant(input: GrantInput): Promise<GrantResult> {
      const grantedAt = clock();
      const stored = await store.putGrant({
        requestId: input.requestId,
        tenant: input.tenant,
        resource: input.resource,
        principal: input.principal,
        grantedAt: grantedAt.toISOString(),
        endsAt: windowEnd(grantedAt, input).toISOString(),
        revokedAt: null,
      });
      return { grantedAt: stored.grantedAt, endsAt: stored.endsAt };
    },
    async extend({ requestId, endsAt }) {
      const stored = await store.extendGrant(requestId, endsAt);
      if (!stored || stored.revokedAt !== null) throw new NonRetryableGrantError(`request ${requestId} has no grant in force to extend`);
      return { endsAt: stored.endsAt };
    },
    async verify({ requestId }) {
      const g = await store.getGrant(requestId);
      return { present: g !== null && g.revokedAt === null, sessions: 0 };
    },
    async listGranted() {
      return store.listUnrevokedGrants();
    },
    async revoke({ requestId, revokedAt }): Promise<void> {
      await store.revokeGrant(requestId, revokedAt);
    },
  };
}
