/**
 * The docs' persistence in plugin storage (key layout in persistence.ts):
 * restoring the workspace doc, the body-doc manifest and, on first use, each
 * body doc, with undecodable values set aside instead of overwritten; which
 * docs changed since the last save; and saving what changed.
 *
 * A refused write (storage quota) is reported as an error event and retried
 * at the next save, while the docs in memory stay as they are. A key whose
 * stored value could not be read is not written until it has been read (see
 * readBeforeWrite).
 */
import * as Y from 'yjs';
import type { ParsedDocId } from '../../common/src/wire/frame';
import type { BodyDocManager } from './core/body-docs';
import type { HistoryLog } from './core/history';
import { ORIGIN_SYNC } from './core/origin';
import type { WorkspaceCrdt } from './core/workspace-crdt';
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
import type { Reports } from './reports';

const DEVICE_ID_KEY = 'device_id';

/** Origin used while restoring from storage: not recorded as history. */
const ORIGIN_RESTORE = Symbol('restore');

/** Storage keys of the history log start with this (see HistoryLog). */
const HISTORY_KEY_PREFIX = 'history';

export class DocPersistence {
  /** The history log, saved with the docs; set once it is opened (it reads through readStored). */
  history: HistoryLog | null = null;

  private workspaceDirty = false;
  private readonly dirtyBodies = new Set<string>();
  private readonly removedBodies = new Set<string>();
  /** The body-doc manifest as stored (see saveManifest). */
  private manifest = new Set<string>();
  /** Keys whose stored doc or workspace entry changed since the manifest was last checked. */
  private readonly manifestCheck = new Set<string>();
  /** Doc states, split into parts when larger than one storage value. */
  private readonly values: LargeValueStore;
  /** Storage keys whose value could not be read (see readBeforeWrite). */
  private readonly unreadable = new Set<string>();
  private historyDirty = false;
  private changes = 0;
  /** Called after every save (see onSaved). */
  private readonly savedCallbacks: (() => void)[] = [];

  constructor(
    private readonly host: HostBridge,
    private readonly workspace: WorkspaceCrdt,
    private readonly bodies: BodyDocManager,
    private readonly reports: Reports,
  ) {
    this.values = new LargeValueStore(host);
  }

  // ---- restore ------------------------------------------------------------

  /** The stored value under `key`, null when missing or unreadable (noted, and warned of). */
  readStored(key: string): Uint8Array | null {
    try {
      return this.values.read(key);
    } catch (e) {
      this.unreadable.add(key);
      this.reports.warn(`reading ${key} failed: ${(e as Error).message}`);
      return null;
    }
  }

  /**
   * Restores the workspace doc and the manifest; body docs are loaded on
   * first use (`bodyLoaded` is told of each), so init reads only the
   * workspace doc, the manifest and the history.
   */
  restore(bodyLoaded: (key: string, bytes: Uint8Array) => void): void {
    this.restoreDoc(this.workspace.doc, WORKSPACE_KEY);
    try {
      this.manifest = new Set(readBodyManifest(this.host));
    } catch (e) {
      this.unreadable.add(BODY_MANIFEST_KEY);
      this.reports.warn(`reading ${BODY_MANIFEST_KEY} failed: ${(e as Error).message}`);
    }
    const keys = new Set([...this.workspace.activeKeys(), ...this.manifest]);
    this.bodies.setStore(keys, {
      read: (key) => this.readStored(bodyStorageKey(key)),
      corrupt: (key, bytes, error) => {
        this.unreadable.add(bodyStorageKey(key));
        // Found on first use, after init: reported at once.
        this.reports.reportError(
          `stored ${bodyStorageKey(key)} does not decode (${error.message}); starting it fresh, bytes kept under ${bodyStorageKey(key)}.corrupt`,
        );
        try {
          setAsideCorrupt(this.host, bodyStorageKey(key), bytes);
        } catch (err) {
          this.reports.warn(`could not keep the bytes of ${bodyStorageKey(key)}: ${(err as Error).message}`);
        }
      },
      loaded: bodyLoaded,
    });
  }

  /** Applies stored bytes to a doc; undecodable bytes are set aside, never overwritten. */
  private restoreDoc(doc: Y.Doc, key: string): boolean {
    const bytes = this.readStored(key);
    if (!bytes || bytes.length === 0) return false;
    try {
      Y.applyUpdate(doc, bytes, ORIGIN_RESTORE);
      return true;
    } catch (e) {
      this.reports.warn(`stored ${key} does not decode (${(e as Error).message}); starting it fresh, bytes kept under ${key}.corrupt`);
      // Written again only once a second read confirms the corruption (readBeforeWrite).
      this.unreadable.add(key);
      try {
        setAsideCorrupt(this.host, key, bytes);
      } catch (err) {
        this.reports.warn(`could not keep the bytes of ${key}: ${(err as Error).message}`);
      }
      return false;
    }
  }

  /** This device's stored id, or a new random one (stored unless the stored one could not be read). */
  loadDeviceId(): string {
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
      this.reports.warn(`could not store the device id: ${(e as Error).message}`);
    }
    return id;
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

  // ---- dirty tracking -----------------------------------------------------

  /** Counts changes to the docs; a command that moved it changed state (see SyncRuntime.finishCall). */
  get changeCount(): number {
    return this.changes;
  }

  /** An update was applied to some doc. */
  countChange(): void {
    this.changes++;
  }

  /** The workspace doc changed (the entries of `changedKeys`). */
  workspaceChanged(changedKeys: Iterable<string>): void {
    this.workspaceDirty = true;
    for (const key of changedKeys) this.manifestCheck.add(key);
  }

  /** The body doc of `key` changed. */
  bodyChanged(key: string): void {
    this.dirtyBodies.add(key);
    this.removedBodies.delete(key);
  }

  /** A body doc was dropped: its stored state goes at the next save. */
  bodyRemoved(key: string): void {
    this.dirtyBodies.delete(key);
    this.removedBodies.add(key);
    this.changes++;
  }

  /** The history log changed. */
  historyChanged(): void {
    this.historyDirty = true;
  }

  markWorkspaceDirty(): void {
    this.workspaceDirty = true;
    this.changes++;
  }

  markBodyDirty(key: string): void {
    this.dirtyBodies.add(key);
    this.changes++;
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

  // ---- saving -------------------------------------------------------------

  /**
   * `cb` runs after every save, whatever called it (autosave, a command, shutdown): state kept
   * beside the docs (an encrypted doc's cursor and dirty mark) is written once its doc is stored.
   */
  onSaved(cb: () => void): void {
    this.savedCallbacks.push(cb);
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
    const log = this.history;
    // Retention runs before the log is stored; a full save stores an otherwise
    // unchanged log only when retention thinned it.
    if (log !== null && history && (all || this.historyDirty) && log.compact()) this.historyDirty = true;
    const historyUnread = [...this.unreadable].filter((key) => key.startsWith(HISTORY_KEY_PREFIX));
    if (history && this.historyDirty && historyUnread.length > 0) unreadable(historyUnread.join(', '));
    else if (log !== null && history && this.historyDirty) {
      let ok = true;
      for (const [key, bytes] of log.encode()) ok = put(key, bytes) && ok;
      if (ok) this.historyDirty = false;
    }
    for (const error of errors) this.reports.reportError(error);
    for (const cb of this.savedCallbacks) cb();
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
}
