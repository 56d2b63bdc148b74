/**
 * SqliteAttachmentMeta: attachment metadata in two tables of the server's
 * SQLite database. Used by SqliteStorage, and by the server for adapters that
 * bring no AttachmentMetaStore of their own.
 */
import type { SqliteDatabase } from '../db';
import { StorageError } from '../errors';
import type { AttachmentMetaStore, AttachmentRecord, UploadRecord } from './adapter';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS attachment_blobs (
  workspace_id TEXT NOT NULL,
  hash TEXT NOT NULL,
  size INTEGER NOT NULL,
  mime_type TEXT NOT NULL,
  path TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  unreferenced_since INTEGER,
  PRIMARY KEY (workspace_id, hash, path)
);
CREATE TABLE IF NOT EXISTS attachment_uploads (
  upload_id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  hash TEXT NOT NULL,
  size INTEGER NOT NULL,
  mime_type TEXT NOT NULL,
  part_size INTEGER NOT NULL,
  total_parts INTEGER NOT NULL,
  attachment_path TEXT NOT NULL,
  entry_path TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;

/**
 * Databases written before a blob could be held under several paths key it by (workspace, hash):
 * rebuild the table with the path in the key, keeping every row, in one transaction.
 */
function migrateBlobKey(db: SqliteDatabase): void {
  const columns = db.prepare<[], { name: string; pk: number }>("SELECT name, pk FROM pragma_table_info('attachment_blobs')").all();
  if (columns.length === 0 || columns.some((c) => c.name === 'path' && c.pk > 0)) return;
  db.transaction(() => {
    db.exec('ALTER TABLE attachment_blobs RENAME TO attachment_blobs_old');
    db.exec(SCHEMA);
    db.exec(
      'INSERT INTO attachment_blobs (workspace_id, hash, size, mime_type, path, created_at, unreferenced_since) ' +
        'SELECT workspace_id, hash, size, mime_type, path, created_at, unreferenced_since FROM attachment_blobs_old',
    );
    db.exec('DROP TABLE attachment_blobs_old');
  })();
}

interface BlobRow {
  workspace_id: string;
  hash: string;
  size: number;
  mime_type: string;
  path: string;
  created_at: number;
  unreferenced_since: number | null;
}

interface UploadRow {
  upload_id: string;
  workspace_id: string;
  hash: string;
  size: number;
  mime_type: string;
  part_size: number;
  total_parts: number;
  attachment_path: string;
  entry_path: string;
  created_at: number;
}

const toRecord = (r: BlobRow): AttachmentRecord => ({
  workspaceId: r.workspace_id,
  hash: r.hash,
  size: r.size,
  mimeType: r.mime_type,
  path: r.path,
  createdAt: r.created_at,
  unreferencedSince: r.unreferenced_since,
});

const toUpload = (r: UploadRow): UploadRecord => ({
  uploadId: r.upload_id,
  workspaceId: r.workspace_id,
  hash: r.hash,
  size: r.size,
  mimeType: r.mime_type,
  partSize: r.part_size,
  totalParts: r.total_parts,
  attachmentPath: r.attachment_path,
  entryPath: r.entry_path,
  createdAt: r.created_at,
});

export class SqliteAttachmentMeta implements AttachmentMetaStore {
  private readonly stmt;

  /** `check` throws when the owning adapter is closed. */
  constructor(db: SqliteDatabase, private readonly check: () => void = () => undefined) {
    migrateBlobKey(db);
    db.exec(SCHEMA);
    this.stmt = {
      putBlob: db.prepare(
        'INSERT OR REPLACE INTO attachment_blobs (workspace_id, hash, size, mime_type, path, created_at, unreferenced_since) ' +
          'VALUES (@workspace_id, @hash, @size, @mime_type, @path, @created_at, @unreferenced_since)',
      ),
      getBlob: db.prepare<[string, string], BlobRow>('SELECT * FROM attachment_blobs WHERE workspace_id = ? AND hash = ? ORDER BY path LIMIT 1'),
      listBlobs: db.prepare<[string], BlobRow>('SELECT * FROM attachment_blobs WHERE workspace_id = ? ORDER BY workspace_id, hash, path'),
      listAllBlobs: db.prepare<[], BlobRow>('SELECT * FROM attachment_blobs ORDER BY workspace_id, hash, path'),
      removeBlob: db.prepare<[string, string, string]>('DELETE FROM attachment_blobs WHERE workspace_id = ? AND hash = ? AND path = ?'),
      putUpload: db.prepare(
        'INSERT OR REPLACE INTO attachment_uploads (upload_id, workspace_id, hash, size, mime_type, part_size, total_parts, attachment_path, entry_path, created_at) ' +
          'VALUES (@upload_id, @workspace_id, @hash, @size, @mime_type, @part_size, @total_parts, @attachment_path, @entry_path, @created_at)',
      ),
      getUpload: db.prepare<[string], UploadRow>('SELECT * FROM attachment_uploads WHERE upload_id = ?'),
      listUploads: db.prepare<[], UploadRow>('SELECT * FROM attachment_uploads ORDER BY created_at, upload_id'),
      removeUpload: db.prepare<[string]>('DELETE FROM attachment_uploads WHERE upload_id = ?'),
    };
  }

  async putAttachment(r: AttachmentRecord): Promise<void> {
    this.run(() =>
      this.stmt.putBlob.run({
        workspace_id: r.workspaceId,
        hash: r.hash,
        size: r.size,
        mime_type: r.mimeType,
        path: r.path,
        created_at: r.createdAt,
        unreferenced_since: r.unreferencedSince,
      }),
    );
  }

  async getAttachment(workspaceId: string, hash: string): Promise<AttachmentRecord | null> {
    const row = this.run(() => this.stmt.getBlob.get(workspaceId, hash));
    return row ? toRecord(row) : null;
  }

  async listAttachments(workspaceId: string | null): Promise<AttachmentRecord[]> {
    return this.run(() => (workspaceId === null ? this.stmt.listAllBlobs.all() : this.stmt.listBlobs.all(workspaceId))).map(toRecord);
  }

  async removeAttachment(workspaceId: string, hash: string, path: string): Promise<void> {
    this.run(() => this.stmt.removeBlob.run(workspaceId, hash, path));
  }

  async putUpload(r: UploadRecord): Promise<void> {
    this.run(() =>
      this.stmt.putUpload.run({
        upload_id: r.uploadId,
        workspace_id: r.workspaceId,
        hash: r.hash,
        size: r.size,
        mime_type: r.mimeType,
        part_size: r.partSize,
        total_parts: r.totalParts,
        attachment_path: r.attachmentPath,
        entry_path: r.entryPath,
        created_at: r.createdAt,
      }),
    );
  }

  async getUpload(uploadId: string): Promise<UploadRecord | null> {
    const row = this.run(() => this.stmt.getUpload.get(uploadId));
    return row ? toUpload(row) : null;
  }

  async listUploads(): Promise<UploadRecord[]> {
    return this.run(() => this.stmt.listUploads.all()).map(toUpload);
  }

  async removeUpload(uploadId: string): Promise<void> {
    this.run(() => this.stmt.removeUpload.run(uploadId));
  }

  private run<T>(fn: () => T): T {
    this.check();
    try {
      return fn();
    } catch (e) {
      throw new StorageError(`SQLite attachment metadata operation failed: ${(e as Error).message}`, undefined, e);
    }
  }
}
