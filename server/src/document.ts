/**
 * ServerDocument: one Y.Doc held by the server, the clients joined to it and
 * its awareness states. It knows nothing about sockets or storage; the sync
 * core decides when it is loaded, stored, relayed and unloaded.
 *
 * Invariant: `loaded` becomes true only after the stored state was applied
 * completely. A document whose load failed is discarded, never stored.
 */
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import type { DocumentClient } from './hooks';
import { InvalidUpdateError } from './errors';
import type { StoredDocument } from './storage/adapter';
import { scanUpdate, type UpdateScan } from './update-steps';

/** A ServerDocument and its bookkeeping. */
export class ServerDocument {
  readonly ydoc = new Y.Doc();
  readonly awareness: awarenessProtocol.Awareness;
  /** Joined clients, each with the awareness client ids it announced. */
  readonly clients = new Map<DocumentClient, Set<number>>();
  /** True once the stored state was applied completely. */
  loaded = false;
  /** Sequence number of the newest stored update (for compaction). */
  lastSeq = 0;
  /** Updates and bytes logged since the last compaction. */
  logCount = 0;
  logBytes = 0;
  /** Size of the stored base state. */
  baseBytes = 0;
  /** Pending idle-unload timer. */
  unloadTimer: NodeJS.Timeout | null = null;
  /** Set when the document was unloaded; a destroyed document is never used again. */
  destroyed = false;

  constructor(readonly docId: string) {
    this.awareness = new awarenessProtocol.Awareness(this.ydoc);
    this.awareness.setLocalState(null);
    this.awareness.on('update', this.trackAwareness);
  }

  /** Applies what storage returned; sets `loaded`. Throws if the stored bytes do not apply. */
  applyStored(stored: StoredDocument): void {
    const parts = stored.snapshot ? [stored.snapshot, ...stored.updates] : stored.updates;
    if (parts.length > 0) {
      const merged = parts.length === 1 ? parts[0] : Y.mergeUpdates(parts);
      Y.applyUpdate(this.ydoc, merged, 'load');
    }
    this.baseBytes = stored.snapshot?.byteLength ?? 0;
    this.lastSeq = stored.lastSeq;
    this.logCount = stored.updates.length;
    this.logBytes = stored.updateBytes;
    this.loaded = true;
  }

  /**
   * Reads an update from outside (update-steps.ts) before it is applied.
   * Throws InvalidUpdateError for bytes that do not read as a Yjs update.
   */
  scanUpdate(update: Uint8Array, messageType: string): UpdateScan {
    try {
      // Read whole first: malformed bytes are refused before anything is integrated.
      return scanUpdate(update, Y.decodeStateVector(Y.encodeStateVector(this.ydoc)));
    } catch (e) {
      throw new InvalidUpdateError(this.docId, messageType, e);
    }
  }

  /**
   * Applies one step of a plan and returns the updates it produced in this
   * document (empty when nothing changed, e.g. a duplicate or an update whose
   * dependencies are missing). Throws InvalidUpdateError when Yjs fails.
   */
  applyStep(step: Uint8Array, origin: unknown, messageType: string): Uint8Array[] {
    return this.capture(() => {
      try {
        Y.applyUpdate(this.ydoc, step, origin);
      } catch (e) {
        throw new InvalidUpdateError(this.docId, messageType, e);
      }
    });
  }

  /** Reads and applies a whole update at once (scanUpdate + applyStep without turns in between). */
  applyUpdate(update: Uint8Array, origin: unknown, messageType: string): Uint8Array[] {
    this.scanUpdate(update, messageType);
    return this.applyStep(update, origin, messageType);
  }

  /** Runs `fn` in one transaction with `origin` and returns the updates it produced. */
  change(origin: unknown, fn: (doc: Y.Doc) => void): Uint8Array[] {
    return this.capture(() => this.ydoc.transact(() => fn(this.ydoc), origin));
  }

  /**
   * Runs `fn` and collects the `update` events it causes. If `fn` throws after
   * part of an update was integrated, Yjs still emits that part; it is returned
   * on the error (`partialUpdates`) so the caller can store what the document
   * now holds.
   */
  private capture(fn: () => void): Uint8Array[] {
    const produced: Uint8Array[] = [];
    const onUpdate = (u: Uint8Array) => produced.push(u);
    this.ydoc.on('update', onUpdate);
    try {
      fn();
    } catch (e) {
      if (e instanceof InvalidUpdateError) e.partialUpdates = produced;
      throw e;
    } finally {
      this.ydoc.off('update', onUpdate);
    }
    return produced;
  }

  /** What storage holds for this document: base state plus logged updates (the size limit's measure). */
  get storedBytes(): number {
    return this.baseBytes + this.logBytes;
  }

  /** The whole document as one update (v1). */
  encodeState(): Uint8Array {
    return Y.encodeStateAsUpdate(this.ydoc);
  }

  /** Sends a frame to every joined client except `except`. */
  broadcast(frame: Uint8Array, except?: DocumentClient): void {
    for (const client of this.clients.keys()) if (client !== except) client.sendBinary(frame);
  }

  /** Applies an awareness update from `client`; throws on malformed bytes. */
  applyAwareness(data: Uint8Array, client: DocumentClient): void {
    awarenessProtocol.applyAwarenessUpdate(this.awareness, data, client);
  }

  /** An awareness update with every known state, or null when there is none. */
  encodeAllAwareness(): Uint8Array | null {
    const ids = [...this.awareness.getStates().keys()];
    return ids.length > 0 ? awarenessProtocol.encodeAwarenessUpdate(this.awareness, ids) : null;
  }

  /** Removes a client and its awareness states; returns the awareness update announcing the removal, if any. */
  removeClient(client: DocumentClient): Uint8Array | null {
    const ids = this.clients.get(client);
    this.clients.delete(client);
    if (!ids || ids.size === 0) return null;
    const list = [...ids];
    awarenessProtocol.removeAwarenessStates(this.awareness, list, null);
    return awarenessProtocol.encodeAwarenessUpdate(this.awareness, list);
  }

  /** Releases the Y.Doc and the awareness timer; idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.unloadTimer) clearTimeout(this.unloadTimer);
    this.unloadTimer = null;
    this.awareness.off('update', this.trackAwareness);
    this.awareness.destroy();
    this.ydoc.destroy();
    this.clients.clear();
  }

  private readonly trackAwareness = (
    { added, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    const ids = this.clients.get(origin as DocumentClient);
    if (!ids) return;
    for (const id of added) ids.add(id);
    for (const id of removed) ids.delete(id);
  };
}
