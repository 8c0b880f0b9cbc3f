/**
 * The request state machine as scenario tables, in the style of Teleport's `TestReviewThresholds`
 * (gravitational/teleport lib/services/access_request_test.go): each scenario is a policy and a sequence of steps,
 * each step says who does what, when, and the state the request must be in afterwards.
 *
 * Personas: eve (engineer, always the requester), alice and bob (contoso approvers), ian (a Lockbox insider who is
 * not a contoso approver). These scenarios use one customer stage and the filed policy; approval stages and settings
 * changed while a request is pending are in domain.stages.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AuditEventType } from '../src/domain/audit.js';
import { normalizePolicy } from '../src/domain/policy.js';
import { cappedGrant } from '../src/activities/index.js';
import { windowEnd } from '../src/ports/grant-provider.js';
import {
  RejectionCode,
  approvedUntil,
  cancelByOperator,
  createRequest,
  decide,
  expire,
  grantFailed,
  granted,
  isConflict,
  refuseUnauthenticated,
  revokeRequested,
  revoked,
  type AuditDraft,
  type Rejection,
} from '../src/domain/decide.js';
import {
  DecisionAction,
  RequestStatus,
  TERMINAL_STATUSES,
  isTerminal,
  type AccessRequest,
  type ApprovalPolicy,
} from '../src/domain/request.js';

const EVE = 'eve@lockbox.dev';
const ALICE = 'alice@contoso.com';
const BOB = 'bob@contoso.com';
const IAN = 'ian@lockbox.dev';
const SYSTEM = 'system';
const PEOPLE = [EVE, ALICE, BOB, IAN] as const;

const CREATED_AT = '2025-03-03T09:00:00.000Z';
const T0 = Date.parse(CREATED_AT);
const MINUTE = 60_000;
/** The request lifetime: it expires unanswered 12 h (720 min) after filing. */
const TTL_MIN = 12 * 60;
const ACCESS_MS = 4 * 60 * MINUTE;

const minutes = (m: number) => new Date(T0 + m * MINUTE);
const iso = (m: number) => minutes(m).toISOString();

const CONTOSO: ApprovalPolicy = normalizePolicy({ tenant: 'contoso', customerApproval: true, approvers: [ALICE, BOB], quorum: 1 });

function file(policy: Partial<ApprovalPolicy> = {}) {
  return createRequest({
    id: 'req-contoso-01JNQ3V8Z6K9W2X4Y5A7B8C9D0',
    tenant: 'contoso',
    resource: 'mailbox:bob@contoso.com',
    requester: EVE,
    reason: 'INC-4711: mail flow to bob is broken',
    ticket: 'INC-4711',
    durationMs: ACCESS_MS,
    requestTtlMs: TTL_MIN * MINUTE,
    createdAt: CREATED_AT,
    policy: { ...CONTOSO, ...policy },
  });
}

// ---- what can happen to a request -------------------------------------------------------------------------------

type Event =
  | { kind: 'decide'; action: DecisionAction; by: string; note: string | null }
  /** The lifetime timer fired (possibly late). */
  | { kind: 'expire' }
  /** An operator cancelled the workflow in the Temporal UI. */
  | { kind: 'operatorCancel' }
  /** The grant activity succeeded: access from the step's time for ACCESS_MS. */
  | { kind: 'granted' }
  | { kind: 'grantFailed'; error: string }
  /** Access was removed at the target, at the step's time; `early` null means the window ran out. */
  | { kind: 'revoked'; early: { by: string; reason: string | null } | null };

const approve = (by: string, note: string | null = null): Event => ({ kind: 'decide', action: 'approve', by, note });
const reject = (by: string, note: string | null = 'not during the freeze'): Event => ({ kind: 'decide', action: 'reject', by, note });
const cancel = (by: string, note: string | null = null): Event => ({ kind: 'decide', action: 'cancel', by, note });
const revoke = (by: string, note: string | null = null): Event => ({ kind: 'decide', action: 'revoke', by, note });
const timerFires: Event = { kind: 'expire' };
const operatorCancels: Event = { kind: 'operatorCancel' };
const grantSucceeds: Event = { kind: 'granted' };
const grantFails = (error: string): Event => ({ kind: 'grantFailed', error });
const accessRemoved = (early: { by: string; reason: string | null } | null): Event => ({ kind: 'revoked', early });

