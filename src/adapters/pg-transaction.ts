import type pg from 'pg';

/**
 * Runs `op` in one transaction on a connection of its own: COMMIT when it resolves, ROLLBACK when it throws (the
 * error is rethrown). A connection that failed mid-transaction is destroyed rather than returned to the pool, since
 * its state is unknown.
 */
export async function inTransaction<T>(pool: pg.Pool, op: (c: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  // A connection that drops while checked out emits 'error' on the client, which nobody else listens to; the
  // failure also reaches the pending query, which is where it is handled.
  const ignore = (): void => undefined;
  client.on('error', ignore);
  try {
    await client.query(begin);
    const result = await op(client);
    await client.query('COMMIT');
    client.off('error', ignore);
    client.release();
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.off('error', ignore);
    client.release(true);
    throw err;
  }
}
