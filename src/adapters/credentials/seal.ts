import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import type { CredentialSecret } from '../../ports/credential-vault.js';

/**
 * A vault failure whose message is safe to log: it never holds key bytes, ciphertext or secret values.
 * `reason` tells apart a wrong key from damaged data, so an operator knows whether to fix configuration.
 */
export class CredentialVaultError extends Error {
  override readonly name = 'CredentialVaultError';
  constructor(
    message: string,
    readonly reason: 'bad-key' | 'wrong-key' | 'undecryptable' | 'malformed',
  ) {
    super(message);
  }
}

/** A sealed credential as stored: which key sealed it, and version byte | nonce | tag | ciphertext. */
export interface SealedCredential {
  keyId: string;
  sealed: Buffer;
}

/** Seals and opens credentials with one AES-256-GCM key; the request id is bound in as additional data. */
export interface Sealer {
  seal(requestId: string, secret: CredentialSecret): SealedCredential;
  open(requestId: string, stored: SealedCredential): CredentialSecret;
}

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Decodes the configured key: standard base64 of exactly 32 random bytes (e.g. `openssl rand -base64 32`).
 * The error names the expectation, never the value it was given.
 */
export function parseVaultKey(base64: string): KeyObject {
  const trimmed = base64.trim();
  const bytes = Buffer.from(trimmed, 'base64');
  // Buffer.from silently skips invalid characters, so re-encode to be sure the whole input was base64.
  const canonical = bytes.toString('base64');
  if (bytes.length !== 32 || canonical.replace(/=+$/, '') !== trimmed.replace(/=+$/, '')) {
    throw new CredentialVaultError('credential vault key must be standard base64 of exactly 32 bytes', 'bad-key');
  }
  // A KeyObject keeps the bytes out of util.inspect and JSON.stringify, should the sealer ever be logged.
  return createSecretKey(bytes);
}

/** Binds a ciphertext to its request: moving it to another row makes authentication fail. */
function aad(requestId: string): Buffer {
  return Buffer.from(`lockbox:credential:v${VERSION}:${requestId}`, 'utf8');
}

/**
 * Creates the sealer for a base64 key. The key id is an HMAC of a fixed label, so it identifies the key (to tell
 * "sealed with another key" from "damaged") without revealing anything about it.
 */
export function createSealer(keyBase64: string): Sealer {
  const key = parseVaultKey(keyBase64);
  const keyId = createHmac('sha256', key).update('lockbox credential vault key id').digest('hex').slice(0, 16);

  return {
    seal(requestId, secret) {
      // A fresh random nonce per put: GCM is broken by nonce reuse under one key, and 2^-96 collisions are fine.
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(requestId));
      const body = Buffer.concat([cipher.update(JSON.stringify(secret), 'utf8'), cipher.final()]);
      return { keyId, sealed: Buffer.concat([Buffer.from([VERSION]), nonce, cipher.getAuthTag(), body]) };
    },

    open(requestId, stored) {
      if (stored.keyId !== keyId) {
        throw new CredentialVaultError(
          `credential of request ${requestId} was sealed with another key than the configured one`,
          'wrong-key',
        );
      }
      const { sealed } = stored;
      if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== VERSION) {
        throw new CredentialVaultError(`credential of request ${requestId} is not in a known format`, 'malformed');
      }
      const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
      const tag = sealed.subarray(1 + NONCE_BYTES, 1 + NONCE_BYTES + TAG_BYTES);
      const body = sealed.subarray(1 + NONCE_BYTES + TAG_BYTES);
      let plain: string;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
        decipher.setAAD(aad(requestId));
        decipher.setAuthTag(tag);
        plain = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      } catch {
        // The crypto error says nothing useful and we do not want its internals in logs.
        throw new CredentialVaultError(
          `credential of request ${requestId} failed authentication (tampered, or stored under another request)`,
          'undecryptable',
        );
      }
      return toSecret(requestId, plain);
    },
  };
}

function toSecret(requestId: string, plain: string): CredentialSecret {
  const parsed: unknown = JSON.parse(plain);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CredentialVaultError(`credential of request ${requestId} is not an object`, 'malformed');
  }
  const out: CredentialSecret = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') throw new CredentialVaultError(`credential of request ${requestId} has a non-string field`, 'malformed');
    out[k] = v;
  }
  return out;
}
