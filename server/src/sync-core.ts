/**
 * SyncCore: the documents of the server and what happens to them, without any
 * socket. It loads a document on first use, joins and removes clients, applies
 * their y-sync messages, stores every change, relays it, compacts the update
 * log and unloads idle documents.
 *
 * Invariants:
 * - Every operation on one document runs under that document's lock
 *   (load, apply, store, compaction, unload never overlap).
 * - A change is appended to storage before it is relayed or visible to any
 *   other client (a SyncStep2 reply or state vector only shows stored data).
 *   If storage fails, the document is dropped from memory and its clients are
 *   disconnected so that they resynchronise; nothing unstored is ever claimed.
 * - A document whose load failed is never written (it is never registered).
 * - Updates that do not decode are refused for that document only: logged,
 *   not stored, not relayed.
 */
import * as Y from 'yjs';
import { encodeFrame } from '../../common/src/wire/frame';
import {
  decodeSyncMessages,
  encodeSyncMessage,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  hasPendingStructs,
  type SyncMessage,
} from '../../common/src/wire/sync';
import { ServerDocument } from './document';
import { AccessDeniedError, CloseCode, DocumentLoadError, InvalidUpdateError, StorageError, describeError } from './errors';
import { runHooks, type AuthenticatePayload, type ChangeOrigin, type DocumentClient, type Extension, type HookPayloadByName } from './hooks';
import { KeyedMutex } from './keyed-mutex';
import type { Logger } from './log';
import { DEFAULT_OPTIONS } from './options';
import { isSharedLog, type SharedLogStorage, type StorageAdapter } from './storage/adapter';
import { updateSteps } from './update-steps';

/** Largest awareness update relayed; presence is small, anything bigger is refused. */
export const MAX_AWARENESS_BYTES = 256 * 1024;

/** What the core needs. */
export interface SyncCoreOptions {
  storage: StorageAdapter;
  logger: Logger;
  extensions: Extension[];
  unloadDelayMs: number;
  compactAfterUpdates: number;
  compactAfterBytes: number;
  /** Stored size of one document (base + log) beyond which client updates are refused; no limit when absent. */
  maxDocBytes?: number;
  /** Bytes of not yet integrable updates a document may hold; beyond, they are dropped (never stored anyway). */
  maxPendingBytesPerDoc?: number;
  /** Deleted ranges applied in one step; an update with more is applied in steps with turns in between (default 20,000). */
  deleteRangesPerStep?: number;
  /** Deleted ranges of unknown items one update may name; more and it is refused (default: DEFAULT_OPTIONS). */
  maxUnknownDeleteRanges?: number;
}

/** Deleted ranges applied in one step by default (update-steps.ts). */
export const DELETE_RANGES_PER_STEP = 20_000;

/** Resolves after the event loop had a turn. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Size of the part of `update` that `doc` does not hold yet (a client may send
 * its whole state as SyncStep2; only what is new counts against the size
 * limit). An update that does not decode counts whole: applying refuses it.
 */
function newBytes(doc: ServerDocument, update: Uint8Array): number {
  try {
    return Y.diffUpdate(update, Y.encodeStateVector(doc.ydoc)).byteLength;
  } catch {
    return update.byteLength;
  }
}

/** Bytes of updates a Y.Doc holds because their dependencies are missing. */
export function pendingBytes(ydoc: Y.Doc): number {
  const store = ydoc.store;
  return (store.pendingStructs?.update.byteLength ?? 0) + (store.pendingDs?.byteLength ?? 0);
}

/** The core is closed or closing. */
export class CoreClosedError extends Error {
  override name = 'CoreClosedError';
}

export class SyncCore {
  private readonly docs = new Map<string, ServerDocument>();
  private readonly mutex = new KeyedMutex();
  private closing = false;
  /**
   * Set when other processes write the same store (Postgres): a loaded
   * document's `lastSeq` is then the cursor up to which it holds the stored log,
   * and what others appended after it is read and applied (`catchUp`).
   */
  private readonly shared: SharedLogStorage | null;
  /** Documents with a catch-up queued (wake-ups arriving meanwhile are folded into it). */
  private readonly catchUpQueued = new Set<string>();

