import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../db';
import { SqliteStorage } from './sqlite';
import { runStorageAdapterTests } from './storage-adapter-tests';

runStorageAdapterTests('SqliteStorage (:memory:)', async () => ({ adapter: new SqliteStorage({ dataDir: ':memory:' }) }));

runStorageAdapterTests('SqliteStorage (file)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-sqlite-'));
  let current = new SqliteStorage({ dataDir: dir });
  return {
    adapter: current,
    reopen: async () => {
      await current.close();
      current = new SqliteStorage({ dataDir: dir });
      return current;
    },
    teardown: async () => {
      await current.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}, { persistent: true });

runStorageAdapterTests('SqliteStorage (shared database)', async () => {
  const db = openDatabase(':memory:');
  return { adapter: new SqliteStorage({ database: db }), teardown: async () => void db.close() };
});