type Result = { ok: true; state: AccessRequest; audit: AuditDraft[] } | { ok: false; rejection: Rejection };

function apply(state: AccessRequest, event: Event, now: Date): Result {
  switch (event.kind) {
    case 'decide':
      return decide(state, { action: event.action, actor: event.by, note: event.note }, now);
    case 'expire':
      return { ok: true, ...expire(state, now) };
    case 'operatorCancel':
      return { ok: true, ...cancelByOperator(state, now) };
    case 'granted':
      return {
        ok: true,
        ...granted(state, { grantedAt: now.toISOString(), endsAt: new Date(now.getTime() + ACCESS_MS).toISOString() }),
      };
    case 'grantFailed':
      return { ok: true, ...grantFailed(state, event.error, now) };
    case 'revoked':
      return { ok: true, ...revoked(state, now.toISOString(), event.early) };
  }
}

// ---- the table ------------------------------------------------------------------------------------------------

interface Expect {
  status: RequestStatus;
  /** The step must be refused with this code, and change nothing. */
  refused?: RejectionCode;
  /** Whether quorum has been reached (`approvedAt` set). */
  approved?: boolean;
  /** Exactly the audit drafts of the step, as [type, actor, details subset?]; default none. */
  audit?: Array<[AuditEventType, string, Record<string, unknown>?]>;
  access?: { grantedAt: number; endsAt: number; revokedAt: number | null } | null;
  revokeRequested?: boolean;
  failure?: string | null;
}

interface Step {
  /** Minutes after filing. */
  at: number;
  event: Event;
  expect: Expect;
}

interface Scenario {
  name: string;
  policy?: Partial<ApprovalPolicy>;
  steps: Step[];
}

const { pending, granting, active, completed, rejected, expired, cancelled, failed } = RequestStatus;
const R = RejectionCode;
const A = AuditEventType;

