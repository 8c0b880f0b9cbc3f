import type { Principal, Tenant } from '../domain/directory.js';

/**
 * Demo identities and tenants, loaded only in the embedded default (never in production mode).
 * The tokens are public on purpose: they exist so a first-time user can try Lockbox with curl.
 */
export const DEMO_TOKENS: Readonly<Record<string, Principal>> = {
  'eve-dev-token': { id: 'eve@lockbox.dev', roles: ['engineer'], tenants: [] },
  'alice-dev-token': { id: 'alice@contoso.com', roles: ['approver', 'admin'], tenants: ['contoso'] },
  'bob-dev-token': { id: 'bob@contoso.com', roles: ['approver'], tenants: ['contoso'] },
};

export const DEMO_TENANTS: readonly Tenant[] = [
  {
    id: 'contoso',
    name: 'Contoso',
    policy: {
      tenant: 'contoso',
      customerApproval: true,
      approvers: ['alice@contoso.com', 'bob@contoso.com'],
      quorum: 1,
    },
  },
];