  constructor(private readonly options: SyncCoreOptions) {
    this.shared = isSharedLog(options.storage) ? options.storage : null;
  }

  /** Ids of the documents in memory. */
  loadedDocIds(): string[] {
    return [...this.docs.keys()];
  }

  /** The stored sequence number a loaded document holds everything up to (undefined when not loaded). */
  cursorOf(docId: string): number | undefined {
    return this.docs.get(docId)?.lastSeq;
  }

  /**
   * Shared store only: reads what other processes appended to a loaded document
   * after its cursor, applies it and relays it to this process's clients of the
   * document. Several calls while one waits for the lock become one. Resolves
   * to the number of stored updates applied.
   */
  async catchUp(docId: string): Promise<number> {
    if (!this.shared || this.closing || !this.docs.has(docId) || this.catchUpQueued.has(docId)) return 0;
    this.catchUpQueued.add(docId);
    return this.mutex.run(docId, async () => {
      this.catchUpQueued.delete(docId);
      const doc = this.docs.get(docId);
      if (!doc || doc.destroyed) return 0;
      return this.readAhead(doc);
    });
  }

  /** Under the lock: applies the stored log after the document's cursor and relays what was new here. */
  private async readAhead(doc: ServerDocument): Promise<number> {
    if (!this.shared) return 0;
    let read;
    try {
      read = await this.shared.readSince(doc.docId, doc.lastSeq);
    } catch (e) {
      this.options.logger.warn('reading updates of other nodes failed', { doc: doc.docId, error: describeError(e) });
      return 0;
    }
    const parts = read.snapshot ? [read.snapshot, ...read.updates.map((u) => u.data)] : read.updates.map((u) => u.data);
    // Updates a client sent here that waited for these rows integrate now; they were never stored.
    const hadPending = hasPendingStructs(doc.ydoc);
    let produced: Uint8Array[] = [];
    if (parts.length > 0) {
      try {
        produced = doc.applyUpdate(parts.length === 1 ? parts[0] : Y.mergeUpdates(parts), 'relay', 'stored');
      } catch (e) {
        this.failDocument(doc, e);
        return 0;
      }
    }
    if (read.snapshot) {
      // Another node folded the log: ours is counted from its base.
      doc.baseBytes = read.snapshot.byteLength;
      doc.logCount = read.updates.length;
      doc.logBytes = read.updates.reduce((n, u) => n + u.data.byteLength, 0);
    } else {
      doc.logCount += read.updates.length;
      doc.logBytes += read.updates.reduce((n, u) => n + u.data.byteLength, 0);
    }
    doc.lastSeq = Math.max(doc.lastSeq, read.head);
    // What was waiting comes out merged with the rows: store it before relaying (a duplicate of stored rows is harmless).
    if (hadPending && produced.length > 0 && !(await this.store(doc, produced, 'relay'))) return 0;
    for (const u of produced) doc.broadcast(encodeFrame(doc.docId, encodeSyncUpdate(u)));
    return read.updates.length + (read.snapshot ? 1 : 0);
  }

  /** Documents in memory. */
  get documentCount(): number {
    return this.docs.size;
  }

  /** Documents with at least one joined client. */
  get activeRooms(): number {
    let n = 0;
    for (const doc of this.docs.values()) if (doc.clients.size > 0) n++;
    return n;
  }

  /** Whether a document is in memory (tests, status). */
  isLoaded(docId: string): boolean {
    return this.docs.has(docId);
  }

  /** Whether `client` is joined to `docId`. */
  isJoined(docId: string, client: DocumentClient): boolean {
    return this.docs.get(docId)?.clients.has(client) ?? false;
  }

  /** Runs every `onAuthenticate` hook; rejects with AccessDeniedError when there is none or one refuses. */
  async authenticate(payload: AuthenticatePayload): Promise<void> {
    if (!this.options.extensions.some((e) => e.onAuthenticate)) throw new AccessDeniedError('not-allowed', payload.workspaceId);
    await runHooks(this.options.extensions, 'onAuthenticate', payload);
  }