const SCENARIOS: Scenario[] = [
  {
    name: 'one approval of quorum 1 approves; the request stays pending until access is granted',
    steps: [
      { at: 5, event: approve(ALICE, 'ok, go ahead'), expect: { status: granting, approved: true, audit: [[A.requestApproved, ALICE, { comment: 'ok, go ahead', approvals: 1, quorum: 1, final: true }]] } },
      { at: 5, event: grantSucceeds, expect: { status: active, approved: true, audit: [[A.accessGranted, EVE, { grantedAt: iso(5), endsAt: iso(5 + 240) }]], access: { grantedAt: 5, endsAt: 245, revokedAt: null } } },
      { at: 245, event: accessRemoved(null), expect: { status: completed, audit: [[A.accessRevoked, SYSTEM, { cause: 'window_ended', reason: null }]], access: { grantedAt: 5, endsAt: 245, revokedAt: 245 } } },
    ],
  },
  {
    name: 'a rejection ends the request and nothing is decided after it',
    steps: [
      { at: 3, event: reject(BOB, 'not during the freeze'), expect: { status: rejected, approved: false, audit: [[A.requestRejected, BOB, { reason: 'not during the freeze' }]] } },
      { at: 4, event: approve(ALICE), expect: { status: rejected, refused: R.notPending } },
      { at: 4, event: cancel(EVE), expect: { status: rejected, refused: R.notPending } },
      { at: 4, event: timerFires, expect: { status: rejected, audit: [] } },
    ],
  },
  {
    name: 'quorum 2 needs two distinct approvers; the same approver twice is refused',
    policy: { quorum: 2 },
    steps: [
      { at: 1, event: approve(ALICE), expect: { status: pending, approved: false, audit: [[A.requestApproved, ALICE, { approvals: 1, quorum: 2, final: false }]] } },
      { at: 2, event: approve(ALICE, 'really sure'), expect: { status: pending, approved: false, refused: R.alreadyDecided } },
      { at: 3, event: approve(BOB), expect: { status: granting, approved: true, audit: [[A.requestApproved, BOB, { approvals: 2, quorum: 2, final: true }]] } },
      { at: 3, event: approve(ALICE), expect: { status: granting, refused: R.notPending } },
      { at: 4, event: grantSucceeds, expect: { status: active, audit: [[A.accessGranted, EVE]], access: { grantedAt: 4, endsAt: 244, revokedAt: null } } },
    ],
  },
  {
    name: 'the requester never decides their own request, even when listed as an approver',
    policy: { approvers: [EVE, ALICE], quorum: 1 },
    steps: [
      { at: 1, event: approve(EVE), expect: { status: pending, approved: false, refused: R.selfApproval } },
      { at: 1, event: reject(EVE), expect: { status: pending, refused: R.selfApproval } },
      { at: 2, event: approve(ALICE), expect: { status: granting, approved: true, audit: [[A.requestApproved, ALICE, { approvals: 1 }]] } },
    ],
  },
  {
    name: 'a requester listed as an approver does not count towards quorum 2',
    policy: { approvers: [EVE, ALICE, BOB], quorum: 2 },
    steps: [
      { at: 1, event: approve(ALICE), expect: { status: pending, approved: false, audit: [[A.requestApproved, ALICE, { approvals: 1, final: false }]] } },
      { at: 2, event: approve(EVE), expect: { status: pending, approved: false, refused: R.selfApproval } },
      { at: 3, event: approve(BOB), expect: { status: granting, approved: true, audit: [[A.requestApproved, BOB, { approvals: 2, final: true }]] } },
    ],
  },
  {
    name: 'someone who is not an approver of the tenant is refused',
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, approved: false, refused: R.notEligible } },
      { at: 1, event: reject(IAN), expect: { status: pending, refused: R.notEligible } },
      { at: 1, event: cancel(IAN), expect: { status: pending, refused: R.notEligible } },
      { at: 1, event: revoke(IAN), expect: { status: pending, refused: R.notEligible } },
      { at: 2, event: approve(BOB), expect: { status: granting, approved: true, audit: [[A.requestApproved, BOB]] } },
    ],
  },
  {
    name: 'decisions at or after the expiry time are refused even if the timer has not fired yet',
    policy: { quorum: 2 },
    steps: [
      { at: 10, event: approve(ALICE), expect: { status: pending, approved: false, audit: [[A.requestApproved, ALICE]] } },
      { at: TTL_MIN, event: approve(BOB), expect: { status: pending, approved: false, refused: R.expired } },
      { at: TTL_MIN + 30, event: reject(BOB), expect: { status: pending, refused: R.expired } },
      { at: TTL_MIN + 30, event: cancel(EVE), expect: { status: pending, refused: R.expired } },
      { at: TTL_MIN + 31, event: timerFires, expect: { status: expired, approved: false, audit: [[A.requestExpired, SYSTEM, { expiresAt: iso(TTL_MIN) }]] } },
      { at: TTL_MIN + 32, event: approve(BOB), expect: { status: expired, refused: R.notPending } },
      { at: TTL_MIN + 32, event: timerFires, expect: { status: expired, audit: [] } },
    ],
  },
  {
    name: 'a decision a moment before the expiry time still counts',
    steps: [
      { at: TTL_MIN - 1 / MINUTE, event: approve(ALICE), expect: { status: granting, approved: true, audit: [[A.requestApproved, ALICE]] } },
      { at: TTL_MIN, event: timerFires, expect: { status: granting, approved: true, audit: [] } },
    ],
  },
  {
    name: 'only the requester cancels, and only while pending',
    steps: [
      { at: 1, event: cancel(ALICE), expect: { status: pending, refused: R.notEligible } },
      { at: 2, event: cancel(EVE, 'fixed it myself'), expect: { status: cancelled, audit: [[A.requestCancelled, EVE, { reason: 'fixed it myself' }]] } },
      { at: 3, event: cancel(EVE), expect: { status: cancelled, refused: R.notPending } },
      { at: 3, event: approve(ALICE), expect: { status: cancelled, refused: R.notPending } },
    ],
  },
  {
    name: 'no cancel once approved: the grant is already on its way',
    steps: [
      { at: 1, event: approve(ALICE), expect: { status: granting, approved: true, audit: [[A.requestApproved, ALICE]] } },
      { at: 2, event: cancel(EVE), expect: { status: granting, approved: true, refused: R.notPending } },
      { at: 2, event: reject(BOB), expect: { status: granting, approved: true, refused: R.notPending } },
    ],
  },
  {
    name: 'a revoke while the grant is under way stops it: asked once, by an approver; refused while still pending',
    steps: [
      { at: 1, event: revoke(ALICE), expect: { status: pending, refused: R.notActive } },
      { at: 2, event: approve(ALICE), expect: { status: granting, approved: true, audit: [[A.requestApproved, ALICE]] } },
      { at: 3, event: revoke(IAN), expect: { status: granting, refused: R.notEligible, revokeRequested: false } },
      { at: 3, event: revoke(BOB, 'wrong ticket'), expect: { status: granting, audit: [], revokeRequested: true } },
      { at: 4, event: revoke(ALICE), expect: { status: granting, refused: R.notActive, revokeRequested: true } },
    ],
  },
  {
    name: 'revoke only while active, by an approver; a second revoke is refused; the revoker is the actor',
    steps: [
      { at: 1, event: revoke(ALICE), expect: { status: pending, refused: R.notActive } },
      { at: 2, event: approve(ALICE), expect: { status: granting, approved: true, audit: [[A.requestApproved, ALICE]] } },
      { at: 3, event: grantSucceeds, expect: { status: active, audit: [[A.accessGranted, EVE]], access: { grantedAt: 3, endsAt: 243, revokedAt: null } } },
      { at: 60, event: revoke(IAN), expect: { status: active, refused: R.notEligible, revokeRequested: false } },
      // The decision only asks; the workflow removes access and then records `revoked`.
      { at: 60, event: revoke(BOB, 'done here'), expect: { status: active, audit: [], revokeRequested: true } },
      { at: 61, event: revoke(ALICE), expect: { status: active, refused: R.notActive } },
      { at: 61, event: accessRemoved({ by: BOB, reason: 'done here' }), expect: { status: RequestStatus.revoked, audit: [[A.accessRevoked, BOB, { cause: 'revoked', reason: 'done here', endsAt: iso(243) }]], access: { grantedAt: 3, endsAt: 243, revokedAt: 61 } } },
      { at: 62, event: revoke(EVE), expect: { status: RequestStatus.revoked, refused: R.notActive } },
    ],
  },
  {
    name: 'the requester may give access up early',
    steps: [
      { at: 1, event: approve(BOB), expect: { status: granting, approved: true, audit: [[A.requestApproved, BOB]] } },
      { at: 1, event: grantSucceeds, expect: { status: active, audit: [[A.accessGranted, EVE]] } },
      { at: 30, event: revoke(EVE, 'finished'), expect: { status: active, audit: [], revokeRequested: true } },
      { at: 30, event: accessRemoved({ by: EVE, reason: 'finished' }), expect: { status: RequestStatus.revoked, audit: [[A.accessRevoked, EVE, { cause: 'revoked' }]], access: { grantedAt: 1, endsAt: 241, revokedAt: 30 } } },
    ],
  },
  {
    name: 'the expiry timer leaves an approved request that is not yet granted alone',
    steps: [
      { at: 10, event: approve(ALICE), expect: { status: granting, approved: true, audit: [[A.requestApproved, ALICE]] } },
      { at: TTL_MIN + 5, event: timerFires, expect: { status: granting, approved: true, audit: [], access: null } },
      { at: TTL_MIN + 6, event: grantSucceeds, expect: { status: active, audit: [[A.accessGranted, EVE]] } },
      { at: TTL_MIN + 7, event: timerFires, expect: { status: active, audit: [] } },
    ],
  },
  {
    name: 'a failed grant fails the request with the error, and nothing is decided after it',
    steps: [
      { at: 1, event: approve(ALICE), expect: { status: granting, approved: true, audit: [[A.requestApproved, ALICE]] } },
      { at: 2, event: grantFails('mailbox service unavailable'), expect: { status: failed, failure: 'mailbox service unavailable', access: null, audit: [[A.accessGrantFailed, SYSTEM, { error: 'mailbox service unavailable' }]] } },
      { at: 3, event: revoke(ALICE), expect: { status: failed, refused: R.notActive } },
      { at: 3, event: approve(BOB), expect: { status: failed, refused: R.notPending } },
    ],
  },
  {
    name: 'an operator cancel ends a pending request, with system as the actor',
    steps: [
      { at: 1, event: operatorCancels, expect: { status: cancelled, audit: [[A.requestCancelled, SYSTEM, { reason: 'workflow cancelled in Temporal' }]] } },
      { at: 2, event: approve(ALICE), expect: { status: cancelled, refused: R.notPending } },
      { at: 2, event: operatorCancels, expect: { status: cancelled, audit: [] } },
    ],
  },
  {
    name: 'an operator cancel while access is held is a revoke by system, not a cancel',
    steps: [
      { at: 1, event: approve(ALICE), expect: { status: granting, approved: true, audit: [[A.requestApproved, ALICE]] } },
      { at: 1, event: grantSucceeds, expect: { status: active, audit: [[A.accessGranted, EVE]] } },
      { at: 20, event: operatorCancels, expect: { status: active, audit: [] } },
      { at: 20, event: accessRemoved({ by: SYSTEM, reason: 'workflow cancelled in Temporal' }), expect: { status: RequestStatus.revoked, audit: [[A.accessRevoked, SYSTEM, { cause: 'revoked' }]] } },
    ],
  },
  {
    name: 'an approver who approved cannot take it back by rejecting',
    policy: { quorum: 2 },
    steps: [
      { at: 1, event: approve(ALICE), expect: { status: pending, approved: false, audit: [[A.requestApproved, ALICE]] } },
      { at: 2, event: reject(ALICE, 'changed my mind'), expect: { status: pending, approved: false, refused: R.alreadyDecided } },
      { at: 3, event: reject(BOB), expect: { status: rejected, audit: [[A.requestRejected, BOB]] } },
    ],
  },
];

