/** In-memory AttachmentMetaStore (MemoryStorage's), held to the same acceptance suite as the SQLite one. */
import type { AttachmentMetaStore, AttachmentRecord, UploadRecord } from './adapter';

const compare = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
const byWorkspaceHashPath = (a: AttachmentRecord, b: AttachmentRecord) =>
  compare(a.workspaceId, b.workspaceId) || compare(a.hash, b.hash) || compare(a.path, b.path);

export class MemoryAttachmentMeta implements AttachmentMetaStore {
  private readonly attachments = new Map<string, AttachmentRecord>();
  private readonly uploads = new Map<string, UploadRecord>();

  /** `check` throws when the owning adapter is closed. */
  constructor(private readonly check: () => void) {}

  async putAttachment(record: AttachmentRecord): Promise<void> {
    this.check();
    this.attachments.set(key(record.workspaceId, record.hash, record.path), { ...record });
  }

  async getAttachment(workspaceId: string, hash: string): Promise<AttachmentRecord | null> {
    this.check();
    const held = [...this.attachments.values()].filter((r) => r.workspaceId === workspaceId && r.hash === hash).sort(byWorkspaceHashPath);
    return held.length > 0 ? { ...held[0] } : null;
  }

  async listAttachments(workspaceId: string | null): Promise<AttachmentRecord[]> {
    this.check();
    return [...this.attachments.values()]
      .filter((r) => workspaceId === null || r.workspaceId === workspaceId)
      .map((r) => ({ ...r }))
      .sort(byWorkspaceHashPath);
  }

  async removeAttachment(workspaceId: string, hash: string, path: string): Promise<void> {
    this.check();
    this.attachments.delete(key(workspaceId, hash, path));
  }

  async putUpload(record: UploadRecord): Promise<void> {
    this.check();
    this.uploads.set(record.uploadId, { ...record });
  }

  async getUpload(uploadId: string): Promise<UploadRecord | null> {
    this.check();
    const r = this.uploads.get(uploadId);
    return r ? { ...r } : null;
  }

  async listUploads(): Promise<UploadRecord[]> {
    this.check();
    return [...this.uploads.values()].map((r) => ({ ...r })).sort((a, b) => a.createdAt - b.createdAt || (a.uploadId < b.uploadId ? -1 : 1));
  }

  async removeUpload(uploadId: string): Promise<void> {
    this.check();
    this.uploads.delete(uploadId);
  }
}

function key(workspaceId: string, hash: string, path: string): string {
  return `${workspaceId}\u0000${hash}\u0000${path}`;
}
