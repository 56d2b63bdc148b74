/**
 * The workspace Y.Doc: one Y.Map `files`, key = workspace path, value = the
 * FileMetadata JSON text (common/src/workspace/schema.ts, metadata.ts), with the behaviour of the Diaryx sync
 * crate's `WorkspaceCrdt` for path-keyed workspaces:
 *
 * - reads normalise and dedupe alias keys (`x`, `./x`, `/x`), skip temp files
 *   and values that are not valid FileMetadata;
 * - `setFile` writes the canonical key and removes its aliases;
 * - deletes are soft (tombstones, entries are never removed);
 * - `applyUpdate` reports created / restored / deleted / changed keys and
 *   renames (three pairing passes, plus doc-id path changes; rules in
 *   workspace-changes.ts), and for remote/sync origins repairs the Y.Map
 *   last-writer-wins on concurrent non-structural front matter edits made
 *   within 5 s of each other.
 *
 * Local transactions are reported through `onLocalUpdate` (raw v1 update
 * bytes, to be sent as y-sync Update messages); every transaction through
 * `onUpdate` with its origin and the map keys it changed (for the history log).
 * Listener errors never interrupt Yjs; the operation rethrows them when done.
 */
import * as Y from 'yjs';
import { Listeners } from './listeners';
import { cloneMetadata, metadataContentEqual, metadataEqual, serializeMetadata, type FileMetadata } from '../../../common/src/workspace/metadata';
import { ORIGIN_LOCAL, ORIGIN_REMOTE, ORIGIN_SYNC, originOf, type UpdateOrigin } from './origin';
import { compareKeys, isTempFile, normalizeSyncKey } from '../../../common/src/workspace/paths';
import { FILES_MAP_NAME } from '../../../common/src/workspace/schema';
import { hasPendingStructs } from '../../../common/src/wire/sync';
import {
  collectSnapshot,
  diffSnapshots,
  mergeNonstructural,
  shouldMergeConcurrent,
  sortedEntries,
  valueToMetadata,
  type ApplyResult,
  type Snapshot,
} from './workspace-changes';

export { ORIGIN_LOCAL, ORIGIN_REMOTE, ORIGIN_SYNC, type UpdateOrigin };
export { CONCURRENT_FRONTMATTER_MERGE_WINDOW_MS, diffSnapshots, type ApplyResult } from './workspace-changes';

export class WorkspaceCrdtError extends Error {
  override name = 'WorkspaceCrdtError';
}

export type LocalUpdateListener = (update: Uint8Array) => void;
export type UpdateListener = (update: Uint8Array, origin: UpdateOrigin, changedKeys: string[]) => void;

export class WorkspaceCrdt {
  readonly doc: Y.Doc;
  private readonly files: Y.Map<unknown>;
  private readonly localListeners = new Listeners<[Uint8Array]>();
  private readonly updateListeners = new Listeners<[Uint8Array, UpdateOrigin, string[]]>();
  private readonly heldBackListeners = new Listeners<[]>();
  private changedKeys: string[] = [];
  /** isActive answers until the next transaction (each one parses the entry's JSON; sync asks per frame). */
  private readonly activeCache = new Map<string, boolean>();
  /** Entries this instance wrote as new files, by key (see reassertOverwritten). */
  private readonly creations = new Map<string, Y.Item>();

  /** Wraps `doc` (a new Y.Doc by default). */
  constructor(doc?: Y.Doc) {
    this.doc = doc ?? new Y.Doc();
    this.files = this.doc.getMap(FILES_MAP_NAME);
    this.doc.on('beforeTransaction', () => {
      this.changedKeys = [];
    });
    // Before observers and listeners run, so none of them reads a stale answer.
    this.doc.on('beforeObserverCalls', () => {
      this.activeCache.clear();
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
      if (o === ORIGIN_LOCAL) this.localListeners.emit(update);
      this.updateListeners.emit(update, o, keys);
    });
  }

  /**
   * Called with the v1 update of every local transaction. Returns an
   * unsubscribe function. A listener error does not interrupt the doc: it is
   * rethrown by the operation (setFile, deleteFile, applyUpdate) once done.
   */
  onLocalUpdate(cb: LocalUpdateListener): () => void {
    return this.localListeners.add(cb);
  }

  /** Called for every transaction that changed the doc, with its origin and the raw map keys it changed. */
  onUpdate(cb: UpdateListener): () => void {
    return this.updateListeners.add(cb);
  }

  /**
   * Called when an applied update is held back (it waits for earlier ones): Yjs reports no
   * update then, but the doc's stored state must keep it (see DocPersistence).
   */
  onHeldBack(cb: () => void): () => void {
    return this.heldBackListeners.add(cb);
  }

  /** Raises a listener error kept during a transaction made directly on `doc`. */
  rethrowListenerErrors(): void {
    this.localListeners.rethrow();
    this.updateListeners.rethrow();
    this.heldBackListeners.rethrow();
  }

  /** Metadata for `path` (canonical key first, then the alias given or `./key`). */
  getFile(path: string): FileMetadata | null {
    const normalized = normalizeSyncKey(path);
    let value = this.files.get(normalized);
    if (value === undefined) value = this.files.get(normalized !== path ? path : './' + normalized);
    return value === undefined ? null : valueToMetadata(value);
  }

