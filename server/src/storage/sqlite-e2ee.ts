/**
 * EncryptedStore on the server's SQLite database, in three tables of its own
 * beside `doc_snapshots`/`doc_updates` (whose global sequence numbers do not
 * fit a per-doc cursor): `e2ee_workspaces` (key record, generation,
 * `change_head`), `e2ee_docs` (head, snapshot and its id and seq, log size,
 * `change_no`, `hinted_at`) and `e2ee_envelopes` (per-doc seq, bytes, client
 * key). Creating them changes nothing in the older tables, so a database from
 * before opens with all its data. Every call is one transaction (synchronous
 * underneath), so appends of one doc are serialised and never half-written.
 */
import type { SqliteDatabase } from '../db';
import { StorageError } from '../errors';
import {
  NO_SNAP_ID,
  sameBytes,
  type AppendOutcome,
  type ChangedDocs,
  type EncryptedStore,
  type EnvelopeRead,
  type KeyRecordRow,
  type PutKeysResult,
  type SnapshotOutcome,
  type SnapshotRequest,
} from './e2ee';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS e2ee_workspaces (
  id TEXT PRIMARY KEY,
  record TEXT NOT NULL,
  gen INTEGER NOT NULL,
  change_head INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS e2ee_docs (
  doc_id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  head INTEGER NOT NULL DEFAULT 0,
  snap_seq INTEGER NOT NULL DEFAULT 0,
  snap_id BLOB,
  snapshot BLOB,
  log_count INTEGER NOT NULL DEFAULT 0,
  log_bytes INTEGER NOT NULL DEFAULT 0,
  change_no INTEGER NOT NULL DEFAULT 0,
  hinted_at INTEGER
);
CREATE INDEX IF NOT EXISTS e2ee_docs_by_change ON e2ee_docs (workspace_id, change_no);
CREATE TABLE IF NOT EXISTS e2ee_envelopes (
  id INTEGER PRIMARY KEY,
  doc_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  client_key BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (doc_id, seq),
  UNIQUE (doc_id, client_key)
);
`;

interface DocRow {
  head: number;
  snap_seq: number;
  snap_id: Buffer | null;
  /** Length of the stored snapshot (the bytes are read only when a pull needs them). */
  snapshot_bytes: number | null;
  log_count: number;
  log_bytes: number;
}

const u8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();

export class SqliteEncryptedStore implements EncryptedStore {
  private readonly appendTx;
  private readonly readTx;
  private readonly snapshotTx;
  private readonly putKeysTx;
  private readonly changesTx;
  private readonly s;

  constructor(private readonly db: SqliteDatabase) {
    db.exec(SCHEMA);
    this.s = {
      keys: db.prepare<[string], { record: string; gen: number }>('SELECT record, gen FROM e2ee_workspaces WHERE id = ?'),
      insertKeys: db.prepare<[string, string, number]>('INSERT INTO e2ee_workspaces (id, record, gen) VALUES (?, ?, ?)'),
      updateKeys: db.prepare<[string, number, string, number]>('UPDATE e2ee_workspaces SET record = ?, gen = ? WHERE id = ? AND gen = ?'),
      doc: db.prepare<[string], DocRow>('SELECT head, snap_seq, snap_id, length(snapshot) AS snapshot_bytes, log_count, log_bytes FROM e2ee_docs WHERE doc_id = ?'),
      snapshot: db.prepare<[string], { snapshot: Buffer | null }>('SELECT snapshot FROM e2ee_docs WHERE doc_id = ?'),
      byKey: db.prepare<[string, Uint8Array], { seq: number; data: Buffer }>('SELECT seq, data FROM e2ee_envelopes WHERE doc_id = ? AND client_key = ?'),
      ensureDoc: db.prepare<[string, string]>('INSERT INTO e2ee_docs (doc_id, workspace_id) VALUES (?, ?) ON CONFLICT (doc_id) DO NOTHING'),
      bumpChange: db.prepare<[string], { change_head: number }>('UPDATE e2ee_workspaces SET change_head = change_head + 1 WHERE id = ? RETURNING change_head'),
      bumpHead: db.prepare<[number, number, string], { head: number; log_count: number; log_bytes: number }>(
        'UPDATE e2ee_docs SET head = head + 1, log_count = log_count + 1, log_bytes = log_bytes + ?, change_no = ? WHERE doc_id = ? RETURNING head, log_count, log_bytes',
      ),
      insertEnvelope: db.prepare<[string, number, Uint8Array, Uint8Array, number]>(
        'INSERT INTO e2ee_envelopes (doc_id, seq, data, client_key, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      sizes: db.prepare<[string, number], { seq: number; n: number }>('SELECT seq, length(data) AS n FROM e2ee_envelopes WHERE doc_id = ? AND seq > ? ORDER BY seq'),
      range: db.prepare<[string, number, number], { seq: number; data: Buffer }>('SELECT seq, data FROM e2ee_envelopes WHERE doc_id = ? AND seq > ? AND seq <= ? ORDER BY seq'),
      deleteThrough: db.prepare<[string, number], { n: number }>('DELETE FROM e2ee_envelopes WHERE doc_id = ? AND seq <= ? RETURNING length(data) AS n'),
      setSnapshot: db.prepare<[Uint8Array, Uint8Array, number, number, number, string]>(
        'UPDATE e2ee_docs SET snapshot = ?, snap_id = ?, snap_seq = ?, log_count = log_count - ?, log_bytes = log_bytes - ? WHERE doc_id = ?',
      ),
      changeHead: db.prepare<[string], { change_head: number }>('SELECT change_head FROM e2ee_workspaces WHERE id = ?'),
      changed: db.prepare<[string, number], { doc_id: string; head: number }>('SELECT doc_id, head FROM e2ee_docs WHERE workspace_id = ? AND change_no > ? ORDER BY doc_id'),
      head: db.prepare<[string], { head: number }>('SELECT head FROM e2ee_docs WHERE doc_id = ?'),
      hint: db.prepare<[number, string, number]>('UPDATE e2ee_docs SET hinted_at = ? WHERE doc_id = ? AND (hinted_at IS NULL OR hinted_at <= ?)'),
    };
    this.putKeysTx = db.transaction((ws: string, expectGen: number, record: string): PutKeysResult => {
      const current = this.s.keys.get(ws);
      if ((current?.gen ?? 0) !== expectGen) return { ok: false, current: current ? { record: current.record, gen: current.gen } : null };
      if (current) this.s.updateKeys.run(record, expectGen + 1, ws, expectGen);
      else this.s.insertKeys.run(ws, record, expectGen + 1);
      return { ok: true, gen: expectGen + 1 };
    });
    this.appendTx = db.transaction((docId: string, ws: string, key: Uint8Array, env: Uint8Array, maxDocBytes: number): AppendOutcome => {
      const seen = this.s.byKey.get(docId, key);
      const doc = this.s.doc.get(docId);
      if (seen) {
        if (!sameBytes(u8(seen.data), env)) return { kind: 'conflict' };
        return { kind: 'stored', seq: seen.seq, duplicate: true, logCount: doc!.log_count, logBytes: doc!.log_bytes, head: doc!.head };
      }
      if ((doc?.log_bytes ?? 0) + (doc?.snapshot_bytes ?? 0) + env.length > maxDocBytes) return { kind: 'quota' };
      const change = this.s.bumpChange.get(ws);
      if (!change) throw new Error(`workspace ${ws} is not encrypted`);
      this.s.ensureDoc.run(docId, ws);
      const row = this.s.bumpHead.get(env.length, change.change_head, docId)!;
      this.s.insertEnvelope.run(docId, row.head, env, key, Date.now());
      return { kind: 'stored', seq: row.head, duplicate: false, logCount: row.log_count, logBytes: row.log_bytes, head: row.head };
    });
    this.readTx = db.transaction((docId: string, after: number, maxBytes: number): EnvelopeRead => {
      const doc = this.s.doc.get(docId);
      if (!doc) return { head: 0, snapSeq: 0, snapId: NO_SNAP_ID.slice(), snapshot: null, envelopes: [], more: false, logCount: 0, logBytes: 0 };
      const stored = after < doc.snap_seq && doc.snapshot_bytes ? this.s.snapshot.get(docId)?.snapshot : null;
      const snapshot = stored ? u8(stored) : null;
      const start = Math.max(after, doc.snap_seq);
      let used = snapshot?.length ?? 0;
      let last = start;
      let taken = snapshot ? 1 : 0;
      let more = false;
      for (const r of this.s.sizes.iterate(docId, start)) {
        if (taken > 0 && used + r.n > maxBytes) {
          more = true;
          break;
        }
        used += r.n;
        last = r.seq;
        taken++;
      }
      const envelopes = last > start ? this.s.range.all(docId, start, last).map((r) => ({ seq: r.seq, data: u8(r.data) })) : [];
      return {
        head: doc.head,
        snapSeq: doc.snap_seq,
        snapId: doc.snap_id ? u8(doc.snap_id) : NO_SNAP_ID.slice(),
        snapshot,
        envelopes,
        more,
        logCount: doc.log_count,
        logBytes: doc.log_bytes,
      };
    });
    this.snapshotTx = db.transaction((docId: string, r: SnapshotRequest): SnapshotOutcome => {
      const doc = this.s.doc.get(docId);
      if (!doc) return { stored: false, snapId: NO_SNAP_ID.slice(), snapSeq: 0 };
      const current = doc.snap_id ? u8(doc.snap_id) : NO_SNAP_ID.slice();
      if (!sameBytes(r.prevSnapId, current) || r.coversSeq <= doc.snap_seq || r.coversSeq > doc.head) {
        return { stored: false, snapId: current, snapSeq: doc.snap_seq };
      }
      const removed = this.s.deleteThrough.all(docId, r.coversSeq);
      this.s.setSnapshot.run(r.envelope, r.snapId, r.coversSeq, removed.length, removed.reduce((n, x) => n + x.n, 0), docId);
      return { stored: true, snapId: r.snapId.slice(), snapSeq: r.coversSeq };
    });
    this.changesTx = db.transaction((ws: string, after: number): ChangedDocs => ({
      changeHead: this.s.changeHead.get(ws)?.change_head ?? 0,
      docs: this.s.changed.all(ws, after).map((r) => ({ docId: r.doc_id, head: r.head })),
    }));
  }

  async getKeys(workspaceId: string): Promise<KeyRecordRow | null> {
    return this.guard(undefined, () => {
      const r = this.s.keys.get(workspaceId);
      return r ? { record: r.record, gen: r.gen } : null;
    });
  }

  async putKeys(workspaceId: string, expectGen: number, record: string): Promise<PutKeysResult> {
    return this.guard(undefined, () => this.putKeysTx.immediate(workspaceId, expectGen, record));
  }

  async append(docId: string, workspaceId: string, clientKey: Uint8Array, envelope: Uint8Array, maxDocBytes: number): Promise<AppendOutcome> {
    return this.guard(docId, () => this.appendTx.immediate(docId, workspaceId, clientKey, envelope, maxDocBytes));
  }

  async read(docId: string, after: number, maxBytes: number): Promise<EnvelopeRead> {
    return this.guard(docId, () => this.readTx(docId, after, maxBytes));
  }

  async putSnapshot(docId: string, request: SnapshotRequest): Promise<SnapshotOutcome> {
    return this.guard(docId, () => this.snapshotTx.immediate(docId, request));
  }

  async changes(workspaceId: string, after: number): Promise<ChangedDocs> {
    return this.guard(undefined, () => this.changesTx(workspaceId, after));
  }

  async heads(docIds: string[]): Promise<Map<string, number>> {
    return this.guard(undefined, () => new Map(docIds.map((id) => [id, this.s.head.get(id)?.head ?? 0])));
  }

  async markHinted(docId: string, now: number, intervalMs: number): Promise<boolean> {
    return this.guard(docId, () => this.s.hint.run(now, docId, now - intervalMs).changes === 1);
  }

  private guard<T>(docId: string | undefined, fn: () => T): T {
    if (!this.db.open) throw new StorageError('the SQLite database is closed', docId);
    try {
      return fn();
    } catch (e) {
      throw new StorageError(`SQLite operation failed: ${(e as Error).message}`, docId, e);
    }
  }
}
