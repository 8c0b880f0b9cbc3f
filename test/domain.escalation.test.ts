/**
 * Escalation and per-tenant reminders as scenario tables (docs/break-glass.md, "Escalation"). Personas: eve (engineer,
 * the requester), alice and bob (contoso approvers), carol (a contoso approver NOT on its approver list: the escalation
 * target), ian (a Lockbox insider, neither).
 */
import { describe, expect, it } from 'vitest';
import { AuditEventType } from '../src/domain/audit.js';
import { applyPolicyChange, createRequest, decide, RejectionCode } from '../src/domain/decide.js';
import { escalate, escalationDueAt, escalationNotice, nextReminderAt, stageDeciders } from '../src/domain/escalation.js';
import { approvalNeeded } from '../src/domain/messages.js';
import { normalizePolicy, reminderAt, Stage, type ApprovalPolicy } from '../src/domain/policy.js';
import { DecisionAction, RequestStatus, type AccessRequest } from '../src/domain/request.js';
import { policyFromSettings, validateSettings, type TenantSettings } from '../src/domain/settings.js';
import { checkStoredSettings } from '../src/domain/settings-schema.js';
import { canonicalJson } from '../src/domain/signing.js';

const EVE = 'eve@lockbox.dev';
const ALICE = 'alice@contoso.com';
const BOB = 'bob@contoso.com';
const CAROL = 'carol@contoso.com';
const IAN = 'ian@lockbox.dev';
const T0 = Date.parse('2026-12-04T06:00:00.000Z');
const MIN = 60_000;
const at = (m: number) => new Date(T0 + m * MIN);
const TTL_MS = 12 * 60 * MIN;

const BASE = { tenant: 'contoso', version: 3, customerApproval: true, approvers: [ALICE, BOB], quorum: 1 };
const ESCALATING: ApprovalPolicy = normalizePolicy({ ...BASE, escalation: { afterMs: 60 * MIN, to: [CAROL] } });

function file(policy: ApprovalPolicy = ESCALATING): AccessRequest {
  return createRequest({
    id: 'req-contoso-01JNQ3V8Z6K9W2X4Y5A7B8C9D0',
    tenant: 'contoso',
    resource: 'db:crm',
    requester: EVE,
    reason: 'case 4711',
    ticket: 'SUP-4711',
    durationMs: 3_600_000,
    requestTtlMs: TTL_MS,
    createdAt: at(0).toISOString(),
    policy,
  }).state;
}

const approve = (s: AccessRequest, actor: string, m: number, p: ApprovalPolicy = ESCALATING) =>
  decide(s, { action: DecisionAction.approve, actor, note: null }, at(m), p);

