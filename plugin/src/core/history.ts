/**
 * Version history: an append-only log of the Yjs updates applied to the
 * workspace doc and to the body docs, with timestamp, origin, device and the
 * files each update changed. It answers the history commands (GetHistory,
 * GetFileHistory, GetStateAt, GetVersionDiff, RestoreVersion) with the shapes
 * of the Diaryx sync crate's `HistoryManager`, and unlike the original it is
 * persisted (`encode`/`decode`, format in history-codec.ts) so it survives
 * restarts.
 *
 * Ids are one counter across all docs, starting at 1, like the original's
 * storage. Origins are stored as given (`local`, `remote`, `sync`).
 *
 * Retention (on `record` for the doc appended to, on `compact` and `encode` for all):
 * - entries newer than `keepAllDays` are all kept;
 * - older entries are thinned to one per UTC day per doc: the last entry of
 *   the day absorbs the day's earlier updates (Y.mergeUpdates) and their
 *   changed files, so the state at every kept id is unchanged;
 * - one update larger than a quarter of `maxBytes` (a huge file pasted in) is
 *   folded into its own doc's base at once, with that doc's earlier entries:
 *   it costs that file's older versions, never the other files' history;
 * - when the entries of all docs exceed `maxBytes`, the oldest entries are
 *   folded into their doc's base snapshot (a re-encoded, garbage-collected
 *   state) until they fit in 90 % of the budget. `stateAt` is exact for every
 *   kept id and for the base id; earlier ids return null.
 * Folding drops whole versions (entries); what was dropped is told through
 * `onDropped` and counted in `dropped`.
 */
import type { FileMetadata } from '../../../common/src/workspace/metadata';
import { compareKeys } from '../../../common/src/workspace/paths';
import { decodeHistoryStorage, encodeHistoryStorage, HISTORY_CHUNK_BYTES, readHistoryDocNames } from './history-codec';
import { DAY_MS, thinLog } from './history-retention';
import { diffFiles, docStateAt, filesFromState, updateWithFiles } from './history-states';
import type { DocLog, FileDiff, HistoryEntry, HistoryOptions, RecordOptions, StoredUpdate } from './history-types';

export type { ChangeType, DocLog, FileDiff, HistoryEntry, HistoryOptions, RecordOptions, StoredUpdate } from './history-types';
export { filesFromState } from './history-states';

function entryView(e: StoredUpdate): HistoryEntry {
  return {
    update_id: e.update_id,
    timestamp: e.timestamp,
    origin: e.origin,
    files_changed: [...e.files_changed],
    device_id: e.device_id,
    device_name: e.device_name,
  };
}

function entryBytes(d: DocLog): number {
  let n = 0;
  for (const e of d.entries) n += e.update.length;
  return n;
}

export class HistoryLog {
  private readonly docs = new Map<string, DocLog>();
  private nextId = 1;
  private totalBytes = 0;
  keepAllDays: number;
  maxBytes: number;
  readonly workspaceDocName: string;
  readonly storagePrefix: string;
  readonly chunkBytes: number;
  private generation = 0;
  private lastTimestamp = 0;
  private storedKeys = new Set<string>();
  private errors: string[] = [];
  /**
   * The stored log, not read yet (see decode): reading 10,000 docs' history
   * was most of `init`, which needs none of it. Every method reads it first,
   * except ensureBase, compact and encode while nothing else used it.
   */
  private unread: { read: (key: string) => Uint8Array | null } | null = null;
  /** ensureBase calls made before the stored log was read, applied (where still missing) when it is. */
  private readonly pendingBases = new Map<string, Uint8Array>();
  /** Called with the problems met when the stored log is read (see loadErrors). */
  onLoadErrors: ((errors: string[]) => void) | null = null;
  /** Versions folded away by the byte budget since this log was created. */
  readonly dropped = { entries: 0, docs: new Set<string>() };
  /** Told what a budget fold dropped: `(docName, entries, reason)`. */
  onDropped: ((docName: string, entries: number, reason: string) => void) | null = null;
  /** setRetention was called before the stored log was read: compact it when it is. */
  private compactOnLoad = false;

