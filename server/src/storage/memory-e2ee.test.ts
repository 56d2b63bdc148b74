import { MemoryEncryptedStore } from './memory-e2ee';
import { runEncryptedStoreTests } from './e2ee-store-tests';

runEncryptedStoreTests('MemoryEncryptedStore', async () => ({ store: new MemoryEncryptedStore() }));