describe('escalation: who may decide, when', () => {
  it('before the stage escalates, carol (not on the approver list) is not eligible', () => {
    const out = approve(file(), CAROL, 10);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.rejection.code).toBe(RejectionCode.notEligible);
  });

  it('after `after` without a decision: request.escalated once, and carol\'s approval completes the stage', () => {
    const s = file();
    expect(escalationDueAt(s, ESCALATING, T0)).toBe(at(60).getTime());
    const e = escalate(s, ESCALATING, at(60));
    expect(e.audit).toEqual([
      { type: AuditEventType.requestEscalated, actor: 'system', details: { stage: Stage.customer, after: '1h', to: [CAROL], policyVersion: 3 } },
    ]);
    expect(e.state.escalations).toEqual([{ stage: Stage.customer, at: at(60).toISOString(), afterMs: 60 * MIN, to: [CAROL] }]);
    // Once per stage: a second call changes nothing, and no further escalation is due.
    expect(escalate(e.state, ESCALATING, at(61))).toEqual({ state: e.state, audit: [] });
    expect(escalationDueAt(e.state, ESCALATING, T0)).toBeNull();
    expect(stageDeciders(e.state, ESCALATING, Stage.customer)).toEqual([ALICE, BOB, CAROL]);
    const out = approve(e.state, CAROL, 70);
    expect(out.ok).toBe(true);
    if (out.ok) expect(out.state.status).toBe(RequestStatus.granting);
  });

  it('after escalation a person on neither list is still refused, and the requester never counts', () => {
    const selfListed = normalizePolicy({ ...BASE, escalation: { afterMs: 60 * MIN, to: [CAROL, EVE] } });
    const e = escalate(file(selfListed), selfListed, at(60));
    expect(e.state.escalations?.[0]?.to).toEqual([CAROL]); // the requester is not told
    for (const [actor, code] of [
      [IAN, RejectionCode.notEligible],
      [EVE, RejectionCode.selfApproval],
    ] as const) {
      const out = approve(e.state, actor, 70, selfListed);
      expect(out.ok).toBe(false);
      if (!out.ok) expect(out.rejection.code).toBe(code);
    }
  });

  it('the escalation list comes from the policy at decision time: removed from it, carol may no longer decide', () => {
    const e = escalate(file(), ESCALATING, at(60));
    const out = approve(e.state, CAROL, 70, normalizePolicy(BASE));
    expect(out.ok).toBe(false);
  });

  it('escalated people count toward the quorum like approvers (quorum 2: bob, then carol)', () => {
    const two = normalizePolicy({ ...BASE, quorum: 2, escalation: { afterMs: 60 * MIN, to: [CAROL] } });
    const bob = approve(file(two), BOB, 30, two);
    if (!bob.ok) throw new Error(bob.rejection.message);
    // A decision in the stage restarts the silence: due `after` after bob's approval, not after filing.
    expect(escalationDueAt(bob.state, two, T0)).toBe(at(90).getTime());
    const e = escalate(bob.state, two, at(90));
    const carol = approve(e.state, CAROL, 95, two);
    if (!carol.ok) throw new Error(carol.rejection.message);
    expect(carol.state.status).toBe(RequestStatus.granting);
    expect(carol.audit[0]?.details).toMatchObject({ approvals: 2, quorum: 2, final: true });
  });

  it('a stage that started later counts from its start; an internal stage escalates on its own', () => {
    const staged = normalizePolicy({ ...BASE, internalApproval: true, internalApprovers: [IAN], escalation: { afterMs: 60 * MIN, to: [CAROL] } });
    const s = file(staged);
    expect(s.stage).toBe(Stage.internal);
    const ian = approve(s, IAN, 20, staged);
    if (!ian.ok) throw new Error(ian.rejection.message);
    expect(ian.state.stage).toBe(Stage.customer);
    expect(escalationDueAt(ian.state, staged, at(20).getTime())).toBe(at(80).getTime());
  });

  it('no escalation rule, or nothing pending: never due', () => {
    expect(escalationDueAt(file(normalizePolicy(BASE)), normalizePolicy(BASE), T0)).toBeNull();
    const done = approve(file(), ALICE, 5);
    if (!done.ok) throw new Error(done.rejection.message);
    expect(escalationDueAt(done.state, ESCALATING, T0)).toBeNull();
    expect(escalate(done.state, ESCALATING, at(60)).audit).toEqual([]);
  });

  it('a policy change counts the escalation list among those who could still complete the stage', () => {
    const e = escalate(file(), ESCALATING, at(60));
    // The approver list shrinks to the requester alone: without carol the stage could not finish; with her it can.
    const onlyEve = normalizePolicy({ ...BASE, approvers: [EVE], escalation: { afterMs: 60 * MIN, to: [CAROL] } });
    expect(applyPolicyChange(e.state, onlyEve, at(70)).state.status).toBe(RequestStatus.pending);
    expect(applyPolicyChange(file(), normalizePolicy({ ...BASE, approvers: [EVE] }), at(70)).state.status).toBe(RequestStatus.cancelled);
  });

  it('the notice goes to the escalation list as kind `escalated`, one id per stage and person', () => {
    const e = escalate(file(), ESCALATING, at(60));
    const [m] = escalationNotice(e.state, [CAROL, EVE], at(60));
    expect(escalationNotice(e.state, [CAROL, EVE], at(60))).toHaveLength(1);
    expect(m).toMatchObject({ recipient: CAROL, kind: 'escalated', id: `${e.state.id}:escalated:customer:${CAROL}` });
  });

  it('policies without escalation or reminders sign exactly as before (no new keys)', () => {
    expect(canonicalJson(normalizePolicy(BASE))).not.toMatch(/escalation|reminders/);
  });
});

