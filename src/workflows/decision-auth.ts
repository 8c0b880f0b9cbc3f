import type { DecisionCommand } from '../domain/decide.js';
import { normalizePolicy, type ApprovalPolicy } from '../domain/policy.js';
import type { AccessRequest, DecisionAction } from '../domain/request.js';
import { decisionMessage, type DecisionClaims, type POLICY_CHANGED, type REVIEW, type SignatureCheck } from '../domain/signing.js';

/**
 * How far a decision's `issuedAt` may be from workflow time: covers clock skew between the API and the Temporal
 * server and an update that waited for a busy worker, and no more: a captured decision is worthless after it.
 */
export const DECISION_FRESHNESS_MS = 2 * 60_000;

export type Authenticated =
  | { ok: true; cmd: DecisionCommand; policy: ApprovalPolicy }
  | { ok: false; reason: string; claimedActor: string };

/**
 * Whether a signature verifies. In the workflow it is the worker's answer (the `verifySignature` local activity,
 * node:crypto, recorded in history); the validator assumes it (`ASSUME_SIGNED`) to run every other check early.
 */
export type SignatureVerdict = (check: SignatureCheck) => boolean;

export const ASSUME_SIGNED: SignatureVerdict = () => true;

/** The signature part of a decision's arguments, or why there is none to check (unsigned, malformed). */
export function signatureCheckOf(args: unknown): { ok: true; check: SignatureCheck; claimedActor: string } | { ok: false; reason: string; claimedActor: string } {
  const a = (typeof args === 'object' && args !== null ? args : {}) as Record<string, unknown>;
  const claims = (typeof a.claims === 'object' && a.claims !== null ? a.claims : {}) as Partial<DecisionClaims>;
  // Only a string is named in the audit: String() of a hostile object such as {toString: 1} throws.
  const claimedActor = ([claims.actor, a.actor].find((x): x is string => typeof x === 'string') ?? 'unknown').slice(0, 200);
  if (!a.claims) return { ok: false, reason: 'unsigned', claimedActor };
  // canonicalJson recurses: claims nested deeper than the stack (a few KB of brackets) are refused, not thrown.
  const message = (() => { try { return decisionMessage(claims as DecisionClaims); } catch { return null; } })();
  if (message === null) return { ok: false, reason: 'malformed', claimedActor };
  return { ok: true, check: { message, keyId: a.keyId, signature: a.signature }, claimedActor };
}

/**
 * Checks that a decision sent to the workflow is one the API signed for this request, run and action, not seen before
 * and fresh. Pure: deterministic in its inputs (the signature's verdict is one of them), so it runs in validators and
 * handlers alike.
 */
export function authenticateDecision(
  state: AccessRequest,
  action: DecisionAction | typeof POLICY_CHANGED | typeof REVIEW,
  args: unknown,
  signatureValid: SignatureVerdict,
  usedNonces: ReadonlySet<string>,
  now: number,
  runId: string,
): Authenticated {
  const a = (typeof args === 'object' && args !== null ? args : {}) as Record<string, unknown>;
  const claims = (typeof a.claims === 'object' && a.claims !== null ? a.claims : {}) as Partial<DecisionClaims>;
  const signed = signatureCheckOf(args);
  if (!signed.ok) return signed;
  const fail = (reason: string): Authenticated => ({ ok: false, reason, claimedActor: signed.claimedActor });
  if (!signatureValid(signed.check)) return fail('bad_signature');
  if (claims.requestId !== state.id) return fail('signed_for_another_request');
  // A request id belongs to one run; a decision signed for it cannot be replayed into another run of the same id.
  if (claims.runId !== runId) return fail('signed_for_another_run');
  if (claims.action !== action) return fail('signed_for_another_action');
  if (typeof claims.nonce !== 'string' || usedNonces.has(claims.nonce)) return fail('replayed');
  const issued = Date.parse(String(claims.issuedAt));
  if (!Number.isFinite(issued) || Math.abs(now - issued) > DECISION_FRESHNESS_MS) return fail('stale');
  if (typeof claims.actor !== 'string' || !claims.policy) return fail('malformed');
  return {
    ok: true,
    cmd: {
      // A policy change or review is authenticated like a decision; its handler takes what it needs from it.
      action: action as DecisionAction,
      actor: claims.actor,
      note: typeof claims.note === 'string' ? claims.note : null,
      ...(typeof claims.durationMs === 'number' ? { durationMs: claims.durationMs } : {}),
      ...(claims.until !== undefined ? { until: claims.until } : {}),
      proof: { keyId: String(a.keyId), signature: String(a.signature), nonce: claims.nonce, issuedAt: String(claims.issuedAt), runId, ...loginEvidence(claims) },
    },
    policy: normalizePolicy(claims.policy),
  };
}

/**
 * When and how the deciding person last logged in (step-up, docs/sign-in.md), as the API signed it: kept in the audit
 * event's proof so the trail shows how fresh the approver's login was. Only well-formed values are kept.
 */
function loginEvidence(claims: Partial<DecisionClaims>): { authTime?: string; amr?: string[] } {
  const authTime = typeof claims.authTime === 'string' && claims.authTime.length <= 40 && Number.isFinite(Date.parse(claims.authTime)) ? claims.authTime : undefined;
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string' && m.length <= 40).slice(0, 10) : [];
  return { ...(authTime !== undefined ? { authTime } : {}), ...(amr.length > 0 ? { amr } : {}) };
}