  /**
   * Joins `client` to `docId` (loading it if needed). `beforeJoin` runs under
   * the document lock first (the Files-Ready texts go there, so no update can
   * slip in between them and the join). Then the server's SyncStep1 and the
   * known awareness states are sent. Rejects with DocumentLoadError.
   */
  async join(docId: string, client: DocumentClient, beforeJoin?: (doc: ServerDocument) => void): Promise<void> {
    await this.locked(docId, async () => {
      const doc = await this.ensureLoaded(docId);
      beforeJoin?.(doc);
      doc.clients.set(client, doc.clients.get(client) ?? new Set());
      client.sendBinary(encodeFrame(docId, encodeSyncStep1(Y.encodeStateVector(doc.ydoc))));
      const awareness = doc.encodeAllAwareness();
      if (awareness) client.sendBinary(encodeFrame(docId, encodeSyncMessage({ kind: 'awareness', data: awareness })));
      await this.safeHooks('afterJoin', { docId, client });
    });
  }

  /** Removes `client` from `docId`, announcing the removal of its awareness states; no-op if not joined. */
  async leave(docId: string, client: DocumentClient): Promise<void> {
    await this.mutex.run(docId, async () => {
      const doc = this.docs.get(docId);
      if (!doc || !doc.clients.has(client)) return;
      const removal = doc.removeClient(client);
      if (removal) doc.broadcast(encodeFrame(docId, encodeSyncMessage({ kind: 'awareness', data: removal })));
      await this.safeHooks('afterLeave', { docId, client });
      this.scheduleUnload(doc);
    });
  }

  /**
   * Handles a y-sync payload from a joined client. `frame` is the whole binary
   * frame, relayed as is when it carries exactly one Update or awareness message.
   */
  async receive(docId: string, client: DocumentClient, frame: Uint8Array, payload: Uint8Array): Promise<void> {
    await this.mutex.run(docId, async () => {
      const doc = this.docs.get(docId);
      if (!doc || !doc.clients.has(client)) return;
      let messages: SyncMessage[];
      try {
        messages = decodeSyncMessages(payload);
      } catch (e) {
        this.options.logger.warn('dropped malformed sync payload', { conn: client.id, doc: docId, error: describeError(e) });
        return;
      }
      const single = messages.length === 1;
      for (const msg of messages) {
        if (doc.destroyed) return;
        await this.handleMessage(doc, client, msg, single ? frame : null);
      }
      const maxPending = this.options.maxPendingBytesPerDoc ?? Number.POSITIVE_INFINITY;
      if (!doc.destroyed && pendingBytes(doc.ydoc) > maxPending) {
        // Waiting updates are memory only (never stored) and every new one is merged with
        // them: past the limit they are dropped, and the client is asked below to send
        // what the server lacks once it has the missing parts.
        this.options.logger.warn('dropped waiting updates over the limit', { conn: client.id, doc: docId, bytes: pendingBytes(doc.ydoc), limit: maxPending });
        doc.ydoc.store.pendingStructs = null;
        doc.ydoc.store.pendingDs = null;
        client.sendBinary(encodeFrame(docId, encodeSyncStep1(Y.encodeStateVector(doc.ydoc))));
        return;
      }
      if (!doc.destroyed && messages.some((m) => m.kind === 'update') && hasPendingStructs(doc.ydoc)) {
        // Updates wait for missing ones: ask this client for everything the server lacks.
        // Not after a SyncStep2: that already was everything the client has beyond the
        // server's state, so asking again could only repeat it (forever, when nobody
        // has the missing update any more).
        client.sendBinary(encodeFrame(docId, encodeSyncStep1(Y.encodeStateVector(doc.ydoc))));
      }
    });
  }

