/**
 * The plugin's state: the workspace doc, the body docs, the update history,
 * the local updates waiting to be sent, and their persistence in plugin
 * storage (layout in persistence.ts). One instance exists between `init` and
 * `shutdown`.
 *
 * Every applied update (local or remote) is recorded in the history with its
 * time (from the host), origin, files and device. Documents changed since the
 * last save are tracked, so saving writes only what changed; a refused write
 * (storage quota) is reported as an error event and retried at the next save,
 * while the in-memory state stays as it is.
 */
import * as Y from 'yjs';
import { bodyDocId, workspaceDocId, type ParsedDocId } from '../../common/src/wire/frame';
import { encodeSyncUpdate } from '../../common/src/wire/sync';
import { BodyDocManager } from './core/body-docs';
import { HistoryLog } from './core/history';
import type { FileTooLargeError } from './file-limits';
import { ORIGIN_LOCAL, ORIGIN_REMOTE, ORIGIN_SYNC, type UpdateOrigin } from './core/origin';
import { WorkspaceCrdt } from './core/workspace-crdt';
import type { HostBridge } from './host/bridge';
import { LargeValueStore } from './large-values';
import {
  BODY_MANIFEST_KEY,
  WORKSPACE_KEY,
  bodyStorageKey,
  readBodyManifest,
  setAsideCorrupt,
  writeBodyManifest,
} from './persistence';

export const WORKSPACE_DOC_NAME = 'workspace';
const DEVICE_ID_KEY = 'device_id';

/** Origin used while restoring from storage: not recorded as history. */
const ORIGIN_RESTORE = Symbol('restore');

/** Storage keys of the history log start with this (see HistoryLog). */
const HISTORY_KEY_PREFIX = 'history';

/** History origin names, lowercase like the original's history entries. */
const HISTORY_ORIGIN_NAMES: Record<UpdateOrigin, string> = {
  [ORIGIN_LOCAL]: 'local',
  [ORIGIN_REMOTE]: 'remote',
  [ORIGIN_SYNC]: 'sync',
};

export interface LocalUpdate {
  docId: string;
  data: Uint8Array;
}

export interface PluginStateOptions {
  workspaceRoot: string | null;
  workspaceId: string | null;
}

export class PluginState {
  readonly workspace: WorkspaceCrdt;
  readonly bodies = new BodyDocManager();
  readonly history: HistoryLog;
  /** Workspace root as the host gave it (a folder, or the root index file). */
  workspaceRoot: string | null;
  /** Remote workspace id used in wire doc ids; null until linked. */
  workspaceId: string | null;
  writeToDisk = true;
  readonly deviceId: string;
  readonly deviceName: string | null;
  /** Problems met while restoring from storage (also logged). */
  readonly loadWarnings: string[] = [];

  private outgoing: LocalUpdate[] = [];
  private workspaceDirty = false;
  private readonly dirtyBodies = new Set<string>();
  private readonly removedBodies = new Set<string>();
  /**
   * State vectors (client id -> clock) of body docs dropped or moved away
   * in this run (filled by keepDroppedBodyClocks): what this device knew of
   * the text at a key, should a file be written at that path again (see
   * SessionDocs.setLocalBody).
   */
  readonly droppedBodyClocks = new Map<string, Map<number, number>>();
  /** The body-doc manifest as stored (see saveManifest). */
  private manifest = new Set<string>();
  /** Keys whose stored doc or workspace entry changed since the manifest was last checked. */
  private readonly manifestCheck = new Set<string>();
  /** Doc states, split into parts when larger than one storage value. */
  private readonly values: LargeValueStore;
  /** Storage keys whose value could not be read (see readBeforeWrite). */
  private readonly unreadable = new Set<string>();
  private historyDirty = false;
  private lastTimestamp = 0;
  /** Counts changes to the docs; a command that moved it changed state (see api.ts afterCommand). */
  changeCount = 0;

  constructor(
    readonly host: HostBridge,
    options: PluginStateOptions,
  ) {
    this.values = new LargeValueStore(host);
    this.workspaceRoot = options.workspaceRoot;
    this.workspaceId = options.workspaceId;
    this.workspace = new WorkspaceCrdt();
    this.history = this.restore();
    this.deviceId = this.loadDeviceId();
    const name = host.runtimeContext().device_name;
    this.deviceName = typeof name === 'string' && name.trim() !== '' ? name.trim() : null;
    this.watch();
  }

  /** Host time in ms; never goes backwards, survives a failing host clock. */
  now = (): number => {
    let t: number;
    try {
      t = this.host.timestamp();
    } catch {
      t = this.lastTimestamp + 1;
    }
    this.lastTimestamp = Math.max(this.lastTimestamp, t);
    return t;
  };

