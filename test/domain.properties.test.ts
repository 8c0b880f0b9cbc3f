/**
 * Invariants of the request state machine as properties: random policies, random sequences of decisions by anyone,
 * time passing (past the lifetime and the access window), timers, grants, revokes and operator cancels, with the
 * invariants checked after every step.
 *
 * The domain trusts its caller for `granted`, `grantFailed` and `revoked`; the model calls them only where
 * `src/workflows/access-request.ts` does (see `drive`), so what is tested is what production can reach.
 *
 * Runs: PROPERTY_RUNS (default 2000), e.g. `PROPERTY_RUNS=100000 npx vitest run test/domain.properties.test.ts`.
 */
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AuditEventType } from '../src/domain/audit.js';
import {
  cancelByOperator,
  createRequest,
  decide,
  expire,
  grantFailed,
  granted,
  revokeRequested,
  revoked,
  type AuditDraft,
  type RejectionCode,
} from '../src/domain/decide.js';
import {
  DecisionAction,
  RequestStatus,
  isTerminal,
  type AccessRequest,
  type ApprovalPolicy,
  type NewRequestInput,
} from '../src/domain/request.js';

const EVE = 'eve@lockbox.dev';
const ALICE = 'alice@contoso.com';
const BOB = 'bob@contoso.com';
const IAN = 'ian@lockbox.dev';
const SYSTEM = 'system';
const PEOPLE = [EVE, ALICE, BOB, IAN] as const;

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const RUNS = (() => {
  const raw = process.env.PROPERTY_RUNS;
  const n = raw === undefined || raw === '' ? 2000 : Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`PROPERTY_RUNS must be a positive integer, got "${raw}"`);
  return n;
})();

// ---- generators -------------------------------------------------------------------------------------------------

type Ev =
  | { kind: 'decide'; action: DecisionAction; actor: string; note: string | null }
  | { kind: 'advance'; ms: number }
  /** Jump to just before, at or just after a deadline (never backwards). */
  | { kind: 'toDeadline'; which: 'expiresAt' | 'endsAt'; offsetMs: -1 | 0 | 1 }
  | { kind: 'expireTimer' }
  | { kind: 'grant'; windowMs: number }
  | { kind: 'grantFailed'; error: string }
  | { kind: 'accessRemoved' }
  | { kind: 'operatorCancel' };

const policyArb: fc.Arbitrary<ApprovalPolicy> = fc
  .record({
    approvers: fc.subarray([ALICE, BOB, EVE, IAN], { minLength: 1 }),
    quorum: fc.integer({ min: 1, max: 3 }),
    customerApproval: fc.boolean(),
  })
  .map(({ approvers, quorum, customerApproval }) => ({
    tenant: 'contoso',
    customerApproval,
    approvers,
    quorum: Math.min(quorum, approvers.length),
  }));

const inputArb: fc.Arbitrary<NewRequestInput> = fc.record({
  id: fc.constant('req-contoso-01JNQ3V8Z6K9W2X4Y5A7B8C9D0'),
  tenant: fc.constant('contoso'),
  resource: fc.constant('mailbox:bob@contoso.com'),
  requester: fc.constant(EVE),
  reason: fc.constant('INC-4711'),
  ticket: fc.constant(null),
  durationMs: fc.integer({ min: SECOND, max: 8 * HOUR }),
  requestTtlMs: fc.integer({ min: 10 * MINUTE, max: 24 * HOUR }),
  createdAt: fc
    .integer({ min: Date.parse('2024-01-01T00:00:00Z'), max: Date.parse('2030-01-01T00:00:00Z') })
    .map((ms) => new Date(ms).toISOString()),
  policy: policyArb,
});

const noteArb = fc.option(fc.string({ maxLength: 12 }), { nil: null });

/** Approvals are the common case; ending a request (reject, cancel) is rarer, so that runs get as far as access. */
const actionArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant(DecisionAction.approve) },
  { weight: 1, arbitrary: fc.constant(DecisionAction.reject) },
  { weight: 1, arbitrary: fc.constant(DecisionAction.cancel) },
  { weight: 2, arbitrary: fc.constant(DecisionAction.revoke) },
);

