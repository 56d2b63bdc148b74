/**
 * Workspace snapshot zips (upload for LinkWorkspace/UploadWorkspaceSnapshot,
 * import for DownloadWorkspace): workspace-relative entries, sorted, Deflate;
 * Markdown as text, other files only with attachments. Dot files, `._*`,
 * `__MACOSX`, `Thumbs.db` and `desktop.ini` are skipped; entries with `..` or
 * absolute paths are rejected on import.
 */
import { unzipSync, zipSync, type Zippable } from 'fflate';
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

/** Reads the workspace files from disk through the host. */
export function collectWorkspaceFiles(host: HostBridge, root: string, includeAttachments: boolean): SnapshotFile[] {
  const prefix = root === '' || root === '.' ? '' : root.replace(/\/+$/, '');
  const entries = host.listFiles(prefix);
  const files: SnapshotFile[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    let rel = entry.replace(/\\/g, '/');
    if (prefix && rel.startsWith(prefix + '/')) rel = rel.slice(prefix.length + 1);
    const path = normalizeSnapshotEntryPath(rel);
    if (!path || seen.has(path) || isSkippedSnapshotPath(path)) continue;
    if (!isMarkdown(path) && !includeAttachments) continue;
    const full = prefix ? `${prefix}/${path}` : path;
    let data: Uint8Array;
    try {
      data = isMarkdown(path) ? new TextEncoder().encode(host.readFile(full)) : host.readBinary(full);
    } catch {
      continue; // a directory or an unreadable entry
    }
    if (!isMarkdown(path) && data.length === 0 && !host.fileExists(full)) continue;
    seen.add(path);
    files.push({ path, data });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return files;
}

export function buildSnapshotZip(files: SnapshotFile[]): Uint8Array {
  const zippable: Zippable = {};
  for (const f of files) zippable[f.path] = [f.data, { level: 6 }];
  return zipSync(zippable);
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
