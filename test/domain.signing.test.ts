/**
 * Decisions nobody can forge: canonical JSON, Ed25519 signatures over decisions and requests, and the workflow's pure
 * check of signed decision arguments (`authenticateDecision`). Keys are generated in the test; nothing is mocked.
 *
 * Personas: eve (engineer, the requester), alice and bob (contoso approvers), ian (internal approver), mallory (has
 * access to the Temporal namespace and sends whatever she likes).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuditEventType } from '../src/domain/audit.js';
import { createRequest, decide } from '../src/domain/decide.js';
import { normalizePolicy, type ApprovalPolicy } from '../src/domain/policy.js';
import type { NewRequestInput } from '../src/domain/request.js';
import { canonicalJson, decisionMessage, requestMessage, type DecisionClaims, type SigningKey, type TrustedKeys } from '../src/domain/signing.js';
import { publicKeyOf, signDecision, signRequest, verifyMessage, verifyRequest } from '../src/domain/ed25519.js';
import { authenticateDecision, type SignatureVerdict } from '../src/workflows/decision-auth.js';

const EVE = 'eve@lockbox.dev';
const ALICE = 'alice@contoso.com';
const BOB = 'bob@contoso.com';
const IAN = 'ian@lockbox.dev';

const MINUTE = 60_000;
const REQUEST_ID = 'req-contoso-01JNQ3V8Z6K9W2X4Y5A7B8C9D0';
/** The Temporal run that owns REQUEST_ID; a second run of the same id is ANOTHER_RUN. */
const RUN_ID = '0196f0a2-7c1e-7d3b-9f1a-2b3c4d5e6f70';
const ANOTHER_RUN = '0196f0a2-7c1e-7d3b-9f1a-2b3c4d5e6f71';
const CREATED_AT = '2025-03-03T09:00:00.000Z';
/** Workflow time when the decision arrives. */
const NOW = Date.parse('2025-03-03T09:30:00.000Z');

function keyPair(keyId: string): { key: SigningKey; publicKey: string } {
  const { secretKey, publicKey } = ed25519.keygen();
  return { key: { keyId, secretKey: bytesToHex(secretKey) }, publicKey: bytesToHex(publicKey) };
}

/** The API's key, which the worker trusts. */
const API = keyPair('api-2025-03');
const TRUSTED: TrustedKeys = { [API.key.keyId]: API.publicKey };
/** Mallory's own key, under the API's key id. */
const MALLORY = keyPair(API.key.keyId);

const POLICY: ApprovalPolicy = normalizePolicy({
  tenant: 'contoso',
  version: 3,
  customerApproval: true,
  approvers: [ALICE, BOB],
  quorum: 1,
  internalApproval: true,
  internalApprovers: [IAN],
  internalQuorum: 1,
});

const CLAIMS: DecisionClaims = {
  requestId: REQUEST_ID,
  runId: RUN_ID,
  action: 'approve',
  actor: ALICE,
  note: 'ok, go ahead',
  policy: POLICY,
  issuedAt: new Date(NOW).toISOString(),
  nonce: 'b1f3c2d4-0b7e-4c55-9a38-0f6f2f0c9e11',
};

const INPUT: Omit<NewRequestInput, 'proof'> = {
  id: REQUEST_ID,
  tenant: 'contoso',
  resource: 'mailbox:bob@contoso.com',
  requester: EVE,
  reason: 'INC-4711: mail flow to bob is broken',
  ticket: 'INC-4711',
  durationMs: 4 * 60 * MINUTE,
  requestTtlMs: 12 * 60 * MINUTE,
  createdAt: CREATED_AT,
  policy: POLICY,
};

/** What crossing Temporal does to arguments: JSON, with object keys in whatever order the sender chose. */
function throughJson<T>(value: T, reverseKeys = true): T {
  const reorder = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(reorder);
    if (v === null || typeof v !== 'object') return v;
    const entries = Object.entries(v).map(([k, x]) => [k, reorder(x)] as const);
    return Object.fromEntries(reverseKeys ? entries.reverse() : entries);
  };
  return JSON.parse(JSON.stringify(reorder(value))) as T;
}

/** What the worker's `verifySignature` local activity answers (node:crypto against the trusted keys). */
const VERIFIED_BY_WORKER: SignatureVerdict = (c) => verifyMessage(c.message, c.keyId, c.signature, TRUSTED);