function run(scenario: Scenario): AccessRequest {
  let state = file(scenario.policy).state;
  scenario.steps.forEach((step, i) => {
    const label = `step ${i + 1} (${JSON.stringify(step.event)} at +${step.at} min)`;
    const before = structuredClone(state);
    const out = apply(state, step.event, minutes(step.at));
    const e = step.expect;
    if (e.refused) {
      expect(out.ok ? 'accepted' : out.rejection.code, label).toBe(e.refused);
      // A refusal changes nothing, not even the object it was given.
      expect(state, label).toStrictEqual(before);
    } else {
      if (!out.ok) throw new Error(`${label}: refused with ${out.rejection.code}: ${out.rejection.message}`);
      state = out.state;
      const wanted = e.audit ?? [];
      expect(out.audit.map((d) => [d.type, d.actor]), label).toEqual(wanted.map(([type, actor]) => [type, actor]));
      wanted.forEach(([, , details], j) => {
        if (details) expect(out.audit[j]?.details, label).toMatchObject(details);
      });
    }
    expect(state.status, label).toBe(e.status);
    if (e.approved !== undefined) expect(state.approvedAt !== null, `${label}: approvedAt`).toBe(e.approved);
    if (e.revokeRequested !== undefined) expect(revokeRequested(state), label).toBe(e.revokeRequested);
    if (e.failure !== undefined) expect(state.failure, label).toBe(e.failure);
    if (e.access !== undefined) {
      const a = e.access;
      expect(state.access, label).toEqual(
        a && { grantedAt: iso(a.grantedAt), endsAt: iso(a.endsAt), revokedAt: a.revokedAt === null ? null : iso(a.revokedAt) },
      );
    }
    // Every state: ended exactly when terminal; access only with quorum.
    expect(state.endedAt !== null, `${label}: endedAt`).toBe(isTerminal(state.status));
    if (state.access !== null) expect(state.approvedAt, `${label}: access without approval`).not.toBeNull();
  });
  return state;
}

