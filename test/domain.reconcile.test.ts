/**
 * The reconciler's comparison as scenario tables: what Lockbox granted at a target (request ids), what Temporal says
 * about each request's workflow, which active requests must hold access, and the verdict (orphan, owned, unsure,
 * missing). Personas: eve (engineer, the requester), alice (contoso approver).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRequest, decide, granted } from '../src/domain/decide.js';
import { normalizePolicy } from '../src/domain/policy.js';
import {
  SETTLE_MS,
  compareTarget,
  driftCandidates,
  endedOutsideWorkflow,
  finishReport,
  mustHoldAccess,
  orphanReason,
  targetKey,
  tenantOfRequestId,
  type Execution,
  type RequestView,
  type TargetReport,
} from '../src/domain/reconcile.js';
import type { AccessRequest } from '../src/domain/request.js';

const EVE = 'eve@lockbox.dev';
const ALICE = 'alice@contoso.com';
const T0 = Date.parse('2025-03-03T09:00:00.000Z');
const MINUTE = 60_000;
const at = (m: number) => new Date(T0 + m * MINUTE);

/** eve's request for bob's mailbox, filed at T0; approved by alice and granted at minute 1 for 4 h when asked. */
function eveRequest(id = 'req-contoso-01JNQ3V8Z6K9W2X4Y5A7B8C9D0'): AccessRequest {
  return createRequest({
    id,
    tenant: 'contoso',
    resource: 'mailbox:bob@contoso.com',
    requester: EVE,
    reason: 'support case 4711',
    ticket: null,
    durationMs: 4 * 60 * MINUTE,
    requestTtlMs: 12 * 60 * MINUTE,
    createdAt: at(0).toISOString(),
    policy: normalizePolicy({ tenant: 'contoso', customerApproval: true, approvers: [ALICE], quorum: 1 }),
  }).state;
}
function approved(r = eveRequest()): AccessRequest {
  const out = decide(r, { action: 'approve', actor: ALICE, note: null }, at(1));
  if (!out.ok) throw new Error(out.rejection.message);
  return out.state;
}
function active(r = approved()): AccessRequest {
  return granted(r, { grantedAt: at(1).toISOString(), endsAt: at(241).toISOString() }).state;
}
function revokeAsked(r = active()): AccessRequest {
  const out = decide(r, { action: 'revoke', actor: ALICE, note: 'case closed' }, at(30));
  if (!out.ok) throw new Error(out.rejection.message);
  return out.state;
}
/** Running, as describe shows it; pending ones are queried too (`request`). */
const running = (request: RequestView | null, status = request?.status ?? 'pending'): Execution =>
  status === 'pending' ? { kind: 'running', status, request } : { kind: 'running', status };

describe('orphan or owned: what Temporal says about the workflow of access found at a target', () => {
  const table: Array<[string, Execution | undefined, 'orphan' | 'owned' | 'unsure', RegExp?]> = [
    ["eve's active request", running(active()), 'owned'],
    ['approved by alice, grant in progress (still pending)', running(approved()), 'owned'],
    ['an early revoke asked for, workflow still revoking', running(revokeAsked()), 'owned'],
    ['running, its status not set yet', { kind: 'running', status: null }, 'unsure'],
    ['workflow terminated in the Temporal UI', { kind: 'closed', closeStatus: 'TERMINATED' }, 'orphan', /TERMINATED/],
    ['workflow timed out', { kind: 'closed', closeStatus: 'TIMED_OUT' }, 'orphan', /TIMED_OUT/],
    ['workflow completed but access was left', { kind: 'closed', closeStatus: 'COMPLETED' }, 'orphan', /COMPLETED/],
    ['workflow deleted by retention, or a role made by hand', { kind: 'not_found' }, 'orphan', /not found/],
    ['workflow reset to before alice approved', running(eveRequest()), 'orphan', /pending, not approved/],
    ['workflow running but the request already ended', running({ ...active(), status: 'revoked' }), 'orphan', /request revoked/],
    ['workflow running, pending, its state could not be queried', running(null), 'unsure'],
    ['Temporal could not be asked', { kind: 'unknown', error: 'deadline exceeded' }, 'unsure'],
    ['not looked up at all', undefined, 'unsure'],
  ];
  it.each(table)('%s -> %s', (_name, execution, expected, reason) => {
    const verdict = orphanReason(execution);
    expect(Object.keys(verdict)[0]).toBe(expected);
    if (reason) expect((verdict as { orphan: string }).orphan).toMatch(reason);
  });
});

