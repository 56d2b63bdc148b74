/**
 * Change detection for the workspace `files` map, shared by WorkspaceCrdt:
 * reading a map into a deduped snapshot (`collect_files_snapshot`), the
 * created / restored / deleted / changed keys and rename pairing of
 * `apply_update_tracking_changes`, and the rules of the 5 s concurrent front
 * matter merge (`should_merge_concurrent_frontmatter`,
 * `merge_nonstructural_frontmatter`).
 */
import * as Y from 'yjs';
import { cloneMetadata, metadataContentEqual, parseMetadata, type FileMetadata, type JsonValue } from '../../../common/src/workspace/metadata';
import { compareKeys, isTempFile, normalizeSyncKey } from '../../../common/src/workspace/paths';
import { SOURCE_FRONTMATTER_KEY } from '../../../common/src/workspace/source-frontmatter';

export const CONCURRENT_FRONTMATTER_MERGE_WINDOW_MS = 5000;
const RENAME_TIMESTAMP_THRESHOLD_MS = 5000;

export interface ApplyResult {
  /** Keys created, restored, newly deleted or changed in content, in detection order. */
  changed: string[];
  /** Detected renames `[old, new]`. */
  renames: [string, string][];
  /**
   * Active keys whose only change is `modified_at` (not in `changed`, as in
   * the original; the disk writer still needs them for the `updated` line).
   */
  retimed: string[];
  /** Keys created or restored (not active before, active now), a subset of `changed`. */
  appeared: string[];
  /**
   * Keys whose live entry here became a tombstone written by a device that
   * had not seen that entry (filled in by WorkspaceCrdt.applyUpdate).
   */
  deletedUnseen: string[];
}

export type Snapshot = Map<string, FileMetadata>;

export function valueToMetadata(v: unknown): FileMetadata | null {
  if (typeof v === 'string') return parseMetadata(v);
  if (v instanceof Y.Text) return parseMetadata(v.toString());
  return null;
}

/** `collect_files_snapshot`: normalised keys, temp files skipped, aliases deduped (newer wins, then non-deleted). */
export function collectSnapshot(files: Y.Map<unknown>): Snapshot {
  const out: Snapshot = new Map();
  const keys = [...files.keys()].sort(compareKeys);
  for (const raw of keys) {
    const key = normalizeSyncKey(raw);
    if (isTempFile(key)) continue;
    const meta = valueToMetadata(files.get(raw));
    if (meta === null) continue;
    const existing = out.get(key);
    if (
      existing === undefined ||
      meta.modified_at > existing.modified_at ||
      (meta.modified_at === existing.modified_at && !meta.deleted && existing.deleted)
    ) {
      out.set(key, meta);
    }
  }
  return out;
}

export function sortedEntries(s: Snapshot): [string, FileMetadata][] {
  return [...s.entries()].sort((a, b) => compareKeys(a[0], b[0]));
}

function meaningfulString(v: string | null): boolean {
  return v !== null && v !== '';
}

