import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonRetryableGrantError } from '../../src/adapters/grants/errors.js';
import { openCatalogFixture, type CatalogFixture } from './catalog-fixture.js';

/**
 * The worker's own check, at the activity and the grant router, with real parts: the router over a declared webhook
 * target calling a real receiver, the built-in store on SQLite. Whatever a workflow's input says, a target is used
 * only as the operator's catalog allows for the request's tenant.
 */
const SECRET = `whsec-${randomBytes(24).toString('hex')}`;
let fx: CatalogFixture;
let receiver: CatalogFixture['receiver'];
let router: CatalogFixture['router'];
let activities: CatalogFixture['activities'];

beforeAll(async () => {
  fx = await openCatalogFixture(SECRET, 'lockbox-catalog-');
  ({ receiver, router, activities } = fx);
});
afterAll(async () => {
  await fx?.close();
});

const id = (tenant: string) => `req-${tenant}-${randomBytes(6).toString('hex')}`;
const grant = (tenant: string, target: unknown) =>
  activities.grantAccess({ requestId: id(tenant), tenant, resource: 'app:tickets', principal: 'eve@lockbox.dev', durationMs: 60_000, target: target as never });
const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(() => expect.fail('expected a refusal'), (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
};
const callsFor = (requestId: string) => receiver.calls.filter((c) => c.body.includes(requestId));

describe('grantAccess checks the target for the request tenant before anything reaches it', () => {
  it("grants contoso's request through contoso's declared target", async () => {
    const requestId = id('contoso');
    await activities.grantAccess({ requestId, tenant: 'contoso', resource: 'app:tickets', principal: 'eve@lockbox.dev', durationMs: 60_000, target: { provider: 'catalog', name: 'contoso-hooks' } });
    expect(receiver.hasAccess(requestId)).toBe(true);
  });

  it("refuses fabrikam's request for contoso's target: non-retryable target_not_allowed, no call made", async () => {
    const before = receiver.calls.length;
    const err = await refusal(grant('fabrikam', { provider: 'catalog', name: 'contoso-hooks' }));
    expect(err).toMatchObject({ nonRetryable: true, type: 'TargetNotAllowed', message: 'target_not_allowed: target contoso-hooks is not allowed for tenant fabrikam' });
    // The old inline shape, naming contoso's secret variable: resolved to the declaration, refused the same.
    const inline = { provider: 'webhook', grantUrl: `${receiver.url}/grant`, revokeUrl: `${receiver.url}/revoke`, secret: 'LOCKBOX_TARGET_CONTOSO_HOOK' };
    expect((await refusal(grant('fabrikam', inline))).message).toBe('target_not_allowed: target contoso-hooks is not allowed for tenant fabrikam');
    // Contoso's secret variable with URLs of the attacker's choosing matches nothing declared.
    expect((await refusal(grant('contoso', { ...inline, grantUrl: `${receiver.url}/elsewhere` }))).message).toMatch(/^target_not_allowed: an inline webhook target/);
    expect((await refusal(grant('contoso', { provider: 'catalog', name: 'nope' }))).message).toBe('target_not_allowed: target nope is not declared on this worker');
    expect(receiver.calls.length).toBe(before);
  });

  it('extending is granting: refused the same', async () => {
    const err = await refusal(activities.extendAccess({ requestId: id('fabrikam'), tenant: 'fabrikam', endsAt: new Date(Date.now() + 60_000).toISOString(), target: { provider: 'catalog', name: 'contoso-hooks' } }));
    expect(err).toMatchObject({ nonRetryable: true, type: 'TargetNotAllowed' });
  });
});

describe('revokeAccess', () => {
  it('revokes at any declared target, whichever tenant the request names (access is never left behind)', async () => {
    const requestId = id('fabrikam');
    const done = await activities.revokeAccess({ requestId, tenant: 'fabrikam', target: { provider: 'catalog', name: 'contoso-hooks' } });
    expect(done.revokedAt).toEqual(expect.any(String));
    expect(callsFor(requestId).map((c) => c.path)).toEqual(['/revoke']);
  });

  it('never reaches a target this worker does not declare: a clean-up ends at once, a window-end revoke is retried', async () => {
    const before = receiver.calls.length;
    const cleanup = await refusal(activities.revokeAccess({ requestId: id('contoso'), tenant: 'contoso', target: { provider: 'catalog', name: 'nope' }, cleanup: true }));
    expect(cleanup).toMatchObject({ nonRetryable: true, type: 'TargetNotAllowed' });
    const err = await activities.revokeAccess({ requestId: id('contoso'), tenant: 'contoso', target: { provider: 'catalog', name: 'nope' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect((err as Error).message).toMatch(/^target_not_allowed: target nope is not declared on this worker; the revoke is retried/);
    expect(receiver.calls.length).toBe(before);
  });
});

describe('the grant router', () => {
  it('makes one provider per declared target and refuses anything undeclared', () => {
    const a = router.providerFor({ provider: 'catalog', name: 'contoso-hooks' });
    expect(router.providerFor({ provider: 'catalog', name: 'contoso-hooks' })).toBe(a);
    expect(router.providerFor({ provider: 'webhook', grantUrl: `${receiver.url}/grant`, revokeUrl: `${receiver.url}/revoke`, secret: 'LOCKBOX_TARGET_CONTOSO_HOOK' } as never)).toBe(a);
    expect(router.providerFor(undefined)).toBe(router.providerFor({ provider: 'builtin' }));
    expect(() => router.providerFor({ provider: 'catalog', name: 'other' })).toThrow(NonRetryableGrantError);
    expect(() => router.providerFor({ provider: 'catalog', name: 'other' })).toThrow(/^target_not_allowed: target other is not declared on this worker$/);
  });
});
