/** One Postgres transaction on a pooled connection, with the failure reported as a StorageError naming the doc. */
import type pg from 'pg';
import { StorageError, describeError } from '../errors';

/**
 * Runs `fn` between BEGIN (at `isolation`) and COMMIT; any failure rolls back and the connection
 * is discarded (its session state is unknown). `fn` may ROLLBACK itself.
 */
export async function inTransaction<T>(pool: pg.Pool, docId: string | undefined, isolation: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    throw new StorageError(`Postgres connection failed: ${describeError(e)}`, docId, e);
  }
  let broken = false;
  try {
    await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (e) {
    broken = true;
    await client.query('ROLLBACK').catch(() => undefined);
    throw e instanceof StorageError ? e : new StorageError(`Postgres operation failed: ${describeError(e)}`, docId, e);
  } finally {
    client.release(broken);
  }
}