  // ---- restore and save ---------------------------------------------------

  private readStored(key: string): Uint8Array | null {
    try {
      return this.values.read(key);
    } catch (e) {
      this.unreadable.add(key);
      this.warn(`reading ${key} failed: ${(e as Error).message}`);
      return null;
    }
  }

  /**
   * A key whose stored value could not be read is not written until it has
   * been read: the doc in memory may lack what is stored, and writing would
   * replace it unseen. A doc merges the stored state first (a CRDT merge
   * loses nothing); other values wait for a restart. False: do not write now.
   */
  private readBeforeWrite(key: string, docOf: () => Y.Doc | null): boolean {
    if (!this.unreadable.has(key)) return true;
    let stored: Uint8Array | null;
    try {
      stored = this.values.read(key);
    } catch {
      return false;
    }
    if (stored !== null && stored.length > 0) {
      const doc = docOf();
      if (doc === null) return false;
      try {
        Y.applyUpdate(doc, stored, ORIGIN_SYNC);
      } catch {
        // Undecodable again: corrupt for real. The bytes are kept aside, the doc starts fresh.
        try {
          setAsideCorrupt(this.host, key, stored);
        } catch {
          return false;
        }
      }
    }
    this.unreadable.delete(key);
    return true;
  }

  /** Applies stored bytes to a doc; undecodable bytes are set aside, never overwritten. */
  private restoreDoc(doc: Y.Doc, key: string): boolean {
    const bytes = this.readStored(key);
    if (!bytes || bytes.length === 0) return false;
    try {
      Y.applyUpdate(doc, bytes, ORIGIN_RESTORE);
      return true;
    } catch (e) {
      this.warn(`stored ${key} does not decode (${(e as Error).message}); starting it fresh, bytes kept under ${key}.corrupt`);
      // Written again only once a second read confirms the corruption (readBeforeWrite).
      this.unreadable.add(key);
      try {
        setAsideCorrupt(this.host, key, bytes);
      } catch (err) {
        this.warn(`could not keep the bytes of ${key}: ${(err as Error).message}`);
      }
      return false;
    }
  }

  private restore(): HistoryLog {
    this.restoreDoc(this.workspace.doc, WORKSPACE_KEY);
    // Body docs are loaded on first use: init reads only the workspace doc, the manifest and the history.
    try {
      this.manifest = new Set(readBodyManifest(this.host));
    } catch (e) {
      this.unreadable.add(BODY_MANIFEST_KEY);
      this.warn(`reading ${BODY_MANIFEST_KEY} failed: ${(e as Error).message}`);
    }
    const keys = new Set([...this.workspace.activeKeys(), ...this.manifest]);
    this.bodies.setStore(keys, {
      read: (key) => this.readStored(bodyStorageKey(key)),
      corrupt: (key, bytes, error) => {
        this.unreadable.add(bodyStorageKey(key));
        // Found on first use, after init: reported at once.
        this.reportError(`stored ${bodyStorageKey(key)} does not decode (${error.message}); starting it fresh, bytes kept under ${bodyStorageKey(key)}.corrupt`);
        try {
          setAsideCorrupt(this.host, bodyStorageKey(key), bytes);
        } catch (err) {
          this.warn(`could not keep the bytes of ${bodyStorageKey(key)}: ${(err as Error).message}`);
        }
      },
      loaded: (key, bytes) => this.history?.ensureBase(key, bytes),
    });
    const history = HistoryLog.decode((key) => this.readStored(key), () => this.now());
    // The stored log is read on first use: problems found then are reported like other storage errors.
    history.onDropped = (doc, entries, reason) =>
      this.host.log('info', `[history] dropped the ${entries} oldest version${entries === 1 ? '' : 's'} of ${doc} for ${reason}; later versions are kept`);
    history.onLoadErrors = (errors) => {
      for (const problem of errors) this.reportError(`history: ${problem}`);
    };
    // Docs restored without a history log start their history at their current state.
    history.ensureBase(WORKSPACE_DOC_NAME, this.workspace.encodeState());
    return history;
  }

  private loadDeviceId(): string {
    const stored = this.readStored(DEVICE_ID_KEY);
    if (stored && stored.length > 0) return new TextDecoder().decode(stored);
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    const id = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    // The stored id could not be read: use this one for now, keep the stored one.
    if (this.unreadable.has(DEVICE_ID_KEY)) return id;
    try {
      this.host.storageSet(DEVICE_ID_KEY, new TextEncoder().encode(id));
    } catch (e) {
      this.warn(`could not store the device id: ${(e as Error).message}`);
    }
    return id;
  }

