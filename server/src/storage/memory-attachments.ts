/** In-memory AttachmentMetaStore (MemoryStorage's), held to the same acceptance suite as the SQLite one. */
import type { AttachmentMetaStore, AttachmentRecord, UploadRecord } from './adapter';

const byWorkspaceThenHash = (a: AttachmentRecord, b: AttachmentRecord) =>
  a.workspaceId < b.workspaceId ? -1 : a.workspaceId > b.workspaceId ? 1 : a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0;

export class MemoryAttachmentMeta implements AttachmentMetaStore {
  private readonly attachments = new Map<string, AttachmentRecord>();
  private readonly uploads = new Map<string, UploadRecord>();

  /** `check` throws when the owning adapter is closed. */
  constructor(private readonly check: () => void) {}

  async putAttachment(record: AttachmentRecord): Promise<void> {
    this.check();
    this.attachments.set(key(record.workspaceId, record.hash), { ...record });
  }

  async getAttachment(workspaceId: string, hash: string): Promise<AttachmentRecord | null> {
    this.check();
    const r = this.attachments.get(key(workspaceId, hash));
    return r ? { ...r } : null;
  }

  async listAttachments(workspaceId: string | null): Promise<AttachmentRecord[]> {
    this.check();
    return [...this.attachments.values()]
      .filter((r) => workspaceId === null || r.workspaceId === workspaceId)
      .map((r) => ({ ...r }))
      .sort(byWorkspaceThenHash);
  }

  async removeAttachment(workspaceId: string, hash: string): Promise<void> {
    this.check();
    this.attachments.delete(key(workspaceId, hash));
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

function key(workspaceId: string, hash: string): string {
  return `${workspaceId}\u0000${hash}`;
}
