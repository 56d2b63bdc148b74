/**
 * Per-file body documents (names in common/src/workspace/schema.ts): one Y.Doc per workspace key with a
 * Y.Text `body` (the markdown without front matter) and an unused Y.Map
 * `frontmatter`, like the Diaryx sync crate's `BodyDoc`/`BodyDocManager`.
 *
 * `setBody` replaces the text with one delete and one insert covering the
 * span between the common prefix and suffix, at UTF-16 offsets (yjs), never
 * splitting a surrogate pair; the Rust plugin uses UTF-8 offsets, so update
 * bytes differ for non-ASCII edits while the text converges.
 *
 * Local transactions are reported through `onLocalUpdate(key, update)` (to be
 * sent as y-sync Update messages on `body:<ws>/<key>`); updates applied with
 * a remote/sync origin are not. Every transaction is reported through
 * `onUpdate(key, update, origin)` (for the history log). Listener errors never
 * interrupt Yjs; the operation rethrows them when done.
 *
 * Echo tracking (`trackContent` / `isEcho` / `clearTracked`) remembers the last
 * body this client knows for a path, keyed by the lenient sync key.
 *
 * The manager is in-memory only: persisting `body:<key>` values is the
 * caller's job (`encodeState`, `applyUpdate`).
 */
import * as Y from 'yjs';
import { ClientIdAllocator } from './client-ids';
import { minimalEdit, textOf } from './text-edits';
import { Listeners } from './listeners';
import { ORIGIN_LOCAL, originOf, type UpdateOrigin } from './origin';
import { compareKeys, normalizeSyncKey } from '../../../common/src/workspace/paths';
import { hasPendingStructs } from '../../../common/src/wire/sync';
import { BODY_TEXT_NAME, FRONTMATTER_MAP_NAME } from '../../../common/src/workspace/schema';

export { minimalEdit, textOf } from './text-edits';

export class BodyDocError extends Error {
  override name = 'BodyDocError';
}

export type BodyLocalUpdateListener = (key: string, update: Uint8Array) => void;
export type BodyUpdateListener = (key: string, update: Uint8Array, origin: UpdateOrigin) => void;

interface Entry {
  key: string;
  doc: Y.Doc;
  /** The body text, or null after a transaction (toString walks every item: costly per keystroke). */
  text: string | null;
  /** Transactions seen so far. */
  transactions: number;
}

/** Where stored body docs come from (DocPersistence: plugin storage). */
export interface BodyStore {
  /** Stored bytes of a doc, or null. */
  read(key: string): Uint8Array | null;
  /** Stored bytes did not decode: the doc starts empty; keep the bytes. */
  corrupt(key: string, bytes: Uint8Array, error: Error): void;
  /** A stored doc was loaded. */
  loaded(key: string, bytes: Uint8Array): void;
}

export class BodyDocManager {
  private readonly docs = new Map<string, Entry>();
  private readonly clientIds = new ClientIdAllocator();
  private readonly lastKnown = new Map<string, string>();
  /** Docs kept in storage and loaded on first use (see setStore). */
  private readonly unloaded = new Set<string>();
  private store: BodyStore | null = null;
  private readonly localListeners = new Listeners<[string, Uint8Array]>();
  private readonly updateListeners = new Listeners<[string, Uint8Array, UpdateOrigin]>();
  private readonly heldBackListeners = new Listeners<[string]>();

  /**
   * Called with `(key, update)` for every local transaction on a body doc. A
   * listener error does not interrupt the doc: setBody/applyUpdate rethrow it.
   */
  onLocalUpdate(cb: BodyLocalUpdateListener): () => void {
    return this.localListeners.add(cb);
  }

  /** Called with `(key, update, origin)` for every transaction that changed a body doc. */
  onUpdate(cb: BodyUpdateListener): () => void {
    return this.updateListeners.add(cb);
  }