  constructor(
    private readonly now: () => number,
    options: HistoryOptions = {},
  ) {
    this.keepAllDays = options.keepAllDays ?? 7;
    this.maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    this.workspaceDocName = options.workspaceDocName ?? 'workspace';
    this.storagePrefix = options.storagePrefix ?? 'history';
    this.chunkBytes = Math.min(options.chunkBytes ?? HISTORY_CHUNK_BYTES, HISTORY_CHUNK_BYTES);
  }

  /**
   * Storage writes that persist the log (history-codec.ts): chunks of at most
   * 512 KiB, then the manifest, then stale keys with empty values (delete).
   * Write them in the returned order.
   */
  encode(): Map<string, Uint8Array> {
    // Nothing changed since the log was stored: nothing to write.
    if (this.unread !== null && this.basesAlreadyStored()) return new Map();
    this.load();
    this.compact(this.timestamp());
    this.generation++;
    const docs = [...this.docs.values()].sort((a, b) => compareKeys(a.name, b.name));
    const { writes, keys } = encodeHistoryStorage(
      this.storagePrefix,
      this.chunkBytes,
      this.generation,
      this.nextId,
      docs,
      this.storedKeys,
    );
    this.storedKeys = keys;
    return writes;
  }

  /** Restores a log persisted with `encode`; an empty log when nothing is stored. */
  static decode(read: (key: string) => Uint8Array | null, now: () => number, options: HistoryOptions = {}): HistoryLog {
    const log = new HistoryLog(now, options);
    log.unread = { read };
    return log;
  }

  /** Problems met while decoding (docs whose stored log was unreadable and was dropped). */
  get loadErrors(): string[] {
    this.load();
    return this.errors;
  }

  /** Reads the stored log now if it was not yet (decode defers it to the first use). */
  load(): void {
    if (this.unread === null) return;
    const { read } = this.unread;
    this.unread = null;
    const stored = decodeHistoryStorage(this.storagePrefix, read);
    if (stored !== null) {
      this.generation = stored.generation;
      this.storedKeys = stored.keys;
      this.errors = stored.errors;
      this.importState(stored.nextId, stored.docs);
      if (stored.errors.length > 0) this.onLoadErrors?.(stored.errors);
    }
    for (const [name, state] of this.pendingBases) this.ensureBase(name, state);
    this.pendingBases.clear();
    if (this.compactOnLoad) {
      this.compactOnLoad = false;
      this.compact();
    }
  }

  /** While unread: every base asked for belongs to a doc the stored manifest lists. */
  private basesAlreadyStored(): boolean {
    if (this.unread === null) return false;
    if (this.pendingBases.size === 0) return true;
    const names = readHistoryDocNames(this.storagePrefix, this.unread.read);
    if (names === null) return false;
    for (const name of this.pendingBases.keys()) if (!names.has(name)) return false;
    return true;
  }

  /** Current time; the last recorded time when the clock fails (recording must not fail). */
  private timestamp(): number {
    try {
      this.lastTimestamp = this.now();
    } catch {
      // keep the last known time
    }
    return this.lastTimestamp;
  }

  /** Appends an applied update; returns its id. */
  record(docName: string, update: Uint8Array, origin: string, options: RecordOptions = {}): number {
    this.load();
    const timestamp = this.timestamp();
    const id = this.nextId++;
    const files =
      options.filesChanged !== undefined
        ? [...new Set(options.filesChanged)].sort(compareKeys)
        : docName === this.workspaceDocName
          ? []
          : [docName];
    const d = this.docLog(docName);
    d.entries.push({
      update_id: id,
      timestamp,
      origin,
      files_changed: files,
      device_id: options.deviceId ?? null,
      device_name: options.deviceName ?? null,
      doc_name: docName,
      update: update.slice(),
    });
    this.totalBytes += update.length;
    this.totalBytes += thinLog(d, timestamp - this.keepAllDays * DAY_MS);
    this.enforceBudget();
    return id;
  }

