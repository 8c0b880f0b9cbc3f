/**
 * Who may do what, as pure functions (src/domain/directory.ts, canBeApprover in src/domain/settings.ts), one table per
 * question over the demo personas. Roles are held per tenant: carol approves at contoso and administers fabrikam,
 * which never makes her an admin of contoso (the bug of issue 14, where roles and tenants were two separate lists).
 */
import { describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../src/config/demo.js';
import {
  canAttemptDecision,
  canChangeSettings,
  canCreateRequest,
  canReadSettings,
  canSeeRequest,
  describeRoles,
  listScope,
  principalFrom,
  type Principal,
} from '../src/domain/directory.js';
import type { DecisionAction } from '../src/domain/request.js';
import { canBeApprover } from '../src/domain/settings.js';

const byName = (name: string): Principal => {
  const p = DEMO_TOKENS[`${name}-dev-token`];
  if (!p) throw new Error(`no demo persona ${name}`);
  return p;
};
const PERSONAS = ['eve', 'alice', 'bob', 'carol', 'fiona', 'frank', 'ian', 'oscar'] as const;
const EVE = 'eve@lockbox.dev';

/** `yes`/`no` per persona, columns as named. */
function table(text: string): Array<{ persona: string; column: string; expected: boolean }> {
  const [header, ...rows] = text.trim().split('\n').map((l) => l.split('|').map((c) => c.trim()));
  const cols = header!.slice(1);
  const out = rows.flatMap(([persona, ...cells]) => cells.map((c, i) => ({ persona: persona!, column: cols[i]!, expected: c === 'yes' })));
  expect(new Set(out.map((c) => c.persona))).toEqual(new Set(PERSONAS));
  return out;
}

// c = contoso, f = fabrikam; requests are eve's.
const SEE_AND_DECIDE = table(`
  persona | see-c | see-f | approve-c | approve-f | revoke-c | cancel-c | extend-c | create | settings-read-c | settings-read-f | settings-change-c | settings-change-f | listed-c | listed-f
  eve     |  yes  |  yes  |    no     |    no     |   yes    |   yes    |   yes    |  yes   |       no        |       no        |        no         |        no         |    no    |    no
  alice   |  yes  |  no   |    yes    |    no     |   yes    |   no     |   no     |  no    |       yes       |       no        |        yes        |        no         |    yes   |    no
  bob     |  yes  |  no   |    yes    |    no     |   yes    |   no     |   no     |  no    |       no        |       no        |        no         |        no         |    yes   |    no
  carol   |  yes  |  yes  |    yes    |    yes    |   yes    |   no     |   no     |  no    |       no        |       yes       |        no         |        yes        |    yes   |    yes
  fiona   |  no   |  yes  |    no     |    yes    |   no     |   no     |   no     |  no    |       no        |       yes       |        no         |        yes        |    no    |    yes
  frank   |  no   |  yes  |    no     |    yes    |   no     |   no     |   no     |  no    |       no        |       no        |        no         |        no         |    no    |    yes
  ian     |  yes  |  yes  |    yes    |    yes    |   yes    |   no     |   no     |  no    |       no        |       no        |        no         |        no         |    no    |    no
  oscar   |  yes  |  yes  |    no     |    no     |   no     |   no     |   no     |  no    |       yes       |       yes       |        no         |        no         |    no    |    no
`);

const tenantOf = (column: string) => (column.endsWith('-c') ? 'contoso' : 'fabrikam');

function answer(p: Principal, column: string): boolean {
  const tenant = tenantOf(column);
  const action = column.replace(/-[cf]$/, '');
  switch (action) {
    case 'see':
      return canSeeRequest(p, tenant, EVE);
    case 'approve':
    case 'revoke':
    case 'cancel':
    case 'extend':
      return canAttemptDecision(p, action as DecisionAction, tenant, EVE);
    case 'create':
      return canCreateRequest(p);
    case 'settings-read':
      return canReadSettings(p, tenant);
    case 'settings-change':
      return canChangeSettings(p, tenant);
    case 'listed':
      return canBeApprover(p, tenant);
  }
  throw new Error(`unknown column ${column}`);
}

describe('directory: what each persona may see and attempt (roles held per tenant)', () => {
  it.each(SEE_AND_DECIDE)('$persona $column -> $expected', ({ persona, column, expected }) => {
    expect(answer(byName(persona), column)).toBe(expected);
  });

  it('lists: provider-side readers everything; everyone else their own requests and the tenants they hold a role at', () => {
    expect(listScope(byName('ian'))).toEqual({});
    expect(listScope(byName('oscar'))).toEqual({});
    expect(listScope(byName('eve'))).toEqual({ scopeTenants: [], scopeRequester: EVE });
    expect(listScope(byName('alice'))).toEqual({ scopeTenants: ['contoso'], scopeRequester: 'alice@contoso.com' });
    expect(listScope(byName('carol'))).toEqual({ scopeTenants: ['contoso', 'fabrikam'], scopeRequester: 'carol@contoso.com' });
  });

  it('a role at one tenant counts at no other, whatever else the person holds', () => {
    const approverHereAdminThere: Principal = { id: 'x@y.z', roles: ['engineer'], tenantRoles: [{ tenant: 'contoso', role: 'approver' }, { tenant: 'fabrikam', role: 'admin' }] };
    expect(canChangeSettings(approverHereAdminThere, 'contoso')).toBe(false);
    expect(canChangeSettings(approverHereAdminThere, 'fabrikam')).toBe(true);
    expect(canBeApprover(approverHereAdminThere, 'northwind')).toBe(false);
    expect(canSeeRequest(approverHereAdminThere, 'northwind', EVE)).toBe(false);
  });

  it('reads a principal from untrusted JSON without widening it', () => {
    expect(principalFrom({ id: 'carol@contoso.com', roles: ['operator', 'admin', 'root'], tenantRoles: [{ tenant: 'contoso', role: 'approver' }, { tenant: 'contoso', role: 'approver' }, { tenant: 'fabrikam', role: 'operator' }, 'x', null] })).toEqual({
      id: 'carol@contoso.com',
      roles: ['operator'],
      tenantRoles: [{ tenant: 'contoso', role: 'approver' }],
    });
    // The shape before per-tenant roles: its customer roles are not read (they could mean any tenant).
    expect(principalFrom({ id: 'alice@contoso.com', roles: ['approver', 'admin'], tenants: ['contoso', 'fabrikam'] })).toEqual({ id: 'alice@contoso.com', roles: [], tenantRoles: [] });
    expect(principalFrom({ roles: ['operator'] })).toBeNull();
    expect(principalFrom('oscar')).toBeNull();
  });

  it('says the roles in words', () => {
    expect(describeRoles(byName('carol'))).toBe('approver at contoso, admin at fabrikam');
    expect(describeRoles(byName('alice'))).toBe('approver and admin at contoso');
    expect(describeRoles(byName('ian'))).toBe('internal approver');
    expect(describeRoles({ roles: [], tenantRoles: [] })).toBe('no roles');
  });
});
