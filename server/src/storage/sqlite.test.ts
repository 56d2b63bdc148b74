import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
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

describe('SqliteStorage doc_snapshots layout', () => {
  it('migrates a WITHOUT ROWID doc_snapshots table, keeping every state readable', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-sqlite-migrate-'));
    try {
      const db = openDatabase(dir);
      db.exec(`
        CREATE TABLE doc_snapshots (doc_id TEXT PRIMARY KEY, state BLOB NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE doc_updates (seq INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL, data BLOB NOT NULL, created_at INTEGER NOT NULL);
        CREATE INDEX doc_updates_by_doc ON doc_updates (doc_id, seq);
      `);
      const big = new Uint8Array(300_000).map((_, i) => i % 251);
      db.prepare('INSERT INTO doc_snapshots VALUES (?, ?, 1)').run('body:ws/a.md', new Uint8Array([1, 2, 3]));
      db.prepare('INSERT INTO doc_snapshots VALUES (?, ?, 1)').run('body:ws/b.md', big);
      db.prepare('INSERT INTO doc_updates (doc_id, data, created_at) VALUES (?, ?, 1)').run('body:ws/a.md', new Uint8Array([9]));
      db.close();

      const storage = new SqliteStorage({ dataDir: dir });
      expect(await storage.load('body:ws/a.md')).toMatchObject({ snapshot: new Uint8Array([1, 2, 3]), updates: [new Uint8Array([9])] });
      expect((await storage.load('body:ws/b.md')).snapshot).toEqual(big);
      await storage.compact('body:ws/a.md', new Uint8Array([7]), 1);
      expect(await storage.load('body:ws/a.md')).toMatchObject({ snapshot: new Uint8Array([7]), updates: [] });
      await storage.close();

      const check = openDatabase(dir);
      const sql = (check.prepare("SELECT sql FROM sqlite_master WHERE name = 'doc_snapshots'").get() as { sql: string }).sql;
      expect(sql).not.toMatch(/WITHOUT ROWID/i);
      // A lookup goes through the doc_id index to one rowid, not through a b-tree of whole rows.
      const plan = check.prepare('EXPLAIN QUERY PLAN SELECT state FROM doc_snapshots WHERE doc_id = ?').all('x') as { detail: string }[];
      expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING INDEX sqlite_autoindex_doc_snapshots/);
      expect(check.prepare('SELECT count(*) AS n FROM sqlite_master WHERE name LIKE ?').get('doc_snapshots_without_rowid')).toEqual({ n: 0 });
      check.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteStorage attachment_blobs layout', () => {
  it('moves records keyed by (workspace, hash) to the key with the path, keeping every row', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-sqlite-blobs-'));
    try {
      const db = openDatabase(dir);
      db.exec(`
        CREATE TABLE attachment_blobs (workspace_id TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL, mime_type TEXT NOT NULL,
          path TEXT NOT NULL, created_at INTEGER NOT NULL, unreferenced_since INTEGER, PRIMARY KEY (workspace_id, hash));
      `);
      db.prepare('INSERT INTO attachment_blobs VALUES (?, ?, 5, ?, ?, 1, NULL)').run('w', 'aa', 'image/png', '_attachments/a.png');
      db.prepare('INSERT INTO attachment_blobs VALUES (?, ?, 7, ?, ?, 2, 9)').run('w', 'bb', 'image/jpeg', '_attachments/b.jpg');
      db.close();

      const storage = new SqliteStorage({ dataDir: dir });
      const meta = storage.attachments!;
      expect((await meta.listAttachments('w')).map((r) => [r.hash, r.path, r.size, r.unreferencedSince])).toEqual([
        ['aa', '_attachments/a.png', 5, null],
        ['bb', '_attachments/b.jpg', 7, 9],
      ]);
      await meta.putAttachment({ ...(await meta.getAttachment('w', 'aa'))!, path: 'other.png' });
      expect((await meta.listAttachments('w')).map((r) => r.path)).toEqual(['_attachments/a.png', 'other.png', '_attachments/b.jpg']);
      await storage.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