const eventArb: fc.Arbitrary<Ev> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.record({ kind: fc.constant('decide' as const), action: actionArb, actor: fc.constantFrom(...PEOPLE), note: noteArb }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 0, max: 30 * MINUTE }) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 30 * HOUR }) },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('toDeadline' as const),
      which: fc.constantFrom('expiresAt' as const, 'endsAt' as const),
      offsetMs: fc.constantFrom(-1 as const, 0 as const, 1 as const),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'expireTimer' as const }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('grant' as const), windowMs: fc.integer({ min: 1, max: 8 * HOUR }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('grantFailed' as const), error: fc.string({ maxLength: 12 }) }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'accessRemoved' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'operatorCancel' as const }) },
);

const runArb = fc.record({ input: inputArb, events: fc.array(eventArb, { maxLength: 40, size: 'max' }) });

// ---- the model: what the workflow does with each event ----------------------------------------------------------

interface World {
  state: AccessRequest;
  now: number;
  /** What `granted` was last given. */
  grant: { grantedAt: string; endsAt: string } | null;
}

type StepResult =
  /** The workflow would not call the domain here (e.g. a grant before approval); nothing happens. */
  | { kind: 'skipped' }
  | { kind: 'refused'; code: RejectionCode }
  | { kind: 'applied'; state: AccessRequest; audit: AuditDraft[]; expectedAudit: Array<[AuditEventType, string]> };

const nowDate = (w: World) => new Date(w.now);

/** Feeds one event to the domain the way src/workflows/access-request.ts would, or skips it. */
function drive(w: World, ev: Ev): StepResult {
  const s = w.state;
  switch (ev.kind) {
    case 'advance':
      w.now += ev.ms;
      return { kind: 'skipped' };
    case 'toDeadline': {
      const target = ev.which === 'expiresAt' ? s.expiresAt : s.access?.endsAt;
      if (target !== undefined) w.now = Math.max(w.now, Date.parse(target) + ev.offsetMs);
      return { kind: 'skipped' };
    }
    case 'decide': {
      const out = decide(s, { action: ev.action, actor: ev.actor, note: ev.note }, nowDate(w));
      if (!out.ok) return { kind: 'refused', code: out.rejection.code };
      const type = {
        approve: AuditEventType.requestApproved,
        reject: AuditEventType.requestRejected,
        cancel: AuditEventType.requestCancelled,
        revoke: null,
      }[ev.action];
      return { kind: 'applied', ...out, expectedAudit: type ? [[type, ev.actor]] : [] };
    }
    case 'expireTimer': {
      // The lifetime timer fires at or after expiresAt; the domain decides whether it still matters.
      if (w.now < Date.parse(s.expiresAt)) return { kind: 'skipped' };
      const out = expire(s, nowDate(w));
      return { kind: 'applied', ...out, expectedAudit: [[AuditEventType.requestExpired, SYSTEM]] };
    }
    case 'grant': {
      // The workflow grants only once quorum is reached and nothing ended the request first.
      if (s.status !== RequestStatus.pending || s.approvedAt === null) return { kind: 'skipped' };
      w.grant = { grantedAt: new Date(w.now).toISOString(), endsAt: new Date(w.now + ev.windowMs).toISOString() };
      const out = granted(s, w.grant);
      return { kind: 'applied', ...out, expectedAudit: [[AuditEventType.accessGranted, s.requester]] };
    }
    case 'grantFailed': {
      if (s.status !== RequestStatus.pending || s.approvedAt === null) return { kind: 'skipped' };
      const out = grantFailed(s, ev.error, nowDate(w));
      return { kind: 'applied', ...out, expectedAudit: [[AuditEventType.accessGrantFailed, SYSTEM]] };
    }
    case 'accessRemoved': {
      // Access is removed when an early revoke was asked for, or when the window has run out.
      if (s.status !== RequestStatus.active || s.access === null) return { kind: 'skipped' };
      const early = s.decisions.find((d) => d.action === DecisionAction.revoke);
      if (!early && w.now < Date.parse(s.access.endsAt)) return { kind: 'skipped' };
      const cause = early ? { by: early.actor, reason: early.note } : null;
      const out = revoked(s, new Date(w.now).toISOString(), cause);
      return { kind: 'applied', ...out, expectedAudit: [[AuditEventType.accessRevoked, cause ? cause.by : SYSTEM]] };
    }
    case 'operatorCancel': {
      if (s.status === RequestStatus.active && s.access !== null) {
        // Cancelled while holding access: the workflow revokes (early cause, or system) and the later
        // cancelByOperator finds a terminal request.
        const early = s.decisions.find((d) => d.action === DecisionAction.revoke);
        const cause = early ? { by: early.actor, reason: early.note } : { by: SYSTEM, reason: 'workflow cancelled in Temporal' };
        const first = revoked(s, new Date(w.now).toISOString(), cause);
        const second = cancelByOperator(first.state, nowDate(w));
        return {
          kind: 'applied',
          state: second.state,
          audit: [...first.audit, ...second.audit],
          expectedAudit: [[AuditEventType.accessRevoked, cause.by]],
        };
      }
      const out = cancelByOperator(s, nowDate(w));
      return { kind: 'applied', ...out, expectedAudit: [[AuditEventType.requestCancelled, SYSTEM]] };
    }
  }
}