  private async handleMessage(doc: ServerDocument, client: DocumentClient, msg: SyncMessage, frame: Uint8Array | null): Promise<void> {
    const { docId } = doc;
    const log = this.options.logger;
    switch (msg.kind) {
      case 'step1': {
        let diff: Uint8Array;
        try {
          diff = Y.encodeStateAsUpdate(doc.ydoc, msg.stateVector);
        } catch (e) {
          log.warn('dropped SyncStep1 with an invalid state vector', { conn: client.id, doc: docId, error: describeError(e) });
          return;
        }
        client.sendBinary(encodeFrame(docId, encodeSyncStep2(diff)));
        return;
      }
      case 'step2':
      case 'update': {
        const maxDocBytes = this.options.maxDocBytes ?? Number.POSITIVE_INFINITY;
        if (doc.storedBytes + msg.update.byteLength > maxDocBytes && doc.storedBytes + newBytes(doc, msg.update) > maxDocBytes) {
          log.warn('refused update: document size limit', { conn: client.id, doc: docId, bytes: msg.update.byteLength, limit: maxDocBytes });
          client.sendText(JSON.stringify({ type: 'error', doc_id: docId, message: `Document ${docId} would exceed the size limit of ${maxDocBytes} bytes; the update was refused` }));
          return;
        }
        const produced = await this.applyAndStore(doc, msg.update, client, msg.kind === 'step2' ? 'SyncStep2' : 'Update');
        if (produced === null) return;
        // An Update is relayed as received; a SyncStep2 only when it changed the server, re-tagged as Update.
        if (msg.kind === 'update') doc.broadcast(frame ?? encodeFrame(docId, encodeSyncUpdate(msg.update)), client);
        else if (produced) doc.broadcast(encodeFrame(docId, encodeSyncUpdate(msg.update)), client);
        return;
      }
      case 'awareness': {
        if (msg.data.byteLength > MAX_AWARENESS_BYTES) {
          log.warn('dropped oversized awareness update', { conn: client.id, doc: docId, bytes: msg.data.byteLength });
          return;
        }
        try {
          doc.applyAwareness(msg.data, client);
        } catch (e) {
          log.warn('dropped malformed awareness update', { conn: client.id, doc: docId, error: describeError(e) });
          return;
        }
        doc.broadcast(frame ?? encodeFrame(docId, encodeSyncMessage(msg)), client);
        return;
      }
      case 'auth':
        return;
    }
  }

  /**
   * Applies an update and stores what it changed. Resolves to true when the
   * document changed, false when it did not, null when the update was refused
   * or could not be stored (then nothing may be relayed).
   */
  private async applyAndStore(doc: ServerDocument, update: Uint8Array, origin: ChangeOrigin, messageType: string): Promise<boolean | null> {
    const conn = typeof origin === 'string' ? origin : origin.id;
    const produced: Uint8Array[] = [];
    try {
      const scan = doc.scanUpdate(update, messageType);
      const maxUnknown = this.options.maxUnknownDeleteRanges ?? DEFAULT_OPTIONS.maxUnknownDeleteRanges;
      if (scan.unknownRanges > maxUnknown) {
        // Yjs would keep them pending and retry every one of them on each later update.
        this.options.logger.warn('refused update: deletes of unknown items', { conn, doc: doc.docId, ranges: scan.unknownRanges, limit: maxUnknown, type: messageType });
        if (typeof origin !== 'string') {
          origin.sendText(JSON.stringify({ type: 'error', doc_id: doc.docId, message: `The update deletes ${scan.unknownRanges} ranges of items ${doc.docId} does not hold (limit ${maxUnknown}); it was refused` }));
        }
        return null;
      }
      const steps = updateSteps(update, scan, this.options.deleteRangesPerStep ?? DELETE_RANGES_PER_STEP);
      for (let i = 0; i < steps.length; i++) {
        // A large delete set goes in steps: other sockets and documents get their turn in between.
        if (i > 0) await yieldToEventLoop();
        if (doc.destroyed) break;
        produced.push(...doc.applyStep(steps[i], origin, messageType));
      }
    } catch (e) {
      this.options.logger.error('rejected update', {
        conn,
        doc: doc.docId,
        error: describeError(e instanceof InvalidUpdateError ? e.underlying : e),
        type: messageType,
      });
      // Whatever Yjs integrated before failing is valid document content: keep memory and storage equal.
      const partial = [...produced, ...(e instanceof InvalidUpdateError ? e.partialUpdates : [])];
      if (partial.length > 0 && !doc.destroyed) await this.store(doc, partial, origin);
      return null;
    }
    if (produced.length === 0 || doc.destroyed) return produced.length === 0 ? false : null;
    return (await this.store(doc, produced, origin)) ? true : null;
  }

