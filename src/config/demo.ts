import type { Principal } from '../domain/directory.js';
import type { DeclaredTarget } from '../domain/resources.js';
import type { TenantSettings } from '../domain/settings.js';

/**
 * Demo identities and tenants, loaded only in the embedded default (never in production mode).
 * The tokens are public on purpose: they exist so a first-time user can try Lockbox with curl.
 */
export const DEMO_TOKENS: Readonly<Record<string, Principal>> = {
  'eve-dev-token': { id: 'eve@lockbox.dev', roles: ['engineer'], tenantRoles: [] },
  'alice-dev-token': { id: 'alice@contoso.com', roles: [], tenantRoles: [{ tenant: 'contoso', role: 'approver' }, { tenant: 'contoso', role: 'admin' }] },
  'bob-dev-token': { id: 'bob@contoso.com', roles: [], tenantRoles: [{ tenant: 'contoso', role: 'approver' }] },
  // Two tenants, a different role at each: approving at contoso never makes her an admin there.
  'carol-dev-token': { id: 'carol@contoso.com', roles: [], tenantRoles: [{ tenant: 'contoso', role: 'approver' }, { tenant: 'fabrikam', role: 'admin' }] },
  'ian-dev-token': { id: 'ian@lockbox.dev', roles: ['internal_approver'], tenantRoles: [] },
  'oscar-dev-token': { id: 'oscar@lockbox.dev', roles: ['operator'], tenantRoles: [] },
  'fiona-dev-token': { id: 'fiona@fabrikam.com', roles: [], tenantRoles: [{ tenant: 'fabrikam', role: 'approver' }, { tenant: 'fabrikam', role: 'admin' }] },
  'frank-dev-token': { id: 'frank@fabrikam.com', roles: [], tenantRoles: [{ tenant: 'fabrikam', role: 'approver' }] },
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
      resources: {
        [DEMO_CRM.resource]: { target: DEMO_CRM.target },
      },
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

/** The demo's PostgreSQL target (the machine's server by default; tests point it at a password-checking cluster). */
export const DEMO_CRM = {
  resource: 'db:crm',
  database: 'lockbox_demo_crm',
  schema: 'crm',
  env: 'LOCKBOX_TARGET_DEMO_CRM',
  /** The declared target's name. */
  target: 'contoso-crm',
} as const;

/** The demo's declared targets (embedded default, when the operator declares none): contoso's CRM, for contoso only. */
export function demoTargets(): DeclaredTarget[] {
  return [
    { name: DEMO_CRM.target, kind: 'postgres', tenants: ['contoso'], connection: DEMO_CRM.env, database: DEMO_CRM.database, schemas: [DEMO_CRM.schema], privileges: 'read' },
  ];
}

/** Defaults for target variables in the embedded demo only. */
export const DEMO_TARGET_ENV: Readonly<Record<string, string>> = {
  [DEMO_CRM.env]: `postgres://postgres@127.0.0.1:5432/${DEMO_CRM.database}`,
};
