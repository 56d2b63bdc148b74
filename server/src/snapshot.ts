/**
 * Workspace snapshot zips (server/README.md, "HTTP API"): the materialised
 * markdown of a workspace, one entry per active file (front matter from the
 * workspace doc + body from its body doc), sorted, Deflate.
 *
 * Import parses every `.md` entry (front matter -> FileMetadata, rest -> body)
 * and applies it as ordinary document changes, so they are stored and relayed
 * to connected clients like any client update. `mode=replace` also
 * soft-deletes files missing from the zip. Entries are refused as a whole when
 * one has an unsafe path (`..`, absolute) or unparsable front matter; dot
 * files, `__MACOSX`, `Thumbs.db` and `desktop.ini` are skipped. Attachments
 * (the other entries) are exported and imported by attachments/snapshot-attachments.ts.
 */
import { Zip, ZipDeflate } from 'fflate';
import * as Y from 'yjs';
import { bodyDocId, workspaceDocId } from '../../common/src/wire/frame';
import { zipEntryTime } from '../../common/src/zip-entry-time';
import { parseFileMarkdown } from '../../common/src/workspace/frontmatter';
import { renderFaithful, withSourceFrontmatter } from '../../common/src/workspace/source-frontmatter';
import { metadataEqual, type FileMetadata } from '../../common/src/workspace/metadata';
import { compareKeys } from '../../common/src/workspace/paths';
import type { SyncCore } from './sync-core';
import { activeWorkspaceFiles, readBodyText, readWorkspaceFiles, writeBodyText, writeFileMetadata } from './workspace-files';
import { bytesZipSource, readZipDirectory, readZipEntry, ZipFormatError, type ZipSource } from './zip-reader';

/** Origin of the changes an import makes (logs, hooks). */
export const SNAPSHOT_IMPORT_ORIGIN = 'snapshot-import';
const SKIPPED_NAMES = new Set(['__MACOSX', 'Thumbs.db', 'desktop.ini']);
const DEFLATE_LEVEL = 6;

/** How an upload treats files that are not in the zip. */
export type ImportMode = 'replace' | 'merge';

/** A zip that cannot be imported; the message names the entry. Nothing was applied. */
export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

/** True for paths a snapshot never carries: a component starting with `.` (incl. `._x`), `__MACOSX`, `Thumbs.db`, `desktop.ini`. */
export function isSkippedSnapshotPath(path: string): boolean {
  return path.split('/').some((part) => part.startsWith('.') || SKIPPED_NAMES.has(part));
}

/** The workspace-relative path of a zip entry, or null when it is unsafe (`..`, absolute, drive letter, NUL, empty). */
export function safeSnapshotPath(name: string): string | null {
  const p = name.replace(/\\/g, '/');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.includes('\0')) return null;
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return null;
    parts.push(part);
  }
  return parts.length > 0 ? parts.join('/') : null;
}

const isMarkdown = (path: string) => path.toLowerCase().endsWith('.md');

/** A turn for the event loop (between exported pieces, between imported entries: each is inflated in the zlib thread pool). */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Deflated per push while exporting: one file's text does not hold the event loop in one piece. */
const EXPORT_PIECE_BYTES = 256 * 1024;

/** The active files a workspace's snapshot holds, sorted by path (their zip paths are their keys). */
export async function snapshotMarkdownFiles(core: SyncCore, workspaceId: string): Promise<{ key: string; metadata: FileMetadata }[]> {
  const files = await core.read(workspaceDocId(workspaceId), activeWorkspaceFiles);
  return files.filter(({ key }) => safeSnapshotPath(key) === key && !isSkippedSnapshotPath(key)).sort((a, b) => compareKeys(a.key, b.key));
}

/** Adds entries after the markdown ones (attachments); `drain` hands what the zip produced to the writer. */
export type MoreEntries = (zip: Zip, drain: () => Promise<void>) => Promise<void>;

/**
 * Writes the snapshot zip of a workspace from its documents, file after
 * file, to `write` (which resolves when the chunk may be followed by more:
 * the receiver's backpressure), then what `more` adds. Only one file's text
 * is held at a time, and the event loop gets a turn between pieces. Throws
 * before the first chunk when the workspace cannot be read; a later failure
 * leaves the zip unfinished (the caller drops the response).
 */
export async function exportSnapshot(core: SyncCore, workspaceId: string, write: (chunk: Uint8Array) => Promise<void>, more?: MoreEntries): Promise<void> {
  const entries = await snapshotMarkdownFiles(core, workspaceId);
  const pending: Uint8Array[] = [];
  let failure: Error | null = null;
  const zip = new Zip((err, chunk) => {
    if (err) failure = err;
    else pending.push(chunk);
  });
  const drain = async () => {
    if (failure !== null) throw failure;
    while (pending.length > 0) await write(pending.shift()!);
  };
  const encoder = new TextEncoder();
  for (const { key, metadata } of entries) {
    const body = await core.read(bodyDocId(workspaceId, key), readBodyText);
    // Each file as its author wrote it (the recorded front matter block), like every device writes it.
    const bytes = encoder.encode(renderFaithful(key, metadata, body, null));
    const entry = new ZipDeflate(key, { level: DEFLATE_LEVEL });
    entry.mtime = zipEntryTime(metadata.modified_at);
    zip.add(entry);
    for (let at = 0; at < bytes.length || at === 0; at += EXPORT_PIECE_BYTES) {
      const end = Math.min(bytes.length, at + EXPORT_PIECE_BYTES);
      entry.push(bytes.subarray(at, end), end === bytes.length);
      await drain();
      await yieldToEventLoop();
      if (bytes.length === 0) break;
    }
  }
  await more?.(zip, drain);
  zip.end();
  await drain();
}