const verifiesAsDecision = (claims: DecisionClaims, keyId: unknown, signature: unknown, keys: TrustedKeys = TRUSTED) =>
  verifyMessage(decisionMessage(claims), keyId, signature, keys);

// ---- canonical JSON -------------------------------------------------------------------------------------------------

describe('canonicalJson', () => {
  it('sorts object keys at every level and keeps array order', () => {
    const a = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null }, e: 'x' };
    const b = { e: 'x', a: { c: null, d: [3, { y: 2, z: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1,"e":"x"}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it('tells null from a missing field, drops undefined fields like JSON does, and escapes keys and strings', () => {
    expect(canonicalJson({ a: null })).not.toBe(canonicalJson({}));
    expect(canonicalJson({ a: undefined, b: 1 })).toBe(canonicalJson({ b: 1 }));
    expect(canonicalJson({ 'a"b': 'line\nbreak', '': 'é' })).toBe('{"":"é","a\\"b":"line\\nbreak"}');
    // No key or value can smuggle in structure: what parses back is what went in.
    expect(JSON.parse(canonicalJson({ 'a":1,"b': '"}' }))).toEqual({ 'a":1,"b': '"}' });
  });

  it('is independent of key order and parses back to the same value, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(throughJson(value))).toBe(text);
        expect(canonicalJson(throughJson(value, false))).toBe(text);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 300 },
    );
  });
});

// ---- decision signatures ------------------------------------------------------------------------------------------