describe('must an active request hold access at its target right now (else it is drift)?', () => {
  const table: Array<[string, RequestView, number, boolean]> = [
    ['active, mid-window', active(), T0 + 60 * MINUTE, true],
    ['active, granted a moment ago (the target may be ahead of the state)', active(), T0 + MINUTE + SETTLE_MS - 1, false],
    ['active, the window ends within moments (the workflow is revoking)', active(), T0 + 241 * MINUTE - SETTLE_MS + 1, false],
    ['active, window over', active(), T0 + 300 * MINUTE, false],
    ['a revoke asked for', revokeAsked(), T0 + 60 * MINUTE, false],
    ['revoked at the target already', { ...active(), access: { ...active().access!, revokedAt: at(50).toISOString() } }, T0 + 60 * MINUTE, false],
    ['pending', eveRequest(), T0 + 60 * MINUTE, false],
    ['approved, grant in progress', approved(), T0 + 60 * MINUTE, false],
  ];
  it.each(table)('%s -> %s', (_name, request, now, expected) => {
    expect(mustHoldAccess(request, now)).toBe(expected);
  });
});

describe('comparing one target', () => {
  it('sorts every id the target lists into orphan, owned or unsure', () => {
    const out = compareTarget({
      granted: ['req-a', 'req-terminated', 'req-gone', 'req-unknown', 'req-terminated'],
      executions: {
        'req-a': running(active()),
        'req-terminated': { kind: 'closed', closeStatus: 'TERMINATED' },
        'req-gone': { kind: 'not_found' },
        'req-unknown': { kind: 'unknown', error: 'timeout' },
      },
    });
    expect(out.orphans.map((o) => o.requestId)).toEqual(['req-terminated', 'req-gone']);
    expect(out.unsure).toEqual([{ requestId: 'req-unknown', why: 'timeout' }]);
  });

  it('finds nothing to do when the target and the requests agree', () => {
    expect(compareTarget({ granted: ['req-a'], executions: { 'req-a': running(active()) } })).toEqual({ orphans: [], unsure: [] });
  });

  it('takes as drift candidates the active requests no target listed, once each', () => {
    expect(driftCandidates(['req-a', 'req-lost', 'req-b', 'req-lost'], ['req-a', 'req-b', 'req-orphan'])).toEqual(['req-lost']);
    expect(driftCandidates([], ['req-a'])).toEqual([]);
  });

  it('holds as a property: each listed id gets exactly one verdict; no running active request is ever an orphan', () => {
    const executionArb: fc.Arbitrary<Execution> = fc.oneof(
      fc.constantFrom<Execution>(running(active()), running(approved()), running(revokeAsked()), running(eveRequest()), running(null), { kind: 'not_found' }),
      fc.record({ kind: fc.constant('running' as const), status: fc.constantFrom('active' as const, 'granting' as const, 'revoked' as const, 'completed' as const, null) }),
      fc.record({ kind: fc.constant('closed' as const), closeStatus: fc.constantFrom('TERMINATED', 'TIMED_OUT', 'COMPLETED', 'FAILED') }),
      fc.record({ kind: fc.constant('unknown' as const), error: fc.string() }),
    );
    const owns = (e: Execution) =>
      e.kind === 'running' && (e.request ? e.request.status === 'active' || e.request.status === 'granting' : e.status === 'active' || e.status === 'granting');
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^req-[a-z0-9]{1,6}$/), executionArb), fc.array(fc.stringMatching(/^req-[a-z0-9]{1,6}$/)), (executions, active) => {
        const ids = Object.keys(executions);
        const out = compareTarget({ granted: ids, executions });
        const orphans = new Set(out.orphans.map((o) => o.requestId));
        const unsure = new Set(out.unsure.map((u) => u.requestId));
        for (const id of ids) expect(Number(orphans.has(id)) + Number(unsure.has(id)) + Number(owns(executions[id]!))).toBe(1);
        for (const c of driftCandidates(active, ids)) expect(ids).not.toContain(c);
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 500) },
    );
  });
});

