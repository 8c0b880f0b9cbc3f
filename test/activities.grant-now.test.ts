/**
 * The `grantAccessNow` local activity on its own, with a real SQLite store and a real declared target (an HTTP
 * receiver): it writes a grant in Lockbox's own store and nowhere else, answers instead of throwing, and writes
 * nothing for what the usual grant would refuse. Its input comes from workflow code, which anyone who can start
 * workflows in the namespace could imitate, so nothing in it is taken on trust. The workflow's side (no activity
 * task; the usual grant when this answers "not granted") is in workflow.failures.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantedNow } from '../src/workflows/request/access-window.js';
import { openCatalogFixture, type CatalogFixture } from './grants/catalog-fixture.js';

let fx: CatalogFixture;
let receiver: CatalogFixture['receiver'];
let store: CatalogFixture['store'];
let activities: CatalogFixture['activities'];

beforeAll(async () => {
  fx = await openCatalogFixture('grant-now-test-secret', 'lockbox-grant-now-');
  ({ receiver, store, activities } = fx);
});
afterAll(async () => {
  await fx?.close();
});

const id = () => `req-contoso-${randomBytes(6).toString('hex')}`;
const asked = (requestId: string, extra: Record<string, unknown> = {}) => ({ requestId, tenant: 'contoso', resource: 'app:tickets', principal: 'eve@lockbox.dev', durationMs: 60_000, ...extra });

describe('grantAccessNow', () => {
  it("grants in Lockbox's own store and answers with the stored times", async () => {
    const requestId = id();
    const before = Date.now();
    const answer = await activities.grantAccessNow(asked(requestId, { target: { provider: 'builtin' } }));
    const row = await store.getGrant(requestId);
    expect(row).not.toBeNull();
    expect(answer).toEqual({ granted: true, grantedAt: row!.grantedAt, endsAt: row!.endsAt });
    expect(Date.parse(row!.endsAt) - Date.parse(row!.grantedAt)).toBe(60_000);
    expect(Date.parse(row!.grantedAt)).toBeGreaterThanOrEqual(before - 1);
  });

  it('is the same grant when the usual grant follows it (idempotent by request id)', async () => {
    const requestId = id();
    const now = await activities.grantAccessNow(asked(requestId));
    const usual = await activities.grantAccess(asked(requestId));
    expect(now).toEqual({ granted: true, ...usual });
  });

  it('never writes again once the grant is revoked: a late try does not bring access back', async () => {
    const requestId = id();
    await activities.grantAccessNow(asked(requestId));
    await activities.revokeAccess({ requestId, tenant: 'contoso' });
    const late = await activities.grantAccessNow(asked(requestId));
    expect((await store.getGrant(requestId))!.revokedAt).not.toBeNull();
    expect(late.granted).toBe(true); // the store answers with the grant as it stands, revoked
    expect(await store.findActiveGrants({ principal: 'eve@lockbox.dev', tenant: 'contoso', resource: 'app:tickets', now: new Date().toISOString() }).then((gs) => gs.some((g) => g.requestId === requestId))).toBe(false);
  });

  it('answers not granted for a declared target, without calling it', async () => {
    const requestId = id();
    const answer = await activities.grantAccessNow(asked(requestId, { target: { provider: 'catalog', name: 'contoso-hooks' } }));
    expect(answer).toEqual({ granted: false, error: "not a grant in Lockbox's own store" });
    expect(receiver.calls.filter((c) => c.body.includes(requestId))).toEqual([]);
    expect(await store.getGrant(requestId)).toBeNull();
  });

  it("answers not granted, writing nothing, for a target another tenant's request may not use", async () => {
    const requestId = `req-fabrikam-${randomBytes(6).toString('hex')}`;
    const answer = await activities.grantAccessNow({ ...asked(requestId), tenant: 'fabrikam', target: { provider: 'catalog', name: 'contoso-hooks' } });
    expect(answer.granted).toBe(false);
    expect(receiver.calls.filter((c) => c.body.includes(requestId))).toEqual([]);
  });

  it("answers not granted, writing nothing, when the approvers' until has passed", async () => {
    const requestId = id();
    const answer = await activities.grantAccessNow(asked(requestId, { notAfter: new Date(Date.now() - 1_000).toISOString() }));
    expect(answer.granted).toBe(false);
    expect((answer as { error: string }).error).toMatch(/^approved_window_ended/);
    expect(await store.getGrant(requestId)).toBeNull();
  });

  it("ends the window by the approvers' until", async () => {
    const requestId = id();
    const until = new Date(Date.now() + 20_000).toISOString();
    const answer = await activities.grantAccessNow(asked(requestId, { notAfter: until }));
    expect(answer).toMatchObject({ granted: true, endsAt: until });
  });

  it('answers not granted to input that is not a grant, and when the store refuses the row', async () => {
    expect(await activities.grantAccessNow(null as never)).toEqual({ granted: false, error: 'no grant asked' });
    const answer = await activities.grantAccessNow({ requestId: id(), tenant: 'contoso', durationMs: 60_000 } as never);
    expect(answer.granted).toBe(false);
  });
});

describe("the workflow's check of the answer (grantedNow)", () => {
  it('takes a grant with two times, the end after the start', () => {
    expect(grantedNow({ granted: true, grantedAt: '2030-01-01T09:00:00.000Z', endsAt: '2030-01-01T10:00:00.000Z' })).toEqual({ grantedAt: '2030-01-01T09:00:00.000Z', endsAt: '2030-01-01T10:00:00.000Z' });
  });

  it('takes anything else as not granted', () => {
    for (const answer of [
      null,
      'granted',
      { granted: false, error: 'x' },
      { granted: 'true', grantedAt: '2030-01-01T09:00:00.000Z', endsAt: '2030-01-01T10:00:00.000Z' },
      { granted: true, grantedAt: '2030-01-01T09:00:00.000Z' },
      { granted: true, grantedAt: 'soon', endsAt: '2030-01-01T10:00:00.000Z' },
      { granted: true, grantedAt: '2030-01-01T10:00:00.000Z', endsAt: '2030-01-01T09:00:00.000Z' },
      { granted: true, grantedAt: 1, endsAt: 2 },
    ]) {
      expect(grantedNow(answer)).toBeNull();
    }
  });
});
