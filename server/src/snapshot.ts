/**
 * Workspace snapshot zips (state.md 5.4, server.md 8): the materialised
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
import { unzipSync, zipSync, type Zippable } from 'fflate';
import * as Y from 'yjs';
import { bodyDocId, workspaceDocId } from '../../common/src/wire/frame';
import { parseFileMarkdown, renderFileMarkdown } from '../../plugin/src/core/frontmatter';
import { metadataEqual, type FileMetadata } from '../../plugin/src/core/metadata';
import { compareKeys } from '../../plugin/src/core/paths';
import type { SyncCore } from './sync-core';
import { activeWorkspaceFiles, readBodyText, readWorkspaceFiles, writeBodyText, writeFileMetadata } from './workspace-files';

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
    zippable[path] = [encoder.encode(renderFileMarkdown(metadata, body)), { level: DEFLATE_LEVEL }];
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

/** Reads and parses the markdown entries of a zip; throws SnapshotError. */
export function readSnapshotMarkdown(zip: Uint8Array, maxUnzippedBytes: number, now: () => number): ImportedFile[] {
  let total = 0;
  let tooBig = false;
  let unsafe: string | null = null;
  let raw: Record<string, Uint8Array>;
  try {
    raw = unzipSync(zip, {
      filter: (file) => {
        const path = safeSnapshotPath(file.name);
        if (path === null) unsafe ??= file.name;
        if (path === null || file.name.endsWith('/') || !isMarkdown(path) || isSkippedSnapshotPath(path)) return false;
        total += file.originalSize;
        if (total > maxUnzippedBytes) tooBig = true;
        return !tooBig;
      },
    });
  } catch (e) {
    throw new SnapshotError(`Invalid zip archive: ${(e as Error).message}`);
  }
  if (unsafe !== null) throw new SnapshotError(`Unsafe path in zip: ${JSON.stringify(unsafe)}`);
  if (tooBig) throw new SnapshotError(`Markdown in the zip exceeds ${maxUnzippedBytes} bytes uncompressed`);
  const byKey = new Map<string, ImportedFile>();
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (const [name, data] of Object.entries(raw)) {
    const key = safeSnapshotPath(name);
    if (key === null) continue; // refused above
    let text: string;
    try {
      text = decoder.decode(data);
    } catch {
      throw new SnapshotError(`Not UTF-8 text: ${key}`);
    }
    try {
      byKey.set(key, { key, ...parseFileMarkdown(key, text, now) });
    } catch (e) {
      throw new SnapshotError((e as Error).message);
    }
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
  zip: Uint8Array,
  mode: ImportMode,
  options: { maxUnzippedBytes: number; now: () => number },
): Promise<number> {
  const files = readSnapshotMarkdown(zip, options.maxUnzippedBytes, options.now);
  for (const f of files) {
    await core.change(bodyDocId(workspaceId, f.key), SNAPSHOT_IMPORT_ORIGIN, (doc) => writeBodyText(doc, f.body));
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
