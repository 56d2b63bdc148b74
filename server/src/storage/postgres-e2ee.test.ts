import { useTestPostgres } from '../testing/use-postgres';
import { runEncryptedStoreTests } from './e2ee-store-tests';
import { PostgresStorage } from './postgres';
import { PgEncryptedStore } from './postgres-e2ee';

const instance = useTestPostgres();
let n = 0;

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