  private watch(): void {
    this.workspace.onUpdate((update, origin, changedKeys) => {
      this.workspaceDirty = true;
      for (const key of changedKeys) this.manifestCheck.add(key);
      this.record(WORKSPACE_DOC_NAME, update, origin, changedKeys);
    });
    this.workspace.onLocalUpdate((update) => this.queue(this.workspaceId && workspaceDocId(this.workspaceId), update));
    this.bodies.onUpdate((key, update, origin) => {
      this.dirtyBodies.add(key);
      this.removedBodies.delete(key);
      this.record(key, update, origin, [key]);
    });
    this.bodies.onLocalUpdate((key, update) => {
      if (key === '') {
        this.host.log('warn', 'dropping a body update with an empty key');
        return;
      }
      this.queue(this.workspaceId && bodyDocId(this.workspaceId, key), update, key);
    });
  }

  private record(docName: string, update: Uint8Array, origin: UpdateOrigin, files: string[]): void {
    const local = origin === ORIGIN_LOCAL;
    this.changeCount++;
    this.history.record(docName, update, HISTORY_ORIGIN_NAMES[origin], {
      filesChanged: files,
      deviceId: local ? this.deviceId : null,
      deviceName: local ? this.deviceName : null,
    });
    this.historyDirty = true;
  }

  /** Bodies changed while not linked (no doc id to send them on); they sync on connect. */
  readonly unlinkedBodyEdits = new Set<string>();

  private queue(docId: string | null | false, update: Uint8Array, bodyKey?: string): void {
    if (!docId) {
      // Not linked: the change stays in the doc and syncs on connect.
      if (bodyKey !== undefined) this.unlinkedBodyEdits.add(bodyKey);
      return;
    }
    this.outgoing.push({ docId, data: encodeSyncUpdate(update) });
  }

  /** Queues a body doc's whole state as a local update (a doc moved to a new key). */
  queueBodyState(key: string): void {
    if (!this.bodies.has(key)) return;
    this.dirtyBodies.add(key);
    this.changeCount++;
    this.queue(this.workspaceId && bodyDocId(this.workspaceId, key), this.bodies.encodeState(key), key);
  }

  /** Takes the queued local updates (y-sync Update messages with their doc ids). */
  drainLocalUpdates(): LocalUpdate[] {
    const out = this.outgoing;
    this.outgoing = [];
    return out;
  }

  /** Keeps what the body doc of `key` holds (its state vector), before it is dropped or moved to another key. */
  keepDroppedBodyClocks(key: string): void {
    const known = this.bodies.knownClocks(key);
    if (known !== null) this.droppedBodyClocks.set(key, known);
  }

  /** A body doc was dropped (file deleted): its stored state goes too. */
  forgetBody(key: string): void {
    this.keepDroppedBodyClocks(key);
    this.bodies.remove(key);
    this.dirtyBodies.delete(key);
    this.removedBodies.add(key);
    this.changeCount++;
  }

  markWorkspaceDirty(): void {
    this.workspaceDirty = true;
    this.changeCount++;
  }

  markBodyDirty(key: string): void {
    this.dirtyBodies.add(key);
    this.changeCount++;
  }

  /** Local updates are waiting to be sent. */
  get hasLocalUpdates(): boolean {
    return this.outgoing.length > 0;
  }

  /** Whether the doc of a doc id holds changes not stored yet. */
  isDocUnstored(doc: ParsedDocId): boolean {
    return doc.kind === 'workspace' ? this.workspaceDirty : this.dirtyBodies.has(doc.key);
  }

  /** The workspace doc or a body doc changed since it was last stored. */
  get docsDirty(): boolean {
    return this.workspaceDirty || this.dirtyBodies.size > 0;
  }

  /** True when something changed since the last successful save. */
  get dirty(): boolean {
    return this.workspaceDirty || this.dirtyBodies.size > 0 || this.removedBodies.size > 0 || this.historyDirty;
  }

