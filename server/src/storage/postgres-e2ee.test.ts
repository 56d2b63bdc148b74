import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type PostgresInstance } from '../testing/postgres-instance';
import { runEncryptedStoreTests } from './e2ee-store-tests';
import { PostgresStorage } from './postgres';
import { PgEncryptedStore } from './postgres-e2ee';

let instance: PostgresInstance;
let n = 0;
beforeAll(async () => {
  instance = await startPostgres();
});
afterAll(async () => {
  await instance?.stop();
});

runEncryptedStoreTests('PgEncryptedStore', async () => {
  const url = await instance.createDatabase(`e2ee_${n++}`);
  let storage = await PostgresStorage.open({ url });
  const addWorkspace = async (id: string) => {
    await storage.pool.query("INSERT INTO users (name, created_at) VALUES ('owner', 0) ON CONFLICT DO NOTHING");
    await storage.pool.query("INSERT INTO workspaces (id, owner, name, folded, created_at) VALUES ($1, 'owner', $1, $1, 0)", [id]);
  };
  return {
    store: new PgEncryptedStore(storage.pool),
    addWorkspace,
    reopen: async () => {
      await storage.close();
      storage = await PostgresStorage.open({ url });
      return new PgEncryptedStore(storage.pool);
    },
    teardown: async () => void (await storage.close()),
  };
});
