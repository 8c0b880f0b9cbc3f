/**
 * Approval stages and decision-time policy as scenario tables, in the style of Teleport's `TestReviewThresholds`
 * (gravitational/teleport lib/services/access_request_test.go): each scenario is the policy filed with the request and
 * a sequence of steps, each saying who does what, when, and the state the request must be in afterwards. A step may
 * also be a tenant admin saving new settings: every later decision is checked against them (the workflow passes the
 * current settings to `decide`), while the request keeps the stages it was filed with.
 *
 * Personas: eve (engineer, always the requester), alice and bob (contoso approvers), ian (internal approver at the
 * provider).
 */
import { describe, expect, it } from 'vitest';
import { AuditEventType } from '../src/domain/audit.js';
import { RejectionCode, applyPolicyChange, createRequest, decide, expire, granted, revokeRequested } from '../src/domain/decide.js';
import { Stage, normalizePolicy, reminderAt, stagesFor, type ApprovalPolicy } from '../src/domain/policy.js';
import { DecisionAction, RequestStatus, isTerminal, type AccessRequest, type NewRequestInput } from '../src/domain/request.js';

const EVE = 'eve@lockbox.dev';
const ALICE = 'alice@contoso.com';
const BOB = 'bob@contoso.com';
const IAN = 'ian@lockbox.dev';
const SYSTEM = 'system';

const CREATED_AT = '2025-03-03T09:00:00.000Z';
const T0 = Date.parse(CREATED_AT);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The request lifetime: it expires unanswered 12 h (720 min) after filing. */
const TTL_MIN = 12 * 60;
const ACCESS_MS = 4 * HOUR;

const minutes = (m: number) => new Date(T0 + m * MINUTE);
const iso = (m: number) => minutes(m).toISOString();

/** Contoso with both stages: ian approves for the provider first, then one of alice and bob. Settings version 3. */
const STAGED: ApprovalPolicy = normalizePolicy({
  tenant: 'contoso',
  version: 3,
  customerApproval: true,
  approvers: [ALICE, BOB],
  quorum: 1,
  internalApproval: true,
  internalApprovers: [IAN],
  internalQuorum: 1,
});

function file(policy: NewRequestInput['policy']) {
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
    policy,
  });
}

// ---- what can happen ----------------------------------------------------------------------------------------------

type Event =
  | { kind: 'decide'; action: DecisionAction; by: string; note: string | null }
  /** A tenant admin saves new settings: the named fields change and the version goes up by one. */
  | { kind: 'settings'; change: Partial<Omit<ApprovalPolicy, 'tenant' | 'version'>> }
  | { kind: 'expire' }
  | { kind: 'granted' };

const approve = (by: string, note: string | null = null): Event => ({ kind: 'decide', action: 'approve', by, note });
const reject = (by: string, note: string | null = 'not during the freeze'): Event => ({ kind: 'decide', action: 'reject', by, note });
const revoke = (by: string): Event => ({ kind: 'decide', action: 'revoke', by, note: null });
const settings = (change: Extract<Event, { kind: 'settings' }>['change']): Event => ({ kind: 'settings', change });
const timerFires: Event = { kind: 'expire' };
const grantSucceeds: Event = { kind: 'granted' };

interface Expect {
  status: RequestStatus;
  /** The stage waiting for decisions afterwards (null once approved or ended). */
  stage: Stage | null;
  /** The step must be refused with this code, and change nothing. */
  refused?: RejectionCode;
  /** Whether every stage has reached its quorum (`approvedAt` set). */
  approved?: boolean;
  /** Exactly the audit drafts of the step, as [type, actor, details subset?]; default none. */
  audit?: Array<[AuditEventType, string, Record<string, unknown>?]>;
  /** How the accepted decision was recorded: its stage (none for a revoke) and the settings version it was checked against. */
  recorded?: { stage: Stage | undefined; policyVersion: number };
  revokeRequested?: boolean;
}

interface Step {
  /** Minutes after filing. */
  at: number;
  event: Event;
  expect: Expect;
}

