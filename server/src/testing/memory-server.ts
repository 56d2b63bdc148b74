/**
 * The sync server's core in memory, for tests of clients against the real
 * server: `SyncCore` on `MemoryStorage` with the server's default options,
 * the token check of `AuthStore` (on an in-memory SQLite database), and the
 * server's own `Connection` for every link (memory-link.ts). Nothing listens
 * on a port. The core answers asynchronously: after feeding a link, `idle()`
 * waits until every connection handled what it received.
 */
import * as Y from 'yjs';
import { AuthStore, authExtension } from '../auth';
import { IN_MEMORY, openDatabase, type SqliteDatabase } from '../db';
import { silentLogger } from '../log';
import { DEFAULT_OPTIONS } from '../options';
import { UserDocCounts } from '../quotas';
import { MemoryStorage } from '../storage/memory';
import { SyncCore } from '../sync-core';
import { openServerSide, type ServerLinkHandlers, type ServerSide } from './memory-link';

/** Close code of the server's sockets when it shuts down (going away). */
const SHUTDOWN_CLOSE_CODE = 1001;

export class MemorySyncServer {
  readonly storage = new MemoryStorage();
  readonly core: SyncCore;
  /** A valid token of `user`, for every link. */
  readonly token: string;
  private readonly db: SqliteDatabase;
  private readonly auth: AuthStore;
  private readonly userDocs = new UserDocCounts(DEFAULT_OPTIONS.maxDocsPerUser);
  /** Links whose connection may still have work queued (closed ones until they finished). */
  private readonly sides = new Set<ServerSide>();
  private closed = false;

  constructor(readonly user = 'tester') {
    this.db = openDatabase(IN_MEMORY);
    this.auth = new AuthStore(this.db, { allowUsers: [], createWorkspaces: true });
    this.token = this.auth.createToken(user);
    this.core = new SyncCore({
      storage: this.storage,
      logger: silentLogger,
      extensions: [authExtension(this.auth)],
      unloadDelayMs: DEFAULT_OPTIONS.unloadDelayMs,
      compactAfterUpdates: DEFAULT_OPTIONS.compactAfterUpdates,
      compactAfterBytes: DEFAULT_OPTIONS.compactAfterBytes,
      maxDocBytes: DEFAULT_OPTIONS.maxDocBytes,
      maxPendingBytesPerDoc: DEFAULT_OPTIONS.maxPendingBytesPerDoc,
      maxUnknownDeleteRanges: DEFAULT_OPTIONS.maxUnknownDeleteRanges,
    });
  }

  /** Opens a link with the server's token: what the server sends goes to `handlers`. */
  accept(handlers: ServerLinkHandlers): ServerSide {
    if (this.closed) throw new Error('MemorySyncServer is closed: it accepts no link');
    const user = this.auth.authenticate(this.token);
    const side = openServerSide({ core: this.core, logger: silentLogger, token: this.token, user, userDocs: this.userDocs }, handlers);
    this.sides.add(side);
    return side;
  }

  /** Resolves when every connection has handled everything it received (what the core relayed is sent by then). */
  async idle(): Promise<void> {
    for (const side of [...this.sides]) {
      await side.idle();
      if (!side.open) this.sides.delete(side);
    }
  }

  /** A copy of the document as the server holds it (loaded from storage when not in memory). */
  async doc(docId: string): Promise<Y.Doc> {
    const state = await this.core.read(docId, (d) => Y.encodeStateAsUpdate(d));
    const copy = new Y.Doc();
    Y.applyUpdate(copy, state);
    return copy;
  }

  /** Shuts down like the server: sockets closed, documents compacted, storage and database closed. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const sides = [...this.sides];
    this.sides.clear();
    for (const side of sides) side.close(SHUTDOWN_CLOSE_CODE);
    for (const side of sides) await side.connection.finished;
    await this.core.close();
    await this.storage.close();
    this.db.close();
  }
}
