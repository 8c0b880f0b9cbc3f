import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import {
  decisionMessage,
  requestMessageOf,
  requestMessage,
  settingsMessage,
  type DecisionClaims,
  type RequestProof,
  type SignedDecision,
  type SigningKey,
  type TrustedKeys,
} from './signing.js';
import type { NewRequestInput } from './request.js';
import type { SettingsChange } from './settings.js';

/**
 * Ed25519 signing (the API) and verification (the worker's activities) with node:crypto, over the messages of
 * `signing.ts`. Node only: workflow code never imports this file (test/architecture.test.ts checks the bundle's
 * import graph); a workflow asks the `verifySignature` or `beginRequest` local activity instead. Native verification
 * costs about 0.1 ms and no memory per workflow, where pure-JS Ed25519 in the sandbox cost each cached workflow its
 * own module instance and precompute table (docs/bench.md, "Issue 17").
 *
 * Keys are hex: a 32-byte secret (seed) and a 32-byte public key, the same bytes as RFC 8032 and `@noble/curves`.
 */

// DER headers that wrap a raw 32-byte Ed25519 key as SPKI (public) or PKCS#8 (secret), RFC 8410.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const HEX_32 = /^[0-9a-f]{64}$/;
const HEX_64 = /^[0-9a-f]{128}$/;

/** Parsed keys by their hex (a handful: the API's and the trusted ones). */
const publicKeys = new Map<string, KeyObject | null>();
const secretKeys = new Map<string, KeyObject>();

function publicKeyObject(hex: string): KeyObject | null {
  let key = publicKeys.get(hex);
  if (key === undefined) {
    try {
      key = HEX_32.test(hex) ? createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' }) : null;
    } catch {
      key = null; // not a point on the curve
    }
    if (publicKeys.size < 1_000) publicKeys.set(hex, key);
  }
  return key;
}

function secretKeyObject(hex: string): KeyObject {
  let key = secretKeys.get(hex);
  if (!key) {
    if (!HEX_32.test(hex)) throw new Error('signing key: expected 32 bytes of hex');
    key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'pkcs8' });
    secretKeys.set(hex, key);
  }
  return key;
}

export function signMessage(message: string, key: SigningKey): string {
  return sign(null, Buffer.from(message, 'utf8'), secretKeyObject(key.secretKey)).toString('hex');
}

/** True only for a well-formed signature by a trusted key; never throws. */
export function verifyMessage(message: string, keyId: unknown, signature: unknown, keys: TrustedKeys): boolean {
  if (typeof message !== 'string' || typeof keyId !== 'string' || typeof signature !== 'string' || !HEX_64.test(signature)) return false;
  const publicKeyHex = Object.hasOwn(keys, keyId) ? keys[keyId] : undefined;
  const publicKey = typeof publicKeyHex === 'string' ? publicKeyObject(publicKeyHex) : null;
  if (!publicKey) return false;
  try {
    return verify(null, Buffer.from(message, 'utf8'), publicKey, Buffer.from(signature, 'hex'));
  } catch {
    return false;
  }
}

/** The public key of a secret key, hex. */
export function publicKeyOf(secretKeyHex: string): string {
  const spki = createPublicKey(secretKeyObject(secretKeyHex)).export({ format: 'der', type: 'spki' });
  return spki.subarray(SPKI_PREFIX.length).toString('hex');
}

export function signDecision(claims: DecisionClaims, key: SigningKey): SignedDecision {
  return { claims, keyId: key.keyId, signature: signMessage(decisionMessage(claims), key) };
}

export function signRequest(input: Omit<NewRequestInput, 'proof'>, key: SigningKey): RequestProof {
  return { keyId: key.keyId, signature: signMessage(requestMessage(input), key) };
}

/** True only for a request filed through the API, exactly as signed; never throws. */
export function verifyRequest(input: NewRequestInput, keys: TrustedKeys): boolean {
  if (typeof input !== 'object' || input === null) return false;
  try {
    return verifyMessage(requestMessageOf(input), input.proof?.keyId, input.proof?.signature, keys);
  } catch {
    return false; // canonicalJson of a hostile input (nested deeper than the stack)
  }
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
