import type { Principal } from '../domain/directory.js';
import type { TenantSettings } from '../domain/settings.js';

/**
 * Demo identities and tenants, loaded only in the embedded default (never in production mode).
 * The tokens are public on purpose: they exist so a first-time user can try Lockbox with curl.
 */
export const DEMO_TOKENS: Readonly<Record<string, Principal>> = {
  'eve-dev-token': { id: 'eve@lockbox.dev', roles: ['engineer'], tenants: [] },
  'alice-dev-token': { id: 'alice@contoso.com', roles: ['approver', 'admin'], tenants: ['contoso'] },
  'bob-dev-token': { id: 'bob@contoso.com', roles: ['approver'], tenants: ['contoso'] },
  'ian-dev-token': { id: 'ian@lockbox.dev', roles: ['internal_approver'], tenants: [] },
  'oscar-dev-token': { id: 'oscar@lockbox.dev', roles: ['operator'], tenants: [] },
  'fiona-dev-token': { id: 'fiona@fabrikam.com', roles: ['approver', 'admin'], tenants: ['fabrikam'] },
  'frank-dev-token': { id: 'frank@fabrikam.com', roles: ['approver'], tenants: ['fabrikam'] },
};

/** The provider's internal approvers in the demo. */
export const DEMO_INTERNAL_APPROVERS = ['ian@lockbox.dev'];

/** Seeded once into the store (a tenant admin's later changes are kept across restarts). */
export function demoTenantSettings(defaults: { requestTtlMs: number; maxAccessMs: number }): Record<string, TenantSettings> {
  return {
    contoso: {
      customerApproval: true,
      approvers: ['alice@contoso.com', 'bob@contoso.com'],
      quorum: 1,
      requestTtlMs: defaults.requestTtlMs,
      maxAccessMs: defaults.maxAccessMs,
      requireTicket: false,
      internalApproval: false,
    },
    fabrikam: {
      customerApproval: true,
      approvers: ['fiona@fabrikam.com', 'frank@fabrikam.com'],
      quorum: 2,
      requestTtlMs: defaults.requestTtlMs,
      maxAccessMs: defaults.maxAccessMs,
      requireTicket: false,
      internalApproval: true,
    },
  };
}
