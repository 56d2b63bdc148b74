/**
 * Attachment garbage collection. A workspace's blob is referenced while an
 * entry that is not deleted lists it in `attachments` (by hash, or, for a
 * reference without a hash yet, by path: the workspace-relative path or the
 * path relative to the entry's folder). An unreferenced blob is kept for the
 * grace period (`--attachment-grace-days`) and then dropped from the
 * workspace; a blob file no workspace holds and no upload is writing is
 * deleted. Uploads not completed within the grace period are dropped too.
 */
import * as Y from 'yjs';
import { workspaceDocId } from '../../../common/src/wire/frame';
import type { Logger } from '../log';
import type { SyncCore } from '../sync-core';
import { activeWorkspaceFiles } from '../workspace-files';
import { workspacePath } from './routes';
import type { AttachmentService } from './service';

/** What the entries of a workspace reference. */
export interface WorkspaceReferences {
  hashes: Set<string>;
  paths: Set<string>;
}

/** The references of a workspace doc's live entries. */
export function workspaceReferences(doc: Y.Doc): WorkspaceReferences {
  const hashes = new Set<string>();
  const paths = new Set<string>();
  for (const f of activeWorkspaceFiles(doc)) {
    const dir = f.key.includes('/') ? f.key.slice(0, f.key.lastIndexOf('/') + 1) : '';
    for (const ref of f.metadata.attachments) {
      if (ref.deleted) continue;
      if (ref.hash !== '') hashes.add(ref.hash.toLowerCase());
      const asIs = workspacePath(ref.path);
      if (asIs !== null) paths.add(asIs);
      if (!ref.path.startsWith('/')) {
        const relative = workspacePath(dir + ref.path);
        if (relative !== null) paths.add(relative);
      }
    }
  }
  return { hashes, paths };
}

export interface GcResult {
  /** Workspace holdings dropped after the grace period. */
  droppedRecords: number;
  /** Blob files deleted. */
  deletedBlobs: number;
  /** Stale uploads dropped. */
  droppedUploads: number;
}

/**
 * One collection pass. `isEncrypted` names workspaces whose references the server cannot read (their
 * workspace doc is ciphertext): only their devices' live lists mark holdings unreferenced
 * (AttachmentService.markLive), and those go after the grace period; the rest are kept.
 */
export async function collectAttachmentGarbage(
  service: AttachmentService,
  core: SyncCore,
  graceMs: number,
  now: number,
  logger: Logger,
  isEncrypted: (workspaceId: string) => Promise<boolean> = async () => false,
): Promise<GcResult> {
  const result: GcResult = { droppedRecords: 0, deletedBlobs: 0, droppedUploads: 0 };
  const records = await service.meta.listAttachments(null);
  const byWorkspace = new Map<string, typeof records>();
  for (const r of records) byWorkspace.set(r.workspaceId, [...(byWorkspace.get(r.workspaceId) ?? []), r]);
  for (const [workspaceId, held] of byWorkspace) {
    if (await isEncrypted(workspaceId)) {
      for (const r of held) {
        if (r.unreferencedSince === null || now - r.unreferencedSince < graceMs) continue;
        await service.meta.removeAttachment(workspaceId, r.hash, r.path);
        result.droppedRecords++;
      }
      continue;
    }
    const refs = await core.read(workspaceDocId(workspaceId), workspaceReferences);
    for (const r of held) {
      const referenced = refs.hashes.has(r.hash) || refs.paths.has(r.path);
      if (referenced) {
        if (r.unreferencedSince !== null) await service.meta.putAttachment({ ...r, unreferencedSince: null });
      } else if (r.unreferencedSince === null) {
        await service.meta.putAttachment({ ...r, unreferencedSince: now });
      } else if (now - r.unreferencedSince >= graceMs) {
        await service.meta.removeAttachment(workspaceId, r.hash, r.path);
        result.droppedRecords++;
      }
    }
  }
  const uploads = await service.meta.listUploads();
  for (const u of uploads) {
    if (now - u.createdAt >= graceMs) {
      await service.blobs.removeUpload(u.uploadId);
      await service.meta.removeUpload(u.uploadId);
      result.droppedUploads++;
    }
  }
  // Uploads before records: an upload completing meanwhile is held by its workspace before its upload goes.
  const live = new Set((await service.meta.listUploads()).map((u) => u.hash));
  for (const r of await service.meta.listAttachments(null)) live.add(r.hash);
  for (const hash of await service.blobs.listBlobs()) {
    if (live.has(hash)) continue;
    // A file written within the grace period stays: a blob just stored (a snapshot import holds it
    // right after writing it; another node may be finishing an upload) is not garbage yet.
    const writtenAt = await service.blobs.blobWrittenAt(hash);
    if (writtenAt === null || now - writtenAt < graceMs) continue;
    await service.blobs.removeBlob(hash);
    result.deletedBlobs++;
  }
  if (result.droppedRecords + result.deletedBlobs + result.droppedUploads > 0) logger.info('attachments collected', { ...result });
  return result;
}
