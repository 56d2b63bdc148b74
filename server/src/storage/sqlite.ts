/**
 * SqliteStorage: the default StorageAdapter, on better-sqlite3. Two tables:
 * `doc_snapshots` (one base state per doc id) and `doc_updates` (the append-only
 * log; `seq` is a global AUTOINCREMENT, so it only grows). Calls are synchronous
 * underneath: when `appendUpdate` resolves, the row is committed (WAL, FULL sync).
 *
 * `doc_snapshots` is an ordinary rowid table with a unique index on doc_id: a
 * lookup walks the small index, then reads only its own row. It used to be
 * WITHOUT ROWID with the state inline, where the table is a b-tree keyed by
 * the whole row, and a search compared (and read from overflow pages) the
 * huge states of neighbouring ids. Old databases are migrated on open.
 */
import { StorageError } from '../errors';
import { openDatabase, type SqliteDatabase } from '../db';
import type { StorageAdapter, StoredDocument } from './adapter';
import { SqliteAttachmentMeta } from './sqlite-attachments';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS doc_snapshots (
  id INTEGER PRIMARY KEY,
  doc_id TEXT NOT NULL UNIQUE,
  state BLOB NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS doc_updates (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  doc_id TEXT NOT NULL,
  data BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS doc_updates_by_doc ON doc_updates (doc_id, seq);
`;

const SELECT_SNAPSHOT = 'SELECT state FROM doc_snapshots WHERE doc_id = ?';
const SELECT_UPDATES = 'SELECT seq, data FROM doc_updates WHERE doc_id = ? ORDER BY seq';
const INSERT_UPDATE = 'INSERT INTO doc_updates (doc_id, data, created_at) VALUES (?, ?, ?)';
const UPSERT_SNAPSHOT =
  'INSERT INTO doc_snapshots (doc_id, state, updated_at) VALUES (?, ?, ?) ' +
  'ON CONFLICT (doc_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at';
const DELETE_UPDATES_THROUGH = 'DELETE FROM doc_updates WHERE doc_id = ? AND seq <= ?';
const DELETE_SNAPSHOT = 'DELETE FROM doc_snapshots WHERE doc_id = ?';
const DELETE_UPDATES = 'DELETE FROM doc_updates WHERE doc_id = ?';
const LIST_IDS =
  'SELECT doc_id FROM doc_snapshots WHERE substr(doc_id, 1, length(@prefix)) = @prefix ' +
  'UNION SELECT doc_id FROM doc_updates WHERE substr(doc_id, 1, length(@prefix)) = @prefix';

/** Moves a WITHOUT ROWID `doc_snapshots` (the first schema) into the rowid table, in one transaction. */
const MIGRATE_SNAPSHOTS = `
ALTER TABLE doc_snapshots RENAME TO doc_snapshots_without_rowid;
CREATE TABLE doc_snapshots (
  id INTEGER PRIMARY KEY,
  doc_id TEXT NOT NULL UNIQUE,
  state BLOB NOT NULL,
  updated_at INTEGER NOT NULL
);
INSERT INTO doc_snapshots (doc_id, state, updated_at) SELECT doc_id, state, updated_at FROM doc_snapshots_without_rowid ORDER BY doc_id;
DROP TABLE doc_snapshots_without_rowid;
`;

/** Whether the database still has the first schema's `doc_snapshots`. */
function needsSnapshotMigration(db: SqliteDatabase): boolean {
  const row = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'doc_snapshots'").get() as { sql: string } | undefined;
  return row !== undefined && /WITHOUT\s+ROWID/i.test(row.sql);
}

/** Where SqliteStorage keeps its data. */
export type SqliteStorageTarget =
  /** Open (and own) the database of a data directory, or `:memory:`. */
  | { dataDir: string }
  /** Use an already open database (shared with auth); `close()` leaves it open. */
  | { database: SqliteDatabase };

/** StorageAdapter on one SQLite database. */
export class SqliteStorage implements StorageAdapter {
  private readonly db: SqliteDatabase;
  private readonly ownsDb: boolean;
  private closed = false;
  private readonly stmt;
  private readonly loadTx;
  private readonly compactTx;
  private readonly removeTx;
  readonly attachments: SqliteAttachmentMeta;

  constructor(target: SqliteStorageTarget) {
    if ('database' in target) {
      this.db = target.database;
      this.ownsDb = false;
    } else {
      this.db = openDatabase(target.dataDir);
      this.ownsDb = true;
    }
    if (needsSnapshotMigration(this.db)) this.db.transaction(() => this.db.exec(MIGRATE_SNAPSHOTS))();
    this.db.exec(SCHEMA);
    this.attachments = new SqliteAttachmentMeta(this.db, () => {
      if (this.closed) throw new StorageError('SqliteStorage is closed');
    });
    this.stmt = {
      selectSnapshot: this.db.prepare<[string], { state: Buffer }>(SELECT_SNAPSHOT),
      selectUpdates: this.db.prepare<[string], { seq: number; data: Buffer }>(SELECT_UPDATES),
      insertUpdate: this.db.prepare<[string, Uint8Array, number]>(INSERT_UPDATE),
      upsertSnapshot: this.db.prepare<[string, Uint8Array, number]>(UPSERT_SNAPSHOT),
      deleteUpdatesThrough: this.db.prepare<[string, number]>(DELETE_UPDATES_THROUGH),
      deleteSnapshot: this.db.prepare<[string]>(DELETE_SNAPSHOT),
      deleteUpdates: this.db.prepare<[string]>(DELETE_UPDATES),
      listIds: this.db.prepare<[{ prefix: string }], { doc_id: string }>(LIST_IDS),
    };
    // One read transaction, so a compaction by another handle is seen whole or not at all.
    this.loadTx = this.db.transaction((docId: string): StoredDocument => {
      const snap = this.stmt.selectSnapshot.get(docId);
      const rows = this.stmt.selectUpdates.all(docId);
      const updates = rows.map((r) => new Uint8Array(r.data));
      return {
        snapshot: snap ? new Uint8Array(snap.state) : null,
        updates,
        lastSeq: rows.length > 0 ? rows[rows.length - 1].seq : 0,
        updateBytes: updates.reduce((n, u) => n + u.byteLength, 0),
      };
    });
    this.compactTx = this.db.transaction((docId: string, snapshot: Uint8Array, throughSeq: number) => {
      this.stmt.upsertSnapshot.run(docId, snapshot, Date.now());
      this.stmt.deleteUpdatesThrough.run(docId, throughSeq);
    });
    this.removeTx = this.db.transaction((docId: string) => {
      this.stmt.deleteSnapshot.run(docId);
      this.stmt.deleteUpdates.run(docId);
    });
  }

  async load(docId: string): Promise<StoredDocument> {
    return this.guard(docId, () => this.loadTx(docId));
  }

  async appendUpdate(docId: string, update: Uint8Array): Promise<number> {
    return this.guard(docId, () => Number(this.stmt.insertUpdate.run(docId, update, Date.now()).lastInsertRowid));
  }

  async compact(docId: string, snapshot: Uint8Array, throughSeq: number): Promise<void> {
    this.guard(docId, () => this.compactTx(docId, snapshot, throughSeq));
  }

  async list(prefix: string): Promise<string[]> {
    return this.guard(undefined, () =>
      this.stmt.listIds
        .all({ prefix })
        .map((r) => r.doc_id)
        .sort(),
    );
  }

  async remove(docId: string): Promise<void> {
    this.guard(docId, () => this.removeTx(docId));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsDb) this.db.close();
  }

  private guard<T>(docId: string | undefined, fn: () => T): T {
    if (this.closed) throw new StorageError('SqliteStorage is closed', docId);
    try {
      return fn();
    } catch (e) {
      throw new StorageError(`SQLite operation failed: ${(e as Error).message}`, docId, e);
    }
  }
}
