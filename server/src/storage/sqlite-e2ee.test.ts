import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuthStore } from '../auth';
import { openDatabase } from '../db';
import { runEncryptedStoreTests } from './e2ee-store-tests';
import { SqliteStorage } from './sqlite';
import { SqliteEncryptedStore } from './sqlite-e2ee';

runEncryptedStoreTests('SqliteEncryptedStore (:memory:)', async () => {
  const db = openDatabase(':memory:');
  return { store: new SqliteEncryptedStore(db), teardown: async () => void db.close() };
});

runEncryptedStoreTests('SqliteEncryptedStore (file)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-e2ee-sqlite-'));
  let db = openDatabase(dir);
  return {
    store: new SqliteEncryptedStore(db),
    reopen: async () => {
      db.close();
      db = openDatabase(dir);
      return new SqliteEncryptedStore(db);
    },
    teardown: async () => {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteEncryptedStore on a database from before encrypted workspaces', () => {
  it('adds its tables and leaves documents, tokens and workspaces readable', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-e2ee-migrate-'));
    try {
      let db = openDatabase(dir);
      const auth = new AuthStore(db, { allowUsers: [], createWorkspaces: true });
      const token = auth.createToken('alice');
      auth.authorizeWorkspace('alice', 'old');
      const storage = new SqliteStorage({ database: db });
      await storage.appendUpdate('workspace:old', new Uint8Array([1, 2, 3]));
      await storage.compact('body:old/a.md', new Uint8Array([4]), 0);
      db.close();

      db = openDatabase(dir);
      const store = new SqliteEncryptedStore(db);
      const again = new SqliteStorage({ database: db });
      expect((await again.load('workspace:old')).updates).toEqual([new Uint8Array([1, 2, 3])]);
      expect((await again.load('body:old/a.md')).snapshot).toEqual(new Uint8Array([4]));
      expect(new AuthStore(db, { allowUsers: [], createWorkspaces: false }).authenticate(token)).toBe('alice');
      expect(await store.getKeys('old')).toBeNull();
      // Envelopes live apart from the plain log: their numbers start at 1 per doc.
      await store.putKeys('new', 0, JSON.stringify({ v: 1, gen: 1 }));
      expect(await store.append('e2e:new/AAAAAAAAAAAAAAAAAAAAAA', 'new', new Uint8Array(24), new Uint8Array(8), 1e9)).toMatchObject({ seq: 1 });
      expect(await again.list('')).toEqual(['body:old/a.md', 'workspace:old']);
      db.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