  /**
   * Saves what changed (the history only with `history`). Each refused write
   * is reported (returned and emitted as an error event) and stays pending
   * for the next save.
   */
  save(all = false, history = true): string[] {
    const errors: string[] = [];
    const put = (key: string, bytes: Uint8Array): boolean => {
      try {
        this.values.write(key, bytes);
        return true;
      } catch (e) {
        errors.push(`saving ${key} failed: ${(e as Error).message}`);
        return false;
      }
    };
    const unreadable = (key: string) => errors.push(`not saving ${key}: it could not be read from storage, and writing it now could replace what is stored`);
    if (all || this.workspaceDirty) {
      if (!this.readBeforeWrite(WORKSPACE_KEY, () => this.workspace.doc)) unreadable(WORKSPACE_KEY);
      else if (put(WORKSPACE_KEY, this.workspace.encodeState())) this.workspaceDirty = false;
    }
    const bodyKeys = all ? [...new Set([...this.bodies.loadedKeys(), ...this.dirtyBodies])] : [...this.dirtyBodies];
    for (const key of bodyKeys) {
      // Stay within what one host call may do (see HostBridge.callBudget); the rest is saved next time.
      if (this.host.callBudget() <= 0) break;
      if (!this.bodies.has(key)) {
        this.dirtyBodies.delete(key);
        continue;
      }
      if (!this.readBeforeWrite(bodyStorageKey(key), () => this.bodies.get(key) ?? null)) {
        unreadable(bodyStorageKey(key));
        continue;
      }
      if (put(bodyStorageKey(key), this.bodies.encodeState(key))) {
        this.dirtyBodies.delete(key);
        this.manifestCheck.add(key);
      }
    }
    for (const key of [...this.removedBodies]) {
      if (put(bodyStorageKey(key), new Uint8Array(0))) this.removedBodies.delete(key);
    }
    try {
      this.saveManifest(all);
    } catch (e) {
      errors.push(`saving ${BODY_MANIFEST_KEY} failed: ${(e as Error).message}`);
    }
    // Retention runs before the log is stored; a full save stores an otherwise
    // unchanged log only when retention thinned it.
    if (history && (all || this.historyDirty) && this.history.compact()) this.historyDirty = true;
    const historyUnread = [...this.unreadable].filter((key) => key.startsWith(HISTORY_KEY_PREFIX));
    if (history && this.historyDirty && historyUnread.length > 0) unreadable(historyUnread.join(', '));
    else if (history && this.historyDirty) {
      let ok = true;
      for (const [key, bytes] of this.history.encode()) ok = put(key, bytes) && ok;
      if (ok) this.historyDirty = false;
    }
    for (const error of errors) this.reportError(error);
    return errors;
  }

  /**
   * The manifest lists the keys of stored body docs, so init can find the
   * docs of files no longer in the workspace. Init also looks for a doc of
   * every active file, so a stored doc whose file is active in the stored
   * workspace needs no entry yet: the manifest is rewritten (all keys, O(n))
   * only when a stored doc would otherwise be missed, or on a full save, not
   * once per synced file.
   */
  private saveManifest(all: boolean): void {
    if (this.unreadable.has(BODY_MANIFEST_KEY)) {
      // Read at last: what it lists is kept.
      for (const key of readBodyManifest(this.host)) this.manifest.add(key);
      this.unreadable.delete(BODY_MANIFEST_KEY);
    }
    // Active keys count only as far as the stored workspace doc knows them.
    const workspaceStored = !this.workspaceDirty;
    const missed = [...this.manifestCheck].some(
      (key) => this.bodies.has(key) && !this.manifest.has(key) && !(workspaceStored && this.workspace.isActive(key)),
    );
    if (!all && !missed) {
      if (workspaceStored) this.manifestCheck.clear();
      return;
    }
    const persisted = new Set([...this.manifest, ...this.bodies.knownKeys()]);
    for (const key of this.removedBodies) persisted.delete(key);
    for (const key of persisted) if (!this.bodies.has(key) && !this.workspace.getFile(key)) persisted.delete(key);
    const unchanged = persisted.size === this.manifest.size && [...persisted].every((k) => this.manifest.has(k));
    if (!unchanged || all) writeBodyManifest(this.host, persisted);
    this.manifest = persisted;
    if (workspaceStored) this.manifestCheck.clear();
  }

  warn(message: string): void {
    this.loadWarnings.push(message);
    this.host.log('warn', `[sync] ${message}`);
  }

  /** Files left out of sync for their size: key -> size reported (see file-limits.ts). */
  readonly skippedFiles = new Map<string, number>();

  /**
   * Tells the host (once per file and size) that a local file is not synced:
   * `{"type":"FileSkipped","path","size","limit","reason":"too_large","message"}`.
   */
  reportSkipped(error: FileTooLargeError): void {
    if (this.skippedFiles.get(error.path) === error.bytes) return;
    this.skippedFiles.set(error.path, error.bytes);
    this.host.log('warn', `[sync] ${error.message}`);
    this.host.emitEvent({ limit: error.limit, message: error.message, path: error.path, reason: 'too_large', size: error.bytes, type: 'FileSkipped' });
  }

  /** Told of every error reported (the runtime's status bar keeps the last one). */
  onErrorReported: ((message: string) => void) | null = null;

  /** Reports a failure to the host as the Rust plugin's error event shape. */
  reportError(message: string): void {
    this.onErrorReported?.(message);
    this.host.log('error', `[sync] ${message}`);
    this.host.emitEvent({ error: message, status: 'error', type: 'SyncStatusChanged' });
  }

  destroy(): void {
    this.bodies.clear();
    this.workspace.destroy();
  }
}
