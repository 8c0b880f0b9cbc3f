import type { ApprovalPolicy } from './policy.js';
import type { DecisionAction, NewRequestInput } from './request.js';
import type { SettingsChange } from './settings.js';

/**
 * Decisions nobody can forge. Anyone with access to the Temporal namespace can send an update or a signal naming any
 * actor, or start a request workflow of their own. So the API signs what it has authorised (Ed25519), the worker
 * trusts only the API's public keys, and the workflow accepts only what verifies.
 *
 * This file is what the workflow sandbox may see: the signed messages' shapes and bytes. Signing and verifying live in
 * `ed25519.ts` (node:crypto, outside the sandbox): the workflow asks a local activity to verify, whose answer is
 * recorded in history (docs/capacity.md says why). Pure: no I/O, deterministic.
 */

/** What the API vouches for when it passes a decision on. */
/** A control message that is not a person's decision: the tenant's settings changed (the policy is re-applied). */
export const POLICY_CHANGED = 'policy_changed';
/** A tenant approver's or admin's review of an emergency (break-glass) request; `verdict` says how it went. */
export const REVIEW = 'review';

export interface DecisionClaims {
  requestId: string;
  /** The Temporal run that owns the request (`AccessRequest.runId`): a decision is good for that run only. */
  runId: string;
  action: DecisionAction | typeof POLICY_CHANGED | typeof REVIEW;
  actor: string;
  note: string | null;
  /** The approval policy in force at decision time (current tenant settings). */
  policy: ApprovalPolicy;
  /** ISO-8601 UTC, API time. */
  issuedAt: string;
  /** Random; each is accepted once per request. */
  nonce: string;
  /** For `extend`: the extra time asked for. */
  durationMs?: number;
  /** For `approve`: the latest the access may last (ISO-8601 UTC), when the approver shortened the window. */
  until?: string;
  /** For `review`: the reviewer's verdict. */
  verdict?: 'justified' | 'unjustified';
  /** ISO-8601 UTC: when the deciding person last logged in at the identity provider (`auth_time`), when known. */
  authTime?: string;
  /** How they logged in (`amr`, e.g. `["pwd", "mfa"]`), when the identity provider said. */
  amr?: string[];
}

export interface SignedDecision {
  claims: DecisionClaims;
  keyId: string;
  /** Hex Ed25519 signature over `decisionMessage(claims)`. */
  signature: string;
}

/** The API's signature over a request it filed. */
export interface RequestProof {
  keyId: string;
  signature: string;
}

/** What a signature check is asked: the message a decision's claims make, and the key id and signature sent with them. */
export interface SignatureCheck {
  message: string;
  keyId: unknown;
  signature: unknown;
}

/** Public keys the worker trusts, by key id, hex. */
export type TrustedKeys = Readonly<Record<string, string>>;

export interface SigningKey {
  keyId: string;
  /** Hex Ed25519 secret key (32 bytes). Never logged, never in history. */
  secretKey: string;
}

/** JSON with object keys sorted at every level, so signer and verifier hash the same bytes. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

// Distinct prefixes: a signature over one kind of message can never pass as another kind.
export const DECISION_MESSAGE_PREFIX = 'lockbox-decision-v1\n';
export const decisionMessage = (c: DecisionClaims) => `${DECISION_MESSAGE_PREFIX}${canonicalJson(c)}`;
export const requestMessage = (input: Omit<NewRequestInput, 'proof'>) => `lockbox-request-v1\n${canonicalJson(input)}`;
export const settingsMessage = (change: Omit<SettingsChange, 'proof'>) => `lockbox-settings-v1\n${canonicalJson(change)}`;

/** The message a signed request proof covers (its proof left out). */
export function requestMessageOf(input: NewRequestInput): string {
  const { proof: _proof, ...rest } = input;
  return requestMessage(rest);
}
