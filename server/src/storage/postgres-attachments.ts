/**
 * PgAttachmentMeta: attachment metadata in the Postgres database every node
 * shares (tables from the second schema migration), so a blob uploaded through
 * one node is known to all. The bytes stay files (attachments/blob-store.ts).
 */
import type pg from 'pg';
import { StorageError, describeError } from '../errors';
import type { AttachmentMetaStore, AttachmentRecord, UploadRecord } from './adapter';

/** bigint columns arrive as strings from `pg`. */
type Num = string | number;

interface BlobRow {
  workspace_id: string;
  hash: string;
  size: Num;
  mime_type: string;
  path: string;
  created_at: Num;
  unreferenced_since: Num | null;
}

interface UploadRow {
  upload_id: string;
  workspace_id: string;
  hash: string;
  size: Num;
  mime_type: string;
  part_size: Num;
  total_parts: Num;
  attachment_path: string;
  entry_path: string;
  created_at: Num;
}

const toRecord = (r: BlobRow): AttachmentRecord => ({
  workspaceId: r.workspace_id,
  hash: r.hash,
  size: Number(r.size),
  mimeType: r.mime_type,
  path: r.path,
  createdAt: Number(r.created_at),
  unreferencedSince: r.unreferenced_since === null ? null : Number(r.unreferenced_since),
});

const toUpload = (r: UploadRow): UploadRecord => ({
  uploadId: r.upload_id,
  workspaceId: r.workspace_id,
  hash: r.hash,
  size: Number(r.size),
  mimeType: r.mime_type,
  partSize: Number(r.part_size),
  totalParts: Number(r.total_parts),
  attachmentPath: r.attachment_path,
  entryPath: r.entry_path,
  createdAt: Number(r.created_at),
});

const PUT_BLOB = `
INSERT INTO attachment_blobs (workspace_id, hash, size, mime_type, path, created_at, unreferenced_since)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (workspace_id, hash, path) DO UPDATE SET size = EXCLUDED.size, mime_type = EXCLUDED.mime_type,
  created_at = EXCLUDED.created_at, unreferenced_since = EXCLUDED.unreferenced_since`;
const PUT_UPLOAD = `
INSERT INTO attachment_uploads (upload_id, workspace_id, hash, size, mime_type, part_size, total_parts, attachment_path, entry_path, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (upload_id) DO UPDATE SET workspace_id = EXCLUDED.workspace_id, hash = EXCLUDED.hash, size = EXCLUDED.size,
  mime_type = EXCLUDED.mime_type, part_size = EXCLUDED.part_size, total_parts = EXCLUDED.total_parts,
  attachment_path = EXCLUDED.attachment_path, entry_path = EXCLUDED.entry_path, created_at = EXCLUDED.created_at`;

export class PgAttachmentMeta implements AttachmentMetaStore {
  /** `db` is the pool, or one client inside a transaction (migrate); `check` throws when the owning adapter is closed. */
  constructor(
    private readonly db: pg.Pool | pg.PoolClient,
    private readonly check: () => void = () => undefined,
  ) {}

  async putAttachment(r: AttachmentRecord): Promise<void> {
    await this.query(`putAttachment ${r.workspaceId}/${r.hash}`, PUT_BLOB, [
      r.workspaceId,
      r.hash,
      r.size,
      r.mimeType,
      r.path,
      r.createdAt,
      r.unreferencedSince,
    ]);
  }

  async getAttachment(workspaceId: string, hash: string): Promise<AttachmentRecord | null> {
    const rows = await this.query<BlobRow>(`getAttachment ${workspaceId}/${hash}`, 'SELECT * FROM attachment_blobs WHERE workspace_id = $1 AND hash = $2 ORDER BY path LIMIT 1', [workspaceId, hash]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async listAttachments(workspaceId: string | null): Promise<AttachmentRecord[]> {
    const rows =
      workspaceId === null
        ? await this.query<BlobRow>('listAttachments', 'SELECT * FROM attachment_blobs ORDER BY workspace_id, hash, path', [])
        : await this.query<BlobRow>(`listAttachments ${workspaceId}`, 'SELECT * FROM attachment_blobs WHERE workspace_id = $1 ORDER BY hash, path', [workspaceId]);
    return rows.map(toRecord);
  }

  async removeAttachment(workspaceId: string, hash: string, path: string): Promise<void> {
    await this.query(`removeAttachment ${workspaceId}/${hash} ${path}`, 'DELETE FROM attachment_blobs WHERE workspace_id = $1 AND hash = $2 AND path = $3', [
      workspaceId,
      hash,
      path,
    ]);
  }

  async putUpload(r: UploadRecord): Promise<void> {
    await this.query(`putUpload ${r.uploadId}`, PUT_UPLOAD, [
      r.uploadId,
      r.workspaceId,
      r.hash,
      r.size,
      r.mimeType,
      r.partSize,
      r.totalParts,
      r.attachmentPath,
      r.entryPath,
      r.createdAt,
    ]);
  }

  async getUpload(uploadId: string): Promise<UploadRecord | null> {
    const rows = await this.query<UploadRow>(`getUpload ${uploadId}`, 'SELECT * FROM attachment_uploads WHERE upload_id = $1', [uploadId]);
    return rows[0] ? toUpload(rows[0]) : null;
  }

  async listUploads(): Promise<UploadRecord[]> {
    return (await this.query<UploadRow>('listUploads', 'SELECT * FROM attachment_uploads ORDER BY created_at, upload_id', [])).map(toUpload);
  }

  async removeUpload(uploadId: string): Promise<void> {
    await this.query(`removeUpload ${uploadId}`, 'DELETE FROM attachment_uploads WHERE upload_id = $1', [uploadId]);
  }

  private async query<R extends pg.QueryResultRow>(what: string, text: string, values: unknown[]): Promise<R[]> {
    this.check();
    try {
      return (await this.db.query<R>(text, values)).rows;
    } catch (e) {
      throw new StorageError(`Postgres attachment metadata operation failed (${what}): ${describeError(e)}`, undefined, e);
    }
  }
}
