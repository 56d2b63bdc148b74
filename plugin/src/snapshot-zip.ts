/**
 * Workspace snapshot zips (upload for LinkWorkspace/UploadWorkspaceSnapshot,
 * import for DownloadWorkspace): workspace-relative entries, sorted, Deflate;
 * Markdown as text, other files only with attachments. Dot files, `._*`,
 * `__MACOSX`, `Thumbs.db` and `desktop.ini` are skipped; entries with `..` or
 * absolute paths are rejected on import.
 */
import { unzipSync, Zip, ZipDeflate } from 'fflate';
import { zipEntryTime } from '../../common/src/zip-entry-time';
import type { HostBridge } from './host/bridge';

export class SnapshotZipError extends Error {
  override name = 'SnapshotZipError';
}

/** True for paths the snapshot never carries. */
export function isSkippedSnapshotPath(path: string): boolean {
  return path.split('/').some((part) => part.startsWith('.') || part === '__MACOSX' || part === 'Thumbs.db' || part === 'desktop.ini');
}

/** A safe workspace-relative entry path, or null (`..`, absolute, empty). */
export function normalizeSnapshotEntryPath(path: string): string | null {
  const parts: string[] = [];
  if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path)) return null;
  for (const part of path.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return null;
    parts.push(part);
  }
  return parts.length ? parts.join('/') : null;
}

export interface SnapshotFile {
  path: string;
  data: Uint8Array;
}

const isMarkdown = (path: string) => path.toLowerCase().endsWith('.md');

/** Receives per-file progress while a zip is built or read. */
export interface FileProgress {
  begin(total: number): void;
  advance(completed: number): void;
}

export interface WorkspaceZip {
  zip: Uint8Array;
  /** Files in the zip. */
  fileCount: number;
  /** Their workspace-relative paths. */
  paths: string[];
}

/**
 * The workspace entries a snapshot would carry, workspace-relative and sorted
 * (directories, skipped and, without attachments, non-Markdown paths left out).
 */
function snapshotCandidates(host: HostBridge, prefix: string, includeAttachments: boolean): string[] {
  const entries = host.listFiles(prefix).map((e) => {
    let rel = e.replace(/\\/g, '/');
    if (prefix && rel.startsWith(prefix + '/')) rel = rel.slice(prefix.length + 1);
    return normalizeSnapshotEntryPath(rel);
  });
  // Hosts list folders too: an entry that is the parent of another one is a folder.
  const folders = new Set<string>();
  for (const path of entries) {
    if (!path) continue;
    for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) folders.add(path.slice(0, i));
  }
  const out = new Set<string>();
  for (const path of entries) {
    if (!path || folders.has(path) || isSkippedSnapshotPath(path)) continue;
    if (!isMarkdown(path) && !includeAttachments) continue;
    out.add(path);
  }
  return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Reads the workspace files through the host and deflates them into a zip,
 * one file after the other, sorted by path (entries are streamed, so each
 * file's size and CRC follow its data). `progress` counts the files read.
 */
export function zipWorkspaceFiles(host: HostBridge, root: string, includeAttachments: boolean, progress?: FileProgress): WorkspaceZip {
  const prefix = root === '' || root === '.' ? '' : root.replace(/\/+$/, '');
  const paths = snapshotCandidates(host, prefix, includeAttachments);
  const mtime = zipEntryTime(host.timestamp());
  const chunks: Uint8Array[] = [];
  let failure: Error | null = null;
  const zip = new Zip((err, chunk) => {
    if (err) failure = err;
    else chunks.push(chunk);
  });
  progress?.begin(paths.length);
  let fileCount = 0;
  const zipped: string[] = [];
  paths.forEach((path, i) => {
    const full = prefix ? `${prefix}/${path}` : path;
    let data: Uint8Array | null;
    try {
      data = isMarkdown(path) ? new TextEncoder().encode(host.readFile(full)) : host.readBinary(full);
      if (!isMarkdown(path) && data.length === 0 && !host.fileExists(full)) data = null;
    } catch {
      data = null; // a folder or an unreadable entry
    }
    if (data !== null) {
      const entry = new ZipDeflate(path, { level: 6 });
      // The host's clock, not the guest's: the same workspace zips to the same bytes under a replayed clock.
      entry.mtime = mtime;
      zip.add(entry);
      entry.push(data, true);
      fileCount++;
      zipped.push(path);
    }
    progress?.advance(i + 1);
  });
  zip.end();
  if (failure !== null) throw new SnapshotZipError(`building the snapshot zip failed: ${(failure as Error).message}`);
  const size = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return { zip: out, fileCount, paths: zipped };
}

/** Parses a snapshot zip into safe entries; throws SnapshotZipError on a bad archive or path. */
export function readSnapshotZip(bytes: Uint8Array, includeAttachments: boolean): SnapshotFile[] {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new SnapshotZipError((e as Error).message);
  }
  const files: SnapshotFile[] = [];
  for (const [name, data] of Object.entries(entries)) {
    if (name.endsWith('/')) continue; // directory entry
    const path = normalizeSnapshotEntryPath(name);
    if (path === null) throw new SnapshotZipError(`unsafe entry path: ${name}`);
    if (isSkippedSnapshotPath(path)) continue;
    if (!isMarkdown(path) && !includeAttachments) continue;
    files.push({ path, data });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return files;
}