  /** True when `path` has an entry that is not deleted (getFile's lookup). */
  isActive(path: string): boolean {
    let active = this.activeCache.get(path);
    if (active === undefined) {
      const meta = this.getFile(path);
      active = meta !== null && !meta.deleted;
      this.activeCache.set(path, active);
    }
    return active;
  }

  /**
   * Writes `meta` under the canonical key of `path` and removes the alias
   * keys. Temp files (`.tmp`, `.bak`, `.swap`) are ignored: returns false.
   */
  setFile(path: string, meta: FileMetadata): boolean {
    const existing = meta.deleted ? null : this.getFile(path);
    const written = this.writeFile(path, meta);
    if (written && !meta.deleted && (existing === null || existing.deleted)) this.rememberCreation(path);
    this.rethrowListenerErrors();
    return written;
  }

  /** The entry now at `path` was written by this device as a new file there (see reassertOverwritten). */
  private rememberCreation(path: string): void {
    const key = normalizeSyncKey(path);
    const item = this.files._map.get(key);
    if (item !== undefined) this.creations.set(key, item);
  }

  private writeFile(path: string, meta: FileMetadata): boolean {
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
    const liveItems = this.liveEntryItems(before);
    const remote = origin !== ORIGIN_LOCAL ? decodeUpdateSnapshot(update) : null;
    if (remote === null) validateUpdate(update);
    try {
      Y.applyUpdate(this.doc, update, origin);
    } catch (e) {
      throw new WorkspaceCrdtError(`Failed to apply update: ${(e as Error).message}`);
    }
    if (hasPendingStructs(this.doc)) this.heldBackListeners.emit();
    let after = collectSnapshot(this.files);
    if (remote !== null && this.reconcileConcurrent(before, after, remote)) after = collectSnapshot(this.files);
    if (remote !== null && this.reassertOverwritten(liveItems, before, after)) after = collectSnapshot(this.files);
    const result = diffSnapshots(before, after);
    result.deletedUnseen = this.deletesNotSeeing(liveItems, after);
    this.rethrowListenerErrors();
    return result;
  }

  /** The map items holding the live entries of `snapshot` (canonical keys only). */
  private liveEntryItems(snapshot: Snapshot): Map<string, Y.Item> {
    const items = new Map<string, Y.Item>();
    for (const [key, meta] of snapshot) {
      const item = this.files._map.get(key);
      if (!meta.deleted && item !== undefined) items.set(key, item);
    }
    return items;
  }

  /**
   * Keys whose live entry (`liveItems`, before an update) is now a tombstone
   * written by a device that had not seen that entry: the delete was of an
   * earlier file at the path, not of what this device holds there. A map
   * write's origin is the entry its writer saw at the key, so the tombstone's
   * chain of origins passes through the entry it replaced knowingly.
   */
  private deletesNotSeeing(liveItems: Map<string, Y.Item>, after: Snapshot): string[] {
    const keys: string[] = [];
    for (const [key, liveItem] of liveItems) {
      if (after.get(key)?.deleted !== true) continue;
      const winner = this.files._map.get(key);
      if (winner === undefined || winner === liveItem) continue;
      if (!this.originChainReaches(winner, liveItem.id)) keys.push(key);
    }
    return keys;
  }

  /**
   * This device's own entry that created or re-created a file (written where
   * there was no entry or a tombstone; remembered while this instance runs),
   * replaced with different content by a write from a device that had not
   * seen it: two files written at one path (a path reused after a delete
   * while another device still had the earlier file, or two new files). The
   * entry is written again on top of the winner, content merged, so a later
   * delete or move by a device that has not seen it is recognised
   * (deletesNotSeeing). Concurrent edits of one entry share what they were
   * written on: merged by reconcileConcurrent instead.
   */
  private reassertOverwritten(liveItems: Map<string, Y.Item>, before: Snapshot, after: Snapshot): boolean {
    let written = false;
    for (const [key, liveItem] of liveItems) {
      if (this.creations.get(key) !== liveItem) continue;
      const now = after.get(key);
      const was = before.get(key);
      if (now === undefined || was === undefined || now.deleted || metadataContentEqual(now, was)) continue;
      const winner = this.files._map.get(key);
      if (winner === undefined || winner === liveItem || this.originChainReaches(winner, liveItem.id)) continue;
      this.writeFile(key, mergeNonstructural(now, was));
      this.rememberCreation(key);
      written = true;
    }
    return written;
  }

  private originChainReaches(item: Y.Item, target: Y.ID): boolean {
    let origin = item.origin;
    // Each step moves to an older write at the same key; the bound only guards against a malformed store.
    for (let steps = 0; origin !== null && steps < 10_000; steps++) {
      if (origin.client === target.client && origin.clock === target.clock) return true;
      const struct = Y.getItem(this.doc.store, origin);
      if (!(struct instanceof Y.Item)) return false;
      origin = struct.origin;
    }
    return false;
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
        this.writeFile(path, merged);
        reconciled = true;
      }
    }
    return reconciled;
  }

  destroy(): void {
    this.localListeners.clear();
    this.updateListeners.clear();
    this.heldBackListeners.clear();
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

