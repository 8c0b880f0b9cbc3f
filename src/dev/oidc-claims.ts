/**
 * The claims the embedded demo provider issues for a demo person, in the shape the API's OIDC claim mapping
 * (src/api/auth-oidc.ts, its default claim names) reads: so a demo sign-in is mapped exactly like a real IdP's.
 */
import type { Principal } from '../domain/directory.js';

/** Scopes the demo provider offers; `lockbox` carries the roles. */
export const DEMO_SCOPES = ['openid', 'email', 'profile', 'lockbox', 'offline_access'];

/** Which claims each scope releases. */
export const DEMO_CLAIMS_BY_SCOPE: Record<string, string[]> = {
  email: ['email', 'email_verified'],
  profile: ['name'],
  lockbox: ['lockbox_roles'],
};

/** The person's claims: id as e-mail (verified); roles as the API reads them: `engineer`, `contoso:approver`, ... */
export function demoPersonClaims(p: Principal): Record<string, unknown> {
  return {
    email: p.id,
    email_verified: true,
    name: p.id.split('@')[0],
    lockbox_roles: [...p.roles, ...p.tenantRoles.map((g) => `${g.tenant}:${g.role}`)],
  };
}