interface Scenario {
  name: string;
  policy: NewRequestInput['policy'];
  /** The stages the request is filed with. */
  stages: Stage[];
  steps: Step[];
}

const { pending, granting, active, rejected, expired, cancelled } = RequestStatus;
const { internal, customer } = Stage;
const R = RejectionCode;
const A = AuditEventType;

const SCENARIOS: Scenario[] = [
  {
    name: 'internal then customer: ian approves first, a customer approval before that is refused, then alice completes it',
    policy: STAGED,
    stages: [internal, customer],
    steps: [
      { at: 1, event: approve(ALICE), expect: { status: pending, stage: internal, refused: R.notEligible } },
      // A customer approver cannot end the request either while the provider has not approved.
      { at: 1, event: reject(BOB), expect: { status: pending, stage: internal, refused: R.notEligible } },
      {
        at: 2,
        event: approve(IAN, 'INC-4711 checked'),
        expect: {
          status: pending,
          stage: customer,
          approved: false,
          audit: [[A.requestApproved, IAN, { comment: 'INC-4711 checked', stage: internal, approvals: 1, quorum: 1, final: false, policyVersion: 3 }]],
          recorded: { stage: internal, policyVersion: 3 },
        },
      },
      // The internal stage is over and ian is no contoso approver.
      { at: 3, event: approve(IAN), expect: { status: pending, stage: customer, refused: R.notEligible } },
      {
        at: 4,
        event: approve(ALICE, 'ok'),
        expect: {
          status: granting,
          stage: null,
          approved: true,
          audit: [[A.requestApproved, ALICE, { stage: customer, approvals: 1, quorum: 1, final: true, policyVersion: 3 }]],
          recorded: { stage: customer, policyVersion: 3 },
        },
      },
      { at: 4, event: approve(BOB), expect: { status: granting, stage: null, refused: R.notPending } },
      { at: 5, event: grantSucceeds, expect: { status: active, stage: null, audit: [[A.accessGranted, EVE]] } },
    ],
  },
  {
    name: 'customer approval off: only the internal stage applies and the customer approvers cannot decide',
    policy: { ...STAGED, customerApproval: false, internalApproval: false },
    stages: [internal],
    steps: [
      { at: 1, event: approve(ALICE), expect: { status: pending, stage: internal, refused: R.notEligible } },
      { at: 1, event: reject(BOB), expect: { status: pending, stage: internal, refused: R.notEligible } },
      {
        at: 2,
        event: approve(IAN),
        expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, IAN, { stage: internal, final: true }]], recorded: { stage: internal, policyVersion: 3 } },
      },
      { at: 2, event: grantSucceeds, expect: { status: active, stage: null, audit: [[A.accessGranted, EVE]] } },
    ],
  },
  {
    name: 'internal approval off: only the customer stage applies and ian cannot decide',
    policy: { ...STAGED, internalApproval: false },
    stages: [customer],
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, stage: customer, refused: R.notEligible } },
      { at: 2, event: approve(BOB), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, BOB, { stage: customer, final: true }]] } },
    ],
  },
  {
    name: 'both stages with customer quorum 2: two distinct contoso approvals after ian; nobody decides twice',
    policy: { ...STAGED, quorum: 2 },
    stages: [internal, customer],
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, stage: customer, audit: [[A.requestApproved, IAN, { stage: internal, final: false }]] } },
      { at: 2, event: approve(ALICE), expect: { status: pending, stage: customer, approved: false, audit: [[A.requestApproved, ALICE, { stage: customer, approvals: 1, quorum: 2, final: false }]] } },
      { at: 3, event: approve(ALICE, 'again'), expect: { status: pending, stage: customer, refused: R.alreadyDecided } },
      { at: 3, event: reject(ALICE, 'changed my mind'), expect: { status: pending, stage: customer, refused: R.alreadyDecided } },
      { at: 4, event: approve(BOB), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, BOB, { stage: customer, approvals: 2, quorum: 2, final: true }]] } },
    ],
  },
  {
    name: 'internal quorum 2: ian and alice approve for the provider; alice then cannot approve again as a customer',
    policy: { ...STAGED, internalApprovers: [IAN, ALICE], internalQuorum: 2 },
    stages: [internal, customer],
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, stage: internal, audit: [[A.requestApproved, IAN, { stage: internal, approvals: 1, quorum: 2, final: false }]] } },
      { at: 2, event: approve(ALICE), expect: { status: pending, stage: customer, audit: [[A.requestApproved, ALICE, { stage: internal, approvals: 2, quorum: 2, final: false }]], recorded: { stage: internal, policyVersion: 3 } } },
      // Each approver approves once across stages.
      { at: 3, event: approve(ALICE), expect: { status: pending, stage: customer, refused: R.alreadyDecided } },
      { at: 4, event: approve(BOB), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, BOB, { stage: customer, approvals: 1, final: true }]] } },
    ],
  },
  {
    name: 'an approver removed from the settings can no longer decide a pending request',
    policy: STAGED,
    stages: [internal, customer],
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, stage: customer, audit: [[A.requestApproved, IAN]] } },
      { at: 2, event: settings({ approvers: [BOB] }), expect: { status: pending, stage: customer } },
      { at: 3, event: approve(ALICE), expect: { status: pending, stage: customer, refused: R.notEligible } },
      { at: 3, event: reject(ALICE), expect: { status: pending, stage: customer, refused: R.notEligible } },
      {
        at: 4,
        event: approve(BOB),
        expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, BOB, { policyVersion: 4, final: true }]], recorded: { stage: customer, policyVersion: 4 } },
      },
    ],
  },
  {
    name: 'an internal approver removed from the settings cannot approve; a newly listed one can',
    policy: STAGED,
    stages: [internal, customer],
    steps: [
      { at: 1, event: settings({ internalApprovers: [ALICE] }), expect: { status: pending, stage: internal } },
      { at: 2, event: approve(IAN), expect: { status: pending, stage: internal, refused: R.notEligible } },
      { at: 3, event: approve(ALICE), expect: { status: pending, stage: customer, audit: [[A.requestApproved, ALICE, { stage: internal, policyVersion: 4 }]], recorded: { stage: internal, policyVersion: 4 } } },
      { at: 4, event: approve(ALICE), expect: { status: pending, stage: customer, refused: R.alreadyDecided } },
      { at: 5, event: approve(BOB), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, BOB]] } },
    ],
  },
  {
    name: 'an approver added to the settings after filing can approve',
    policy: { ...STAGED, approvers: [ALICE] },
    stages: [internal, customer],
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, stage: customer, audit: [[A.requestApproved, IAN]] } },
      { at: 2, event: approve(BOB), expect: { status: pending, stage: customer, refused: R.notEligible } },
      { at: 3, event: settings({ approvers: [ALICE, BOB] }), expect: { status: pending, stage: customer } },
      { at: 4, event: approve(BOB), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, BOB, { policyVersion: 4 }]], recorded: { stage: customer, policyVersion: 4 } } },
    ],
  },
  {
    name: 'a quorum raised mid-request applies to the next approval',
    policy: STAGED,
    stages: [internal, customer],
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, stage: customer, audit: [[A.requestApproved, IAN]] } },
      { at: 2, event: settings({ quorum: 2 }), expect: { status: pending, stage: customer } },
      { at: 3, event: approve(ALICE), expect: { status: pending, stage: customer, approved: false, audit: [[A.requestApproved, ALICE, { approvals: 1, quorum: 2, final: false, policyVersion: 4 }]] } },
      { at: 4, event: approve(BOB), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, BOB, { approvals: 2, quorum: 2, final: true }]] } },
    ],
  },
  {
    name: 'an internal quorum raised before ian approves keeps the request in the internal stage',
    policy: { ...STAGED, internalApprovers: [IAN, ALICE] },
    stages: [internal, customer],
    steps: [
      { at: 1, event: settings({ internalQuorum: 2 }), expect: { status: pending, stage: internal } },
      { at: 2, event: approve(IAN), expect: { status: pending, stage: internal, audit: [[A.requestApproved, IAN, { stage: internal, approvals: 1, quorum: 2 }]] } },
      { at: 3, event: approve(BOB), expect: { status: pending, stage: internal, refused: R.notEligible } },
      { at: 4, event: approve(ALICE), expect: { status: pending, stage: customer, audit: [[A.requestApproved, ALICE, { stage: internal, approvals: 2, quorum: 2 }]] } },
    ],
  },
  {
    name: 'a quorum lowered mid-request to what the approvals already reach completes the stage at once (never waits for more)',
    policy: { ...STAGED, quorum: 2 },
    stages: [internal, customer],
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, stage: customer, audit: [[A.requestApproved, IAN]] } },
      { at: 2, event: approve(ALICE), expect: { status: pending, stage: customer, approved: false, audit: [[A.requestApproved, ALICE, { approvals: 1, quorum: 2 }]] } },
      {
        at: 3,
        event: settings({ quorum: 1 }),
        expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, SYSTEM, { stage: customer, approvals: 1, quorum: 1, final: true, policyVersion: 4, cause: 'policy_changed' }]] },
      },
      { at: 4, event: approve(BOB), expect: { status: granting, stage: null, refused: R.notPending } },
    ],
  },
  {
    name: 'a quorum lowered but not yet reached waits as before; the next approval completes it',
    policy: { ...STAGED, internalApproval: false, approvers: [ALICE, BOB, IAN], quorum: 3 },
    stages: [customer],
    steps: [
      { at: 1, event: approve(ALICE), expect: { status: pending, stage: customer, audit: [[A.requestApproved, ALICE, { approvals: 1, quorum: 3 }]] } },
      { at: 2, event: settings({ quorum: 2 }), expect: { status: pending, stage: customer, approved: false } },
      { at: 3, event: approve(BOB), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, BOB, { approvals: 2, quorum: 2, final: true }]] } },
    ],
  },
  {
    name: 'a stage that can no longer reach its quorum ends the request at once instead of waiting for its lifetime',
    // The requester is listed as an approver (they never count): with bob gone, nobody else is left to approve.
    policy: { ...STAGED, internalApproval: false, approvers: [ALICE, BOB, EVE], quorum: 2 },
    stages: [customer],
    steps: [
      { at: 1, event: approve(ALICE), expect: { status: pending, stage: customer, audit: [[A.requestApproved, ALICE, { approvals: 1, quorum: 2 }]] } },
      {
        at: 2,
        event: settings({ approvers: [ALICE, EVE] }),
        expect: { status: cancelled, stage: null, audit: [[A.requestCancelled, SYSTEM, { reason: expect.stringContaining('policy_changed'), policyVersion: 4 }]] },
      },
      { at: 3, event: approve(BOB), expect: { status: cancelled, stage: null, refused: R.notPending } },
    ],
  },
  {
    name: 'a lowered internal quorum completes the internal stage; the customer stage is then asked',
    policy: { ...STAGED, internalApprovers: [IAN, 'ina@lockbox.dev'], internalQuorum: 2 },
    stages: [internal, customer],
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, stage: internal, audit: [[A.requestApproved, IAN, { approvals: 1, quorum: 2 }]] } },
      { at: 2, event: settings({ internalQuorum: 1 }), expect: { status: pending, stage: customer, approved: false, audit: [[A.requestApproved, SYSTEM, { stage: internal, final: false }]] } },
      { at: 3, event: approve(ALICE), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, ALICE, { stage: customer, final: true }]] } },
    ],
  },
  {
    // Settings are checked at decision time and earlier approvals are not re-checked: this pins that behaviour.
    name: 'an approval made before the approver was removed still counts towards the quorum',
    policy: { ...STAGED, internalApproval: false, approvers: [ALICE, BOB, IAN], quorum: 2 },
    stages: [customer],
    steps: [
      { at: 1, event: approve(ALICE), expect: { status: pending, stage: customer, audit: [[A.requestApproved, ALICE, { approvals: 1, quorum: 2 }]] } },
      { at: 2, event: settings({ approvers: [BOB, IAN] }), expect: { status: pending, stage: customer } },
      { at: 3, event: approve(BOB), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, BOB, { approvals: 2, quorum: 2, final: true }]] } },
    ],
  },
  {
    name: 'a rejection in the internal stage ends the request; nothing is decided after it',
    policy: STAGED,
    stages: [internal, customer],
    steps: [
      {
        at: 1,
        event: reject(IAN, 'no change ticket'),
        expect: { status: rejected, stage: null, approved: false, audit: [[A.requestRejected, IAN, { reason: 'no change ticket', stage: internal }]], recorded: { stage: internal, policyVersion: 3 } },
      },
      { at: 2, event: approve(ALICE), expect: { status: rejected, stage: null, refused: R.notPending } },
      { at: 2, event: approve(IAN), expect: { status: rejected, stage: null, refused: R.notPending } },
      { at: TTL_MIN, event: timerFires, expect: { status: rejected, stage: null, audit: [] } },
    ],
  },
  {
    name: 'a rejection in the customer stage ends the request after the internal approval',
    policy: { ...STAGED, quorum: 2 },
    stages: [internal, customer],
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, stage: customer, audit: [[A.requestApproved, IAN]] } },
      { at: 2, event: approve(ALICE), expect: { status: pending, stage: customer, audit: [[A.requestApproved, ALICE]] } },
      { at: 3, event: reject(BOB), expect: { status: rejected, stage: null, approved: false, audit: [[A.requestRejected, BOB, { stage: customer }]], recorded: { stage: customer, policyVersion: 3 } } },
    ],
  },
  {
    name: 'the requester listed as an internal approver still cannot approve or reject, nor count towards the quorum',
    policy: { ...STAGED, internalApprovers: [EVE, IAN, ALICE], internalQuorum: 2 },
    stages: [internal, customer],
    steps: [
      { at: 1, event: approve(EVE), expect: { status: pending, stage: internal, refused: R.selfApproval } },
      { at: 1, event: reject(EVE), expect: { status: pending, stage: internal, refused: R.selfApproval } },
      { at: 2, event: approve(IAN), expect: { status: pending, stage: internal, audit: [[A.requestApproved, IAN, { approvals: 1, quorum: 2 }]] } },
      { at: 3, event: approve(EVE), expect: { status: pending, stage: internal, refused: R.selfApproval } },
      { at: 4, event: approve(ALICE), expect: { status: pending, stage: customer, audit: [[A.requestApproved, ALICE, { approvals: 2, quorum: 2 }]] } },
    ],
  },
  {
    name: 'the requester listed as a customer approver cannot approve in the customer stage either',
    policy: { ...STAGED, approvers: [EVE, BOB] },
    stages: [internal, customer],
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, stage: customer, audit: [[A.requestApproved, IAN]] } },
      { at: 2, event: approve(EVE), expect: { status: pending, stage: customer, refused: R.selfApproval } },
      { at: 3, event: approve(BOB), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, BOB]] } },
    ],
  },
  {
    name: 'decisions at the expiry time in the customer stage are refused; the timer expires the request',
    policy: STAGED,
    stages: [internal, customer],
    steps: [
      { at: 10, event: approve(IAN), expect: { status: pending, stage: customer, audit: [[A.requestApproved, IAN]] } },
      { at: TTL_MIN, event: approve(ALICE), expect: { status: pending, stage: customer, refused: R.expired } },
      { at: TTL_MIN, event: timerFires, expect: { status: expired, stage: null, approved: false, audit: [[A.requestExpired, SYSTEM, { expiresAt: iso(TTL_MIN) }]] } },
      { at: TTL_MIN + 1, event: approve(ALICE), expect: { status: expired, stage: null, refused: R.notPending } },
    ],
  },
  {
    name: 'the stages are fixed at filing: turning internal approval on later adds no stage',
    policy: { ...STAGED, internalApproval: false },
    stages: [customer],
    steps: [
      { at: 1, event: settings({ internalApproval: true }), expect: { status: pending, stage: customer } },
      { at: 2, event: approve(ALICE), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, ALICE, { stage: customer, final: true, policyVersion: 4 }]] } },
    ],
  },
  {
    name: 'the stages are fixed at filing: turning customer approval off later does not skip the customer stage',
    policy: STAGED,
    stages: [internal, customer],
    steps: [
      { at: 1, event: settings({ customerApproval: false }), expect: { status: pending, stage: internal } },
      { at: 2, event: approve(IAN), expect: { status: pending, stage: customer, approved: false, audit: [[A.requestApproved, IAN, { final: false }]] } },
      { at: 3, event: approve(ALICE), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, ALICE, { final: true }]] } },
    ],
  },
  {
    name: 'a policy recorded before stages existed gives one customer stage',
    policy: { tenant: 'contoso', customerApproval: true, approvers: [ALICE, BOB], quorum: 1 },
    stages: [customer],
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, stage: customer, refused: R.notEligible } },
      { at: 2, event: approve(BOB), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, BOB, { stage: customer, policyVersion: 0 }]], recorded: { stage: customer, policyVersion: 0 } } },
    ],
  },
  {
    name: 'revoke is checked against the current settings too: an internal approver may, a removed approver may not',
    policy: STAGED,
    stages: [internal, customer],
    steps: [
      { at: 1, event: approve(IAN), expect: { status: pending, stage: customer, audit: [[A.requestApproved, IAN]] } },
      { at: 2, event: approve(ALICE), expect: { status: granting, stage: null, approved: true, audit: [[A.requestApproved, ALICE]] } },
      { at: 3, event: grantSucceeds, expect: { status: active, stage: null, audit: [[A.accessGranted, EVE]] } },
      { at: 10, event: settings({ approvers: [BOB] }), expect: { status: active, stage: null } },
      { at: 11, event: revoke(ALICE), expect: { status: active, stage: null, refused: R.notEligible, revokeRequested: false } },
      { at: 12, event: revoke(IAN), expect: { status: active, stage: null, revokeRequested: true, recorded: { stage: undefined, policyVersion: 4 } } },
    ],
  },
];

