/**
 * Invariants of the request state machine as properties: random staged policies (internal approval on/off, customer
 * approval on/off), random sequences of decisions by anyone, settings changes while a request is pending (approvers
 * removed or added, quorums changed, the whole policy replaced), time passing (past the lifetime and the access
 * window), timers, grants, revokes and operator cancels, with the invariants checked after every step.
 *
 * The domain trusts its caller for `granted`, `grantFailed` and `revoked`; the model calls them only where
 * `src/workflows/access-request.ts` does (see `drive`), so what is tested is what production can reach. Decisions
 * are checked against the policy in force at decision time (the current settings), as the workflow passes it.
 *
 * Escalation (docs/break-glass.md): policies may carry an escalation list (carol, now and then the requester or bob),
 * the escalation timer may fire at any step, and from then on the list may decide in that stage.
 *
 * Extensions (src/domain/extension.ts): the requester (now and then someone else) asks for more time at any step,
 * approvers decide it stage by stage under the settings in force, its timer may fire, and the workflow applies an
 * approved one at the target (which may fail). Checked besides: an extension never lengthens access without every
 * stage's quorum, none is asked for, decided or applied after a terminal state, a request ends at most once, a
 * terminal request holds no access, and every change of status (request or extension) is audited.
 *
 * Runs: PROPERTY_RUNS (default 2000), e.g.
 * `PROPERTY_RUNS=100000 LOCKBOX_TEST_NO_STACK=1 npx vitest run test/domain.properties.test.ts` (about 2 minutes).
 */
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AuditEventType } from '../src/domain/audit.js';
import { escalate } from '../src/domain/escalation.js';
import { extensionApplied, extensionEnded, pendingExtension } from '../src/domain/extension.js';
import { normalizePolicy, stageRule, stagesFor, type Stage } from '../src/domain/policy.js';
import {
  RejectionCode,
  cancelByOperator,
  revokedWhileGranting,
  createRequest,
  decide,
  expire,
  grantFailed,
  granted,
  refuseUnauthenticated,
  revokeRequested,
  revoked,
  type AuditDraft,
} from '../src/domain/decide.js';
import {
  DecisionAction,
  RequestStatus,
  isTerminal,
  type AccessRequest,
  type ApprovalPolicy,
  type Extension,
  type NewRequestInput,
} from '../src/domain/request.js';

const EVE = 'eve@lockbox.dev';
const ALICE = 'alice@contoso.com';
const BOB = 'bob@contoso.com';
const IAN = 'ian@lockbox.dev';
/** Not on any approver list; on the escalation list when the policy has one. */
const CAROL = 'carol@contoso.com';
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

type ApproverList = 'approvers' | 'internalApprovers';

/** A tenant admin saving new settings while requests are pending; each save bumps the settings version. */
type SettingsChange =
  | { op: 'remove'; list: ApproverList; who: string }
  | { op: 'add'; list: ApproverList; who: string }
  | { op: 'quorum'; which: 'quorum' | 'internalQuorum'; value: number }
  | { op: 'replace'; policy: ApprovalPolicy };

type Ev =
  /** `durationMs` only with `extend` (how much more time is asked for). */
  | { kind: 'decide'; action: DecisionAction; actor: string; note: string | null; durationMs?: number; untilInMs?: number }
  | { kind: 'settings'; change: SettingsChange }
  | { kind: 'advance'; ms: number }
  /** Jump to just before, at or just after a deadline (never backwards). */
  | { kind: 'toDeadline'; which: 'expiresAt' | 'endsAt'; offsetMs: -1 | 0 | 1 }
  | { kind: 'expireTimer' }
  | { kind: 'grant'; windowMs: number }
  | { kind: 'grantFailed'; error: string }
  | { kind: 'accessRemoved' }
  | { kind: 'operatorCancel' }
  /** The escalation timer of the waiting stage fires (the workflow computes when; any time may be it). */
  | { kind: 'escalate' }
  /** The workflow applies an approved extension at the target, which may fail (the original end then stands). */
  | { kind: 'applyExtension'; fails: boolean }
  /** The pending extension's timer fires (at or after its expiresAt; the model skips it before). */
  | { kind: 'extensionTimer' };

/**
 * Staged policies. Customer approvers are mostly contoso people (alice, bob), now and then with the requester (eve)
 * or the insider (ian) listed too; internal approvers are mostly a non-empty subset of [ian, alice] (alice then sits
 * in both stages), now and then with eve among them or nobody at all.
 * Quorums stay within the list, as settings validation demands; later settings changes may break that.
 */
const policyArb: fc.Arbitrary<ApprovalPolicy> = fc
  .record({
    // Customer approval is what tenants opt in to, so mostly on; without it only the internal stage applies.
    customerApproval: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    internalApproval: fc.boolean(),
    approvers: fc.oneof(
      { weight: 3, arbitrary: fc.subarray([ALICE, BOB], { minLength: 1 }) },
      { weight: 2, arbitrary: fc.subarray([ALICE, BOB, EVE, IAN], { minLength: 1 }) },
    ),
    quorum: fc.integer({ min: 1, max: 3 }),
    internalApprovers: fc.oneof(
      { weight: 8, arbitrary: fc.subarray([IAN, ALICE], { minLength: 1 }) },
      { weight: 1, arbitrary: fc.subarray([IAN, ALICE, EVE]) },
    ),
    internalQuorum: fc.integer({ min: 1, max: 2 }),
    version: fc.integer({ min: 0, max: 9 }),
    escalationTo: fc.oneof(
      { weight: 2, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.subarray([CAROL, EVE, BOB], { minLength: 1 }) },
    ),
  })
  .map(({ escalationTo, ...p }) =>
    normalizePolicy({
      tenant: 'contoso',
      ...p,
      ...(escalationTo ? { escalation: { afterMs: HOUR, to: escalationTo } } : {}),
      quorum: Math.min(p.quorum, p.approvers.length),
      internalQuorum: Math.max(1, Math.min(p.internalQuorum, p.internalApprovers.length)),
    }),
  );

