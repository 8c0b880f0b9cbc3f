import type { Client } from '@temporalio/client';
import type { Registry } from 'prom-client';
import { ulid } from 'ulid';
import { expect } from 'vitest';
import { createLockboxClient } from '../../src/client/lockbox-client.js';
import { normalizePolicy } from '../../src/domain/policy.js';
import { type SigningKey } from '../../src/domain/signing.js';
import { signDecision, signRequest } from '../../src/domain/ed25519.js';

/**
 * For tests that run a worker of their own (its own task queue and trusted key): an active contoso request filed
 * and approved by alice on that queue, signed with `key` as the API would sign it. Answers its id.
 */
export async function activeOwnRequest(temporal: Client, taskQueue: string, key: SigningKey, what: { resource: string; reason: string }): Promise<string> {
  const base = {
    id: `req-contoso-${ulid()}`,
    tenant: 'contoso',
    resource: what.resource,
    requester: 'eve@lockbox.dev',
    reason: what.reason,
    ticket: null,
    durationMs: 3_600_000,
    requestTtlMs: 3_600_000,
    createdAt: new Date().toISOString(),
    policy: normalizePolicy({ tenant: 'contoso', customerApproval: true, approvers: ['alice@contoso.com'], quorum: 1 }),
  };
  const input = { ...base, proof: signRequest(base, key) };
  const lockbox = createLockboxClient(temporal, taskQueue);
  const { runId } = await lockbox.start(input, true);
  const decision = signDecision(
    { requestId: input.id, runId: runId!, action: 'approve', actor: 'alice@contoso.com', note: null, policy: input.policy, issuedAt: new Date().toISOString(), nonce: ulid() },
    key,
  );
  expect((await lockbox.decide(input.id, 'approve', decision)).status).toBe('active');
  return input.id;
}

/** The sum of a metric's values whose labels include `labels`. */
export async function metricSum(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = (await registry.getSingleMetric(name)!.get()).values;
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}
