import type { AuditEvent } from '../domain/audit.js';
import type { AuditSink } from '../ports/audit-sink.js';
import type { GrantInput, GrantProvider, GrantResult } from '../ports/grant-provider.js';
import type { Notification, Notifier } from '../ports/notifier.js';
import type { Logger } from '../config/logger.js';
import type { SettingsChange, SettingsChangeResult } from '../domain/settings.js';
import type { TrustedKeys } from '../domain/signing.js';
import type { Store } from '../ports/store.js';

/** What the activities need, built once at worker start-up. */
export interface ActivityDeps {
  /** The API's own state (tenant settings here). */
  store: Store;
  grants: GrantProvider;
  /** The API's public decision-signing keys (key id -> hex). */
  trustedKeys: TrustedKeys;
  notifier: Notifier;
  audit: AuditSink;
  log: Logger;
}

/**
 * The activities: thin, idempotent wrappers over the ports. Each can be retried at any point without
 * granting twice, revoking wrongly, notifying twice or exporting an audit event twice.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    /** The keys come from the worker's configuration, so whoever starts a workflow cannot choose them. */
    async trustedDecisionKeys(): Promise<TrustedKeys> {
      return deps.trustedKeys;
    },

    async sendNotifications(messages: Notification[]): Promise<void> {
      for (const m of messages) {
        await deps.notifier.notify(m);
        deps.log.info('notification sent', { requestId: m.requestId, tenant: m.tenant, recipient: m.recipient, kind: m.kind });
      }
    },

    async grantAccess(input: GrantInput): Promise<GrantResult> {
      const result = await deps.grants.grant(input);
      deps.log.info('access granted', { requestId: input.requestId, tenant: input.tenant, resource: input.resource, principal: input.principal, endsAt: result.endsAt });
      return result;
    },

    async revokeAccess(input: { requestId: string }): Promise<{ revokedAt: string }> {
      const revokedAt = new Date().toISOString();
      try {
        await deps.grants.revoke({ requestId: input.requestId, revokedAt });
      } catch (err) {
        // Loud on purpose: a revoke that keeps failing must be visible while it is retried.
        deps.log.error('revoke failed, will retry', { requestId: input.requestId, error: errorMessage(err) });
        throw err;
      }
      deps.log.info('access revoked', { requestId: input.requestId, revokedAt });
      return { revokedAt };
    },

    /** Writes a settings change; a retry after our own successful write reports that write, not a conflict. */
    async applyTenantSettings(change: SettingsChange): Promise<SettingsChangeResult> {
      const result = await deps.store.putTenantSettings(change);
      if (result.ok) return result;
      const cur = result.current;
      const ours = cur?.version === change.expectedVersion + 1 && cur.updatedAt === change.updatedAt && cur.updatedBy === change.updatedBy;
      return ours && cur ? { ok: true, record: cur } : result;
    },

    async exportAudit(events: AuditEvent[]): Promise<void> {
      await deps.audit.append(events);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
