/**
 * Moves a single-node server's SQLite data (users, tokens, workspaces,
 * documents, attachment records and uploads in progress) into a Postgres database, in one Postgres transaction that commits
 * only after every document read back from Postgres holds the same state as in
 * SQLite (equal state vectors, and neither side has a struct or deletion the
 * other lacks). Each document arrives as one merged snapshot; clients keep no
 * sequence numbers, so none are carried over. The SQLite database is opened
 * read-only and never changed: going back is starting the old server.
 * Attachment records are checked field by field too; the blob files stay
 * under `<from>/attachments` (the nodes' shared attachment folder).
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import * as Y from 'yjs';
import { foldWorkspaceId } from './auth';
import { databasePath } from './db';
import { ValidationError } from './errors';
import type { AttachmentRecord, UploadRecord } from './storage/adapter';
import { PostgresStorage, workspaceOfDoc } from './storage/postgres';
import { PgAttachmentMeta } from './storage/postgres-attachments';
import { SqliteAttachmentMeta } from './storage/sqlite-attachments';

export interface MigrateResult {
  users: number;
  tokens: number;
  workspaces: number;
  documents: number;
  attachments: number;
  uploads: number;
}

const TABLES = ['updates', 'docs', 'tokens', 'workspaces', 'users', 'attachment_blobs', 'attachment_uploads'];

/** Attachment records in a fixed order and form, for comparing both sides. */
function canonical(blobs: AttachmentRecord[], uploads: UploadRecord[]): string {
  const key = (r: AttachmentRecord) => `${r.workspaceId}\0${r.hash}\0${r.path}`;
  const b = [...blobs].sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));
  const u = [...uploads].sort((x, y) => (x.uploadId < y.uploadId ? -1 : 1));
  return JSON.stringify({
    blobs: b.map((r) => [r.workspaceId, r.hash, r.size, r.mimeType, r.path, r.createdAt, r.unreferencedSince]),
    uploads: u.map((r) => [r.uploadId, r.workspaceId, r.hash, r.size, r.mimeType, r.partSize, r.totalParts, r.attachmentPath, r.entryPath, r.createdAt]),
  });
}

/** Whether two states hold the same content: applying either to the other changes nothing. */
export function sameYjsState(a: Uint8Array, b: Uint8Array): boolean {
  const covers = (base: Uint8Array, extra: Uint8Array) => {
    const d = new Y.Doc();
    Y.applyUpdate(d, base);
    let changed = false;
    d.on('update', () => (changed = true));
    Y.applyUpdate(d, extra);
    d.destroy();
    return !changed;
  };
  return (
    Buffer.from(Y.encodeStateVectorFromUpdate(a)).equals(Buffer.from(Y.encodeStateVectorFromUpdate(b))) && covers(a, b) && covers(b, a)
  );
}

/** One document's state merged from its snapshot and log. */
function merged(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 0) return Y.encodeStateAsUpdate(new Y.Doc());
  return parts.length === 1 ? parts[0] : Y.mergeUpdates(parts);
}

