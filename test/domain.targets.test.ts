import { describe, expect, it } from 'vitest';
import {
  catalogOf,
  checkResourcePicks,
  checkTargetUse,
  resolveTarget,
  targetFor,
  type DeclaredTarget,
  type TargetUse,
} from '../src/domain/resources.js';

/** The operator's catalog the scenarios run against: contoso's CRM and webhook, fabrikam's webhook, one retired. */
const CRM: DeclaredTarget = { name: 'contoso-crm', kind: 'postgres', tenants: ['contoso'], connection: 'LOCKBOX_TARGET_CRM', database: 'crm', schemas: ['crm'], privileges: 'read' };
const HOOKS: DeclaredTarget = { name: 'contoso-hooks', kind: 'webhook', tenants: ['contoso'], grantUrl: 'https://g.example/grant', revokeUrl: 'https://g.example/revoke', secret: 'LOCKBOX_TARGET_HOOK' };
const FAB: DeclaredTarget = { name: 'fabrikam-hooks', kind: 'webhook', tenants: ['fabrikam'], grantUrl: 'https://f.example/grant', revokeUrl: 'https://f.example/revoke', secret: 'LOCKBOX_TARGET_FAB' };
const RETIRED: DeclaredTarget = { ...CRM, name: 'old-crm', database: 'old', tenants: [] };
const catalog = catalogOf([CRM, HOOKS, FAB, RETIRED]);

const named = (name: string) => ({ provider: 'catalog' as const, name });
const inlineCrm = { provider: 'postgres', connection: 'LOCKBOX_TARGET_CRM', database: 'crm', schemas: ['anything'], privileges: 'write' };

describe('checkTargetUse: the worker decides where the power is used', () => {
  const cases: Array<[string, unknown, string | undefined, TargetUse, string | null]> = [
    // [scenario, recorded target, request's tenant, use, refusal (null: allowed)]
    ['no target: the built-in store', undefined, 'contoso', 'grant', null],
    ['built-in, any tenant', { provider: 'builtin' }, 'fabrikam', 'grant', null],
    ["contoso's CRM for contoso", named('contoso-crm'), 'contoso', 'grant', null],
    ["contoso's CRM for fabrikam", named('contoso-crm'), 'fabrikam', 'grant', 'target_not_allowed: target contoso-crm is not allowed for tenant fabrikam'],
    ["contoso's CRM extended for fabrikam", named('contoso-crm'), 'fabrikam', 'extend', 'target_not_allowed: target contoso-crm is not allowed for tenant fabrikam'],
    ["contoso's CRM revoked for fabrikam: declared, so access never stays behind", named('contoso-crm'), 'fabrikam', 'revoke', null],
    ["contoso's webhook for fabrikam", named('contoso-hooks'), 'fabrikam', 'grant', 'target_not_allowed: target contoso-hooks is not allowed for tenant fabrikam'],
    ['a retired target grants for nobody', named('old-crm'), 'contoso', 'grant', 'target_not_allowed: target old-crm is not allowed for tenant contoso'],
    ['a retired target still revokes', named('old-crm'), 'contoso', 'revoke', null],
    ['an undeclared name', named('elsewhere'), 'contoso', 'grant', 'target_not_allowed: target elsewhere is not declared on this worker'],
    ['an undeclared name is never revoked at', named('elsewhere'), 'contoso', 'revoke', 'target_not_allowed: target elsewhere is not declared on this worker'],
    ['a name that is not a name', named('X; DROP'), 'contoso', 'grant', 'target_not_allowed: a target without a valid name is not declared on this worker'],
    ['no tenant', named('contoso-crm'), undefined, 'grant', 'target_not_allowed: target contoso-crm is not allowed for tenant (unknown)'],
    ['old inline shape matching contoso-crm, for contoso', inlineCrm, 'contoso', 'grant', null],
    ['old inline shape matching contoso-crm, for fabrikam', inlineCrm, 'fabrikam', 'grant', 'target_not_allowed: target contoso-crm is not allowed for tenant fabrikam'],
    ['old inline shape with another variable', { ...inlineCrm, connection: 'LOCKBOX_TARGET_OTHER' }, 'contoso', 'grant', 'target_not_allowed: an inline postgres target that matches no single declared target is not declared on this worker'],
    ['old inline webhook with the same secret but other URLs', { provider: 'webhook', secret: 'LOCKBOX_TARGET_HOOK', grantUrl: 'https://evil.example/g', revokeUrl: 'https://evil.example/r' }, 'contoso', 'grant', 'target_not_allowed: an inline webhook target that matches no single declared target is not declared on this worker'],
    ['something else', 'contoso-crm', 'contoso', 'grant', 'target_not_allowed: a target of unknown shape is not declared on this worker'],
  ];
  it.each(cases)('%s', (_scenario, target, tenant, use, refusal) => {
    const d = checkTargetUse(catalog, target, tenant, use);
    expect(d.ok ? null : d.message).toBe(refusal);
  });

  it('an inline shape resolves to the declaration, never to its own fields', () => {
    expect(resolveTarget(catalog, inlineCrm)).toEqual({ kind: 'declared', target: CRM });
  });

  it('an empty catalog allows nothing but the built-in store', () => {
    expect(checkTargetUse(catalogOf([]), named('contoso-crm'), 'contoso', 'grant').ok).toBe(false);
    expect(checkTargetUse(catalogOf([]), undefined, 'contoso', 'grant').ok).toBe(true);
  });
});

describe("a tenant's settings pick among the targets declared for it", () => {
  it('refuses, per field, every pick not allowed for the tenant, in the same words whether it exists or not', () => {
    expect(checkResourcePicks(catalog, 'contoso', { 'db:crm': { target: 'contoso-crm' }, 'app:hooks': { target: 'contoso-hooks' } })).toEqual([]);
    expect(checkResourcePicks(catalog, 'fabrikam', { 'db:stolen': { target: 'contoso-crm' }, 'app:x': { target: 'nope' }, 'app:ok': { target: 'fabrikam-hooks' } })).toEqual([
      { field: 'resources.db:stolen.target', message: 'target contoso-crm is not declared or not allowed for tenant fabrikam' },
      { field: 'resources.app:x.target', message: 'target nope is not declared or not allowed for tenant fabrikam' },
    ]);
    expect(checkResourcePicks(catalog, 'contoso', { 'db:old': { target: 'old-crm' } })).toHaveLength(1);
    expect(checkResourcePicks(catalog, 'contoso', undefined)).toEqual([]);
  });

  it('a request records the pick by name; a resource not picked uses the built-in store', () => {
    const picks = { 'db:crm': { target: 'contoso-crm' } };
    expect(targetFor(picks, 'db:crm')).toEqual({ provider: 'catalog', name: 'contoso-crm' });
    expect(targetFor(picks, 'mailbox:bob@contoso.com')).toEqual({ provider: 'builtin' });
    expect(targetFor(picks, 'constructor')).toEqual({ provider: 'builtin' });
    expect(targetFor(undefined, 'db:crm')).toEqual({ provider: 'builtin' });
  });
});
