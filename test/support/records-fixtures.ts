import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { afterAll, beforeAll } from 'vitest';
import { openSqliteStore } from '../../src/adapters/sqlite-store.js';
import { createRequest } from '../../src/domain/decide.js';
import { normalizePolicy } from '../../src/domain/policy.js';
import type { AccessRequest } from '../../src/domain/request.js';
import type { Store } from '../../src/ports/store.js';

/** A real SQLite store in a temporary directory for the whole test file; use the getter in tests. */
export function useTempSqliteStore(prefix: string): () => Store {
  let dir = '';
  let store: Store | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    store = openSqliteStore(join(dir, 'lockbox.db'));
  });
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!store) throw new Error('the store is used outside a test');
    return store;
  };
}

/** eve's pending request for bob's mailbox at `tenant` (contoso), filed at `createdAt` (now), as the domain makes it. */
export function filedRequest(over: { tenant?: string; createdAt?: Date } = {}): AccessRequest {
  const tenant = over.tenant ?? 'contoso';
  const createdAt = over.createdAt ?? new Date();
  return createRequest({
    id: `req-${tenant}-${ulid(createdAt.getTime())}`,
    tenant,
    resource: 'mailbox:bob@contoso.com',
    requester: 'eve@lockbox.dev',
    reason: 'support case',
    ticket: null,
    durationMs: 3_600_000,
    requestTtlMs: 12 * 3_600_000,
    createdAt: createdAt.toISOString(),
    policy: normalizePolicy({ tenant, customerApproval: true, approvers: ['alice@contoso.com'], quorum: 1 }),
  }).state;
}