  /**
   * Called with the key when an applied update is held back (it waits for earlier ones): Yjs
   * reports no update then, but the doc's stored state must keep it (see DocPersistence).
   */
  onHeldBack(cb: (key: string) => void): () => void {
    return this.heldBackListeners.add(cb);
  }

  /** Raises a listener error kept during a transaction made directly on a doc. */
  rethrowListenerErrors(): void {
    this.localListeners.rethrow();
    this.updateListeners.rethrow();
    this.heldBackListeners.rethrow();
  }

  /**
   * Declares docs that exist in storage without loading them: each is read
   * and applied on first use (before its listeners are attached, so loading
   * is not a change). Keeps `init` cheap for large workspaces.
   */
  setStore(keys: Iterable<string>, store: BodyStore): void {
    this.store = store;
    for (const key of keys) if (!this.docs.has(key)) this.unloaded.add(key);
  }

  private loadStored(key: string): void {
    if (!this.unloaded.delete(key) || !this.store) return;
    const bytes = this.store.read(key);
    if (!bytes || bytes.length === 0) return;
    const doc = this.getOrCreate(key, bytes);
    // An empty stored doc is no doc, unless it holds updates waiting for earlier ones (a deletion
    // that came before its text): those are kept until the text comes.
    if (doc.getText(BODY_TEXT_NAME).length === 0 && doc.store.clients.size === 0 && !hasPendingStructs(doc)) this.docs.delete(key);
  }

  get(key: string): Y.Doc | undefined {
    this.loadStored(key);
    return this.docs.get(key)?.doc;
  }

  /** True when the doc is loaded or kept in storage. */
  has(key: string): boolean {
    return this.docs.has(key) || this.unloaded.has(key);
  }

