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
 * files, `__MACOSX`, `Thumbs.db` and `desktop.ini` are skipped. This server
 * stores no attachments: non-markdown entries are ignored on import and never
 * exported.
 */
import { zipSync, type Zippable } from 'fflate';
import * as Y from 'yjs';
import { bodyDocId, workspaceDocId } from '../../common/src/wire/frame';
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

/** Builds the snapshot zip of a workspace from its documents. */
export async function exportSnapshot(core: SyncCore, workspaceId: string): Promise<Uint8Array> {
  const files = await core.read(workspaceDocId(workspaceId), activeWorkspaceFiles);
  const zippable: Zippable = {};
  const encoder = new TextEncoder();
  for (const { key, metadata } of files) {
    const path = safeSnapshotPath(key);
    if (path === null || path !== key || isSkippedSnapshotPath(path)) continue;
    const body = await core.read(bodyDocId(workspaceId, key), readBodyText);
    // Each file as its author wrote it (the recorded front matter block), like every device writes it.
    zippable[path] = [encoder.encode(renderFaithful(key, metadata, body, null)), { level: DEFLATE_LEVEL }];
  }
  const sorted: Zippable = {};
  for (const path of Object.keys(zippable).sort(compareKeys)) sorted[path] = zippable[path];
  return zipSync(sorted);
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

/** A turn for the event loop between entries (each is inflated in the zlib thread pool). */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

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
