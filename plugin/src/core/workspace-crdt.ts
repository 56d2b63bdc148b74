/**
 * The workspace Y.Doc: one Y.Map `files`, key = workspace path, value = the
 * FileMetadata JSON text (state.md 5.1), with the behaviour of the Diaryx sync
 * crate's `WorkspaceCrdt` for path-keyed workspaces:
 *
 * - reads normalise and dedupe alias keys (`x`, `./x`, `/x`), skip temp files
 *   and values that are not valid FileMetadata;
 * - `setFile` writes the canonical key and removes its aliases;
 * - deletes are soft (tombstones, entries are never removed);
 * - `applyUpdate` reports created / restored / deleted / changed keys and
 *   renames (three pairing passes, plus doc-id path changes), and for
 *   remote/sync origins repairs the Y.Map last-writer-wins on concurrent
 *   non-structural front matter edits made within 5 s of each other.
 *
 * Local transactions are reported through `onLocalUpdate` (raw v1 update
 * bytes, to be sent as y-sync Update messages); every transaction through
 * `onUpdate` with its origin and the map keys it changed (for the history log).
 */
import * as Y from 'yjs';
import {
  cloneMetadata,
  metadataContentEqual,
  metadataEqual,
  parseMetadata,
  serializeMetadata,
  type FileMetadata,
  type JsonValue,
} from './metadata';
import { ORIGIN_LOCAL, ORIGIN_REMOTE, ORIGIN_SYNC, originOf, type UpdateOrigin } from './origin';
import { compareKeys, isTempFile, normalizeSyncKey } from './paths';

export { ORIGIN_LOCAL, ORIGIN_REMOTE, ORIGIN_SYNC, type UpdateOrigin };

export const FILES_MAP_NAME = 'files';
export const CONCURRENT_FRONTMATTER_MERGE_WINDOW_MS = 5000;
const RENAME_TIMESTAMP_THRESHOLD_MS = 5000;

export class WorkspaceCrdtError extends Error {
  override name = 'WorkspaceCrdtError';
}

export interface ApplyResult {
  /** Keys created, restored, newly deleted or changed in content, in detection order. */
  changed: string[];
  /** Detected renames `[old, new]`. */
  renames: [string, string][];
}

export type LocalUpdateListener = (update: Uint8Array) => void;
export type UpdateListener = (update: Uint8Array, origin: UpdateOrigin, changedKeys: string[]) => void;

type Snapshot = Map<string, FileMetadata>;

function valueToMetadata(v: unknown): FileMetadata | null {
  if (typeof v === 'string') return parseMetadata(v);
  if (v instanceof Y.Text) return parseMetadata(v.toString());
  return null;
}