/** What a request filed before stages existed recorded: normalizePolicy must give it one customer stage. */
const legacyPolicyArb = fc
  .record({ approvers: fc.subarray([ALICE, BOB, EVE, IAN], { minLength: 1 }), quorum: fc.integer({ min: 1, max: 2 }) })
  .map(({ approvers, quorum }) => ({ tenant: 'contoso', customerApproval: true, approvers, quorum: Math.min(quorum, approvers.length) }));

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
  policy: fc.oneof({ weight: 9, arbitrary: policyArb }, { weight: 1, arbitrary: legacyPolicyArb }),
});

const noteArb = fc.option(fc.string({ maxLength: 12 }), { nil: null });

/** Approvals are the common case; ending a request (reject, cancel) is rarer, so that runs get as far as access. */
const actionArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant(DecisionAction.approve) },
  { weight: 1, arbitrary: fc.constant(DecisionAction.reject) },
  { weight: 1, arbitrary: fc.constant(DecisionAction.cancel) },
  { weight: 2, arbitrary: fc.constant(DecisionAction.revoke) },
);

/** Anyone may try anything; the requester less often than each approver, or most runs end in a cancel. */
const actorArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(EVE) },
  { weight: 2, arbitrary: fc.constant(ALICE) },
  { weight: 2, arbitrary: fc.constant(BOB) },
  { weight: 2, arbitrary: fc.constant(IAN) },
  { weight: 1, arbitrary: fc.constant(CAROL) },
);

const listArb = fc.constantFrom<ApproverList>('approvers', 'internalApprovers');

const settingsArb: fc.Arbitrary<SettingsChange> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('remove' as const), list: listArb, who: fc.constantFrom(...PEOPLE) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), list: listArb, who: fc.constantFrom(...PEOPLE) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('quorum' as const),
      which: fc.constantFrom('quorum' as const, 'internalQuorum' as const),
      value: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('replace' as const), policy: policyArb }) },
);

/** Weights: operator cancels and failed grants are rare (each ends a run early), decisions are the bulk. */
const eventArb: fc.Arbitrary<Ev> = fc.oneof(
  {
    weight: 40,
    arbitrary: fc.record(
      {
        kind: fc.constant('decide' as const),
        action: actionArb,
        actor: actorArb,
        note: noteArb,
        // An approver's cap on the window, from now (a past one now and then); most decisions have none.
        untilInMs: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: -10 * MINUTE, max: 10 * HOUR }) }),
      },
      { requiredKeys: ['kind', 'action', 'actor', 'note'] },
    ),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('settings' as const), change: settingsArb }) },
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: 0, max: 30 * MINUTE }) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 30 * HOUR }) },
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('toDeadline' as const),
      which: fc.constantFrom('expiresAt' as const, 'endsAt' as const),
      offsetMs: fc.constantFrom(-1 as const, 0 as const, 1 as const),
    }),
  },
  { weight: 4, arbitrary: fc.constant({ kind: 'expireTimer' as const }) },
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('grant' as const), windowMs: fc.integer({ min: 1, max: 8 * HOUR }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('grantFailed' as const), error: fc.string({ maxLength: 12 }) }) },
  { weight: 8, arbitrary: fc.constant({ kind: 'accessRemoved' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'operatorCancel' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'escalate' as const }) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('decide' as const),
      action: fc.constant(DecisionAction.extend),
      // Mostly the requester, who alone may ask; now and then anyone else, and now and then a duration too short.
      actor: fc.oneof({ weight: 6, arbitrary: fc.constant(EVE) }, { weight: 1, arbitrary: actorArb }),
      note: noteArb,
      durationMs: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: SECOND, max: 4 * HOUR }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: SECOND - 1 }) }),
    }),
  },
  { weight: 20, arbitrary: fc.record({ kind: fc.constant('applyExtension' as const), fails: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'extensionTimer' as const }) },
);