/** Copies `fromDir`'s SQLite data into the Postgres database at `toUrl`. Refuses a non-empty target unless `replace`. */
export async function migrateSqliteToPostgres(fromDir: string, toUrl: string, opts: { replace?: boolean; log?: (line: string) => void } = {}): Promise<MigrateResult> {
  const log = opts.log ?? (() => undefined);
  const file = databasePath(fromDir);
  if (!fs.existsSync(file)) throw new ValidationError(`--from: ${fromDir} holds no server database (${file} not found)`);
  const src = new Database(file, { readonly: true, fileMustExist: true });
  let pgStore: PostgresStorage | null = null;
  try {
    const has = (t: string) => src.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;
    const all = <T>(t: string, q: string): T[] => (has(t) ? (src.prepare(q).all() as T[]) : []);
    // Encrypted workspaces keep per-doc cursors and snapshot ids their devices rely on; copying
    // them is not built, and leaving them behind would lose them: refuse before writing anything.
    const encrypted = has('e2ee_workspaces') ? (src.prepare('SELECT count(*) AS n FROM e2ee_workspaces').get() as { n: number }).n : 0;
    if (encrypted > 0) {
      throw new ValidationError(
        `--from: ${fromDir} holds ${encrypted} end-to-end encrypted workspace(s), which migrate cannot copy yet; nothing was written`,
      );
    }
    const users = all<{ name: string; created_at: number }>('users', 'SELECT name, created_at FROM users');
    const tokens = all<{ hash: string; user: string; created_at: number }>('tokens', 'SELECT hash, user, created_at FROM tokens');
    const workspaces = all<{ id: string; owner: string; name: string; created_at: number }>('workspaces', 'SELECT id, owner, name, created_at FROM workspaces');
    const docIds = new Set<string>([
      ...all<{ doc_id: string }>('doc_snapshots', 'SELECT doc_id FROM doc_snapshots').map((r) => r.doc_id),
      ...all<{ doc_id: string }>('doc_updates', 'SELECT DISTINCT doc_id FROM doc_updates').map((r) => r.doc_id),
    ]);
    // Read through the SQLite adapter's own queries (its CREATE IF NOT EXISTS writes nothing when
    // both tables exist); a database from before attachments has none.
    const srcMeta = has('attachment_blobs') && has('attachment_uploads') ? new SqliteAttachmentMeta(src) : null;
    const blobs = srcMeta ? await srcMeta.listAttachments(null) : [];
    const uploads = srcMeta ? await srcMeta.listUploads() : [];
    const snapshotOf = has('doc_snapshots') ? src.prepare<[string], { state: Buffer }>('SELECT state FROM doc_snapshots WHERE doc_id = ?') : null;
    const updatesOf = has('doc_updates') ? src.prepare<[string], { data: Buffer }>('SELECT data FROM doc_updates WHERE doc_id = ? ORDER BY seq') : null;
    const sourceState = (id: string): Uint8Array => {
      const snap = snapshotOf?.get(id);
      const parts = [...(snap ? [snap.state] : []), ...(updatesOf?.all(id).map((r) => r.data) ?? [])].map((b) => new Uint8Array(b));
      try {
        return merged(parts);
      } catch (e) {
        throw new ValidationError(`document ${id} in the SQLite database does not decode: ${(e as Error).message}`);
      }
    };

    pgStore = await PostgresStorage.open({ url: toUrl, poolSize: 2 });
    const c = await pgStore.pool.connect();
    let broken = false;
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL statement_timeout = 0');
      const counts = await c.query<{ n: string }>(`SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM docs) + (SELECT count(*) FROM workspaces) + (SELECT count(*) FROM attachment_blobs) + (SELECT count(*) FROM attachment_uploads) AS n`);
      if (Number(counts.rows[0].n) > 0) {
        if (!opts.replace) throw new ValidationError('--to: the Postgres database already holds data; pass --replace to overwrite it');
        await c.query(`TRUNCATE ${TABLES.join(', ')}`);
        log('target emptied (--replace)');
      }
      for (const u of users) await c.query('INSERT INTO users (name, created_at) VALUES ($1, $2)', [u.name, u.created_at]);
      for (const t of tokens) await c.query('INSERT INTO tokens (hash, user_name, created_at) VALUES ($1, $2, $3)', [t.hash, t.user, t.created_at]);
      for (const w of workspaces) {
        await c.query('INSERT INTO workspaces (id, owner, name, created_at, folded) VALUES ($1, $2, $3, $4, $5)', [w.id, w.owner, w.name, w.created_at, foldWorkspaceId(w.id)]);
      }
      log(`copied ${users.length} users, ${tokens.length} tokens, ${workspaces.length} workspaces`);
      for (const r of blobs) {
        await c.query(
          'INSERT INTO attachment_blobs (workspace_id, hash, size, mime_type, path, created_at, unreferenced_since) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [r.workspaceId, r.hash, r.size, r.mimeType, r.path, r.createdAt, r.unreferencedSince],
        );
      }
      for (const r of uploads) {
        await c.query(
          'INSERT INTO attachment_uploads (upload_id, workspace_id, hash, size, mime_type, part_size, total_parts, attachment_path, entry_path, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
          [r.uploadId, r.workspaceId, r.hash, r.size, r.mimeType, r.partSize, r.totalParts, r.attachmentPath, r.entryPath, r.createdAt],
        );
      }
      log(`copied ${blobs.length} attachment records and ${uploads.length} uploads in progress`);
      let done = 0;
      for (const id of [...docIds].sort()) {
        const state = sourceState(id);
        await c.query('INSERT INTO docs (doc_id, workspace_id, snapshot, snapshot_sv, compacted_at) VALUES ($1, $2, $3, $4, now())', [
          id,
          workspaceOfDoc(id),
          Buffer.from(state),
          Buffer.from(Y.encodeStateVectorFromUpdate(state)),
        ]);
        const back = (await c.query<{ snapshot: Buffer }>('SELECT snapshot FROM docs WHERE doc_id = $1', [id])).rows[0];
        if (!back || !sameYjsState(new Uint8Array(back.snapshot), sourceState(id))) {
          throw new Error(`document ${id} reads back from Postgres with a different state; nothing was committed`);
        }
        if (++done % 500 === 0) log(`${done}/${docIds.size} documents copied and checked`);
      }
      // Attachment records read back in the transaction through the adapter's own queries.
      const inTx = new PgAttachmentMeta(c);
      if (canonical(await inTx.listAttachments(null), await inTx.listUploads()) !== canonical(blobs, uploads)) {
        throw new Error('attachment records read back from Postgres differ from those in SQLite; nothing was committed');
      }
      await c.query('COMMIT');
      // Once more as a node will read them.
      if (canonical(await pgStore.attachments.listAttachments(null), await pgStore.attachments.listUploads()) !== canonical(blobs, uploads)) {
        throw new Error('attachment records read from Postgres differ from those in SQLite');
      }
      // Once more through the server's own read path, as a node will load them.
      for (const id of docIds) {
        const stored = await pgStore.load(id);
        const parts = stored.snapshot ? [stored.snapshot, ...stored.updates] : stored.updates;
        if (!sameYjsState(merged(parts), sourceState(id))) throw new Error(`document ${id} loads from Postgres with a different state than in SQLite`);
      }
      log(`${docIds.size} documents copied; every one has the same state in Postgres as in SQLite`);
      if (blobs.length > 0 || uploads.length > 0) {
        log(`attachment bytes are files under ${fromDir}/attachments: give every node that folder (shared) as <data-dir>/attachments`);
      }
      return { users: users.length, tokens: tokens.length, workspaces: workspaces.length, documents: docIds.size, attachments: blobs.length, uploads: uploads.length };
    } catch (e) {
      broken = true;
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release(broken);
    }
  } finally {
    src.close();
    await pgStore?.close();
  }
}
