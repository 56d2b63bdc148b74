import { MemoryStorage } from './memory';
import { runStorageAdapterTests } from './storage-adapter-tests';

runStorageAdapterTests('MemoryStorage', async () => ({ adapter: new MemoryStorage() }));