  /**
   * Starts the log of a doc that already has state (e.g. restored from
   * storage without history): the state becomes its base. No effect when the
   * doc already has a log.
   */
  ensureBase(docName: string, state: Uint8Array): void {
    if (this.unread !== null) {
      if (!this.pendingBases.has(docName)) this.pendingBases.set(docName, state.slice());
      return;
    }
    if (this.docs.has(docName)) return;
    this.docs.set(docName, { name: docName, baseUpTo: this.nextId - 1, base: state.slice(), entries: [], thinned: 0 });
  }

  docNames(): string[] {
    this.load();
    return [...this.docs.keys()].sort(compareKeys);
  }

  latestId(): number {
    this.load();
    return this.nextId - 1;
  }

  /** Entries of `docName`, newest first. */
  list(docName: string, limit?: number): HistoryEntry[] {
    this.load();
    const d = this.docs.get(docName);
    if (!d) return [];
    const out: HistoryEntry[] = [];
    const max = limit ?? Infinity;
    for (let i = d.entries.length - 1; i >= 0 && out.length < max; i--) out.push(entryView(d.entries[i]));
    return out;
  }

  /** Workspace entries that changed `path`, then its body doc's entries, newest first by timestamp. */
  listForFile(path: string, limit?: number): HistoryEntry[] {
    const ws = this.list(this.workspaceDocName).filter((e) => e.files_changed.includes(path));
    const body = path === this.workspaceDocName ? [] : this.list(path);
    const combined = [...ws, ...body].sort((a, b) => b.timestamp - a.timestamp);
    return limit === undefined ? combined : combined.slice(0, limit);
  }

  /** Stored updates of a doc in id order (bytes included). */
  updates(docName: string): StoredUpdate[] {
    this.load();
    return [...(this.docs.get(docName)?.entries ?? [])];
  }

  /** Encoded state after update `updateId`; null for an unknown doc or an id before its base. */
  stateAt(docName: string, updateId: number): Uint8Array | null {
    this.load();
    const d = this.docs.get(docName);
    return d ? docStateAt(d, updateId) : null;
  }

  /** The `files` map at `updateId` (raw keys), or null. */
  filesAt(docName: string, updateId: number): Map<string, FileMetadata> | null {
    const state = this.stateAt(docName, updateId);
    return state === null ? null : filesFromState(state);
  }

  /** `HistoryManager::diff` on the workspace `files` map, sorted by path. */
  diff(docName: string, fromId: number, toId: number): FileDiff[] {
    return diffFiles(this.filesAt(docName, fromId) ?? new Map<string, FileMetadata>(), this.filesAt(docName, toId) ?? new Map<string, FileMetadata>());
  }

  /**
   * `HistoryManager::create_restore_update`: a fresh doc holding the files
   * of `updateId`, encoded as an update (null when there is no state).
   */
  createRestoreUpdate(docName: string, updateId: number): Uint8Array | null {
    const files = this.filesAt(docName, updateId);
    return files === null ? null : updateWithFiles(files);
  }

  /** Moves the log of `oldName` to `newName`, replacing any log there (like the original storage's rename). */
  renameDoc(oldName: string, newName: string): void {
    this.load();
    const d = this.docs.get(oldName);
    if (!d || oldName === newName) return;
    this.removeDoc(newName);
    this.docs.delete(oldName);
    d.name = newName;
    for (const e of d.entries) e.doc_name = newName;
    this.docs.set(newName, d);
  }

  removeDoc(docName: string): void {
    this.load();
    const d = this.docs.get(docName);
    if (!d) return;
    this.totalBytes -= entryBytes(d);
    this.docs.delete(docName);
  }