describe('signed decisions', () => {
  const signed = signDecision(CLAIMS, API.key);

  it('verify with the trusted key, also after crossing Temporal as JSON with keys reordered', () => {
    expect(signed.keyId).toBe(API.key.keyId);
    expect(signed.signature).toMatch(/^[0-9a-f]{128}$/);
    expect(verifiesAsDecision(CLAIMS, signed.keyId, signed.signature)).toBe(true);
    const received = throughJson(signed);
    expect(verifiesAsDecision(received.claims, received.keyId, received.signature)).toBe(true);
    expect(publicKeyOf(API.key.secretKey)).toBe(API.publicKey);
  });

  it('are plain RFC 8032 Ed25519: node:crypto and @noble/curves accept each other\'s signatures and reject each other\'s forgeries', () => {
    const message = decisionMessage(CLAIMS);
    // Signed by the API (node:crypto), checked by an independent implementation.
    expect(ed25519.verify(hexToBytes(signed.signature), new TextEncoder().encode(message), hexToBytes(API.publicKey))).toBe(true);
    // Signed by the independent implementation with the API's key, checked by the worker's code.
    const nobleSignature = bytesToHex(ed25519.sign(new TextEncoder().encode(message), hexToBytes(API.key.secretKey)));
    expect(nobleSignature).toBe(signed.signature); // Ed25519 is deterministic: same key and message, same bytes
    expect(verifiesAsDecision(CLAIMS, API.key.keyId, nobleSignature)).toBe(true);
    // Mallory's key under the API's key id verifies nowhere.
    const forged = bytesToHex(ed25519.sign(new TextEncoder().encode(message), hexToBytes(MALLORY.key.secretKey)));
    expect(verifiesAsDecision(CLAIMS, API.key.keyId, forged)).toBe(false);
    expect(ed25519.verify(hexToBytes(forged), new TextEncoder().encode(message), hexToBytes(API.publicKey))).toBe(false);
  });

  it('refuse a trusted public key that is not a curve point, and never throw on one', () => {
    expect(verifiesAsDecision(CLAIMS, 'odd', signed.signature, { odd: 'ff'.repeat(32) })).toBe(false);
    expect(verifiesAsDecision(CLAIMS, 'short', signed.signature, { short: 'abcd' })).toBe(false);
  });

  const TAMPERED: Array<[string, DecisionClaims]> = [
    ['actor', { ...CLAIMS, actor: BOB }],
    ['action', { ...CLAIMS, action: 'reject' }],
    ['requestId', { ...CLAIMS, requestId: 'req-contoso-01JNQ3V8Z6K9W2X4Y5A7B8C9D1' }],
    ['note changed', { ...CLAIMS, note: 'ok, go ahead!' }],
    ['note removed', { ...CLAIMS, note: null }],
    ['policy.approvers', { ...CLAIMS, policy: { ...POLICY, approvers: [ALICE, BOB, EVE] } }],
    ['policy.approvers reordered', { ...CLAIMS, policy: { ...POLICY, approvers: [BOB, ALICE] } }],
    ['policy.quorum', { ...CLAIMS, policy: { ...POLICY, quorum: 2 } }],
    ['policy.internalApprovers', { ...CLAIMS, policy: { ...POLICY, internalApprovers: [IAN, EVE] } }],
    ['policy.version', { ...CLAIMS, policy: { ...POLICY, version: 4 } }],
    ['policy.tenant', { ...CLAIMS, policy: { ...POLICY, tenant: 'fabrikam' } }],
    ['issuedAt', { ...CLAIMS, issuedAt: new Date(NOW + 1).toISOString() }],
    ['nonce', { ...CLAIMS, nonce: 'b1f3c2d4-0b7e-4c55-9a38-0f6f2f0c9e12' }],
    ['an extra claim', { ...CLAIMS, admin: true } as DecisionClaims],
  ];

  it.each(TAMPERED)('do not verify once a claim is changed: %s', (_field, claims) => {
    expect(verifiesAsDecision(claims, signed.keyId, signed.signature)).toBe(false);
  });

  it('do not verify when signed by an untrusted key, even under a trusted key id', () => {
    const forged = signDecision(CLAIMS, MALLORY.key);
    expect(forged.keyId).toBe(API.key.keyId);
    expect(verifiesAsDecision(CLAIMS, forged.keyId, forged.signature)).toBe(false);
    // Trusting the key is what makes it verify.
    expect(verifiesAsDecision(CLAIMS, forged.keyId, forged.signature, { [API.key.keyId]: MALLORY.publicKey })).toBe(true);
  });

  it.each(['api-2024-12', '', '__proto__', 'constructor', 'toString', 'hasOwnProperty'])('do not verify under an unknown key id %j', (keyId) => {
    expect(verifiesAsDecision(CLAIMS, keyId, signed.signature)).toBe(false);
  });

  it.each([null, undefined, 42, {}, [API.key.keyId], { toString: () => API.key.keyId }])('do not verify with a key id that is not a string: %j', (keyId) => {
    expect(verifiesAsDecision(CLAIMS, keyId, signed.signature)).toBe(false);
  });

  const MALFORMED: Array<[string, unknown]> = [
    ['empty', ''],
    ['too short', signed.signature.slice(0, 126)],
    ['too long', `${signed.signature}00`],
    ['not hex', 'zz'.repeat(64)],
    ['upper-case hex', signed.signature.toUpperCase()],
    ['with whitespace', ` ${signed.signature.slice(1)}`],
    ['all zeros', '0'.repeat(128)],
    ['all ff', 'f'.repeat(128)],
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['an object', {}],
    ['an array', [signed.signature]],
    ['an object that stringifies to the signature', { toString: () => signed.signature }],
    ['the raw bytes', hexToBytes(signed.signature)],
  ];

  it.each(MALFORMED)('return false for a malformed signature (%s) and never throw', (_name, signature) => {
    expect(() => verifiesAsDecision(CLAIMS, signed.keyId, signature)).not.toThrow();
    expect(verifiesAsDecision(CLAIMS, signed.keyId, signature)).toBe(false);
  });

  it('return false for any single flipped bit of the signature', () => {
    const bytes = hexToBytes(signed.signature);
    for (let i = 0; i < bytes.length; i++) {
      const flipped = Uint8Array.from(bytes);
      flipped[i] = flipped[i]! ^ (1 << i % 8);
      expect(verifiesAsDecision(CLAIMS, signed.keyId, bytesToHex(flipped)), `byte ${i}`).toBe(false);
    }
  });

  it('return false for the malleated twin (S + L) of a valid signature', () => {
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const bytes = hexToBytes(signed.signature);
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) + BigInt(bytes[i]!);
    let twin = s + L;
    for (let i = 32; i < 64; i++) {
      bytes[i] = Number(twin & 0xffn);
      twin >>= 8n;
    }
    expect(twin).toBe(0n); // still fits in 32 bytes, so only the range check can refuse it
    expect(verifiesAsDecision(CLAIMS, signed.keyId, bytesToHex(bytes))).toBe(false);
  });

  it('return false, never throw, when a trusted public key is itself malformed', () => {
    for (const publicKey of ['', 'zz', API.publicKey.slice(0, 62), `${API.publicKey}00`, 'ff'.repeat(32)]) {
      expect(verifiesAsDecision(CLAIMS, signed.keyId, signed.signature, { [API.key.keyId]: publicKey }), publicKey).toBe(false);
    }
  });
});