// ---- invariants -------------------------------------------------------------------------------------------------

function must(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(`invariant violated: ${what}`);
}

/** Distinct approvals that count: by a listed approver who is not the requester. */
function countingApprovals(s: AccessRequest): number {
  const actors = s.decisions
    .filter((d) => d.action === DecisionAction.approve && d.actor !== s.requester && s.policy.approvers.includes(d.actor))
    .map((d) => d.actor);
  return new Set(actors).size;
}

const ALLOWED_NEXT: Record<RequestStatus, readonly RequestStatus[]> = {
  pending: ['pending', 'active', 'rejected', 'expired', 'cancelled', 'failed'],
  active: ['active', 'completed', 'revoked'],
  completed: ['completed'],
  rejected: ['rejected'],
  expired: ['expired'],
  cancelled: ['cancelled'],
  revoked: ['revoked'],
  failed: ['failed'],
};

/** What must hold of any state the workflow can be in. */
function checkState(w: World): void {
  const s = w.state;
  const approvals = s.decisions.filter((d) => d.action === DecisionAction.approve);
  must(approvals.every((d) => d.actor !== s.requester), 'the requester is never among the approvals');
  must(approvals.every((d) => s.policy.approvers.includes(d.actor)), 'only listed approvers approve');
  must(new Set(approvals.map((d) => d.actor)).size === approvals.length, 'nobody approves twice');
  const enough = countingApprovals(s) >= s.policy.quorum;
  must((s.approvedAt !== null) === enough, 'approvedAt is set exactly when distinct approvals reach quorum');
  if (s.status === RequestStatus.active || s.access !== null) {
    must(enough && s.approvedAt !== null, 'no access without quorum of distinct non-requester approvals');
  }
  must(s.status !== RequestStatus.active || (s.access !== null && s.access.revokedAt === null), 'active means access held');
  if (s.access !== null) {
    must(w.grant !== null, 'access only from a grant');
    must(
      Date.parse(s.access.endsAt) - Date.parse(s.access.grantedAt) === Date.parse(w.grant.endsAt) - Date.parse(w.grant.grantedAt) &&
        s.access.grantedAt === w.grant.grantedAt,
      'the access window is the one granted',
    );
  }
  must((s.endedAt !== null) === isTerminal(s.status), 'endedAt is set exactly in terminal states');
  // Once quorum is reached the request ends in a grant (or a failed one), never by its lifetime.
  must(!(s.status === RequestStatus.expired && s.approvedAt !== null), 'an approved request does not expire');
  must(s.decisions.filter((d) => d.action === DecisionAction.revoke).length <= 1, 'at most one revoke decision');
}

