import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type SigningKey, type TrustedKeys } from '../domain/signing.js';
import { publicKeyOf } from '../domain/ed25519.js';
import { ConfigError, type Config } from './index.js';

/**
 * The API's signing key and the keys the worker trusts. Configured in production (refuses to start without them);
 * in the embedded default made once and kept in the data dir (mode 0600), shared by every process on that dir.
 */
export async function loadKeys(config: Config, need: { signing: boolean; trusted: boolean }): Promise<{
  signing: SigningKey | null;
  trusted: TrustedKeys;
}> {
  if (config.mode === 'production') {
    const missing = [
      ...(need.signing && !config.signingKey ? ['LOCKBOX_SIGNING_KEY: required in production mode (the API signs decisions with it)'] : []),
      ...(need.trusted && !config.trustedKeys ? ['LOCKBOX_TRUSTED_KEYS: required in production mode (the worker verifies decisions with it)'] : []),
    ];
    if (missing.length > 0) throw new ConfigError(`invalid configuration:\n${missing.map((m) => `  ${m}`).join('\n')}`);
  }
  const signing = config.signingKey ?? (config.mode === 'embedded' ? await embeddedKey(config.dataDir) : null);
  const trusted = config.trustedKeys ?? (signing ? { [signing.keyId]: publicKeyOf(signing.secretKey) } : {});
  return { signing, trusted };
}

async function embeddedKey(dataDir: string): Promise<SigningKey> {
  const fresh: SigningKey = { keyId: `embedded-${Date.now().toString(36)}`, secretKey: randomBytes(32).toString('hex') };
  const text = await embeddedSecret(join(dataDir, 'signing-key.json'), JSON.stringify(fresh), (t) => {
    const key = JSON.parse(t) as SigningKey;
    return typeof key.keyId === 'string' && /^[0-9a-f]{64}$/.test(key.secretKey);
  });
  return JSON.parse(text) as SigningKey;
}

/**
 * The key that encrypts issued credentials at rest (AES-256-GCM, base64 of 32 bytes): LOCKBOX_CREDENTIAL_KEY, or in
 * the embedded default one made once in the data dir.
 */
export async function loadCredentialKey(config: Config): Promise<string> {
  if (config.credentialKey) return config.credentialKey;
  if (config.mode === 'production') {
    throw new ConfigError('invalid configuration:\n  LOCKBOX_CREDENTIAL_KEY: required in production mode (it encrypts issued credentials)');
  }
  return embeddedSecret(join(config.dataDir, 'credential-key'), randomBytes(32).toString('base64'), (t) => Buffer.from(t, 'base64').length === 32);
}

/** A secret file made once (mode 0600) and shared by every process on the data dir. */
async function embeddedSecret(file: string, fresh: string, valid: (text: string) => boolean): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  try {
    // 'wx': two processes starting on one data dir race here; exactly one writes, both then read the same secret.
    await writeFile(file, fresh, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const text = (await readFile(file, 'utf8')).trim();
      if (valid(text)) return text;
    } catch {
      // The other process may still be writing it.
    }
    if (attempt > 20) throw new ConfigError(`the embedded secret in ${file} is unreadable; delete it to make a new one`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
