/**
 * Attachments in snapshot zips (`include_attachments=true`).
 *
 * Export adds, after the markdown entries (snapshot.ts, streamed), the latest
 * blob of each attachment path the workspace holds, stored as is and read
 * from its file chunk by chunk, with the response's backpressure respected.
 * Import stores every entry that is not markdown as a blob (hashed as it
 * inflates, written with synchronous writes so nothing piles up in memory)
 * and holds it in the workspace under its path; the quota is checked against
 * the entries' declared sizes before anything is applied.
 */
import fs from 'node:fs';
import { ZipPassThrough } from 'fflate';
import { mimeTypeOf } from '../../../common/src/workspace/mime-types';
import type { SyncCore } from '../sync-core';
import { isSkippedSnapshotPath, safeSnapshotPath, SnapshotError, snapshotMarkdownFiles, type MoreEntries } from '../snapshot';
import { readZipDirectory, readZipEntry, ZipFormatError, type ZipEntry, type ZipSource } from '../zip-reader';
import { AttachmentRequestError, type AttachmentService } from './service';

const CHUNK_BYTES = 256 * 1024;
const isMarkdown = (p: string) => p.toLowerCase().endsWith('.md');

/**
 * The attachment entries of a workspace's snapshot zip (exportSnapshot's
 * `more`): the latest blob of each attachment path the workspace holds,
 * stored as is and read from its file chunk by chunk.
 */
export async function attachmentZipEntries(core: SyncCore, service: AttachmentService, workspaceId: string): Promise<MoreEntries> {
  const taken = new Set((await snapshotMarkdownFiles(core, workspaceId)).map((f) => f.key));
  const blobs: { path: string; hash: string }[] = [];
  for (const h of await service.list(workspaceId)) {
    const p = safeSnapshotPath(h.path);
    if (p === null || p !== h.path || isSkippedSnapshotPath(p) || isMarkdown(p) || taken.has(p)) continue;
    if ((await service.blobs.blobSize(h.hash)) === null) continue;
    taken.add(p);
    blobs.push({ path: p, hash: h.hash });
  }
  return async (zip, drain) => {
    for (const b of blobs) {
      const entry = new ZipPassThrough(b.path);
      zip.add(entry);
      const fd = fs.openSync(service.blobs.blobPath(b.hash), 'r');
      try {
        const buf = Buffer.alloc(CHUNK_BYTES);
        for (;;) {
          const n = fs.readSync(fd, buf, 0, CHUNK_BYTES, null);
          entry.push(n === 0 ? new Uint8Array(0) : new Uint8Array(buf.subarray(0, n)), n === 0);
          if (n === 0) break;
          await drain();
        }
      } finally {
        fs.closeSync(fd);
      }
    }
  };
}

/** The attachment entries of a zip: safe paths that are not markdown and not skipped. */
async function attachmentEntries(zip: ZipSource, maxEntries: number): Promise<{ entry: ZipEntry; path: string }[]> {
  const out: { entry: ZipEntry; path: string }[] = [];
  for (const entry of await asSnapshotError(() => readZipDirectory(zip, maxEntries))) {
    if (entry.name.endsWith('/')) continue;
    const p = safeSnapshotPath(entry.name);
    if (p === null || isSkippedSnapshotPath(p) || isMarkdown(p)) continue;
    out.push({ entry, path: p });
  }
  return out;
}

/** Throws 413 when the attachments of a zip would take `user` past the quota (before anything is applied). */
export async function checkSnapshotAttachmentQuota(service: AttachmentService, user: string, zip: ZipSource, maxEntries: number): Promise<void> {
  let declared = 0;
  for (const { entry } of await attachmentEntries(zip, maxEntries)) declared += entry.uncompressedSize;
  if (declared === 0) return;
  const used = await service.usedBytes(user);
  if (used + declared > service.quotaBytes) {
    throw new AttachmentRequestError(413, `Storage limit exceeded: ${used} of ${service.quotaBytes} bytes used, the snapshot's attachments need ${declared} more`);
  }
}

/** Stores the attachments of an uploaded zip; resolves to how many were stored. */
export async function importSnapshotAttachments(service: AttachmentService, workspaceId: string, zip: ZipSource, maxEntries: number): Promise<number> {
  let count = 0;
  for (const { entry, path: p } of await attachmentEntries(zip, maxEntries)) {
    const writer = service.blobs.openWriter();
    try {
      await asSnapshotError(() =>
        readZipEntry(
          zip,
          entry,
          entry.uncompressedSize,
          () => new ZipFormatError(`entry larger than it declares: ${entry.name}`),
          (chunk) => writer.write(chunk),
        ),
      );
      const { hash, size } = await writer.commit();
      await service.hold(workspaceId, hash, size, mimeTypeOf(p), p);
      count++;
    } finally {
      writer.abort();
    }
  }
  return count;
}

/** A zip that cannot be read is bad input (400), as for the markdown entries. */
async function asSnapshotError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ZipFormatError) throw new SnapshotError(`Invalid snapshot zip: ${e.message}`);
    throw e;
  }
}