describe('request state machine scenarios', () => {
  it.each(SCENARIOS)('$name', (scenario) => {
    run(scenario);
  });
});

describe('createRequest', () => {
  it('files a pending request that expires after its lifetime, audited as created by the requester', () => {
    const { state, audit } = file();
    expect(state).toMatchObject({
      status: pending,
      requester: EVE,
      duration: '4h',
      durationMs: ACCESS_MS,
      createdAt: CREATED_AT,
      expiresAt: iso(TTL_MIN),
      decisions: [],
      access: null,
      approvedAt: null,
      endedAt: null,
      failure: null,
      // Filed without a target: the built-in one. One customer stage under the CONTOSO policy.
      target: { provider: 'builtin' },
      stages: ['customer'],
      stage: 'customer',
    });
    expect(audit).toEqual([
      {
        type: A.requestCreated,
        actor: EVE,
        details: {
          resource: 'mailbox:bob@contoso.com',
          target: { provider: 'builtin' },
          reason: state.reason,
          ticket: 'INC-4711',
          duration: '4h',
          expiresAt: iso(TTL_MIN),
          policy: CONTOSO,
        },
      },
    ]);
  });

  it('records decisions with the actor, the workflow time and the note', () => {
    const out = decide(file().state, { action: 'approve', actor: ALICE, note: 'ok' }, minutes(7));
    expect(out.ok && out.state.decisions).toEqual([{ action: 'approve', actor: ALICE, at: iso(7), note: 'ok', stage: 'customer', policyVersion: 0 }]);
  });
});

