import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresCredentialVault } from '../../src/adapters/credentials/postgres-credential-vault.js';
import { CredentialVaultError, parseVaultKey } from '../../src/adapters/credentials/seal.js';
import { openSqliteCredentialVault } from '../../src/adapters/credentials/sqlite-credential-vault.js';
import type { CredentialVault } from '../../src/ports/credential-vault.js';

const PG_BASE_URL = process.env.LOCKBOX_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const KEY = randomBytes(32).toString('base64');
const OTHER_KEY = randomBytes(32).toString('base64');
const uid = (p: string): string => `${p}-${randomBytes(6).toString('hex')}`;

/** Raw access to what a vault stored, to check it from outside the adapter. */
interface Raw {
  sealed(requestId: string): Promise<Buffer | undefined>;
  setSealed(requestId: string, sealed: Buffer): Promise<void>;
  /** Copies a row to another request id, as an attacker with table access could. */
  copy(from: string, to: string): Promise<void>;
}

function vaultContract(name: string, open: (key: string) => Promise<CredentialVault>, raw: () => Raw): void {
  describe(`CredentialVault: ${name}`, () => {
    const opened: CredentialVault[] = [];
    const connect = async (key = KEY): Promise<CredentialVault> => {
      const v = await open(key);
      opened.push(v);
      return v;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((v) => v.close()));
    });

    const secret = () => ({ username: 'lockbox_req', password: `pw-${randomBytes(18).toString('base64url')}`, host: '127.0.0.1', port: '5432', database: 'app' });

    it('round-trips, replaces on put, forgets on delete, and survives a new connection', async () => {
      const vault = await connect();
      const id = uid('req');
      expect(await vault.get(id)).toBeNull();
      const first = secret();
      await vault.put(id, first);
      expect(await (await connect()).get(id)).toEqual(first);
      const second = secret();
      await vault.put(id, second);
      expect(await vault.get(id)).toEqual(second);
      await vault.delete(id);
      await vault.delete(id);
      await vault.delete(uid('unknown'));
      expect(await vault.get(id)).toBeNull();
    });

    it('stores neither the password nor its encodings, and uses a fresh nonce per put', async () => {
      const vault = await connect();
      const id = uid('req');
      const s = secret();
      await vault.put(id, s);
      const a = await raw().sealed(id);
      await vault.put(id, s);
      const b = await raw().sealed(id);
      expect(a && b).toBeTruthy();
      for (const stored of [a!, b!]) {
        expect(stored.includes(Buffer.from(s.password))).toBe(false);
        expect(stored.toString('latin1')).not.toContain(s.password);
        expect(stored.toString('base64')).not.toContain(Buffer.from(s.password).toString('base64').slice(4, 20));
      }
      // Same plaintext twice, different bytes: the nonce is not reused.
      expect(a!.equals(b!)).toBe(false);
    });

    it('refuses a tampered ciphertext', async () => {
      const vault = await connect();
      const id = uid('req');
      await vault.put(id, secret());
      const stored = (await raw().sealed(id))!;
      const tampered = Buffer.from(stored);
      tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 0x01;
      await raw().setSealed(id, tampered);
      await expect(vault.get(id)).rejects.toMatchObject({ name: 'CredentialVaultError', reason: 'undecryptable' });
    });

    it('refuses a ciphertext moved to another request id', async () => {
      const vault = await connect();
      const [id, other] = [uid('req'), uid('req')];
      await vault.put(id, secret());
      await raw().copy(id, other);
      await expect(vault.get(other)).rejects.toBeInstanceOf(CredentialVaultError);
    });

    it('fails with a clear error naming no key or secret under another key', async () => {
      const id = uid('req');
      const s = secret();
      await (await connect()).put(id, s);
      const err = await (await connect(OTHER_KEY)).get(id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CredentialVaultError);
      const text = `${(err as Error).message} ${(err as Error).stack ?? ''} ${JSON.stringify(err)}`;
      expect((err as Error).message).toMatch(/another key/);
      for (const needle of [KEY, OTHER_KEY, s.password]) expect(text).not.toContain(needle);
    });
  });
}

describe('parseVaultKey', () => {
  it('accepts 32 bytes of base64 and rejects anything else without echoing it', () => {
    expect(() => parseVaultKey(KEY)).not.toThrow();
    for (const bad of ['', 'not base64 at all!!', randomBytes(16).toString('base64'), `${KEY}x`]) {
      const err = (() => {
        try {
          parseVaultKey(bad);
        } catch (e) {
          return e as Error;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(CredentialVaultError);
      if (bad) expect(err!.message).not.toContain(bad);
    }
  });
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockbox-vault-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

vaultContract(
  'sqlite',
  async (key) => openSqliteCredentialVault({ file: join(dir, 'vault.db'), key }),
  () => {
    const db = () => new Database(join(dir, 'vault.db'));
    const run = <T>(f: (d: Database.Database) => T): T => {
      const d = db();
      try {
        return f(d);
      } finally {
        d.close();
      }
    };
    return {
      sealed: async (id) => run((d) => (d.prepare('SELECT sealed FROM credentials WHERE request_id = ?').get(id) as { sealed: Buffer } | undefined)?.sealed),
      setSealed: async (id, sealed) => void run((d) => d.prepare('UPDATE credentials SET sealed = ? WHERE request_id = ?').run(sealed, id)),
      copy: async (from, to) =>
        void run((d) => d.prepare('INSERT INTO credentials (request_id, key_id, sealed, stored_at) SELECT ?, key_id, sealed, stored_at FROM credentials WHERE request_id = ?').run(to, from)),
    };
  },
);

describe('postgres vault (machine PostgreSQL, own schema)', () => {
  const schema = `lockbox_vault_test_${randomBytes(5).toString('hex')}`;
  const url = (() => {
    const u = new URL(PG_BASE_URL);
    u.searchParams.set('options', `-csearch_path=${schema}`);
    return u.toString();
  })();
  const admin = new pg.Pool({ connectionString: PG_BASE_URL, max: 2 });
  const scoped = new pg.Pool({ connectionString: url, max: 2 });
  beforeAll(async () => {
    await admin.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema)}`);
  });
  afterAll(async () => {
    await scoped.end();
    await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    await admin.end();
  });

  vaultContract('postgres', (key) => openPostgresCredentialVault({ url, key }), () => ({
    sealed: async (id) => (await scoped.query<{ sealed: Buffer }>('SELECT sealed FROM lockbox_credentials WHERE request_id = $1', [id])).rows[0]?.sealed,
    setSealed: async (id, sealed) => void (await scoped.query('UPDATE lockbox_credentials SET sealed = $1 WHERE request_id = $2', [sealed, id])),
    copy: async (from, to) =>
      void (await scoped.query('INSERT INTO lockbox_credentials (request_id, key_id, sealed) SELECT $1, key_id, sealed FROM lockbox_credentials WHERE request_id = $2', [to, from])),
  }));

  it('three vaults creating the table in a fresh schema at once all succeed', async () => {
    const fresh = `${schema}_race`;
    await admin.query(`CREATE SCHEMA ${pg.escapeIdentifier(fresh)}`);
    try {
      const u = new URL(PG_BASE_URL);
      u.searchParams.set('options', `-csearch_path=${fresh}`);
      const vaults = await Promise.all([1, 2, 3].map(() => openPostgresCredentialVault({ url: u.toString(), key: KEY })));
      await Promise.all(vaults.map((v) => v.close()));
    } finally {
      await admin.query(`DROP SCHEMA ${pg.escapeIdentifier(fresh)} CASCADE`);
    }
  });
});