describe('a request whose workflow ended outside its own code, as readers see it', () => {
  it('says failed, when and why, for an active request terminated in Temporal', () => {
    const view = endedOutsideWorkflow(active(), { status: 'TERMINATED', closedAt: at(30).toISOString() });
    expect(view).toMatchObject({ status: 'failed', stage: null, endedAt: at(30).toISOString() });
    expect(view.failure).toMatch(/terminated in Temporal.*reconciler revokes/);
    expect(view.access).toEqual(active().access);
  });

  it('says failed for a pending request whose workflow timed out, without mentioning access it never had', () => {
    const view = endedOutsideWorkflow(eveRequest(), { status: 'TIMED_OUT', closedAt: at(30).toISOString() });
    expect(view.status).toBe('failed');
    expect(view.failure).toMatch(/timed out/);
    expect(view.failure).not.toMatch(/reconciler/);
  });

  it('leaves a running request and an ended one as they are', () => {
    expect(endedOutsideWorkflow(active(), { status: 'RUNNING', closedAt: null })).toEqual(active());
    const revoked = { ...active(), status: 'revoked' as const };
    expect(endedOutsideWorkflow(revoked, { status: 'TERMINATED', closedAt: at(30).toISOString() })).toEqual(revoked);
  });
});

describe('helpers', () => {
  it('keys a declared target by its name; no target is the built-in store', () => {
    expect(targetKey({ provider: 'catalog', name: 'contoso-crm' })).toBe('catalog:contoso-crm');
    expect(targetKey(undefined)).toBe(targetKey({ provider: 'builtin' }));
    expect(targetKey({ provider: 'catalog', name: 'contoso-crm' })).not.toBe(targetKey({ provider: 'catalog', name: 'contoso-hr' }));
  });

  it('reads the tenant from a request id', () => {
    expect(tenantOfRequestId('req-contoso-01JNQ3V8Z6K9W2X4Y5A7B8C9D0')).toBe('contoso');
    expect(tenantOfRequestId('req-big-corp-01JNQ3V8Z6K9W2X4Y5A7B8C9D0')).toBe('big-corp');
    expect(tenantOfRequestId('lockbox_manual')).toBeNull();
    expect(tenantOfRequestId('req-contoso-not-a-ulid')).toBeNull();
  });

  it('calls a run ok only when every target was checked and every orphan revoke took', () => {
    const target = (t: Partial<TargetReport>): TargetReport => ({ target: 'builtin', provider: 'builtin', granted: 1, orphans: [], drift: [], unsure: [], ...t });
    const base = { startedAt: at(0).toISOString(), finishedAt: at(1).toISOString(), drift: 'fail' as const, active: 0, errors: [] };
    const orphan = { requestId: 'r', tenant: 'contoso', resource: 'x', reason: 'workflow TERMINATED' };
    expect(finishReport({ ...base, targets: [target({}), target({ skipped: 'webhook' })] }).ok).toBe(true);
    expect(finishReport({ ...base, targets: [target({ orphans: [{ ...orphan, outcome: 'revoked' }] })] }).ok).toBe(true);
    expect(finishReport({ ...base, targets: [target({ orphans: [{ ...orphan, outcome: 'failed', error: 'x' }] })] }).ok).toBe(false);
    expect(finishReport({ ...base, targets: [target({ error: 'unreachable' })] }).ok).toBe(false);
    expect(finishReport({ ...base, errors: ['listing active requests: timeout'], targets: [] }).ok).toBe(false);
  });
});
