import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { ApprovalPolicy } from './policy.js';
import type { DecisionAction, NewRequestInput } from './request.js';
import type { SettingsChange } from './settings.js';

/**
 * Decisions nobody can forge. Anyone with access to the Temporal namespace can send an update or a signal naming any
 * actor, or start a request workflow of their own. So the API signs what it has authorised (Ed25519, audited pure-JS
 * `@noble/curves`, which runs inside the workflow sandbox), the worker trusts only the API's public keys, and the
 * workflow accepts only what verifies. Pure: no I/O, deterministic.
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
export const decisionMessage = (c: DecisionClaims) => `lockbox-decision-v1\n${canonicalJson(c)}`;
export const requestMessage = (input: Omit<NewRequestInput, 'proof'>) => `lockbox-request-v1\n${canonicalJson(input)}`;
export const settingsMessage = (change: Omit<SettingsChange, 'proof'>) => `lockbox-settings-v1\n${canonicalJson(change)}`;

export function signMessage(message: string, key: SigningKey): string {
  return bytesToHex(ed25519.sign(utf8ToBytes(message), hexToBytes(key.secretKey)));
}

/** True only for a well-formed signature by a trusted key; never throws. */
export function verifyMessage(message: string, keyId: unknown, signature: unknown, keys: TrustedKeys): boolean {
  if (typeof keyId !== 'string' || typeof signature !== 'string' || !/^[0-9a-f]{128}$/.test(signature)) return false;
  const publicKey = Object.hasOwn(keys, keyId) ? keys[keyId] : undefined;
  if (!publicKey) return false;
  try {
    return ed25519.verify(hexToBytes(signature), utf8ToBytes(message), hexToBytes(publicKey));
  } catch {
    return false;
  }
}

export function signDecision(claims: DecisionClaims, key: SigningKey): SignedDecision {
  return { claims, keyId: key.keyId, signature: signMessage(decisionMessage(claims), key) };
}

export function signRequest(input: Omit<NewRequestInput, 'proof'>, key: SigningKey): RequestProof {
  return { keyId: key.keyId, signature: signMessage(requestMessage(input), key) };
}

export function verifyRequest(input: NewRequestInput, keys: TrustedKeys): boolean {
  const { proof, ...rest } = input;
  return verifyMessage(requestMessage(rest), proof?.keyId, proof?.signature, keys);
}

/** The public key of a secret key, hex. */
export function publicKeyOf(secretKeyHex: string): string {
  return bytesToHex(ed25519.getPublicKey(hexToBytes(secretKeyHex)));
}

/** A fresh key pair (the embedded default makes one; production configures one). */
export function generateSigningKey(keyId: string, randomSecret: Uint8Array): SigningKey {
  return { keyId, secretKey: bytesToHex(randomSecret) };
}

/** The API's signature over a tenant settings change it authorised (the other half of the policy). */
export function signSettingsChange(change: Omit<SettingsChange, 'proof'>, key: SigningKey): RequestProof {
  return { keyId: key.keyId, signature: signMessage(settingsMessage(change), key) };
}

/** True only for a settings change signed by a trusted key, exactly as signed; never throws. */
export function verifySettingsChange(change: SettingsChange, keys: TrustedKeys): boolean {
  if (typeof change !== 'object' || change === null) return false;
  try {
    const { proof, ...rest } = change;
    return verifyMessage(settingsMessage(rest), proof?.keyId, proof?.signature, keys);
  } catch {
    return false;
  }
}