describe('every decision on a terminal request is refused', () => {
  const terminalPaths: Array<[string, Array<[number, Event]>]> = [
    ['rejected', [[1, reject(ALICE)]]],
    ['expired', [[TTL_MIN, timerFires]]],
    ['cancelled by the requester', [[1, cancel(EVE)]]],
    ['cancelled by an operator', [[1, operatorCancels]]],
    ['failed', [[1, approve(ALICE)], [1, grantFails('boom')]]],
    ['completed', [[1, approve(ALICE)], [1, grantSucceeds], [241, accessRemoved(null)]]],
    ['revoked', [[1, approve(ALICE)], [1, grantSucceeds], [2, revoke(BOB)], [2, accessRemoved({ by: BOB, reason: null })]]],
  ];
  const reached = new Set<RequestStatus>();

  it.each(terminalPaths)('%s', (_name, path) => {
    let state = file().state;
    for (const [at, event] of path) {
      const out = apply(state, event, minutes(at));
      if (!out.ok) throw new Error(`setup refused: ${out.rejection.message}`);
      state = out.state;
    }
    expect(isTerminal(state.status)).toBe(true);
    reached.add(state.status);
    const frozen = structuredClone(state);
    // Before and after the lifetime, by everyone, every action: refused. Eligible actors get the state's code.
    for (const at of [5, TTL_MIN + 5]) {
      for (const action of Object.values(DecisionAction)) {
        for (const actor of PEOPLE) {
          const out = decide(state, { action, actor, note: null }, minutes(at));
          expect(out.ok, `${action} by ${actor}`).toBe(false);
          if (out.ok) continue;
          const eligible =
            action === 'cancel' || action === 'extend' ? actor === EVE : action === 'revoke' ? actor !== IAN : true;
          if (eligible) {
            expect(out.rejection.code, `${action} by ${actor}`).toBe(action === 'revoke' || action === 'extend' ? R.notActive : R.notPending);
          } else {
            expect(out.rejection.code, `${action} by ${actor}`).toBe(R.notEligible);
          }
        }
      }
    }
    // Timers and operator cancels after the end change nothing either.
    expect(expire(state, minutes(TTL_MIN + 5))).toEqual({ state: frozen, audit: [] });
    expect(cancelByOperator(state, minutes(TTL_MIN + 5))).toEqual({ state: frozen, audit: [] });
    expect(state).toStrictEqual(frozen);
  });

  it('covers every terminal status', () => {
    expect([...reached].sort()).toEqual([...TERMINAL_STATUSES].sort());
  });
});

describe('rejection codes map to HTTP classes', () => {
  /** 409: the request's state is in the way; 403: this person may not do this. */
  const CLASS: Record<RejectionCode, 409 | 403> = {
    not_pending: 409,
    not_active: 409,
    request_expired: 409,
    already_decided: 409,
    not_eligible: 403,
    self_approval: 403,
    not_emergency: 409,
    already_reviewed: 409,
    self_review: 403,
    invalid_until: 409,
  };

  it('the table names every code', () => {
    expect(Object.keys(CLASS).sort()).toEqual(Object.values(RejectionCode).sort());
  });

  it.each(Object.entries(CLASS) as Array<[RejectionCode, 409 | 403]>)('%s is %i', (code, status) => {
    expect(isConflict(code)).toBe(status === 409);
  });
});

