/**
 * Attachments: the rules of the upload / download API (server/README.md, Attachments),
 * over a BlobStore (bytes) and an AttachmentMetaStore (which workspace holds
 * which blob, uploads in progress). HTTP parsing is in routes.ts.
 *
 * - A workspace holds a blob once an upload of it completed there, or once an
 *   init found it already held by another workspace of the same user. Holding
 *   is what a download checks, and the owner's quota counts every distinct
 *   blob their workspaces hold.
 * - `already_exists` is answered only for blobs the user already holds: a
 *   hash alone never grants access to another user's bytes. Their upload is
 *   still stored once on disk (content addressed).
 */
import { randomUUID } from 'node:crypto';
import type { AccessStore } from '../auth';
import { KeyedMutex } from '../keyed-mutex';
import type { Logger } from '../log';
import type { AttachmentMetaStore, AttachmentRecord, UploadRecord } from '../storage/adapter';
import { BlobStore } from './blob-store';

/** The part size the Diaryx apps use. */
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
/** Largest part size an upload may announce. */
export const MAX_PART_BYTES = 16 * 1024 * 1024;
/**
 * A holding recorded this recently is never marked unreferenced by a live
 * list: its reference may not have reached the device that sent the list yet
 * (a blob is uploaded just before the ref that names it is written).
 */
export const LIVE_LIST_SETTLE_MS = 60 * 60 * 1000;
/** Bytes of an upload's start that `complete` hands a head check. */
const HEAD_CHECK_BYTES = 12;
/** Most parts one upload may have. */
export const MAX_PARTS = 100_000;

/** A refused request: its HTTP status and JSON body. */
export class AttachmentRequestError extends Error {
  override name = 'AttachmentRequestError';
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown> = { error: message },
  ) {
    super(message);
  }
}

/** A validated upload announcement. */
export interface UploadAnnouncement {
  entryPath: string;
  attachmentPath: string;
  hash: string;
  size: number;
  mimeType: string;
  partSize: number;
  totalParts: number;
}

export type InitResult = { upload_id: null; status: 'already_exists' } | { upload_id: string; status: 'uploading'; uploaded_parts: number[] };

export interface AttachmentServiceOptions {
  blobs: BlobStore;
  meta: AttachmentMetaStore;
  auth: AccessStore;
  logger: Logger;
  /** Per-user limit of held blob bytes. */
  quotaBytes: number;
  now?: () => number;
}

export class AttachmentService {
  readonly blobs: BlobStore;
  readonly meta: AttachmentMetaStore;
  /** Serialises work on one upload, and on one user's quota. */
  private readonly mutex = new KeyedMutex();
  private readonly now: () => number;

  constructor(private readonly o: AttachmentServiceOptions) {
    this.blobs = o.blobs;
    this.meta = o.meta;
    this.now = o.now ?? Date.now;
  }

  get quotaBytes(): number {
    return this.o.quotaBytes;
  }

  get logger(): Logger {
    return this.o.logger;
  }

  /** Records of every workspace `user` owns, by hash (one per distinct blob). */
  private async heldByUser(user: string): Promise<Map<string, AttachmentRecord>> {
    const held = new Map<string, AttachmentRecord>();
    for (const ws of await this.o.auth.listWorkspaces(user)) {
      for (const r of await this.meta.listAttachments(ws.id)) if (!held.has(r.hash)) held.set(r.hash, r);
    }
    return held;
  }

  /** Bytes of the distinct blobs `user`'s workspaces hold. */
  async usedBytes(user: string): Promise<number> {
    let n = 0;
    for (const r of (await this.heldByUser(user)).values()) n += r.size;
    return n;
  }

  private async checkQuota(user: string, hash: string, size: number, held: Map<string, AttachmentRecord>): Promise<void> {
    if (held.has(hash)) return;
    let used = 0;
    for (const r of held.values()) used += r.size;
    if (used + size > this.o.quotaBytes) {
      throw new AttachmentRequestError(
        413,
        `Storage limit exceeded: ${used} of ${this.o.quotaBytes} bytes used, this attachment needs ${size} more`,
      );
    }
  }

  /** `POST .../attachments/uploads`. */
  async init(user: string, workspaceId: string, a: UploadAnnouncement): Promise<InitResult> {
    return this.mutex.run(`user:${user}`, async () => {
      const held = await this.heldByUser(user);
      const mine = held.get(a.hash);
      if (mine && (await this.blobs.blobSize(a.hash)) === mine.size) {
        // Held again under this path, as uploaded now (a path's latest upload is what `list` gives first).
        await this.meta.putAttachment(this.record(workspaceId, a.hash, mine.size, a.mimeType || mine.mimeType, a.attachmentPath));
        return { upload_id: null, status: 'already_exists' };
      }
      // Resume the upload of the same bytes in the same shape under the same path, if there is one
      // (equal bytes announced under another path meanwhile are an upload of their own, so each
      // path is held when its upload completes).
      for (const u of await this.meta.listUploads()) {
        if (u.workspaceId === workspaceId && u.hash === a.hash && u.size === a.size && u.partSize === a.partSize && u.attachmentPath === a.attachmentPath) {
          return { upload_id: u.uploadId, status: 'uploading', uploaded_parts: await this.blobs.receivedParts(u.uploadId) };
        }
      }
      await this.checkQuota(user, a.hash, a.size, held);
      const upload: UploadRecord = {
        uploadId: randomUUID(),
        workspaceId,
        hash: a.hash,
        size: a.size,
        mimeType: a.mimeType,
        partSize: a.partSize,
        totalParts: a.totalParts,
        attachmentPath: a.attachmentPath,
        entryPath: a.entryPath,
        createdAt: this.now(),
      };
      await this.meta.putUpload(upload);
      return { upload_id: upload.uploadId, status: 'uploading', uploaded_parts: [] };
    });
  }