// ---- request signatures, and why the two kinds never mix ------------------------------------------------------------

describe('signed requests', () => {
  const proof = signRequest(INPUT, API.key);

  it('verify with the trusted key, also after crossing Temporal as JSON with keys reordered', () => {
    expect(verifyRequest({ ...INPUT, proof }, TRUSTED)).toBe(true);
    expect(verifyRequest(throughJson({ ...INPUT, proof }), TRUSTED)).toBe(true);
  });

  it.each<[string, Partial<NewRequestInput>]>([
    ['id', { id: 'req-contoso-other' }],
    ['tenant', { tenant: 'fabrikam' }],
    ['resource', { resource: 'mailbox:alice@contoso.com' }],
    ['requester', { requester: BOB }],
    ['reason', { reason: 'curious' }],
    ['ticket', { ticket: null }],
    ['durationMs', { durationMs: 8 * 60 * MINUTE }],
    ['requestTtlMs', { requestTtlMs: 24 * 60 * MINUTE }],
    ['createdAt', { createdAt: '2025-03-03T09:00:00.001Z' }],
    ['policy.approvers', { policy: { ...POLICY, approvers: [EVE] } }],
    ['policy.internalApproval', { policy: { ...POLICY, internalApproval: false } }],
    ['policy.customerApproval', { policy: { ...POLICY, customerApproval: false } }],
  ])('do not verify once a field is changed: %s', (_field, change) => {
    expect(verifyRequest({ ...INPUT, ...change, proof }, TRUSTED)).toBe(false);
  });

  it('do not verify without a proof, with an untrusted key, or with a malformed proof', () => {
    expect(verifyRequest({ ...INPUT }, TRUSTED)).toBe(false);
    expect(verifyRequest({ ...INPUT, proof: signRequest(INPUT, MALLORY.key) }, TRUSTED)).toBe(false);
    expect(verifyRequest({ ...INPUT, proof: { keyId: 'api-2024-12', signature: proof.signature } }, TRUSTED)).toBe(false);
    for (const bad of [null, 'x', { keyId: API.key.keyId }, { signature: proof.signature }, { keyId: 1, signature: 2 }]) {
      const input = { ...INPUT, proof: bad } as unknown as NewRequestInput;
      expect(() => verifyRequest(input, TRUSTED)).not.toThrow();
      expect(verifyRequest(input, TRUSTED), JSON.stringify(bad)).toBe(false);
    }
  });

  it('a decision signature cannot pass as a request signature, nor the other way round (domain prefix)', () => {
    // The same JSON signed as a decision: only the prefix differs between the two messages.
    const sameBody = INPUT as unknown as DecisionClaims;
    const asDecision = signDecision(sameBody, API.key);
    expect(canonicalJson(sameBody)).toBe(canonicalJson(INPUT));
    expect(verifyRequest({ ...INPUT, proof: { keyId: asDecision.keyId, signature: asDecision.signature } }, TRUSTED)).toBe(false);
    expect(verifiesAsDecision(sameBody, proof.keyId, proof.signature)).toBe(false);
    expect(verifyMessage(requestMessage(INPUT), proof.keyId, proof.signature, TRUSTED)).toBe(true);
    // And a real decision's signature proves nothing about a request.
    const decision = signDecision(CLAIMS, API.key);
    expect(verifyRequest({ ...INPUT, proof: { keyId: decision.keyId, signature: decision.signature } }, TRUSTED)).toBe(false);
  });
});

// ---- the workflow's check of signed decision arguments ----------------------------------------------------------------