  /** Update bytes held by all entries (bases excluded). */
  byteSize(): number {
    this.load();
    return this.totalBytes;
  }

  /**
   * Changes the retention policy and applies it now. Days are clamped to
   * 0..3650 and the budget to at least 64 KiB.
   */
  setRetention(keepAllDays: number, maxBytes: number): void {
    this.keepAllDays = Math.min(3650, Math.max(0, keepAllDays));
    this.maxBytes = Math.max(64 * 1024, Math.floor(maxBytes));
    if (this.unread !== null) {
      this.compactOnLoad = true;
      return;
    }
    this.compact();
  }

  /**
   * Applies retention to every doc as of `nowMs` (`record` only thins the doc
   * it appends to). Returns true when it removed or folded entries.
   */
  compact(nowMs: number = this.timestamp()): boolean {
    // An unread log is compacted when it is read and saved again.
    if (this.unread !== null) return false;
    const entries = () => [...this.docs.values()].reduce((n, d) => n + d.entries.length, 0);
    const before = `${entries()}:${this.totalBytes}`;
    const cutoff = nowMs - this.keepAllDays * DAY_MS;
    for (const d of this.docs.values()) this.totalBytes += thinLog(d, cutoff);
    this.enforceBudget();
    return `${entries()}:${this.totalBytes}` !== before;
  }

  private enforceBudget(): void {
    if (this.totalBytes <= this.maxBytes) return;
    // A single update that would push out most of the budget goes into its own doc's base.
    const large = Math.floor(this.maxBytes / 4);
    for (const d of this.docs.values()) {
      let last = -1;
      for (let i = 0; i < d.entries.length; i++) if (d.entries[i].update.length > large) last = i;
      if (last >= 0) this.fold(d, last + 1, `an update over ${large} bytes (a quarter of the ${this.maxBytes}-byte history budget)`);
    }
    const target = Math.floor(this.maxBytes * 0.9);
    while (this.totalBytes > target) {
      let oldest: DocLog | null = null;
      for (const d of this.docs.values()) {
        if (d.entries.length > 0 && (oldest === null || d.entries[0].update_id < oldest.entries[0].update_id)) oldest = d;
      }
      if (oldest === null) break;
      const excess = this.totalBytes - target;
      let count = 0;
      let bytes = 0;
      while (count < oldest.entries.length && bytes < excess) bytes += oldest.entries[count++].update.length;
      this.fold(oldest, Math.max(1, count), `the history budget of ${this.maxBytes} bytes`);
    }
  }

  private fold(d: DocLog, count: number, reason: string): void {
    const folded = d.entries.slice(0, count);
    d.base = docStateAt(d, folded[folded.length - 1].update_id);
    d.baseUpTo = folded[folded.length - 1].update_id;
    d.entries.splice(0, count);
    d.thinned = Math.max(0, d.thinned - count);
    for (const e of folded) this.totalBytes -= e.update.length;
    this.dropped.entries += count;
    this.dropped.docs.add(d.name);
    this.onDropped?.(d.name, count, reason);
  }

  private docLog(name: string): DocLog {
    let d = this.docs.get(name);
    if (!d) {
      d = { name, baseUpTo: 0, base: null, entries: [], thinned: 0 };
      this.docs.set(name, d);
    }
    return d;
  }

  private importState(nextId: number, docs: DocLog[]): void {
    this.docs.clear();
    this.totalBytes = 0;
    let maxId = 0;
    for (const d of docs) {
      d.entries.sort((a, b) => a.update_id - b.update_id);
      d.thinned = Math.min(d.thinned, d.entries.length);
      this.docs.set(d.name, d);
      this.totalBytes += entryBytes(d);
      maxId = Math.max(maxId, d.baseUpTo);
      for (const e of d.entries) maxId = Math.max(maxId, e.update_id);
    }
    this.nextId = Math.max(nextId, maxId + 1, 1);
  }
}