  /** Appends updates to storage; on failure drops the document and disconnects its clients. */
  private async store(doc: ServerDocument, updates: Uint8Array[], origin: ChangeOrigin): Promise<boolean> {
    const update = updates.length === 1 ? updates[0] : Y.mergeUpdates(updates);
    let seq: number;
    try {
      seq = await this.options.storage.appendUpdate(doc.docId, update);
    } catch (e) {
      this.failDocument(doc, e);
      return false;
    }
    if (this.shared && seq > doc.lastSeq + 1) {
      // Other nodes appended since our cursor: apply and relay theirs (ours comes along, a no-op).
      await this.readAhead(doc);
      if (doc.destroyed) return false;
    } else {
      doc.lastSeq = seq;
      doc.logCount++;
      doc.logBytes += update.byteLength;
    }
    await this.safeHooks('onChange', { docId: doc.docId, document: doc.ydoc, update, origin });
    await this.maybeCompact(doc);
    return true;
  }

  private failDocument(doc: ServerDocument, error: unknown): void {
    this.options.logger.error('storing an update failed; dropping the document from memory', {
      doc: doc.docId,
      error: describeError(error),
    });
    this.drop(doc, CloseCode.InternalError, 'storage failure');
  }

  /** Under the lock: forgets a loaded document and closes its clients (they resynchronise on reconnect). */
  private drop(doc: ServerDocument, code: number, reason: string): void {
    const clients = [...doc.clients.keys()];
    this.docs.delete(doc.docId);
    doc.destroy();
    for (const c of clients) c.close(code, reason);
  }

  /**
   * Drops every loaded document `match` selects and closes its clients with `code` (a workspace
   * became end-to-end encrypted: its plain documents must take no further update here).
   */
  async evict(match: (docId: string) => boolean, code: number, reason: string): Promise<void> {
    for (const docId of this.loadedDocIds().filter(match)) {
      await this.locked(docId, async () => {
        const doc = this.docs.get(docId);
        if (doc) this.drop(doc, code, reason);
      });
    }
  }

  /** Reads a document (loading it if needed, without joining). */
  async read<T>(docId: string, fn: (doc: Y.Doc) => T): Promise<T> {
    return this.locked(docId, async () => {
      const doc = await this.ensureLoaded(docId);
      try {
        return fn(doc.ydoc);
      } finally {
        this.scheduleUnload(doc);
      }
    });
  }

  /**
   * Changes a document on the server's behalf: `fn` runs in one transaction;
   * the result is stored, then sent to every joined client as an Update.
   * Resolves to whether anything changed. Rejects with StorageError if it could
   * not be stored.
   */
  async change(docId: string, origin: string, fn: (doc: Y.Doc) => void): Promise<boolean> {
    return this.locked(docId, async () => {
      const doc = await this.ensureLoaded(docId);
      const produced = doc.change(origin, fn);
      if (produced.length === 0) {
        this.scheduleUnload(doc);
        return false;
      }
      if (!(await this.store(doc, produced, origin))) throw new StorageError('Could not store the change', docId);
      for (const u of produced) doc.broadcast(encodeFrame(docId, encodeSyncUpdate(u)));
      this.scheduleUnload(doc);
      return true;
    });
  }

  /** Folds a loaded document's update log into its base snapshot now (`{"action":"save"}`). */
  async flush(docId: string): Promise<void> {
    await this.mutex.run(docId, async () => {
      const doc = this.docs.get(docId);
      if (doc) await this.compact(doc);
    });
  }

  /** Compacts and unloads every document; later calls reject with CoreClosedError. Clients should be closed first. */
  async close(): Promise<void> {
    this.closing = true;
    for (const doc of this.docs.values()) if (doc.unloadTimer) clearTimeout(doc.unloadTimer);
    await this.mutex.idle();
    for (const [docId, doc] of [...this.docs]) {
      await this.mutex.run(docId, async () => {
        await this.compact(doc);
        this.docs.delete(docId);
        doc.destroy();
      });
    }
  }