describe('guards at the edges of the window and of the lifecycle', () => {
  const activeRequest = () => {
    let s = file().state;
    const approved = decide(s, { action: 'approve', actor: ALICE, note: null }, minutes(1));
    if (!approved.ok) throw new Error('setup');
    s = granted(approved.state, { grantedAt: iso(1), endsAt: iso(61) }).state;
    return s;
  };

  it('refuses an early revoke once the window has run out, so the cause stays "window ended"', () => {
    const s = activeRequest();
    expect(decide(s, { action: 'revoke', actor: ALICE, note: null }, minutes(60)).ok).toBe(true);
    const late = decide(s, { action: 'revoke', actor: ALICE, note: null }, minutes(61));
    expect(late).toEqual({ ok: false, rejection: expect.objectContaining({ code: 'not_active' }) });
  });

  it('ignores grant, grant failure and revoke outcomes that arrive in the wrong state', () => {
    const rejected = decide(file().state, { action: 'reject', actor: BOB, note: 'no' }, minutes(1));
    if (!rejected.ok) throw new Error('setup');
    expect(granted(rejected.state, { grantedAt: iso(2), endsAt: iso(3) }).state).toBe(rejected.state);
    expect(grantFailed(rejected.state, 'x', minutes(2)).state).toBe(rejected.state);
    const done = revoked(activeRequest(), iso(61), null).state;
    expect(done.status).toBe('completed');
    expect(revoked(done, iso(62), { by: ALICE, reason: null }).state).toBe(done);
  });
});

describe('a request not filed through the API', () => {
  const reason = 'request was not filed through the Lockbox API';

  it('fails at once, grants nothing, and audits the claimed requester', () => {
    const { state } = file();
    const frozen = structuredClone(state);
    const out = refuseUnauthenticated(state, reason, minutes(0));
    expect(out.state).toMatchObject({ status: failed, stage: null, endedAt: iso(0), failure: reason, access: null, approvedAt: null, decisions: [] });
    expect(out.audit).toEqual([{ type: A.requestRejectedUnauthenticated, actor: SYSTEM, details: { reason, claimedRequester: EVE } }]);
    expect(state).toStrictEqual(frozen);
    // Nothing is decided on it afterwards.
    expect(decide(out.state, { action: 'approve', actor: ALICE, note: null }, minutes(1))).toMatchObject({ ok: false, rejection: { code: R.notPending } });
    expect(granted(out.state, { grantedAt: iso(1), endsAt: iso(2) }).state).toBe(out.state);
  });

  it('changes nothing once the request is no longer pending', () => {
    const rejectedState = decide(file().state, { action: 'reject', actor: BOB, note: null }, minutes(1));
    if (!rejectedState.ok) throw new Error('setup');
    expect(refuseUnauthenticated(rejectedState.state, reason, minutes(2))).toEqual({ state: rejectedState.state, audit: [] });
  });
});

describe('decision proofs', () => {
  const proof = { keyId: 'api-2025-03', signature: 'ab'.repeat(64), nonce: 'n-1', issuedAt: iso(7) };

  it.each([
    ['approve', ALICE, A.requestApproved],
    ['reject', BOB, A.requestRejected],
    ['cancel', EVE, A.requestCancelled],
  ] as const)('an authenticated %s keeps its proof in the decision and in the audit event', (action, actor, type) => {
    const out = decide(file().state, { action, actor, note: 'n', proof }, minutes(7));
    if (!out.ok) throw new Error(out.rejection.message);
    expect(out.state.decisions.at(-1)).toMatchObject({ action, actor, proof });
    expect(out.audit).toEqual([{ type, actor, details: expect.objectContaining({ proof }) }]);
  });

  it('a decision without a proof records none', () => {
    const out = decide(file().state, { action: 'approve', actor: ALICE, note: null, proof: null }, minutes(7));
    if (!out.ok) throw new Error(out.rejection.message);
    expect(out.state.decisions.at(-1)).not.toHaveProperty('proof');
    expect(out.audit[0]?.details).not.toHaveProperty('proof');
  });
});