/** `collect_files_snapshot`: normalised keys, temp files skipped, aliases deduped (newer wins, then non-deleted). */
function collectSnapshot(files: Y.Map<unknown>): Snapshot {
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

function sortedEntries(s: Snapshot): [string, FileMetadata][] {
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
  return Object.keys(candidate.extra).some((k) => meaningfulJson(candidate.extra[k]) && !hasKey(other.extra, k));
}

function shouldMergeConcurrent(local: FileMetadata, remote: FileMetadata): boolean {
  if (local.deleted || remote.deleted) return false;
  if (local.modified_at <= 0 || remote.modified_at <= 0) return false;
  if (Math.abs(local.modified_at - remote.modified_at) > CONCURRENT_FRONTMATTER_MERGE_WINDOW_MS) return false;
  return hasNovelNonstructural(local, remote) && hasNovelNonstructural(remote, local);
}

function mergeNonstructural(winner: FileMetadata, other: FileMetadata): FileMetadata {
  const merged = cloneMetadata(winner);
  if (!meaningfulString(merged.description) && meaningfulString(other.description)) merged.description = other.description;
  if (merged.audience === null && other.audience !== null && other.audience.length > 0) merged.audience = [...other.audience];
  for (const k of Object.keys(other.extra)) {
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

export class WorkspaceCrdt {
  readonly doc: Y.Doc;
  private readonly files: Y.Map<unknown>;
  private readonly localListeners = new Set<LocalUpdateListener>();
  private readonly updateListeners = new Set<UpdateListener>();
  private changedKeys: string[] = [];

  /** Wraps `doc` (a new Y.Doc by default). */
  constructor(doc?: Y.Doc) {
    this.doc = doc ?? new Y.Doc();
    this.files = this.doc.getMap(FILES_MAP_NAME);
    this.doc.on('beforeTransaction', () => {
      this.changedKeys = [];
    });
    this.files.observe((event) => {
      for (const [key, change] of event.changes.keys) {
        if (change.action === 'update' && change.oldValue === this.files.get(key)) continue;
        this.changedKeys.push(key);
      }
    });
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      const o = originOf(origin);
      const keys = [...new Set(this.changedKeys)].sort(compareKeys);
      this.changedKeys = [];
      if (o === ORIGIN_LOCAL) for (const cb of [...this.localListeners]) cb(update);
      for (const cb of [...this.updateListeners]) cb(update, o, keys);
    });
  }

  /** Called with the v1 update of every local transaction. Returns an unsubscribe function. */
  onLocalUpdate(cb: LocalUpdateListener): () => void {
    this.localListeners.add(cb);
    return () => this.localListeners.delete(cb);
  }

  /** Called for every transaction that changed the doc, with its origin and the raw map keys it changed. */
  onUpdate(cb: UpdateListener): () => void {
    this.updateListeners.add(cb);
    return () => this.updateListeners.delete(cb);
  }

  /** Metadata for `path` (canonical key first, then the alias given or `./key`). */
  getFile(path: string): FileMetadata | null {
    const normalized = normalizeSyncKey(path);
    let value = this.files.get(normalized);
    if (value === undefined) value = this.files.get(normalized !== path ? path : './' + normalized);
    return value === undefined ? null : valueToMetadata(value);
  }

  /**
   * Writes `meta` under the canonical key of `path` and removes the alias
   * keys. Temp files (`.tmp`, `.bak`, `.swap`) are ignored: returns false.
   */
  setFile(path: string, meta: FileMetadata): boolean {
    const normalized = normalizeSyncKey(path);
    if (isTempFile(normalized)) return false;
    if (normalized === '') throw new WorkspaceCrdtError(`Invalid file key: ${JSON.stringify(path)}`);
    const json = serializeMetadata(meta);
    this.doc.transact(() => {
      this.files.set(normalized, json);
      if (path !== normalized) this.files.delete(path);
      this.files.delete('./' + normalized);
      this.files.delete('/' + normalized);
    }, ORIGIN_LOCAL);
    return true;
  }

  /**
   * Soft delete: `deleted = true`, `modified_at = now()` (the old value + 1 if
   * `now` throws), every other field kept. Returns the tombstone, or null when
   * there is no entry.
   */
  deleteFile(path: string, now: () => number): FileMetadata | null {
    const existing = this.getFile(path);
    if (existing === null) return null;
    let ts: number;
    try {
      ts = now();
    } catch {
      ts = existing.modified_at + 1;
    }
    const tomb = { ...cloneMetadata(existing), deleted: true, modified_at: ts };
    this.setFile(path, tomb);
    return tomb;
  }

  /** Deduped entries sorted by key; tombstones only with `includeDeleted`. */
  listFiles(options: { includeDeleted?: boolean } = {}): [string, FileMetadata][] {
    const all = sortedEntries(collectSnapshot(this.files));
    return options.includeDeleted ? all : all.filter(([, m]) => !m.deleted);
  }

  /** Keys of the non-deleted entries, sorted. */
  activeKeys(): string[] {
    return this.listFiles().map(([k]) => k);
  }

  /** Number of raw map entries (aliases and tombstones included). */
  rawSize(): number {
    return this.files.size;
  }

  stateVector(): Uint8Array {
    return Y.encodeStateVector(this.doc);
  }

  encodeState(): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc);
  }

  /** What a peer with state vector `sv` is missing. */
  encodeDiff(sv: Uint8Array): Uint8Array {
    try {
      Y.decodeStateVector(sv);
    } catch (e) {
      throw new WorkspaceCrdtError(`Failed to decode state vector: ${(e as Error).message}`);
    }
    return Y.encodeStateAsUpdate(this.doc, sv);
  }

  /** `apply_update_tracking_changes`. */
  applyUpdate(update: Uint8Array, origin: UpdateOrigin): ApplyResult {
    if (update.length === 0) throw new WorkspaceCrdtError('Failed to decode update: empty update');
    const before = collectSnapshot(this.files);
    const remote = origin !== ORIGIN_LOCAL ? decodeUpdateSnapshot(update) : null;
    if (remote === null) validateUpdate(update);
    try {
      Y.applyUpdate(this.doc, update, origin);
    } catch (e) {
      throw new WorkspaceCrdtError(`Failed to apply update: ${(e as Error).message}`);
    }
    let after = collectSnapshot(this.files);
    if (remote !== null && this.reconcileConcurrent(before, after, remote)) after = collectSnapshot(this.files);
    return diffSnapshots(before, after);
  }

  private reconcileConcurrent(before: Snapshot, after: Snapshot, remote: Snapshot): boolean {
    let reconciled = false;
    for (const [path, afterMeta] of sortedEntries(after)) {
      const local = before.get(path);
      const remoteMeta = remote.get(path);
      if (local === undefined || remoteMeta === undefined) continue;
      if (!shouldMergeConcurrent(local, remoteMeta)) continue;
      let merged: FileMetadata;
      if (metadataContentEqual(afterMeta, local)) merged = mergeNonstructural(afterMeta, remoteMeta);
      else if (metadataContentEqual(afterMeta, remoteMeta)) merged = mergeNonstructural(afterMeta, local);
      else merged = mergeNonstructural(mergeNonstructural(afterMeta, local), remoteMeta);
      if (!metadataEqual(merged, afterMeta)) {
        this.setFile(path, merged);
        reconciled = true;
      }
    }
    return reconciled;
  }

  destroy(): void {
    this.localListeners.clear();
    this.updateListeners.clear();
    this.doc.destroy();
  }
}