  private async locked<T>(docId: string, fn: () => Promise<T>): Promise<T> {
    if (this.closing) throw new CoreClosedError('The sync core is closed');
    return this.mutex.run(docId, fn);
  }

  /** Under the lock: the loaded document, loading it first if needed. */
  private async ensureLoaded(docId: string): Promise<ServerDocument> {
    const existing = this.docs.get(docId);
    if (existing) {
      if (existing.unloadTimer) clearTimeout(existing.unloadTimer);
      existing.unloadTimer = null;
      // Another node may have written since the last wake-up: a joining client sees all that is stored.
      if (this.shared) await this.readAhead(existing);
      if (existing.destroyed) throw new DocumentLoadError(docId, new Error('the document failed while catching up'));
      return existing;
    }
    const doc = new ServerDocument(docId);
    try {
      if (this.shared) {
        const read = await this.shared.readSince(docId, 0);
        doc.applyStored({
          snapshot: read.snapshot,
          updates: read.updates.map((u) => u.data),
          lastSeq: read.head,
          updateBytes: read.updates.reduce((n, u) => n + u.data.byteLength, 0),
        });
      } else doc.applyStored(await this.options.storage.load(docId));
      await runHooks(this.options.extensions, 'afterLoadDocument', { docId, document: doc.ydoc });
    } catch (e) {
      doc.destroy();
      this.options.logger.error('loading a document failed', { doc: docId, error: describeError(e) });
      throw new DocumentLoadError(docId, e);
    }
    this.docs.set(docId, doc);
    await this.maybeCompact(doc);
    return doc;
  }

  private async maybeCompact(doc: ServerDocument): Promise<void> {
    if (doc.logCount >= this.options.compactAfterUpdates || doc.logBytes >= this.options.compactAfterBytes) await this.compact(doc);
  }

  /** Under the lock: writes the full state as the new base and trims the log. Never for a document that did not load. */
  private async compact(doc: ServerDocument): Promise<void> {
    if (!doc.loaded || doc.destroyed || doc.logCount === 0) return;
    try {
      const state = doc.encodeState();
      if (this.shared) {
        const outcome = await this.shared.tryCompact(doc.docId, state, doc.lastSeq);
        // Busy: another node is folding this document now; the log is intact and counted again later.
        if (outcome === 'busy') return;
      } else await this.options.storage.compact(doc.docId, state, doc.lastSeq);
      doc.baseBytes = state.byteLength;
      doc.logCount = 0;
      doc.logBytes = 0;
    } catch (e) {
      // The log is intact; compaction is retried later.
      this.options.logger.warn('compaction failed', { doc: doc.docId, error: describeError(e) });
    }
  }

  private scheduleUnload(doc: ServerDocument): void {
    if (doc.clients.size > 0 || doc.destroyed || this.closing) return;
    if (doc.unloadTimer) clearTimeout(doc.unloadTimer);
    doc.unloadTimer = setTimeout(() => void this.unload(doc), this.options.unloadDelayMs);
    doc.unloadTimer.unref();
  }

  /** Unloads an idle document; re-checks after taking the lock (a client may have joined meanwhile). */
  private async unload(doc: ServerDocument): Promise<void> {
    doc.unloadTimer = null;
    await this.mutex.run(doc.docId, async () => {
      if (this.docs.get(doc.docId) !== doc || doc.clients.size > 0 || doc.unloadTimer) return;
      await this.compact(doc);
      this.docs.delete(doc.docId);
      doc.destroy();
      await this.safeHooks('afterUnloadDocument', { docId: doc.docId });
    });
  }

  /** Runs an observing hook; a failure is logged and does not affect the operation. */
  private async safeHooks<K extends 'afterJoin' | 'afterLeave' | 'onChange' | 'afterUnloadDocument'>(
    name: K,
    payload: HookPayloadByName[K],
  ): Promise<void> {
    try {
      await runHooks(this.options.extensions, name, payload);
    } catch (e) {
      this.options.logger.error(`hook ${name} failed`, { doc: payload.docId, error: describeError(e) });
    }
  }
}