  /** The upload `uploadId` of `workspaceId`; 404 when unknown there. */
  async upload(workspaceId: string, uploadId: string): Promise<UploadRecord> {
    const u = await this.meta.getUpload(uploadId);
    if (!u || u.workspaceId !== workspaceId) throw new AttachmentRequestError(404, `Unknown upload ${uploadId}`);
    return u;
  }

  /** Length part `n` of an upload must have; 400 when `n` is not one of its parts. */
  partLength(u: UploadRecord, n: number): number {
    if (!Number.isSafeInteger(n) || n < 1 || n > u.totalParts) {
      throw new AttachmentRequestError(400, `Part ${n} is out of range: this upload has parts 1 to ${u.totalParts}`);
    }
    return n < u.totalParts ? u.partSize : u.size - (u.totalParts - 1) * u.partSize;
  }

  /**
   * `POST .../uploads/{id}/complete`. `headProblem` (encrypted workspaces)
   * looks at the first bytes of the blob: a problem drops the upload, nothing stored.
   */
  async complete(
    user: string,
    workspaceId: string,
    uploadId: string,
    hash: string | null,
    headProblem?: (head: Uint8Array, size: number) => string | null,
  ): Promise<{ ok: true }> {
    return this.mutex.run(`upload:${uploadId}`, async () => {
      const u = await this.upload(workspaceId, uploadId);
      if (hash !== null && hash !== u.hash) throw new AttachmentRequestError(400, `hash ${hash} is not the hash this upload announced (${u.hash})`);
      const received = new Set(await this.blobs.receivedParts(uploadId));
      const missing: number[] = [];
      for (let n = 1; n <= u.totalParts; n++) if (!received.has(n)) missing.push(n);
      if (missing.length > 0) throw new AttachmentRequestError(409, `Missing parts: ${missing.join(', ')}`, { ok: false, missing_parts: missing });
      if (headProblem) {
        const problem = headProblem(await this.blobs.partHead(uploadId, 1, HEAD_CHECK_BYTES), u.size);
        if (problem !== null) {
          await this.blobs.removeUpload(uploadId);
          await this.meta.removeUpload(uploadId);
          const error = `Workspace is end-to-end encrypted and this upload is not a sealed attachment blob: ${problem}; nothing was stored`;
          throw new AttachmentRequestError(400, error, { ok: false, error });
        }
      }
      await this.mutex.run(`user:${user}`, async () => this.checkQuota(user, u.hash, u.size, await this.heldByUser(user)));
      const whole = await this.blobs.assemble(uploadId, u.totalParts, u.hash);
      // The workspace holds the blob before the upload goes: at no moment is a finished blob held by neither (gc.ts).
      if (whole) await this.meta.putAttachment(this.record(workspaceId, u.hash, u.size, u.mimeType, u.attachmentPath));
      await this.blobs.removeUpload(uploadId);
      await this.meta.removeUpload(uploadId);
      if (!whole) {
        this.o.logger.warn('attachment upload refused: hash mismatch', { workspace: workspaceId, upload: uploadId });
        throw new AttachmentRequestError(400, `The uploaded bytes do not hash to ${u.hash}; nothing was stored, upload again`, {
          ok: false,
          error: `The uploaded bytes do not hash to ${u.hash}; nothing was stored, upload again`,
        });
      }
      this.o.logger.info('attachment stored', { workspace: workspaceId, bytes: u.size });
      return { ok: true };
    });
  }

  /**
   * The blobs a workspace holds, the latest upload of each path first: how a
   * device finds the bytes of a path whose entry carries no hash (a link in
   * a body, a reference not filled yet).
   */
  async list(workspaceId: string): Promise<{ path: string; hash: string; size: number; mime_type: string; uploaded_at: number }[]> {
    const records = (await this.meta.listAttachments(workspaceId)).sort((a, b) => b.createdAt - a.createdAt);
    return records.map((r) => ({ path: r.path, hash: r.hash, size: r.size, mime_type: r.mimeType, uploaded_at: r.createdAt }));
  }

  /**
   * `POST .../attachments/live` (encrypted workspaces, whose references only
   * devices can read): the addresses the workspace's live entries name, sent
   * by a device. A holding named is referenced; one not named, recorded
   * before LIVE_LIST_SETTLE_MS, is unreferenced from now on (gc.ts drops it
   * after the grace period unless a later list names it again).
   */
  async markLive(user: string, workspaceId: string, addresses: ReadonlySet<string>): Promise<{ held: number; unreferenced: number }> {
    return this.mutex.run(`user:${user}`, async () => {
      const now = this.now();
      let unreferenced = 0;
      const held = await this.meta.listAttachments(workspaceId);
      for (const r of held) {
        let since = r.unreferencedSince;
        if (addresses.has(r.hash)) since = null;
        else if (since === null && now - r.createdAt >= LIVE_LIST_SETTLE_MS) since = now;
        if (since !== r.unreferencedSince) await this.meta.putAttachment({ ...r, unreferencedSince: since });
        if (since !== null) unreferenced++;
      }
      return { held: held.length, unreferenced };
    });
  }

  /** Holds an already stored blob in a workspace (snapshot import). */
  async hold(workspaceId: string, hash: string, size: number, mimeType: string, path: string): Promise<void> {
    await this.meta.putAttachment(this.record(workspaceId, hash, size, mimeType, path));
  }

  private record(workspaceId: string, hash: string, size: number, mimeType: string, path: string): AttachmentRecord {
    return { workspaceId, hash, size, mimeType, path, createdAt: this.now(), unreferencedSince: null };
  }
}