describe('reminders per tenant', () => {
  const sent = (inStage: number, total = inStage) => ({ inStage, total });

  it('without a rule: today\'s single reminder (an hour before expiry), once per request', () => {
    const s = file(normalizePolicy(BASE));
    expect(nextReminderAt(s, normalizePolicy(BASE), T0, sent(0))).toBe(reminderAt(s.createdAt, s.expiresAt));
    expect(nextReminderAt(s, normalizePolicy(BASE), T0, sent(0))).toBe(at(11 * 60).getTime());
    expect(nextReminderAt(s, normalizePolicy(BASE), T0, sent(1))).toBeNull();
  });

  it('with {count: 3, every: 2h}: at +2h, +4h, +6h from the stage\'s start, then none', () => {
    const p = normalizePolicy({ ...BASE, reminders: { count: 3, everyMs: 120 * MIN } });
    const s = file(p);
    expect([0, 1, 2, 3].map((n) => nextReminderAt(s, p, T0, sent(n)))).toEqual([at(120).getTime(), at(240).getTime(), at(360).getTime(), null]);
  });

  it('count 0 turns reminders off', () => {
    const p = normalizePolicy({ ...BASE, reminders: { count: 0, everyMs: MIN } });
    expect(nextReminderAt(file(p), p, T0, sent(0))).toBeNull();
  });

  it('each reminder has a message id of its own (a retry still delivers once)', () => {
    const s = file();
    const ids = [1, 2, 3].map((n) => approvalNeeded(s, [ALICE], at(0), 'reminder', n)[0]?.id);
    expect(new Set(ids).size).toBe(3);
    expect(ids[0]).toBe(`${s.id}:reminder:${ALICE}`);
  });
});

describe('escalation and reminder settings', () => {
  const settings = (extra: Partial<TenantSettings>): TenantSettings => ({
    customerApproval: true,
    approvers: [ALICE, BOB],
    quorum: 1,
    requestTtlMs: TTL_MS,
    maxAccessMs: 8 * 3_600_000,
    requireTicket: false,
    internalApproval: false,
    ...extra,
  });
  const known = (id: string) => [ALICE, BOB, CAROL].includes(id);
  const fields = (s: TenantSettings) => validateSettings(s, { maxAccessMs: 8 * 3_600_000 }, known).map((p) => p.field);

  it.each([
    ['valid', { escalation: { afterMs: 4 * 60 * MIN, to: [CAROL] } }, []],
    ['after as long as the lifetime', { escalation: { afterMs: TTL_MS, to: [CAROL] } }, ['escalation.after']],
    ['after under a second', { escalation: { afterMs: 10, to: [CAROL] } }, ['escalation.after']],
    ['nobody to escalate to', { escalation: { afterMs: MIN, to: [] } }, ['escalation.to']],
    ['someone twice', { escalation: { afterMs: MIN, to: [CAROL, CAROL] } }, ['escalation.to']],
    ['not an approver or admin of the tenant', { escalation: { afterMs: MIN, to: [IAN] } }, ['escalation.to.0']],
    ['reminders valid', { reminders: { count: 3, everyMs: 120 * MIN } }, []],
    ['too many reminders', { reminders: { count: 11, everyMs: MIN } }, ['reminders.count']],
    ['reminders too close', { reminders: { count: 1, everyMs: 10 } }, ['reminders.every']],
  ] as const)('%s', (_name, extra, expected) => {
    expect(fields(settings(extra as Partial<TenantSettings>))).toEqual(expected);
  });

  it('stored rows are checked too: a bad escalation names its field, a good one reaches the policy', () => {
    const bad = checkStoredSettings(settings({ escalation: { afterMs: TTL_MS + 1, to: [CAROL] } }));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.problems.map((p) => p.field)).toContain('escalation.afterMs');
    const extra = checkStoredSettings({ ...settings({}), escalation: { afterMs: MIN, to: [CAROL], extra: 1 } });
    expect(extra.ok).toBe(false);
    const good = checkStoredSettings(settings({ escalation: { afterMs: MIN, to: [CAROL] }, reminders: { count: 2, everyMs: MIN } }));
    expect(good.ok).toBe(true);
    if (good.ok) {
      const p = policyFromSettings('contoso', 4, good.settings, [IAN]);
      expect(p.escalation).toEqual({ afterMs: MIN, to: [CAROL] });
      expect(p.reminders).toEqual({ count: 2, everyMs: MIN });
    }
  });
});