/** What must hold of one step from `before` to the world after it. */
function checkStep(before: AccessRequest, snapshot: AccessRequest, w: World, ev: Ev, r: StepResult): void {
  must(isDeepStrictEqual(before, snapshot), 'the domain never mutates the state it is given');
  const after = w.state;

  if (r.kind !== 'applied') {
    must(after === before, 'a refused or skipped step changes nothing');
    if (r.kind === 'refused') must(ev.kind === 'decide', 'only decisions are refused');
    return;
  }

  const changed = !isDeepStrictEqual(before, after);
  if (isTerminal(before.status)) {
    must(!changed && r.audit.length === 0, 'a terminal request never changes and audits nothing');
  }
  must(ALLOWED_NEXT[before.status].includes(after.status), `no transition ${before.status} -> ${after.status}`);
  must(
    before.decisions.every((d, i) => isDeepStrictEqual(d, after.decisions[i])) &&
      after.decisions.length - before.decisions.length <= 1,
    'decisions are append-only, one per step',
  );
  if (before.approvedAt !== null) must(after.approvedAt === before.approvedAt, 'approvedAt never changes once set');

  const audited = r.audit.map((d) => [d.type, d.actor]);
  if (!changed) must(r.audit.length === 0, 'a step that changes nothing audits nothing');
  else must(isDeepStrictEqual(audited, r.expectedAudit), `audit ${JSON.stringify(audited)} for ${JSON.stringify(ev)}`);

  if (ev.kind === 'decide') {
    must(changed, 'an accepted decision is recorded');
    must(after.decisions.at(-1)?.at === new Date(w.now).toISOString(), 'a decision is recorded at workflow time');
    if (ev.action !== DecisionAction.revoke) {
      must(w.now < Date.parse(before.expiresAt), `${ev.action} accepted at or after expiresAt`);
      must(before.status === RequestStatus.pending && before.approvedAt === null, `${ev.action} accepted when not open`);
    }
    if (ev.action === DecisionAction.approve || ev.action === DecisionAction.reject) {
      must(ev.actor !== before.requester && before.policy.approvers.includes(ev.actor), `${ev.action} by an ineligible actor`);
    }
    if (ev.action === DecisionAction.cancel) must(ev.actor === before.requester, 'cancel by someone else than the requester');
    if (ev.action === DecisionAction.revoke) {
      must(before.status === RequestStatus.active && !revokeRequested(before), 'revoke accepted when not active or twice');
      must(ev.actor === before.requester || before.policy.approvers.includes(ev.actor), 'revoke by an outsider');
      must(after.status === before.status && revokeRequested(after), 'a revoke decision only asks for a revoke');
    }
  }
}

/** Runs one sequence, checking after every step; returns what it saw (for coverage). */
function simulate(input: NewRequestInput, events: Ev[], check: boolean) {
  const created = createRequest(input);
  const w: World = { state: created.state, now: Date.parse(input.createdAt), grant: null };
  const seen = { statuses: new Set<RequestStatus>([w.state.status]), refusals: new Set<RejectionCode>() };
  if (check) checkState(w);
  events.forEach((ev, i) => {
    const before = w.state;
    const snapshot = structuredClone(before);
    const r = drive(w, ev);
    if (r.kind === 'applied') w.state = r.state;
    if (r.kind === 'refused') seen.refusals.add(r.code);
    seen.statuses.add(w.state.status);
    if (!check) return;
    try {
      checkStep(before, snapshot, w, ev, r);
      checkState(w);
    } catch (err) {
      throw new Error(`step ${i} ${JSON.stringify(ev)} at ${new Date(w.now).toISOString()}: ${(err as Error).message}`);
    }
  });
  return seen;
}

describe('request state machine properties', () => {
  it(`holds its invariants after every step (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(runArb, ({ input, events }) => {
        simulate(input, events, true);
      }),
      { numRuns: RUNS },
    );
  }, Math.max(60_000, RUNS)); // ~0.2 ms a run; on-demand runs of 10^5 and more must not hit the default timeout

  it('the generator reaches every status and every refusal (so the property is not vacuous)', () => {
    const statuses = new Set<RequestStatus>();
    const refusals = new Set<RejectionCode>();
    let activeRuns = 0;
    const samples = fc.sample(runArb, { numRuns: 1000, seed: 20250303 });
    for (const { input, events } of samples) {
      const seen = simulate(input, events, false);
      seen.statuses.forEach((s) => statuses.add(s));
      seen.refusals.forEach((c) => refusals.add(c));
      if (seen.statuses.has(RequestStatus.active)) activeRuns += 1;
    }
    expect([...statuses].sort()).toEqual(Object.values(RequestStatus).sort());
    expect([...refusals].sort()).toEqual(
      ['already_decided', 'not_active', 'not_eligible', 'not_pending', 'request_expired', 'self_approval'].sort(),
    );
    // Access is reached in a useful share of runs, not by a fluke.
    expect(activeRuns).toBeGreaterThan(100);
  });
});
