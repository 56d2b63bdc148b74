/**
 * NodeRelay: makes one server process a node among several on a shared store.
 * The store's table is the truth; a wake-up (`doc seq`, LISTEN/NOTIFY) only says
 * when to read it. For each wake-up past a loaded document's cursor, the core
 * reads the rows after the cursor, applies them and relays them to this node's
 * clients (`SyncCore.catchUp`). Wake-ups can be lost (LISTEN connection dropped,
 * database restarted), so after every LISTEN reconnection and on a periodic
 * sweep the node compares the stored heads of its documents with its cursors
 * and catches up wherever it is behind.
 */
import { describeError } from './errors';
import type { Logger } from './log';
import { WAKE_ALL } from './storage/postgres';
import type { ChangeFeed, SharedLogStorage } from './storage/adapter';
import type { SyncCore } from './sync-core';

export interface NodeRelayOptions {
  core: SyncCore;
  storage: SharedLogStorage;
  logger: Logger;
  /** How often heads are compared with cursors even without wake-ups. */
  sweepIntervalMs: number;
  /** Also told of every wake-up and sweep (encrypted docs, e2ee/hub.ts), on the same LISTEN connection. */
  listeners?: FeedListener[];
}

/** Something besides the core that relays what other nodes appended. */
export interface FeedListener {
  wake(docId: string, seq: number): void;
  sweep(): Promise<void>;
}

export class NodeRelay {
  private feed: ChangeFeed | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Documents found behind by a sweep or after a reconnection (a lost wake-up repaired). */
  repairs = 0;
  wakeUps = 0;

  constructor(private readonly o: NodeRelayOptions) {}

  /** Starts listening; rejects when the LISTEN connection cannot be opened. */
  async start(): Promise<void> {
    const feed = this.o.storage.openFeed();
    this.feed = feed;
    if ('onLost' in feed) {
      (feed as { onLost: (reason: string) => void }).onLost = (reason) =>
        this.o.logger.warn('LISTEN connection lost; reconnecting, then reading what was missed', { error: reason });
    }
    await feed.start(
      (docId, seq) => this.wake(docId, seq),
      () => {
        this.o.logger.info('LISTEN connection restored; catching up');
        void this.sweep();
      },
    );
    this.sweepTimer = setInterval(() => void this.sweep(), this.o.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  /** Whether wake-ups are received now. */
  get listening(): boolean {
    return this.feed?.up ?? false;
  }

  private wake(docId: string, seq: number): void {
    this.wakeUps++;
    for (const l of this.o.listeners ?? []) if (docId !== WAKE_ALL) l.wake(docId, seq);
    if (docId === WAKE_ALL) {
      void this.sweep();
      return;
    }
    const cursor = this.o.core.cursorOf(docId);
    if (cursor === undefined || seq <= cursor) return;
    this.o.core.catchUp(docId).catch((e: unknown) => this.o.logger.warn('catching up failed', { doc: docId, error: describeError(e) }));
  }

  /** Compares stored heads with the cursors of the loaded documents and catches up those behind. */
  async sweep(): Promise<void> {
    if (this.closed) return;
    await Promise.all((this.o.listeners ?? []).map((l) => l.sweep()));
    const ids = this.o.core.loadedDocIds();
    if (ids.length === 0) return;
    let heads: Map<string, number>;
    try {
      heads = await this.o.storage.heads(ids);
    } catch (e) {
      this.o.logger.warn('sweep: reading heads failed', { error: describeError(e) });
      return;
    }
    await Promise.all(
      ids.map(async (id) => {
        const cursor = this.o.core.cursorOf(id);
        if (cursor === undefined || (heads.get(id) ?? 0) <= cursor) return;
        this.repairs++;
        await this.o.core.catchUp(id).catch((e: unknown) => this.o.logger.warn('catching up failed', { doc: id, error: describeError(e) }));
      }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.feed?.close();
  }
}