  /** `initial`: stored state applied before the listeners are attached. */
  getOrCreate(key: string, initial?: Uint8Array): Y.Doc {
    this.loadStored(key);
    const existing = this.docs.get(key);
    if (existing) return existing.doc;
    const doc = new Y.Doc();
    doc.clientID = this.clientIds.next();
    if (initial) {
      try {
        Y.applyUpdate(doc, initial);
      } catch (e) {
        this.store?.corrupt(key, initial, e as Error);
        doc.destroy();
        return this.getOrCreate(key);
      }
      this.store?.loaded(key, initial);
    }
    doc.getText(BODY_TEXT_NAME);
    doc.getMap(FRONTMATTER_MAP_NAME);
    const entry: Entry = { key, doc, text: null, transactions: 0 };
    // Before any observer or listener runs, so none of them reads a stale text.
    doc.on('beforeObserverCalls', () => {
      entry.text = null;
      entry.transactions++;
    });
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      const o = originOf(origin);
      if (o === ORIGIN_LOCAL) this.localListeners.emit(entry.key, update);
      this.updateListeners.emit(entry.key, update, o);
    });
    this.docs.set(key, entry);
    return doc;
  }

  /** The body text; '' when the doc is not loaded. */
  getBody(key: string): string {
    this.loadStored(key);
    const entry = this.docs.get(key);
    if (!entry) return '';
    if (entry.text === null) entry.text = textOf(entry.doc.getText(BODY_TEXT_NAME));
    return entry.text;
  }

  /**
   * Replaces the body (creating the doc) with a minimal edit. Returns false
   * when the text was already equal. This is the raw doc edit, with no sync
   * policy: a file's text read from the folder goes through
   * PluginSessionDocs.setLocalBody instead, which decides whether the doc may
   * take it now (a linked workspace's empty doc waits for the server).
   */
  setBody(key: string, text: string): boolean {
    const doc = this.getOrCreate(key);
    const ytext = doc.getText(BODY_TEXT_NAME);
    const current = this.getBody(key);
    if (current === text) return false;
    const edit = minimalEdit(current, text);
    const entry = this.docs.get(key);
    const seen = entry?.transactions ?? 0;
    doc.transact(() => {
      if (edit.deleteCount > 0) ytext.delete(edit.index, edit.deleteCount);
      if (edit.insert !== '') ytext.insert(edit.index, edit.insert);
    }, ORIGIN_LOCAL);
    // Only this edit ran (no listener changed the doc meanwhile): the text is `text`.
    if (entry && entry.transactions === seen + 1) entry.text = text;
    this.rethrowListenerErrors();
    return true;
  }

  /**
   * Replaces the whole body with new text (no character of the old text is
   * kept): a new file at the path of a deleted one, whose text must not be
   * taken for the deleted file's (deleteKnownText).
   */
  replaceBody(key: string, text: string): void {
    const doc = this.getOrCreate(key);
    const ytext = doc.getText(BODY_TEXT_NAME);
    doc.transact(() => {
      if (ytext.length > 0) ytext.delete(0, ytext.length);
      if (text !== '') ytext.insert(0, text);
    }, ORIGIN_LOCAL);
    this.rethrowListenerErrors();
  }

  /** Applies a v1 update (creating the doc). Returns true when the body text changed. */
  applyUpdate(key: string, update: Uint8Array, origin: UpdateOrigin): boolean {
    if (update.length === 0) throw new BodyDocError('Failed to decode update: empty update');
    try {
      Y.decodeUpdate(update);
    } catch (e) {
      throw new BodyDocError(`Failed to decode update: ${(e as Error).message}`);
    }
    const doc = this.getOrCreate(key);
    const before = this.getBody(key);
    try {
      Y.applyUpdate(doc, update, origin);
    } catch (e) {
      throw new BodyDocError(`Failed to apply update: ${(e as Error).message}`);
    }
    if (hasPendingStructs(doc)) this.heldBackListeners.emit(key);
    this.rethrowListenerErrors();
    return this.getBody(key) !== before;
  }

  /** What the doc of `key` holds, per client (loading a stored doc); null when there is none. */
  knownClocks(key: string): Map<number, number> | null {
    const doc = this.get(key);
    return doc ? Y.decodeStateVector(Y.encodeStateVector(doc)) : null;
  }

  /** State vector; that of an empty doc when `key` is not loaded (nothing is created). */
  stateVector(key: string): Uint8Array {
    const doc = this.get(key);
    return doc ? Y.encodeStateVector(doc) : Uint8Array.of(0);
  }

  /** Full state as a v1 update; that of an empty doc when `key` is not loaded. */
  encodeState(key: string): Uint8Array {
    const doc = this.get(key);
    return doc ? Y.encodeStateAsUpdate(doc) : Uint8Array.of(0, 0);
  }

  /** What a peer with state vector `sv` is missing (creates the doc, like `get_diff`). */
  encodeDiff(key: string, sv: Uint8Array): Uint8Array {
    try {
      Y.decodeStateVector(sv);
    } catch (e) {
      throw new BodyDocError(`Failed to decode state vector: ${(e as Error).message}`);
    }
    return Y.encodeStateAsUpdate(this.getOrCreate(key), sv);
  }

  /**
   * Deletes the text of a deleted file this device knew (`known`: the state
   * vector of that file's doc), in one local transaction, and returns the
   * text that is neither that, this device's own (`mine`: what the doc held
   * before the server's state came in, or written by this doc) nor deleted:
   * what other devices wrote since.
   */
  deleteKnownText(key: string, known: Map<number, number>, mine: Map<number, number> = new Map()): string {
    const doc = this.get(key);
    if (!doc) return '';
    const ytext = doc.getText(BODY_TEXT_NAME);
    const ranges: [number, number][] = [];
    let foreign = '';
    let index = 0;
    // Within an item the clocks rise with the characters: a prefix can be this
    // device's, the next part the known deleted text, the rest new.
    const within = (sv: Map<number, number>, item: Y.Item) => Math.max(0, Math.min(item.length, (sv.get(item.id.client) ?? 0) - item.id.clock));
    for (let item = ytext._start; item !== null; item = item.right) {
      if (item.deleted || !item.countable) continue;
      const mineEnd = item.id.client === doc.clientID ? item.length : within(mine, item);
      const knownEnd = Math.max(mineEnd, within(known, item));
      if (knownEnd > mineEnd) ranges.push([index + mineEnd, knownEnd - mineEnd]);
      if (knownEnd < item.length) foreign += (item.content.getContent() as string[]).join('').slice(knownEnd);
      index += item.length;
    }
    if (ranges.length > 0) {
      doc.transact(() => {
        for (let i = ranges.length - 1; i >= 0; i--) ytext.delete(ranges[i][0], ranges[i][1]);
      }, ORIGIN_LOCAL);
      this.rethrowListenerErrors();
    }
    return foreign;
  }

  /** Unloads and destroys the doc. Returns whether it was loaded. */
  remove(key: string): boolean {
    const wasStored = this.unloaded.delete(key);
    const entry = this.docs.get(key);
    if (!entry) return wasStored;
    this.docs.delete(key);
    entry.doc.destroy();
    return true;
  }

  /**
   * Moves the doc of `oldKey` (with its CRDT history) and its tracked content
   * to `newKey`, replacing whatever `newKey` had. Keys are taken as sync keys;
   * empty or equal keys are ignored. Returns whether a doc was moved.
   */
  rename(oldKey: string, newKey: string): boolean {
    const from = normalizeSyncKey(oldKey);
    const to = normalizeSyncKey(newKey);
    if (from === '' || to === '' || from === to) return false;
    this.loadStored(from);
    this.loadStored(oldKey);
    this.loadStored(to);
    const tracked = this.lastKnown.get(from);
    if (tracked !== undefined) {
      this.lastKnown.delete(from);
      this.lastKnown.set(to, tracked);
    }
    const oldName = this.docs.has(from) ? from : oldKey;
    const entry = this.docs.get(oldName);
    if (!entry) return false;
    this.docs.delete(oldName);
    const replaced = this.docs.get(to);
    if (replaced) replaced.doc.destroy();
    entry.key = to;
    this.docs.set(to, entry);
    // Structs still waiting for updates of the old doc can never complete under
    // the new key (those updates stay with the old doc id): drop them rather than
    // carry a gap that no peer can fill.
    const store = entry.doc.store as unknown as { pendingStructs: unknown; pendingDs: unknown };
    store.pendingStructs = null;
    store.pendingDs = null;
    return true;
  }

  loadedKeys(): string[] {
    return [...this.docs.keys()].sort(compareKeys);
  }

  /** Loaded docs and docs kept in storage. */
  knownKeys(): string[] {
    return [...new Set([...this.docs.keys(), ...this.unloaded])].sort(compareKeys);
  }

  /**
   * `ensure_body_content_loaded`: when the doc (created if needed) is empty,
   * fills it from `readBody()` (the body on disk, null when the file is
   * missing) and tracks that content. Returns whether content was loaded.
   */
  ensureLoaded(key: string, readBody: () => string | null): boolean {
    const doc = this.getOrCreate(key);
    if (doc.getText(BODY_TEXT_NAME).length > 0) return false;
    const content = readBody();
    if (content === null || content === '') return false;
    this.setBody(key, content);
    this.trackContent(key, content);
    return true;
  }

  trackContent(path: string, content: string): void {
    this.lastKnown.set(normalizeSyncKey(path), content);
  }

  /** True when `content` is the last content tracked for `path`. */
  isEcho(path: string, content: string): boolean {
    return this.lastKnown.get(normalizeSyncKey(path)) === content;
  }

  clearTracked(path: string): void {
    this.lastKnown.delete(normalizeSyncKey(path));
  }

  /** Destroys every doc and forgets tracked content. */
  clear(): void {
    for (const entry of this.docs.values()) entry.doc.destroy();
    this.docs.clear();
    this.unloaded.clear();
    this.lastKnown.clear();
  }
}