// ---- the runner ---------------------------------------------------------------------------------------------------

function run(scenario: Scenario): AccessRequest {
  let state = file(scenario.policy).state;
  let policy = state.policy;
  expect(state.stages).toEqual(scenario.stages);
  expect(state.stages).toEqual(stagesFor(normalizePolicy(scenario.policy)));
  expect(state.stage).toBe(scenario.stages[0]);
  scenario.steps.forEach((step, i) => {
    const label = `step ${i + 1} (${JSON.stringify(step.event)} at +${step.at} min)`;
    const now = minutes(step.at);
    const before = structuredClone(state);
    const e = step.expect;
    const ev = step.event;
    if (ev.kind === 'settings') {
      // The API tells every pending request of the tenant; the request applies the new policy at once.
      policy = { ...policy, ...ev.change, version: policy.version + 1 };
      const out = applyPolicyChange(state, policy, now);
      state = out.state;
      const wanted = e.audit ?? [];
      expect(out.audit.map((d) => [d.type, d.actor]), label).toEqual(wanted.map(([type, actor]) => [type, actor]));
      wanted.forEach(([, , details], j) => {
        if (details) expect(out.audit[j]?.details, label).toMatchObject(details);
      });
    } else {
      const out =
        ev.kind === 'decide'
          ? decide(state, { action: ev.action, actor: ev.by, note: ev.note }, now, policy)
          : ev.kind === 'expire'
            ? { ok: true as const, ...expire(state, now) }
            : { ok: true as const, ...granted(state, { grantedAt: now.toISOString(), endsAt: new Date(now.getTime() + ACCESS_MS).toISOString() }) };
      if (e.refused) {
        expect(out.ok ? 'accepted' : out.rejection.code, label).toBe(e.refused);
        expect(state, `${label}: a refusal changes nothing`).toStrictEqual(before);
      } else {
        if (!out.ok) throw new Error(`${label}: refused with ${out.rejection.code}: ${out.rejection.message}`);
        state = out.state;
        const wanted = e.audit ?? [];
        expect(out.audit.map((d) => [d.type, d.actor]), label).toEqual(wanted.map(([type, actor]) => [type, actor]));
        wanted.forEach(([, , details], j) => {
          if (details) expect(out.audit[j]?.details, label).toMatchObject(details);
        });
      }
    }
    if (e.recorded) {
      expect(state.decisions.length, `${label}: recorded`).toBe(before.decisions.length + 1);
      const last = state.decisions.at(-1);
      expect(last?.stage, `${label}: recorded stage`).toBe(e.recorded.stage);
      expect(last?.policyVersion, `${label}: recorded settings version`).toBe(e.recorded.policyVersion);
    }
    expect(state.status, label).toBe(e.status);
    expect(state.stage, `${label}: stage`).toBe(e.stage);
    if (e.approved !== undefined) expect(state.approvedAt !== null, `${label}: approvedAt`).toBe(e.approved);
    if (e.revokeRequested !== undefined) expect(revokeRequested(state), label).toBe(e.revokeRequested);
    // Every state: the filed stages and policy never change; a stage waits exactly while the request is open.
    expect(state.stages, `${label}: stages`).toEqual(scenario.stages);
    expect(state.policy, `${label}: filed policy`).toEqual(normalizePolicy(scenario.policy));
    expect(state.stage === null, `${label}: stage null`).toBe(state.approvedAt !== null || isTerminal(state.status));
    expect(state.endedAt !== null, `${label}: endedAt`).toBe(isTerminal(state.status));
    if (state.access !== null) expect(state.approvedAt, `${label}: access without approval`).not.toBeNull();
  });
  return state;
}

