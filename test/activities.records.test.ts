/**
 * What the worker keeps as a request's record (src/activities/records.ts, docs/records.md). Anyone who can start a
 * workflow in the Temporal namespace can make one export a "copy" of any request they like; only the run that owns
 * the request id, exporting its own request and events from its own workflow, gets its copy kept.
 */
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { keepRecord } from '../src/activities/records.js';
import { createActivities } from '../src/activities/index.js';
import type { AuditEvent } from '../src/domain/audit.js';
import type { AuditSink } from '../src/ports/audit-sink.js';
import { buildAuditEvent } from '../src/domain/audit.js';
import type { AccessRequest } from '../src/domain/request.js';
import { filedRequest, useTempSqliteStore } from './support/records-fixtures.js';

const store = useTempSqliteStore('lockbox-keep-');
const warnings: Array<Record<string, unknown> | undefined> = [];
const log = { info: () => undefined, warn: (_m: string, f?: Record<string, unknown>) => void warnings.push(f), error: () => undefined };

/** A contoso request whose id is claimed by run `owner`; the copy says it is of run `runId`. */
async function claimed(owner: string, runId = owner): Promise<AccessRequest> {
  const state = filedRequest();
  await store().claimRequestRun(state.id, owner);
  return { ...state, runId };
}
const created = (r: { id: string; tenant: string }) => [buildAuditEvent({ requestId: r.id, tenant: r.tenant, seq: 1, time: new Date(), type: 'request.created', actor: 'system' })];

describe('keeping a request record', () => {
  it('keeps the copy of the run that owns the id, exported from its own workflow', async () => {
    const r = await claimed('run-a');
    await keepRecord({ store: store(), log }, created(r), { request: r, version: 1 }, r.id);
    expect(await store().getRequestRecord(r.id)).toMatchObject({ request: { id: r.id, status: 'pending' }, version: 1 });
    expect(await store().listRequestEvents(r.id)).toHaveLength(1);
  });

  it('keeps nothing from a run that does not own the id, another workflow, or with another request’s events', async () => {
    const notOwner = await claimed('run-a', 'run-b');
    const fromElsewhere = await claimed('run-c');
    const mixed = await claimed('run-d');
    const other = await claimed('run-e');
    const cases: Array<[AccessRequest, ReturnType<typeof created>, string, string]> = [
      [notOwner, created(notOwner), notOwner.id, 'not the run that owns the request id'],
      [fromElsewhere, created(fromElsewhere), `req-contoso-${ulid()}`, 'exported by another workflow'],
      [mixed, created(other), mixed.id, 'events of another request'],
      [{ ...mixed, tenant: 'fabrikam' }, created({ id: mixed.id, tenant: 'fabrikam' }), mixed.id, 'request id of another tenant'],
    ];
    for (const [request, events, caller, reason] of cases) {
      warnings.length = 0;
      await keepRecord({ store: store(), log }, events, { request, version: 5 }, caller);
      expect(await store().getRequestRecord(request.id), request.id).toBeNull();
      expect(await store().listRequestEvents(request.id)).toEqual([]);
      expect(warnings).toEqual([{ requestId: request.id, reason }]);
    }
    // The other request's events did not land under its id either.
    expect(await store().listRequestEvents(other.id)).toEqual([]);
  });
});

describe("a request's end (finishRequest)", () => {
  it('keeps the record only through the same check as every export: a copy from a run that does not own the id is refused, its events still reach the sinks', async () => {
    // A workflow started around the API under a used id (someone with access to the Temporal namespace).
    const r = await claimed('run-f', 'run-g');
    const exported: string[] = [];
    const told: string[] = [];
    const activities = createActivities({
      store: store(),
      log,
      trustedKeys: {},
      grants: { providerFor: () => { throw new Error('no grant here'); }, endExpiredSessions: async () => [], close: async () => undefined },
      notifier: { notify: async (n) => void told.push(n.id) },
      audit: { append: async (events: AuditEvent[]) => void exported.push(...events.map((e) => e.id)) } as unknown as AuditSink,
    });
    warnings.length = 0;
    const events = created(r);
    const message = { id: `${r.id}:outcome:expired`, requestId: r.id, tenant: r.tenant, recipient: r.requester, kind: 'outcome', subject: 'expired', body: 'expired', createdAt: new Date().toISOString() };
    expect(await activities.finishRequest({ direct: [[message as never]], admins: null, events, record: { request: r, version: 1 } })).toEqual({ exported: true });
    expect(told).toEqual([message.id]);
    expect(exported).toEqual(events.map((e) => e.id));
    expect(await store().getRequestRecord(r.id)).toBeNull();
    expect(warnings).toEqual([{ requestId: r.id, reason: 'not the run that owns the request id' }]);
  });
});