function meaningfulJson(v: JsonValue): boolean {
  if (v === null) return false;
  if (typeof v === 'string' || Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function hasKey(o: Record<string, JsonValue>, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

function hasNovelNonstructural(candidate: FileMetadata, other: FileMetadata): boolean {
  if (meaningfulString(candidate.description) && !meaningfulString(other.description)) return true;
  if (candidate.audience !== null && candidate.audience.length > 0 && other.audience === null) return true;
  return Object.keys(candidate.extra).some((k) => k !== SOURCE_FRONTMATTER_KEY && meaningfulJson(candidate.extra[k]) && !hasKey(other.extra, k));
}

export function shouldMergeConcurrent(local: FileMetadata, remote: FileMetadata): boolean {
  if (local.deleted || remote.deleted) return false;
  if (local.modified_at <= 0 || remote.modified_at <= 0) return false;
  if (Math.abs(local.modified_at - remote.modified_at) > CONCURRENT_FRONTMATTER_MERGE_WINDOW_MS) return false;
  return hasNovelNonstructural(local, remote) && hasNovelNonstructural(remote, local);
}

export function mergeNonstructural(winner: FileMetadata, other: FileMetadata): FileMetadata {
  const merged = cloneMetadata(winner);
  if (!meaningfulString(merged.description) && meaningfulString(other.description)) merged.description = other.description;
  if (merged.audience === null && other.audience !== null && other.audience.length > 0) merged.audience = [...other.audience];
  for (const k of Object.keys(other.extra)) {
    // The other side's front matter block as written describes its metadata, not the merged one.
    if (k === SOURCE_FRONTMATTER_KEY) continue;
    if (meaningfulJson(other.extra[k]) && !hasKey(merged.extra, k)) merged.extra[k] = other.extra[k];
  }
  merged.modified_at = Math.max(merged.modified_at, other.modified_at);
  return merged;
}

/** Path of a doc-id keyed entry derived through `part_of` (null for path-keyed parents or broken chains). */
function derivePath(id: string, meta: FileMetadata, snap: Snapshot): string | null {
  const parts: string[] = [];
  const visited = new Set<string>();
  let currentId = id;
  let current = meta;
  for (;;) {
    if (visited.has(currentId)) return null;
    visited.add(currentId);
    if (current.filename === '') return null;
    parts.push(current.filename);
    const parent = current.part_of;
    if (parent === null) break;
    if (parent.includes('/') || parent.endsWith('.md')) return null;
    const parentMeta = snap.get(parent);
    if (parentMeta === undefined) return null;
    currentId = parent;
    current = parentMeta;
  }
  return parts.reverse().join('/');
}

/** Changed keys and renames between two snapshots (the detection part of `apply_update_tracking_changes`). */
export function diffSnapshots(before: Snapshot, after: Snapshot): ApplyResult {
  const afterEntries = sortedEntries(after);
  const beforeEntries = sortedEntries(before);
  const renames: [string, string][] = [];

  for (const [id, newMeta] of afterEntries) {
    const oldMeta = before.get(id);
    if (oldMeta === undefined || oldMeta.deleted || newMeta.deleted) continue;
    const oldPath = derivePath(id, oldMeta, before);
    const newPath = derivePath(id, newMeta, after);
    if (oldPath !== null && newPath !== null && oldPath !== newPath) renames.push([oldPath, newPath]);
  }

  const changed: string[] = [];
  const seen = new Set<string>();
  const add = (k: string): void => {
    if (!seen.has(k)) {
      seen.add(k);
      changed.push(k);
    }
  };
  const appeared: string[] = [];
  for (const [path, meta] of afterEntries) {
    if (!before.has(path) && !meta.deleted) {
      add(path);
      appeared.push(path);
    }
  }
  for (const [path, meta] of afterEntries) {
    const old = before.get(path);
    if (old !== undefined && old.deleted && !meta.deleted) {
      add(path);
      appeared.push(path);
    }
  }
  const nowDeleted = (path: string): boolean => after.get(path)?.deleted ?? true;
  for (const [path, old] of beforeEntries) if (nowDeleted(path) && !old.deleted) add(path);
  for (const [path, meta] of afterEntries) if (meta.deleted && !before.has(path)) add(path);
  for (const [path, meta] of afterEntries) {
    const old = before.get(path);
    if (old !== undefined && !metadataContentEqual(old, meta) && !meta.deleted && !old.deleted) add(path);
  }

  const retimed: string[] = [];
  for (const [path, meta] of afterEntries) {
    const old = before.get(path);
    if (old !== undefined && !seen.has(path) && !meta.deleted && !old.deleted && old.modified_at !== meta.modified_at) retimed.push(path);
  }

  const deletedFiles = beforeEntries.filter(([path, old]) => !old.deleted && nowDeleted(path));
  const createdFiles = afterEntries.filter(([path, meta]) => !before.has(path) && !meta.deleted);
  const matchedCreated = new Set<string>();
  const matchedDeleted = new Set<string>();
  const pair = (d: string, c: string): void => {
    renames.push([d, c]);
    matchedCreated.add(c);
    matchedDeleted.add(d);
  };

  for (const [dPath, dMeta] of deletedFiles) {
    for (const [cPath, cMeta] of createdFiles) {
      if (matchedCreated.has(cPath)) continue;
      if (dMeta.part_of === cMeta.part_of && dMeta.title !== null && dMeta.title === cMeta.title) {
        pair(dPath, cPath);
        break;
      }
    }
  }
  for (const [dPath, dMeta] of deletedFiles) {
    if (matchedDeleted.has(dPath)) continue;
    for (const [cPath, cMeta] of createdFiles) {
      if (matchedCreated.has(cPath)) continue;
      if (dMeta.part_of === cMeta.part_of && Math.abs(dMeta.modified_at - cMeta.modified_at) < RENAME_TIMESTAMP_THRESHOLD_MS) {
        pair(dPath, cPath);
        break;
      }
    }
  }
  for (const [cPath, cMeta] of createdFiles) {
    if (matchedCreated.has(cPath)) continue;
    const candidates = deletedFiles.filter(([dPath, dMeta]) => !matchedDeleted.has(dPath) && dMeta.part_of === cMeta.part_of);
    if (candidates.length === 1) pair(candidates[0][0], cPath);
  }
  return { changed, renames, retimed, appeared, deletedUnseen: [] };
}