describe('authenticateDecision', () => {
  const { state } = createRequest({ ...INPUT, proof: signRequest(INPUT, API.key) });
  const signedAs = (change: Partial<DecisionClaims> = {}, key: SigningKey = API.key) => signDecision({ ...CLAIMS, ...change }, key);
  const check = (args: unknown, opts: { action?: DecisionClaims['action']; used?: string[]; now?: number; runId?: string } = {}) =>
    authenticateDecision(state, opts.action ?? 'approve', args, VERIFIED_BY_WORKER, new Set(opts.used ?? []), opts.now ?? NOW, opts.runId ?? RUN_ID);

  it('accepts a decision the API signed for this request and action: the command carries the proof, the policy is normalised', () => {
    // A policy as an API of an earlier version might have sent it: stage fields missing.
    const legacy = { tenant: 'contoso', version: 2, customerApproval: true, approvers: [ALICE], quorum: 1 } as ApprovalPolicy;
    const signed = signedAs({ policy: legacy });
    expect(check(throughJson(signed))).toEqual({
      ok: true,
      cmd: {
        action: 'approve',
        actor: ALICE,
        note: 'ok, go ahead',
        proof: { keyId: API.key.keyId, signature: signed.signature, nonce: CLAIMS.nonce, issuedAt: CLAIMS.issuedAt, runId: RUN_ID },
      },
      policy: { ...legacy, internalApproval: false, internalApprovers: [], internalQuorum: 1 },
    });
  });

  it.each<[string, unknown, Parameters<typeof check>[1], string, string]>([
    ['unsigned v1-style args {actor, note}', { actor: ALICE, note: 'ok' }, {}, 'unsigned', ALICE],
    ['no args at all', undefined, {}, 'unsigned', 'unknown'],
    ['null args', null, {}, 'unsigned', 'unknown'],
    ['a string', 'approve please', {}, 'unsigned', 'unknown'],
    ['claims without a signature', { claims: CLAIMS }, {}, 'bad_signature', ALICE],
    ['claims changed after signing', { ...signedAs(), claims: { ...CLAIMS, actor: BOB } }, {}, 'bad_signature', BOB],
    ['signed by an untrusted key', signedAs({}, MALLORY.key), {}, 'bad_signature', ALICE],
    ['a garbage signature', { ...signedAs(), signature: 'ab'.repeat(64) }, {}, 'bad_signature', ALICE],
    ['signed for another request', signedAs({ requestId: 'req-contoso-other' }), {}, 'signed_for_another_request', ALICE],
    ['signed as approve, sent as reject', signedAs(), { action: 'reject' }, 'signed_for_another_action', ALICE],
    ['signed as reject, sent as approve', signedAs({ action: 'reject' }), { action: 'approve' }, 'signed_for_another_action', ALICE],
    ['a replayed nonce', signedAs(), { used: ['other', CLAIMS.nonce] }, 'replayed', ALICE],
    ['signed for this request id but another run of it', signedAs(), { runId: ANOTHER_RUN }, 'signed_for_another_run', ALICE],
    ['signed without a run', signedAs({ runId: undefined }), {}, 'signed_for_another_run', ALICE],
    ['issued 6 minutes ago', signedAs(), { now: NOW + 6 * MINUTE }, 'stale', ALICE],
    ['issued 3 minutes in the future', signedAs(), { now: NOW - 3 * MINUTE }, 'stale', ALICE],
    ['issued 2 minutes and 1 ms ago (past the freshness window)', signedAs(), { now: NOW + 2 * MINUTE + 1 }, 'stale', ALICE],
    ['issued at an unparsable time', signedAs({ issuedAt: 'yesterday' }), {}, 'stale', ALICE],
  ])('refuses %s', (_name, args, opts, reason, claimedActor) => {
    expect(check(args, opts)).toEqual({ ok: false, reason, claimedActor });
  });

  it.each([2 * MINUTE, -2 * MINUTE, 0])('accepts a decision issued %i ms off workflow time (clock skew)', (skew) => {
    expect(check(signedAs(), { now: NOW + skew }).ok).toBe(true);
  });

  it('accepts the same signed decision only until its nonce is used', () => {
    const signed = signedAs();
    const used = new Set<string>();
    const first = authenticateDecision(state, 'approve', signed, VERIFIED_BY_WORKER, used, NOW, RUN_ID);
    expect(first.ok).toBe(true);
    if (first.ok && first.cmd.proof) used.add(first.cmd.proof.nonce);
    expect(authenticateDecision(state, 'approve', throughJson(signed), VERIFIED_BY_WORKER, used, NOW + 1, RUN_ID)).toMatchObject({ ok: false, reason: 'replayed' });
  });

  const HOSTILE: Array<[string, unknown]> = [
    ['an actor that cannot be turned into a string', { actor: { toString: 1 } }],
    ['a claimed actor that cannot be turned into a string', { claims: { actor: { toString: 1, valueOf: 1 } } }],
    ['claims that are a number', { claims: 42, keyId: API.key.keyId, signature: 'ab'.repeat(64) }],
    ['claims that are an array', { claims: [CLAIMS], keyId: API.key.keyId, signature: signedAs().signature }],
    ['a key id that cannot be turned into a string', { ...signedAs(), keyId: { toString: 1 } }],
    ['a signature that cannot be turned into a string', { ...signedAs(), signature: { toString: 1 } }],
  ];

  it.each(HOSTILE)('refuses, never throws on, args with %s', (_name, args) => {
    let result: ReturnType<typeof check> | undefined;
    expect(() => {
      result = check(args);
    }).not.toThrow();
    expect(result).toMatchObject({ ok: false, claimedActor: expect.any(String) });
  });

  it('refuses, never throws on, anything mallory can send', () => {
    const keys = fc.constantFrom('claims', 'actor', 'keyId', 'signature', 'nonce', 'issuedAt', 'requestId', 'action', 'policy', 'toString', 'valueOf');
    fc.assert(
      fc.property(fc.anything({ key: keys, maxDepth: 3 }), (args) => {
        const result = check(args);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(typeof result.claimedActor).toBe('string');
      }),
      { numRuns: 500 },
    );
  });

  it('refuses, never throws on, claims nested deeper than the stack (a cheap payload of brackets)', () => {
    const deep: unknown = JSON.parse(`${'['.repeat(100_000)}1${']'.repeat(100_000)}`);
    const args = { claims: { ...CLAIMS, note: deep }, keyId: API.key.keyId, signature: 'ab'.repeat(64) };
    expect(() => check(args)).not.toThrow();
    expect(check(args)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('an authenticated approval is recorded with its proof, so a customer can re-verify it from the audit event', () => {
    const signed = signedAs({ actor: IAN, note: 'checked INC-4711', policy: state.policy });
    const auth = check(throughJson(signed));
    if (!auth.ok) throw new Error(`refused: ${auth.reason}`);
    const out = decide(state, auth.cmd, new Date(NOW), auth.policy);
    if (!out.ok) throw new Error(`refused: ${out.rejection.code}`);
    const proof = { keyId: API.key.keyId, signature: signed.signature, nonce: CLAIMS.nonce, issuedAt: CLAIMS.issuedAt, runId: RUN_ID };
    expect(out.state.decisions.at(-1)).toMatchObject({ actor: IAN, stage: 'internal', proof });
    const [event] = out.audit;
    expect(event).toMatchObject({ type: AuditEventType.requestApproved, actor: IAN, details: { proof, comment: 'checked INC-4711' } });
    // The customer's check: the event's claims (with the policy the request recorded) verify under the API's key.
    const details = event!.details as { proof: typeof proof; comment: string | null };
    const rebuilt: DecisionClaims = {
      requestId: state.id,
      runId: details.proof.runId,
      action: 'approve',
      actor: event!.actor,
      note: details.comment,
      policy: state.policy,
      issuedAt: details.proof.issuedAt,
      nonce: details.proof.nonce,
    };
    expect(verifyMessage(decisionMessage(rebuilt), details.proof.keyId, details.proof.signature, TRUSTED)).toBe(true);
    expect(verifyMessage(decisionMessage({ ...rebuilt, actor: BOB }), details.proof.keyId, details.proof.signature, TRUSTED)).toBe(false);
  });

  it('the policy vouched for in the claims is the one decide checks: an approver the settings dropped is refused', () => {
    const auth = check(signedAs({ actor: IAN, policy: { ...POLICY, version: 4, internalApprovers: [] } }));
    if (!auth.ok) throw new Error(`refused: ${auth.reason}`);
    expect(decide(state, auth.cmd, new Date(NOW), auth.policy)).toMatchObject({ ok: false, rejection: { code: 'not_eligible' } });
  });
});