describe("an approver's until", () => {
  const approve = (s: AccessRequest, by: string, until: unknown, at: number) =>
    decide(s, { action: DecisionAction.approve, actor: by, note: null, until: until as string }, minutes(at));

  it('is kept on the decision in UTC, and the earliest of the approvals caps the window', () => {
    const s0 = file({ quorum: 2 }).state;
    expect(approvedUntil(s0)).toBeNull();
    const a = approve(s0, ALICE, iso(120), 1);
    if (!a.ok) throw new Error(a.rejection.message);
    expect(a.state.decisions[0]).toMatchObject({ actor: ALICE, until: iso(120) });
    expect(a.audit[0]!.details).toMatchObject({ until: iso(120) });
    const b = approve(a.state, BOB, iso(60), 2);
    if (!b.ok) throw new Error(b.rejection.message);
    expect(b.state.status).toBe(RequestStatus.granting);
    expect(approvedUntil(b.state)).toBe(iso(60));
    // An approval without one leaves the other's cap in force.
    const c = decide(a.state, { action: DecisionAction.approve, actor: BOB, note: null }, minutes(2));
    if (!c.ok) throw new Error(c.rejection.message);
    expect(approvedUntil(c.state)).toBe(iso(120));
  });

  it('is refused when it has passed or is not a UTC time, and on a rejection', () => {
    const s0 = file().state;
    for (const [until, at] of [[iso(5), 5], [iso(4), 5], ['2025-03-03T12:00:00+01:00', 1], ['soon', 1], [{ toString: 1 }, 1], [1741000000000, 1]] as const) {
      const out = approve(s0, ALICE, until, at);
      expect(out.ok, JSON.stringify(until)).toBe(false);
      if (!out.ok) expect(out.rejection.code).toBe(RejectionCode.invalidUntil);
    }
    const rejected = decide(s0, { action: DecisionAction.reject, actor: ALICE, note: 'no', until: iso(60) }, minutes(1));
    expect(rejected.ok).toBe(false);
    // A closed request says it is closed, not that the until is wrong.
    const late = approve(s0, ALICE, iso(TTL_MIN + 60), TTL_MIN + 1);
    expect(late.ok === false && late.rejection.code).toBe(RejectionCode.expired);
  });
});

describe('a grant under a cap', () => {
  const asked = { requestId: 'r', tenant: 'contoso', resource: 'mailbox:x@contoso.com', principal: EVE, durationMs: ACCESS_MS };

  it('ends by the cap, keeps a shorter window as asked, and refuses when less than a second is left or the cap is no time', () => {
    expect(cappedGrant(asked, undefined, T0)).toEqual(asked);
    expect(cappedGrant(asked, iso(30), T0)).toEqual({ ...asked, durationMs: 30 * MINUTE, endsBy: iso(30) });
    expect(cappedGrant(asked, iso(10 * 60), T0)).toEqual({ ...asked, endsBy: iso(10 * 60) });
    // The provider ends the window by the cap whenever its own clock starts it (here 5 ms after the activity's).
    const capped = cappedGrant(asked, iso(30), T0) as typeof asked & { endsBy: string };
    expect(windowEnd(new Date(T0 + 5), capped).toISOString()).toBe(iso(30));
    expect(windowEnd(new Date(T0), asked).toISOString()).toBe(new Date(T0 + ACCESS_MS).toISOString());
    expect(cappedGrant(asked, new Date(T0 + 999).toISOString(), T0)).toMatchObject({ refused: expect.stringContaining('approved_window_ended') });
    expect(cappedGrant(asked, iso(-1), T0)).toMatchObject({ refused: expect.stringContaining('approved_window_ended') });
    expect(cappedGrant(asked, 'never', T0)).toMatchObject({ refused: expect.stringContaining('approved_window_invalid') });
    expect(cappedGrant(asked, 5, T0)).toMatchObject({ refused: expect.stringContaining('approved_window_invalid') });
  });
});