describe('approval stages and decision-time settings', () => {
  it.each(SCENARIOS)('$name', (scenario) => {
    run(scenario);
  });
});

describe('stagesFor', () => {
  it.each([
    { internalApproval: false, customerApproval: true, stages: [customer] },
    { internalApproval: true, customerApproval: true, stages: [internal, customer] },
    // Not opted in to customer approval: the provider still approves, alone.
    { internalApproval: false, customerApproval: false, stages: [internal] },
    { internalApproval: true, customerApproval: false, stages: [internal] },
  ])('internal $internalApproval, customer $customerApproval -> $stages', ({ internalApproval, customerApproval, stages }) => {
    expect(stagesFor({ ...STAGED, internalApproval, customerApproval })).toEqual(stages);
  });
});

describe('reminderAt: one reminder before expiry, 1 hour before or at half the lifetime', () => {
  const SECOND = 1_000;
  it.each([
    { lifetime: '12h', ms: 12 * HOUR, before: HOUR },
    { lifetime: '2h', ms: 2 * HOUR, before: HOUR },
    { lifetime: '1h', ms: HOUR, before: 30 * MINUTE },
    { lifetime: '90m', ms: 90 * MINUTE, before: 45 * MINUTE },
    { lifetime: '10s', ms: 10 * SECOND, before: 5 * SECOND },
    { lifetime: '1s', ms: SECOND, before: 500 },
  ])('$lifetime lifetime -> $before ms before expiry', ({ ms, before }) => {
    const expiresAt = new Date(T0 + ms).toISOString();
    expect(reminderAt(CREATED_AT, expiresAt)).toBe(T0 + ms - before);
  });

  it('reminds at the expected instant for a request filed with a 12h lifetime', () => {
    const { state } = file(STAGED);
    expect(new Date(reminderAt(state.createdAt, state.expiresAt)).toISOString()).toBe(iso(TTL_MIN - 60));
  });
});