const runArb = fc.record({
  input: inputArb,
  /** Now and then the workflow finds the request was not filed through the API (no valid signature). */
  unsigned: fc.oneof({ weight: 29, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  events: fc.array(eventArb, { minLength: 8, maxLength: 80, size: 'max' }),
});

// ---- the model: what the workflow does with each event ----------------------------------------------------------

interface World {
  state: AccessRequest;
  now: number;
  /** The tenant's current settings: the policy every decision is checked against. */
  policy: ApprovalPolicy;
  /** The policy each entry of `state.decisions` was checked against, by index. */
  policyAt: ApprovalPolicy[];
  /** What `granted` was last given. */
  grant: { grantedAt: string; endsAt: string } | null;
  /** Per extension (by seq): the policy each of its decisions after the request for it was checked against. */
  extPolicyAt: Map<number, ApprovalPolicy[]>;
  /** Audit events that end a request, over the whole run. */
  terminalOutcomes: AuditEventType[];
}

type StepResult =
  /** The workflow would not call the domain here (e.g. a grant before approval); nothing happens. */
  | { kind: 'skipped' }
  | { kind: 'refused'; code: RejectionCode }
  | { kind: 'applied'; state: AccessRequest; audit: AuditDraft[]; expectedAudit: Array<[AuditEventType, string]> };

const nowDate = (w: World) => new Date(w.now);

function changeSettings(p: ApprovalPolicy, c: SettingsChange): ApprovalPolicy {
  const version = p.version + 1;
  switch (c.op) {
    case 'remove':
      return { ...p, version, [c.list]: p[c.list].filter((who) => who !== c.who) };
    case 'add':
      return { ...p, version, [c.list]: p[c.list].includes(c.who) ? p[c.list] : [...p[c.list], c.who] };
    case 'quorum':
      return { ...p, version, [c.which]: c.value };
    case 'replace':
      return { ...c.policy, version };
  }
}

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
    case 'settings':
      // Settings live outside the request: saving them changes nothing recorded, only what later decisions see.
      w.policy = changeSettings(w.policy, ev.change);
      return { kind: 'skipped' };
    case 'decide': {
      const cmd = {
        action: ev.action,
        actor: ev.actor,
        note: ev.note,
        ...(ev.durationMs === undefined ? {} : { durationMs: ev.durationMs }),
        ...(ev.untilInMs === undefined ? {} : { until: new Date(w.now + ev.untilInMs).toISOString() }),
      };
      const out = decide(s, cmd, nowDate(w), w.policy);
      if (!out.ok) return { kind: 'refused', code: out.rejection.code };
      const onExtension = votesOnExtension(s);
      const type = {
        approve: onExtension ? AuditEventType.extensionApproved : AuditEventType.requestApproved,
        reject: onExtension ? AuditEventType.extensionRejected : AuditEventType.requestRejected,
        cancel: AuditEventType.requestCancelled,
        revoke: null,
        extend: AuditEventType.extensionRequested,
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
      // The workflow grants only once every stage is approved and nothing ended the request first.
      if (s.status !== RequestStatus.granting) return { kind: 'skipped' };
      w.grant = { grantedAt: new Date(w.now).toISOString(), endsAt: new Date(w.now + ev.windowMs).toISOString() };
      const out = granted(s, w.grant);
      return { kind: 'applied', ...out, expectedAudit: [[AuditEventType.accessGranted, s.requester]] };
    }
    case 'grantFailed': {
      if (s.status !== RequestStatus.granting) return { kind: 'skipped' };
      const out = grantFailed(s, ev.error, nowDate(w));
      return { kind: 'applied', ...out, expectedAudit: [[AuditEventType.accessGrantFailed, SYSTEM]] };
    }
    case 'accessRemoved': {
      // Access is removed when an early revoke was asked for, or when the window has run out. A revoke decided while
      // granting stops the grant and revokes whatever part of it happened.
      if (s.status === RequestStatus.granting && revokeRequested(s)) {
        const early = s.decisions.find((d) => d.action === DecisionAction.revoke)!;
        const out = revokedWhileGranting(s, new Date(w.now).toISOString(), true);
        return { kind: 'applied', ...out, expectedAudit: [[AuditEventType.accessRevoked, early.actor]] };
      }
      if (s.status !== RequestStatus.active || s.access === null) return { kind: 'skipped' };
      const early = s.decisions.find((d) => d.action === DecisionAction.revoke);
      if (!early && w.now < Date.parse(s.access.endsAt)) return { kind: 'skipped' };
      // An approved extension is applied before the window's end is acted on (holdWindow's loop).
      if (!early && pendingExtension(s)?.status === 'approved') return { kind: 'skipped' };
      const cause = early ? { by: early.actor, reason: early.note } : null;
      const out = revoked(s, new Date(w.now).toISOString(), cause);
      return { kind: 'applied', ...out, expectedAudit: [[AuditEventType.accessRevoked, cause ? cause.by : SYSTEM]] };
    }
    case 'escalate': {
      // The workflow escalates only while decisions are awaited, under the policy as last signed.
      if (s.status !== RequestStatus.pending || s.approvedAt !== null || s.stage === null) return { kind: 'skipped' };
      const out = escalate(s, w.policy, nowDate(w));
      return { kind: 'applied', ...out, expectedAudit: [[AuditEventType.requestEscalated, SYSTEM]] };
    }
    case 'applyExtension': {
      // holdWindow applies an approved extension at once, unless a revoke was asked for (it then stops holding).
      const ext = pendingExtension(s);
      if (s.status !== RequestStatus.active || s.access === null || revokeRequested(s) || ext?.status !== 'approved') return { kind: 'skipped' };
      if (ev.fails) return { kind: 'applied', ...extensionEnded(s, 'failed', 'target_unavailable'), expectedAudit: [[AuditEventType.extensionFailed, SYSTEM]] };
      const out = extensionApplied(s, new Date(Date.parse(ext.endsAtBefore) + ext.durationMs).toISOString());
      return { kind: 'applied', ...out, expectedAudit: [[AuditEventType.accessExtended, SYSTEM]] };
    }
    case 'extensionTimer': {
      const ext = pendingExtension(s);
      if (s.status !== RequestStatus.active || s.access === null || revokeRequested(s) || ext?.status !== 'pending') return { kind: 'skipped' };
      if (w.now < Date.parse(ext.expiresAt)) return { kind: 'skipped' };
      return { kind: 'applied', ...extensionEnded(s, 'expired'), expectedAudit: [[AuditEventType.extensionExpired, SYSTEM]] };
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

// ---- the rules, stated independently of src/domain ----------------------------------------------------------------

function must(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(`invariant violated: ${what}`);
}

/** Who may decide in a stage now: its approvers, plus the policy's escalation list once the stage escalated (by `at`). */
function eligible(s: AccessRequest, p: ApprovalPolicy, stage: Stage, at: string | null = null): string[] {
  const escalated = s.escalations?.some((e) => e.stage === stage && (at === null || e.at <= at)) ?? false;
  return [...stageRule(p, stage).approvers, ...(escalated && p.escalation ? p.escalation.to : [])];
}

const hasApproved = (s: AccessRequest, actor: string) =>
  s.decisions.some((d) => d.actor === actor && d.action === DecisionAction.approve);

/** The extension waiting for decisions, if any. */
const extensionAwaitingVotes = (s: AccessRequest): Extension | undefined => s.extensions?.find((e) => e.status === 'pending');

/** Approve and reject go to the pending extension while the request is active (and to the request otherwise). */
const votesOnExtension = (s: AccessRequest) => s.status === RequestStatus.active && extensionAwaitingVotes(s) !== undefined;

/** The extension of `seq` in `s`. */
const extensionOf = (s: AccessRequest, seq: number) => s.extensions?.find((e) => e.seq === seq);

/** Audit events by which a request ends: at most one per request. */
const TERMINAL_AUDIT: readonly AuditEventType[] = [
  AuditEventType.requestRejected,
  AuditEventType.requestExpired,
  AuditEventType.requestCancelled,
  AuditEventType.accessGrantFailed,
  AuditEventType.accessRevoked,
];

/** The audit event an extension's change of status must come with. */
const EXTENSION_AUDIT: Record<Extension['status'], AuditEventType> = {
  pending: AuditEventType.extensionRequested,
  approved: AuditEventType.extensionApproved,
  applied: AuditEventType.accessExtended,
  rejected: AuditEventType.extensionRejected,
  expired: AuditEventType.extensionExpired,
  failed: AuditEventType.extensionFailed,
};

/** What the rules say an extension request comes to (src/domain/extension.ts, stated again). */
function expectedExtensionRequest(s: AccessRequest, ev: Extract<Ev, { kind: 'decide' }>, now: number): RejectionCode | 'ok' {
  if (ev.actor !== s.requester) return RejectionCode.notEligible;
  if (s.status !== RequestStatus.active || s.access === null || s.access.revokedAt !== null) return RejectionCode.notActive;
  if (now >= Date.parse(s.access.endsAt) || revokeRequested(s)) return RejectionCode.notActive;
  if (pendingExtension(s)) return RejectionCode.notPending;
  const ms = ev.durationMs ?? 0;
  return Number.isSafeInteger(ms) && ms >= SECOND ? 'ok' : RejectionCode.notEligible;
}

/** What the rules say a vote on the pending extension comes to, under the policy in force now. */
function expectedExtensionVote(ext: Extension, s: AccessRequest, ev: Extract<Ev, { kind: 'decide' }>, now: number, policy: ApprovalPolicy): RejectionCode | 'ok' {
  if (now >= Date.parse(ext.expiresAt)) return RejectionCode.notPending;
  if (ev.actor === s.requester) return RejectionCode.selfApproval;
  // An extension's stages do not escalate: only the stage's approvers decide.
  if (!stageRule(policy, ext.stage ?? ext.stages[0]!).approvers.includes(ev.actor)) return RejectionCode.notEligible;
  if (ext.decisions.some((d) => d.actor === ev.actor && d.action === DecisionAction.approve)) return RejectionCode.alreadyDecided;
  return 'ok';
}

/**
 * Replays an extension's votes through its stages, each checked against the policy it was decided under: whether
 * every stage reached its quorum of distinct approvers eligible at the time (never the requester).
 */
function extensionApprovedByRules(s: AccessRequest, ext: Extension, policyAt: readonly ApprovalPolicy[]): boolean {
  const votes = ext.decisions.slice(1);
  must(votes.length === policyAt.length, `model: one policy per vote on extension ${ext.seq}`);
  let index = 0;
  let voters = new Set<string>();
  votes.forEach((d, i) => {
    const p = policyAt[i]!;
    const stage = ext.stages[index];
    must(d.action === DecisionAction.approve || d.action === DecisionAction.reject, `extension ${ext.seq}: only votes follow its request`);
    must(d.actor !== s.requester, 'the requester never decides their own extension');
    must(stage !== undefined && d.stage === stage, `extension ${ext.seq}: vote ${i} in stage ${d.stage}, the first incomplete is ${stage}`);
    must(stageRule(p, stage).approvers.includes(d.actor), `extension ${ext.seq}: vote ${i} by someone eligible at the time`);
    must(d.policyVersion === p.version, `extension ${ext.seq}: vote ${i} records the settings version it was checked against`);
    if (d.action !== DecisionAction.approve) return;
    voters.add(d.actor);
    if (voters.size >= stageRule(p, stage).quorum) {
      index += 1;
      voters = new Set();
    }
  });
  return index === ext.stages.length;
}

/** What the rules say a decision must come to, given the state and the policy in force now. */
function expectedDecision(s: AccessRequest, ev: Extract<Ev, { kind: 'decide' }>, now: number, policy: ApprovalPolicy): RejectionCode | 'ok' {
  const closed =
    s.status !== RequestStatus.pending || s.approvedAt !== null
      ? RejectionCode.notPending
      : now >= Date.parse(s.expiresAt)
        ? RejectionCode.expired
        : null;
  // An approver's cap: on an approval of a pending request only, and a time still ahead.
  if (ev.untilInMs !== undefined && ev.action !== DecisionAction.approve) return RejectionCode.invalidUntil;
  switch (ev.action) {
    case DecisionAction.approve:
    case DecisionAction.reject: {
      const ext = s.status === RequestStatus.active ? extensionAwaitingVotes(s) : undefined;
      if (ext) return ev.untilInMs !== undefined ? RejectionCode.invalidUntil : expectedExtensionVote(ext, s, ev, now, policy);
      if (closed) return closed;
      if (ev.untilInMs !== undefined && ev.untilInMs <= 0) return RejectionCode.invalidUntil;
      if (ev.actor === s.requester) return RejectionCode.selfApproval;
      must(s.stage !== null, 'an open request waits in a stage');
      if (!eligible(s, policy, s.stage).includes(ev.actor)) return RejectionCode.notEligible;
      // One decision each, across stages: an approver who approved can neither approve again nor take it back.
      if (hasApproved(s, ev.actor)) return RejectionCode.alreadyDecided;
      return 'ok';
    }
    case DecisionAction.cancel:
      if (ev.actor !== s.requester) return RejectionCode.notEligible;
      return closed ?? 'ok';
    case DecisionAction.revoke: {
      const may = ev.actor === s.requester || policy.approvers.includes(ev.actor) || policy.internalApprovers.includes(ev.actor);
      if (!may) return RejectionCode.notEligible;
      const holds = s.status === RequestStatus.granting || (s.status === RequestStatus.active && s.access !== null);
      if (!holds || revokeRequested(s)) return RejectionCode.notActive;
      if (s.access !== null && now >= Date.parse(s.access.endsAt)) return RejectionCode.notActive;
      return 'ok';
    }
    case DecisionAction.extend:
      return expectedExtensionRequest(s, ev, now);
  }
}

/**
 * Replays the recorded approvals through the stages, each checked against the policy it was decided under:
 * a stage completes at the first approval that brings its distinct approvers to that policy's quorum.
 */
function replayStages(s: AccessRequest, policyAt: readonly ApprovalPolicy[]) {
  let index = 0;
  let voters = new Set<string>();
  const completions: Array<{ stage: Stage; at: string; approvals: number; quorum: number }> = [];
  s.decisions.forEach((d, i) => {
    if (d.action !== DecisionAction.approve) return;
    const stage = s.stages[index];
    must(stage !== undefined, 'no approval is recorded after the last stage completed');
    must(d.stage === stage, `approval ${i} recorded in stage ${d.stage}, but the first incomplete stage is ${stage}`);
    voters.add(d.actor);
    const quorum = stageRule(policyAt[i]!, stage).quorum;
    if (voters.size >= quorum) {
      completions.push({ stage, at: d.at, approvals: voters.size, quorum });
      index += 1;
      voters = new Set();
    }
  });
  return { index, completions };
}

const ALLOWED_NEXT: Record<RequestStatus, readonly RequestStatus[]> = {
  pending: ['pending', 'granting', 'rejected', 'expired', 'cancelled', 'failed'],
  granting: ['granting', 'active', 'failed', 'cancelled', 'revoked'],
  active: ['active', 'completed', 'revoked'],
  completed: ['completed'],
  rejected: ['rejected'],
  expired: ['expired'],
  cancelled: ['cancelled'],
  revoked: ['revoked'],
  failed: ['failed'],
};

/** Where a stage stands in the request's order; null (approved or ended) is past the last stage. */
const position = (s: AccessRequest, stage: Stage | null) => (stage === null ? s.stages.length : s.stages.indexOf(stage));

/** What must hold of any state the workflow can be in. */
function checkState(w: World): void {
  const s = w.state;
  must(s.stages.length > 0 && isDeepStrictEqual(s.stages, stagesFor(s.policy)), 'the stages are fixed at filing, from the filed policy');
  must(w.policyAt.length === s.decisions.length, 'model: one policy per recorded decision');

  s.decisions.forEach((d, i) => {
    const p = w.policyAt[i]!;
    if (d.action === DecisionAction.approve || d.action === DecisionAction.reject) {
      must(d.actor !== s.requester, 'the requester never approves or rejects their own request');
      must(d.stage != null && s.stages.includes(d.stage), `${d.action} ${i} is recorded with one of the request's stages`);
      must(eligible(s, p, d.stage, d.at).includes(d.actor), `${d.action} ${i} by someone eligible for its stage at decision time`);
      must(d.policyVersion === p.version, `${d.action} ${i} records the settings version it was checked against`);
    }
    if (d.action === DecisionAction.cancel) must(d.actor === s.requester, 'only the requester cancels');
    if (d.action === DecisionAction.revoke) {
      must(d.actor === s.requester || p.approvers.includes(d.actor) || p.internalApprovers.includes(d.actor), 'revoke by an outsider');
    }
  });
  const approvals = s.decisions.filter((d) => d.action === DecisionAction.approve);
  must(new Set(approvals.map((d) => d.actor)).size === approvals.length, 'nobody has two approve decisions, across stages');

  const { index, completions } = replayStages(s, w.policyAt);
  const allStagesDone = index === s.stages.length;
  // The headline: approval needs every stage, each at the quorum in force when it completed.
  if (s.approvedAt !== null) {
    must(allStagesDone, 'no approvedAt unless every stage reached its quorum of distinct non-requester approvals');
    must(s.approvedAt === completions.at(-1)?.at, 'approvedAt is the time of the approval that completed the last stage');
  }
  must(!allStagesDone || s.approvedAt !== null, 'once every stage reached its quorum, the request is approved');
  if (s.status === RequestStatus.active || s.access !== null) {
    must(allStagesDone && s.approvedAt !== null, 'no access without every stage approved');
  }
  must((s.stage === null) === (s.approvedAt !== null || isTerminal(s.status)), 'a stage waits exactly while the request is open');
  if (s.stage !== null) must(s.stage === s.stages[index], 'the stage waiting is the first one not yet complete');

  must(s.status !== RequestStatus.active || (s.access !== null && s.access.revokedAt === null), 'active means access held');
  must(s.status !== RequestStatus.granting || (s.approvedAt !== null && s.access === null), 'granting means approved, access not yet held');
  must((s.status === RequestStatus.pending) === (s.approvedAt === null && !isTerminal(s.status)), 'pending exactly while decisions are awaited');
  const exts = s.extensions ?? [];
  must(exts.length === 0 || s.access !== null, 'an extension only of access granted');
  must(exts.filter((e) => e.status === 'pending' || e.status === 'approved').length <= 1, 'at most one extension open at a time');
  let extended = 0;
  let end = w.grant ? Date.parse(w.grant.endsAt) : 0;
  for (const e of exts) {
    must(e.decisions[0]?.action === DecisionAction.extend && e.decisions[0].actor === s.requester, `extension ${e.seq} was asked for by the requester`);
    must(isDeepStrictEqual(e.stages, s.stages), `extension ${e.seq} is decided in the request's stages`);
    must(Date.parse(e.requestedAt) < Date.parse(e.endsAtBefore) && Date.parse(e.expiresAt) <= Date.parse(e.endsAtBefore), `extension ${e.seq} asked for and decided within the window`);
    const approved = extensionApprovedByRules(s, e, w.extPolicyAt.get(e.seq) ?? []);
    // The headline: no extension lengthens access without every stage's quorum, under the settings of each vote.
    if (e.status === 'approved' || e.status === 'applied' || e.status === 'failed') must(approved, `extension ${e.seq} is ${e.status} without every stage's quorum`);
    if (e.status === 'pending' || e.status === 'expired') must(!approved, `extension ${e.seq} reached every quorum but is ${e.status}`);
    if (e.status === 'rejected') must(e.decisions.at(-1)?.action === DecisionAction.reject, `extension ${e.seq} rejected by a rejection`);
    must((e.status === 'applied') === (e.endsAtAfter !== null), `extension ${e.seq}: endsAtAfter exactly when applied`);
    if (e.status === 'applied') {
      must(Date.parse(e.endsAtBefore) === end, `extension ${e.seq} moved the end as it then stood`);
      must(Date.parse(e.endsAtAfter!) === end + e.durationMs, `extension ${e.seq} lengthened access by what was approved, no more`);
      end += e.durationMs;
      extended += e.durationMs;
    }
  }
  if (s.access !== null) {
    must(w.grant !== null, 'access only from a grant');
    must(
      s.access.grantedAt === w.grant.grantedAt && Date.parse(s.access.endsAt) === Date.parse(w.grant.endsAt) + extended,
      'the access window is the one granted, moved only by applied extensions',
    );
  }
  // No access after a terminal state: whatever was granted is revoked by the time the request has ended.
  if (isTerminal(s.status)) must(s.access === null || s.access.revokedAt !== null, `a ${s.status} request holds no access`);
  must(w.terminalOutcomes.length <= 1, `at most one terminal outcome, got ${w.terminalOutcomes.join(', ')}`);
  must(w.terminalOutcomes.length === 0 || isTerminal(s.status), 'a terminal outcome leaves the request terminal');
  must((s.endedAt !== null) === isTerminal(s.status), 'endedAt is set exactly in terminal states');
  // Once every stage approved, the request ends in a grant (or a failed one), never by its lifetime.
  must(!(s.status === RequestStatus.expired && s.approvedAt !== null), 'an approved request does not expire');
  must(s.decisions.filter((d) => d.action === DecisionAction.revoke).length <= 1, 'at most one revoke decision');
  const escalated = (s.escalations ?? []).map((e) => e.stage);
  must(new Set(escalated).size === escalated.length, 'each stage escalates at most once');
  must(escalated.every((st) => s.stages.includes(st)), 'only the request\'s own stages escalate');
  must((s.escalations ?? []).every((e) => !e.to.includes(s.requester)), 'the requester is never told to decide their own request');
}

/** What must hold of one step from `before` to the world after it. */
function checkStep(before: AccessRequest, snapshot: AccessRequest, policy: ApprovalPolicy, w: World, ev: Ev, r: StepResult): void {
  must(isDeepStrictEqual(before, snapshot), 'the domain never mutates the state it is given');
  const after = w.state;

  if (ev.kind === 'decide') {
    const expected = expectedDecision(before, ev, w.now, policy);
    const got = r.kind === 'refused' ? r.code : r.kind === 'applied' ? 'ok' : 'skipped';
    must(got === expected, `${ev.action} by ${ev.actor} came to ${got}, the rules say ${expected}`);
  }

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
  must(isDeepStrictEqual(after.stages, before.stages) && isDeepStrictEqual(after.policy, before.policy), 'stages and filed policy never change');
  must(position(after, after.stage) >= position(before, before.stage), `stage moved back: ${before.stage} -> ${after.stage}`);

  const audited = r.audit.map((d) => [d.type, d.actor]);
  if (!changed) must(r.audit.length === 0, 'a step that changes nothing audits nothing');
  else must(isDeepStrictEqual(audited, r.expectedAudit), `audit ${JSON.stringify(audited)} for ${JSON.stringify(ev)}`);

  // Every change of status is audited, and a request ends by exactly one event that says how.
  if (after.status !== before.status) must(r.audit.length > 0, `${before.status} -> ${after.status} is audited`);
  const endings = r.audit.filter((d) => TERMINAL_AUDIT.includes(d.type));
  must(endings.length === (!isTerminal(before.status) && isTerminal(after.status) ? 1 : 0), `a request ends by exactly one audited outcome, got ${JSON.stringify(endings.map((d) => d.type))}`);

  // Extensions: each change of one is audited as such; none is asked for, decided or applied unless the request is active.
  const extChanged = (after.extensions ?? []).filter((e) => !isDeepStrictEqual(e, extensionOf(before, e.seq)));
  must(extChanged.length <= 1, 'one extension changes per step');
  for (const e of extChanged) {
    must(before.status === RequestStatus.active && before.access !== null && before.access.revokedAt === null, `extension ${e.seq} changed while the request was ${before.status}`);
    const was = extensionOf(before, e.seq);
    if (was?.status !== e.status || !was) must(r.audit.some((d) => d.type === EXTENSION_AUDIT[e.status] && d.details.extension === e.seq), `extension ${e.seq} ${was?.status ?? 'new'} -> ${e.status} is audited`);
    if (was) must(isDeepStrictEqual(was.decisions, e.decisions.slice(0, was.decisions.length)), `extension ${e.seq}: decisions are append-only`);
  }
  const [extsBefore, extsAfter] = [before.extensions ?? [], after.extensions ?? []];
  must(extsAfter.length - extsBefore.length <= 1 && extsBefore.every((e, i) => extsAfter[i]?.seq === e.seq), 'extensions are never removed or reordered');
  if (after.access !== null && before.access !== null && after.access.endsAt !== before.access.endsAt) {
    must(Date.parse(after.access.endsAt) > Date.parse(before.access.endsAt), 'the window only moves later, by an extension');
    must(extChanged.length === 1 && extChanged[0]!.status === 'applied' && extensionOf(before, extChanged[0]!.seq)?.status === 'approved', 'the window moves only when an approved extension is applied');
  }

  if (ev.kind === 'decide') {
    must(changed, 'an accepted decision is recorded');
    const vote = ev.action === DecisionAction.approve || ev.action === DecisionAction.reject;
    const onExtension = ev.action === DecisionAction.extend || (vote && votesOnExtension(before));
    if (onExtension) {
      must(after.decisions.length === before.decisions.length, 'a decision on an extension is recorded with the extension, not the request');
      const e = extChanged[0];
      const last = e?.decisions.at(-1);
      must(last?.at === new Date(w.now).toISOString() && last.actor === ev.actor && last.action === ev.action, 'an extension decision is recorded as made, at workflow time');
      if (ev.action !== DecisionAction.extend) {
        const was = extensionOf(before, e!.seq)!;
        must(last.stage === was.stage && last.policyVersion === policy.version, 'an extension vote records its stage and settings version');
        const rule = stageRule(policy, was.stage!);
        const approvals = new Set(e!.decisions.filter((d) => d.action === DecisionAction.approve && d.stage === was.stage).map((d) => d.actor)).size;
        if (ev.action === DecisionAction.approve) must((e!.stage !== was.stage) === approvals >= rule.quorum, 'an extension stage advances exactly at the quorum in force now');
      } else {
        must(e !== undefined && e.status === 'pending' && e.durationMs === ev.durationMs && e.seq === (before.extensions?.length ?? 0) + 1, 'an extension is asked for as asked');
      }
      return;
    }
    const last = after.decisions.at(-1);
    must(last?.at === new Date(w.now).toISOString() && last.actor === ev.actor && last.action === ev.action, 'a decision is recorded as made, at workflow time');
    if (ev.action === DecisionAction.approve || ev.action === DecisionAction.reject) {
      must(last.stage === before.stage, `an ${ev.action} is recorded with the stage it was made in`);
      must(last.policyVersion === policy.version, 'and with the version of the settings it was checked against');
    }
    if (ev.action === DecisionAction.approve && before.stage !== null) {
      const rule = stageRule(policy, before.stage);
      const approvals = new Set(after.decisions.filter((d) => d.action === DecisionAction.approve && d.stage === before.stage).map((d) => d.actor)).size;
      const advanced = after.stage !== before.stage;
      must(advanced === approvals >= rule.quorum, 'the stage advances exactly when this approval meets the quorum in force now');
      must(
        r.audit[0]?.details.stage === before.stage &&
          r.audit[0]?.details.quorum === rule.quorum &&
          r.audit[0]?.details.approvals === approvals &&
          r.audit[0]?.details.final === (after.approvedAt !== null) &&
          r.audit[0]?.details.policyVersion === policy.version,
        `approval audit details ${JSON.stringify(r.audit[0]?.details)}`,
      );
    }
    if (ev.action === DecisionAction.revoke) {
      must(after.status === before.status && revokeRequested(after), 'a revoke decision only asks for a revoke');
    }
  }
}

/** What a run reached, so the coverage test can tell the property is not vacuous. */
interface Seen {
  statuses: Set<RequestStatus>;
  refusals: Set<RejectionCode>;
  /** Approved through two stages, internal then customer. */
  twoStagesApproved: boolean;
  /** Someone eligible under the filed policy was refused because the settings removed them. */
  removedRefused: boolean;
  /** Someone not eligible under the filed policy approved because the settings added them. */
  addedApproved: boolean;
  /** A stage completed at a quorum other than the filed one. */
  changedQuorumCompleted: boolean;
  /** Carol (on no approver list) approved in an escalated stage. */
  escalatedApproved: boolean;
  /** Every status an extension reached. */
  extensions: Set<Extension['status']>;
}

/** Runs one sequence, checking after every step; returns what it saw (for coverage). */
function simulate(input: NewRequestInput, unsigned: boolean, events: Ev[], check: boolean): Seen {
  const created = createRequest(input);
  const start = unsigned ? refuseUnauthenticated(created.state, 'request was not filed through the Lockbox API', new Date(input.createdAt)) : created;
  const w: World = {
    state: start.state,
    now: Date.parse(input.createdAt),
    policy: start.state.policy,
    policyAt: [],
    grant: null,
    extPolicyAt: new Map(),
    terminalOutcomes: [],
  };
  const seen: Seen = {
    statuses: new Set<RequestStatus>([created.state.status, w.state.status]),
    refusals: new Set<RejectionCode>(),
    twoStagesApproved: false,
    removedRefused: false,
    addedApproved: false,
    changedQuorumCompleted: false,
    escalatedApproved: false,
    extensions: new Set(),
  };
  if (check) {
    must(!unsigned || (w.state.status === RequestStatus.failed && w.state.decisions.length === 0), 'an unsigned request fails at once');
    checkState(w);
  }
  events.forEach((ev, i) => {
    const before = w.state;
    const policy = w.policy;
    const snapshot = structuredClone(before);
    const r = drive(w, ev);
    if (r.kind === 'applied') w.state = r.state;
    if (w.state.decisions.length > before.decisions.length) w.policyAt.push(policy);
    for (const e of w.state.extensions ?? []) {
      // A new extension holds its request (decision 0); each vote after it was checked against the settings then.
      const votes = w.extPolicyAt.get(e.seq) ?? [];
      while (votes.length < e.decisions.length - 1) votes.push(policy);
      w.extPolicyAt.set(e.seq, votes);
      seen.extensions.add(e.status);
    }
    if (r.kind === 'applied') w.terminalOutcomes.push(...r.audit.map((d) => d.type).filter((t) => TERMINAL_AUDIT.includes(t)));
    if (r.kind === 'refused') seen.refusals.add(r.code);
    seen.statuses.add(w.state.status);
    if (ev.kind === 'decide' && before.stage !== null && ev.action === DecisionAction.approve) {
      const filed = stageRule(before.policy, before.stage);
      if (r.kind === 'refused' && r.code === RejectionCode.notEligible && filed.approvers.includes(ev.actor)) seen.removedRefused = true;
      if (r.kind === 'applied' && !filed.approvers.includes(ev.actor)) seen.addedApproved = true;
      if (r.kind === 'applied' && w.state.stage !== before.stage && stageRule(policy, before.stage).quorum !== filed.quorum) {
        seen.changedQuorumCompleted = true;
      }
    }
    if (w.state.approvedAt !== null && w.state.stages.length === 2) seen.twoStagesApproved = true;
    if (ev.kind === 'decide' && ev.actor === CAROL && ev.action === DecisionAction.approve && r.kind === 'applied') seen.escalatedApproved = true;
    if (!check) return;
    try {
      checkStep(before, snapshot, policy, w, ev, r);
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
      fc.property(runArb, ({ input, unsigned, events }) => {
        simulate(input, unsigned, events, true);
      }),
      { numRuns: RUNS },
    );
  }, Math.max(60_000, RUNS * 10)); // 1-3 ms a run; on-demand runs of 10^5 and more must not hit the default timeout

  it('the generator reaches every status, every refusal and every kind of settings change (so the property is not vacuous)', () => {
    const statuses = new Set<RequestStatus>();
    const refusals = new Set<RejectionCode>();
    const count = { active: 0, twoStagesApproved: 0, removedRefused: 0, addedApproved: 0, changedQuorumCompleted: 0, escalatedApproved: 0 };
    const extensions: Record<Extension['status'], number> = { pending: 0, approved: 0, applied: 0, rejected: 0, expired: 0, failed: 0 };
    const samples = fc.sample(runArb, { numRuns: 1000, seed: 20250303 });
    for (const { input, unsigned, events } of samples) {
      const seen = simulate(input, unsigned, events, false);
      seen.statuses.forEach((s) => statuses.add(s));
      seen.refusals.forEach((c) => refusals.add(c));
      if (seen.statuses.has(RequestStatus.active)) count.active += 1;
      if (seen.twoStagesApproved) count.twoStagesApproved += 1;
      if (seen.removedRefused) count.removedRefused += 1;
      if (seen.addedApproved) count.addedApproved += 1;
      if (seen.changedQuorumCompleted) count.changedQuorumCompleted += 1;
      if (seen.escalatedApproved) count.escalatedApproved += 1;
      seen.extensions.forEach((st) => (extensions[st] += 1));
    }
    expect([...statuses].sort()).toEqual(Object.values(RequestStatus).sort());
    // Break-glass review refusals come from reviewEmergency, not decide(): test/domain.break-glass.test.ts covers them.
    const reviewCodes: RejectionCode[] = [RejectionCode.notEmergency, RejectionCode.alreadyReviewed, RejectionCode.selfReview];
    expect([...refusals].sort()).toEqual(Object.values(RejectionCode).filter((c) => !reviewCodes.includes(c)).sort());
    // Access is reached in a useful share of runs, not by a fluke; so are both stages and each kind of settings change.
    // (With this seed: 226, 46, 22, 41, 16, and 12 approvals by carol in an escalated stage.)
    expect(count.active).toBeGreaterThan(150);
    expect(count.twoStagesApproved).toBeGreaterThan(30);
    expect(count.removedRefused).toBeGreaterThan(15);
    expect(count.addedApproved).toBeGreaterThan(15);
    expect(count.changedQuorumCompleted).toBeGreaterThan(10);
    expect(count.escalatedApproved).toBeGreaterThan(3);
    // Extensions reach every outcome (with this seed: 65 asked for, 31 approved, 15 applied, 4 rejected, 1 expired,
    // 6 failed at the target).
    expect(extensions.pending).toBeGreaterThan(40);
    expect(extensions.applied).toBeGreaterThan(5);
    expect(extensions.rejected).toBeGreaterThan(3);
    expect(extensions.expired).toBeGreaterThan(0);
    expect(extensions.failed).toBeGreaterThan(0);
  });
});