/** One parsed markdown entry of an upload. */
interface ImportedFile {
  key: string;
  metadata: FileMetadata;
  body: string;
}

/** Limits of one snapshot upload. */
export interface SnapshotLimits {
  /** Entries in the zip (all of them, markdown or not). */
  maxEntries: number;
  /** Inflated bytes of the markdown entries together. */
  maxUnzippedBytes: number;
  /** One file's text (its body doc cannot be smaller). */
  maxFileBytes: number;
}


/**
 * Reads and parses the markdown entries of a zip; throws SnapshotError with
 * the limit or the entry that failed. Inflated bytes are counted as they come,
 * so a zip bomb stops at `maxUnzippedBytes`.
 */
export async function readSnapshotMarkdown(src: ZipSource | Uint8Array, limits: SnapshotLimits, now: () => number): Promise<ImportedFile[]> {
  const source = src instanceof Uint8Array ? bytesZipSource(src) : src;
  let remaining = limits.maxUnzippedBytes;
  const byKey = new Map<string, ImportedFile>();
  try {
    const entries = await readZipDirectory(source, limits.maxEntries);
    const wanted: { key: string; entry: (typeof entries)[number] }[] = [];
    for (const entry of entries) {
      const key = safeSnapshotPath(entry.name);
      if (key === null) throw new SnapshotError(`Unsafe path in zip: ${JSON.stringify(entry.name)}`);
      if (entry.name.endsWith('/') || !isMarkdown(key) || isSkippedSnapshotPath(key)) continue;
      wanted.push({ key, entry });
    }
    for (const { key, entry } of wanted) {
      const tooBig = () => new SnapshotError(`${key} is larger than ${limits.maxFileBytes} bytes`);
      const tooMuch = () => new SnapshotError(`Markdown in the zip exceeds ${limits.maxUnzippedBytes} bytes uncompressed`);
      // Declared sizes can be forged: they only refuse early; the inflated bytes are what counts.
      if (entry.uncompressedSize > limits.maxFileBytes) throw tooBig();
      const cap = Math.min(remaining, limits.maxFileBytes);
      // Decoded as it inflates, so no single step holds the event loop for a whole file.
      const decoder = new TextDecoder('utf-8', { fatal: true });
      const notUtf8 = () => new SnapshotError(`Not UTF-8 text: ${key}`);
      let text = '';
      await readZipEntry(source, entry, cap, cap < limits.maxFileBytes ? tooMuch : tooBig, (chunk) => {
        remaining -= chunk.byteLength;
        try {
          text += decoder.decode(chunk, { stream: true });
        } catch {
          throw notUtf8();
        }
      });
      try {
        text += decoder.decode();
      } catch {
        throw notUtf8();
      }
      try {
        const parsed = parseFileMarkdown(key, text, now);
        // The block as written goes along, as a device reading the file records it.
        byKey.set(key, { key, metadata: withSourceFrontmatter(parsed.metadata, text), body: parsed.body });
      } catch (e) {
        throw new SnapshotError((e as Error).message);
      }
      await yieldToEventLoop();
    }
  } catch (e) {
    if (e instanceof ZipFormatError) throw new SnapshotError(`Invalid zip archive: ${e.message}`);
    throw e;
  }
  return [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
}

/**
 * Applies an upload to a workspace: bodies first, then the file table in one
 * transaction. Resolves to the number of markdown files imported.
 */
export async function importSnapshot(
  core: SyncCore,
  workspaceId: string,
  zip: ZipSource | Uint8Array,
  mode: ImportMode,
  options: SnapshotLimits & { now: () => number },
): Promise<number> {
  const files = await readSnapshotMarkdown(zip, options, options.now);
  for (const f of files) {
    await core.change(bodyDocId(workspaceId, f.key), SNAPSHOT_IMPORT_ORIGIN, (doc) => writeBodyText(doc, f.body));
    await yieldToEventLoop();
  }
  await core.change(workspaceDocId(workspaceId), SNAPSHOT_IMPORT_ORIGIN, (doc: Y.Doc) => {
    const existing = new Map(readWorkspaceFiles(doc).map((f) => [f.key, f.metadata]));
    for (const f of files) {
      const prev = existing.get(f.key);
      if (!prev || !metadataEqual(prev, f.metadata)) writeFileMetadata(doc, f.key, f.metadata);
    }
    if (mode !== 'replace') return;
    const imported = new Set(files.map((f) => f.key));
    for (const [key, prev] of existing) {
      if (!prev.deleted && !imported.has(key)) writeFileMetadata(doc, key, { ...prev, deleted: true, modified_at: options.now() });
    }
  });
  return files.length;
}
