import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openSqliteStore } from '../../src/adapters/sqlite-store.js';
import type { Store } from '../../src/ports/store.js';
import { api } from '../support/api.js';

/**
 * Rows read from the store cross a trust boundary too (an older version, a hand edit, a forged settings workflow):
 * whatever a tenant's settings row holds and whatever a request body says, the real API answers 2xx or 4xx with a
 * problem, never a 5xx. Runs: PROPERTY_RUNS (default 60: each run is a few real HTTP calls and maybe a workflow).
 */
const stack = inject('stack');
const http = api();
const RUNS = Number(process.env.PROPERTY_RUNS ?? 60);
let store: Store;
let tenantSeq = 0;

beforeAll(() => {
  store = openSqliteStore(join(stack.dataDir, 'lockbox.db'));
});
afterAll(async () => {
  await store?.close();
});

const HOUR = 3_600_000;
/** A value the API would write, mostly; now and then anything at all. */
const field = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: fc.anything() });
/** A row the API could have written (contoso's approvers exist in the demo directory)... */
const validRow = fc.record({
  customerApproval: fc.boolean(),
  approvers: fc.constant(['alice@contoso.com', 'bob@contoso.com']),
  quorum: fc.integer({ min: 1, max: 2 }),
  requestTtlMs: fc.integer({ min: 60_000, max: 24 * HOUR }),
  maxAccessMs: fc.integer({ min: 2 * HOUR, max: 8 * HOUR }),
  requireTicket: fc.boolean(),
  internalApproval: fc.boolean(),
});
/** ...with up to three fields changed into what a forged workflow, a hand edit or an older version left there. */
const hostile = fc.oneof(fc.anything(), fc.constantFrom('12h', 'PT12H', null, -1, 0, 1e308, [], {}, '__proto__'));
const settingsRow = fc.oneof(
  {
    weight: 9,
    arbitrary: fc
      .tuple(
        validRow,
        fc.array(fc.tuple(fc.constantFrom('customerApproval', 'approvers', 'quorum', 'requestTtlMs', 'maxAccessMs', 'requireTicket', 'internalApproval', 'resources', 'channels', 'extra'), hostile), { maxLength: 3 }),
      )
      .map(([row, changes]) => ({ ...row, ...Object.fromEntries(changes) })),
  },
  { weight: 1, arbitrary: fc.anything() },
);
const requestBody = (tenant: string) =>
  fc.record(
    {
      tenant: fc.oneof({ weight: 9, arbitrary: fc.constant(tenant) }, { weight: 1, arbitrary: fc.anything() }),
      resource: field(fc.constantFrom('mailbox:p@contoso.com', 'db:crm')),
      reason: field(fc.constant('property test')),
      ticket: field(fc.constantFrom('SUP-1', null)),
      duration: field(fc.constantFrom('1h', '90m', 'PT2H', '0s', '99y')),
    },
    { requiredKeys: ['tenant'] },
  );

describe('whatever the store holds, the API never answers 5xx', () => {
  it('settings rows x request bodies: create, read settings, list', async () => {
    await fc.assert(
      fc.asyncProperty(
        settingsRow.chain((row) => requestBody(`prop-${process.pid}-${++tenantSeq}`).map((body) => ({ row, body, tenant: `prop-${process.pid}-${tenantSeq}` }))),
        async ({ row, body, tenant }) => {
          // The store itself may refuse a row (undefined settings): then there is nothing hostile to read back.
          const written = await store
            .putTenantSettings({ tenant, settings: row as never, expectedVersion: 0, updatedAt: new Date().toISOString(), updatedBy: 'prop@test' })
            .catch(() => null);
          if (!written?.ok) return;
          const created = await http.call('POST', '/v1/requests', { token: 'eve-dev-token', body });
          expect(created.status, JSON.stringify(created.body)).toBeLessThan(500);
          if (created.status >= 400) expect(created.headers.get('content-type')).toContain('application/problem+json');
          if (created.status === 201) await http.call('POST', `/v1/requests/${created.body.id}/cancel`, { token: 'eve-dev-token', body: {} });
          const settings = await http.call('GET', `/v1/tenants/${tenant}/settings`, { token: 'oscar-dev-token' });
          expect(settings.status, JSON.stringify(settings.body)).toBeLessThan(500);
          const list = await http.call('GET', `/v1/requests?tenant=${tenant}`, { token: 'oscar-dev-token' });
          expect(list.status).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
