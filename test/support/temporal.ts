import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, inject } from 'vitest';

/**
 * A Temporal client on the shared stack's server for the whole test file (to look at or poke workflows directly):
 * connected before the tests, closed after. Call at the top level of a test file; use the returned getter in tests.
 */
export function useStackTemporal(): () => Client {
  const stack = inject('stack');
  let connection: Connection | undefined;
  let client: Client | undefined;
  beforeAll(async () => {
    connection = await Connection.connect({ address: stack.temporalAddress });
    client = new Client({ connection, namespace: stack.namespace });
  });
  afterAll(async () => {
    await connection?.close();
  });
  return () => {
    if (!client) throw new Error('the Temporal client is used outside a test');
    return client;
  };
}
