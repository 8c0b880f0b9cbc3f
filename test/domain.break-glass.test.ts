/**
 * Break-glass as a scenario table (docs/break-glass.md): an emergency request is granted without approval, owes a
 * review after it ends, is reviewed once by someone other than the responder, or goes overdue once.
 * Personas: eve (engineer, the responder), alice and bob (contoso approvers).
 */
import { describe, expect, it } from 'vitest';
import { AuditEventType } from '../src/domain/audit.js';
import { emergencyAlert, emergencyGranted, reviewDue, reviewEmergency, reviewOverdue, type ReviewCommand } from '../src/domain/break-glass.js';
import { createRequest, granted, RejectionCode, revoked } from '../src/domain/decide.js';
import { RequestStatus, type AccessRequest } from '../src/domain/request.js';
import { validateSettings, type TenantSettings } from '../src/domain/settings.js';
import { checkStoredSettings } from '../src/domain/settings-schema.js';
import { publicKeyOf, signRequest, verifyRequest } from '../src/domain/ed25519.js';

const EVE = 'eve@lockbox.dev';
const ALICE = 'alice@contoso.com';
const BOB = 'bob@contoso.com';
const T0 = Date.parse('2026-12-04T03:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000);
const REVIEW_WITHIN_MS = 24 * 3_600_000;

function file(emergency: boolean): AccessRequest {
  return createRequest({
    id: 'req-contoso-01JNQ3V8Z6K9W2X4Y5A7B8C9D0',
    tenant: 'contoso',
    resource: 'db:crm',
    requester: EVE,
    reason: 'outage INC-1',
    ticket: 'INC-1',
    durationMs: 3_600_000,
    requestTtlMs: 12 * 3_600_000,
    createdAt: at(0).toISOString(),
    policy: { tenant: 'contoso', customerApproval: true, approvers: [ALICE, BOB], quorum: 1 },
    ...(emergency ? { emergency: { reviewWithinMs: REVIEW_WITHIN_MS } } : {}),
  }).state;
}

/** Granted at 0 s, access until +1 h, revoked at the end. */
function grantedAndEnded(): AccessRequest {
  const approved = emergencyGranted(file(true), at(0)).state;
  const active = granted(approved, { grantedAt: at(1).toISOString(), endsAt: at(3601).toISOString() }).state;
  return revoked(active, at(3601).toISOString(), null, true).state;
}

const verdict = (actor: string, v: ReviewCommand['verdict'] = 'justified'): ReviewCommand => ({ actor, verdict: v, comment: 'ok' });

describe('break-glass: grant without approval', () => {
  it('an emergency request goes straight to granting, audited as request.emergency_granted', () => {
    const filed = file(true);
    expect(filed).toMatchObject({ emergency: true, status: 'pending', review: { status: 'pending', dueAt: null } });
    const out = emergencyGranted(filed, at(0));
    expect(out.state).toMatchObject({ status: RequestStatus.granting, stage: null, approvedAt: at(0).toISOString() });
    expect(out.audit.map((a) => a.type)).toEqual([AuditEventType.requestEmergencyGranted]);
  });

  it('an ordinary request is not touched', () => {
    const filed = file(false);
    expect(filed.emergency).toBeUndefined();
    expect(emergencyGranted(filed, at(0))).toEqual({ state: filed, audit: [] });
  });

  it('the alert goes to everyone listed but the responder, marked as an emergency', () => {
    const messages = emergencyAlert(file(true), [ALICE, BOB, EVE], at(0));
    expect(messages.map((m) => [m.recipient, m.kind])).toEqual([[ALICE, 'emergency'], [BOB, 'emergency']]);
    expect(messages[0]?.subject).toContain('EMERGENCY');
  });
});

describe('break-glass: review', () => {
  const ended = reviewDue(grantedAndEnded());

  it('the deadline counts from the end of the access', () => {
    expect(ended.review?.dueAt).toBe(new Date(T0 + 3_601_000 + REVIEW_WITHIN_MS).toISOString());
    expect(reviewDue(file(true)).review?.dueAt).toBeNull(); // still running
  });

  const table: Array<{ name: string; steps: Array<[ReviewCommand, RejectionCode | null]>; final: string }> = [
    { name: 'bob finds it justified', steps: [[verdict(BOB), null]], final: 'justified' },
    { name: 'alice finds it unjustified', steps: [[verdict(ALICE, 'unjustified'), null]], final: 'unjustified' },
    { name: 'the responder cannot review their own', steps: [[verdict(EVE), RejectionCode.selfReview]], final: 'pending' },
    { name: 'a second review is refused', steps: [[verdict(BOB), null], [verdict(ALICE, 'unjustified'), RejectionCode.alreadyReviewed]], final: 'justified' },
  ];
  it.each(table)('$name', ({ steps, final }) => {
    let state = ended;
    for (const [cmd, refusal] of steps) {
      const out = reviewEmergency(state, cmd, at(4000));
      if (refusal) {
        expect(out.ok ? null : out.rejection.code).toBe(refusal);
      } else {
        expect(out.ok).toBe(true);
        if (!out.ok) return;
        expect(out.audit.map((a) => [a.type, a.actor])).toEqual([[AuditEventType.requestReviewed, cmd.actor]]);
        state = out.state;
      }
    }
    expect(state.review?.status).toBe(final);
  });

  it('can be reviewed while access is active', () => {
    const active = granted(emergencyGranted(file(true), at(0)).state, { grantedAt: at(1).toISOString(), endsAt: at(3601).toISOString() }).state;
    const out = reviewEmergency(active, verdict(BOB), at(10));
    expect(out.ok && out.state.review?.status).toBe('justified');
  });

  it('only emergency requests are reviewed', () => {
    const out = reviewEmergency(file(false), verdict(BOB), at(10));
    expect(out.ok ? null : out.rejection.code).toBe(RejectionCode.notEmergency);
  });

  it('overdue once; a review after that is refused', () => {
    const overdue = reviewOverdue(ended, at(99_999));
    expect(overdue.state.review?.status).toBe('overdue');
    expect(overdue.audit.map((a) => a.type)).toEqual([AuditEventType.requestReviewOverdue]);
    expect(reviewOverdue(overdue.state, at(99_999)).audit).toEqual([]);
    const late = reviewEmergency(overdue.state, verdict(BOB), at(100_000));
    expect(late.ok ? null : late.rejection.code).toBe(RejectionCode.alreadyReviewed);
  });
});

describe('break-glass is signed with the request', () => {
  it('adding or changing `emergency` after the API signed breaks the signature', () => {
    const key = { keyId: 'k1', secretKey: '11'.repeat(32) };
    const keys = { k1: publicKeyOf(key.secretKey) };
    const unsigned = { id: 'req-contoso-01JNQ3V8Z6K9W2X4Y5A7B8C9D0', tenant: 'contoso', resource: 'db:crm', requester: EVE, reason: 'r', ticket: 'T', durationMs: 60_000, requestTtlMs: 60_000, createdAt: at(0).toISOString(), policy: { tenant: 'contoso' } };
    const ordinary = { ...unsigned, proof: signRequest(unsigned, key) };
    expect(verifyRequest(ordinary, keys)).toBe(true);
    expect(verifyRequest({ ...ordinary, emergency: { reviewWithinMs: 1_000 } }, keys)).toBe(false);
    const emergency = { ...unsigned, emergency: { reviewWithinMs: 60_000 } };
    const signed = { ...emergency, proof: signRequest(emergency, key) };
    expect(verifyRequest(signed, keys)).toBe(true);
    expect(verifyRequest({ ...signed, emergency: { reviewWithinMs: 1 } }, keys)).toBe(false);
  });
});

describe('break-glass settings', () => {
  const base: TenantSettings = {
    customerApproval: true, approvers: [ALICE], quorum: 1, requestTtlMs: 3_600_000, maxAccessMs: 3_600_000, requireTicket: false, internalApproval: false,
  };
  const bg = (b: Partial<NonNullable<TenantSettings['breakGlass']>>) => ({ ...base, breakGlass: { enabled: true, responders: [EVE], maxDurationMs: 3_600_000, reviewWithinMs: 86_400_000, ...b } });
  const fields = (s: TenantSettings) => validateSettings(s, { maxAccessMs: 8 * 3_600_000 }, () => true).map((p) => p.field);

  it.each([
    ['off by default (absent)', base, []],
    ['on, with a responder', bg({}), []],
    ['on without responders', bg({ responders: [] }), ['breakGlass.responders']],
    ['a responder twice', bg({ responders: [EVE, EVE] }), ['breakGlass.responders']],
    ['longer than the provider allows', bg({ maxDurationMs: 9 * 3_600_000 }), ['breakGlass.maxDuration']],
    ['a review deadline under 1s', bg({ reviewWithinMs: 10 }), ['breakGlass.reviewWithin']],
  ] as const)('%s', (_name, settings, expected) => {
    expect(fields(settings as TenantSettings)).toEqual(expected);
  });

  it('stored rows are checked by shape', () => {
    expect(checkStoredSettings(bg({})).ok).toBe(true);
    const bad = checkStoredSettings({ ...base, breakGlass: { enabled: 'yes', responders: [], maxDurationMs: 1000, reviewWithinMs: 1000 } });
    expect(bad.ok ? [] : bad.problems.map((p) => p.field)).toEqual(['breakGlass.enabled']);
  });
});