function validateUpdate(update: Uint8Array): void {
  try {
    Y.decodeUpdate(update);
  } catch (e) {
    throw new WorkspaceCrdtError(`Failed to decode update: ${(e as Error).message}`);
  }
}

/** Entries contained in `update` alone (decoded into a scratch doc). */
function decodeUpdateSnapshot(update: Uint8Array): Snapshot {
  const scratch = new Y.Doc();
  try {
    const files = scratch.getMap<unknown>(FILES_MAP_NAME);
    Y.applyUpdate(scratch, update);
    return collectSnapshot(files);
  } catch (e) {
    throw new WorkspaceCrdtError(`Failed to decode update: ${(e as Error).message}`);
  } finally {
    scratch.destroy();
  }
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
  for (const [path, meta] of afterEntries) if (!before.has(path) && !meta.deleted) add(path);
  for (const [path, meta] of afterEntries) {
    const old = before.get(path);
    if (old !== undefined && old.deleted && !meta.deleted) add(path);
  }
  const nowDeleted = (path: string): boolean => after.get(path)?.deleted ?? true;
  for (const [path, old] of beforeEntries) if (nowDeleted(path) && !old.deleted) add(path);
  for (const [path, meta] of afterEntries) if (meta.deleted && !before.has(path)) add(path);
  for (const [path, meta] of afterEntries) {
    const old = before.get(path);
    if (old !== undefined && !metadataContentEqual(old, meta) && !meta.deleted && !old.deleted) add(path);
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
  return { changed, renames };
}
