/**
 * NodeRelay on a real Postgres: when a node hears no wake-ups at all (its
 * notifications are lost while its LISTEN connection stays up, so no
 * reconnection triggers a read either), the periodic sweep alone finds the
 * documents behind and relays what another node stored.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { decodeFrame } from '../../common/src/wire/frame';
import { decodeSyncMessages } from '../../common/src/wire/sync';
import type { DocumentClient } from './hooks';
import { silentLogger } from './log';
import { NodeRelay } from './node-relay';
import type { ChangeFeed } from './storage/adapter';
import { PostgresStorage } from './storage/postgres';
import { SyncCore } from './sync-core';
import { useTestPostgres } from './testing/use-postgres';

const DOC = 'body:ws/sweep.md';

/** A client that applies every update it receives to its own Y.Doc. */
class DocClient implements DocumentClient {
  readonly id = 'reader';
  readonly doc = new Y.Doc();
  sendBinary(frame: Uint8Array): void {
    for (const m of decodeSyncMessages(decodeFrame(frame).payload)) if (m.kind === 'update' || m.kind === 'step2') Y.applyUpdate(this.doc, m.update);
  }
  sendText(): void {}
  close(): void {}
}

/** Wraps a feed so that every wake-up is counted and dropped. */
function deaf(feed: ChangeFeed, dropped: { n: number }): ChangeFeed {
  return {
    start: (_onWake, onReconnect) => feed.start(() => void dropped.n++, onReconnect),
    get up() {
      return feed.up;
    },
    close: () => feed.close(),
  };
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function core(storage: PostgresStorage): SyncCore {
  return new SyncCore({ storage, logger: silentLogger, extensions: [], unloadDelayMs: 60_000, compactAfterUpdates: 500, compactAfterBytes: 1 << 22 });
}

const instance = useTestPostgres();

describe('NodeRelay', () => {
  it('repairs a document through the sweep alone when every wake-up is lost', async () => {
    const url = await instance.createDatabase('sweep');
    const [storageA, storageB] = await Promise.all([PostgresStorage.open({ url }), PostgresStorage.open({ url })]);
    const coreA = core(storageA);
    const coreB = core(storageB);
    const dropped = { n: 0 };
    const deafB = new Proxy(storageB, { get: (target, key) => (key === 'openFeed' ? () => deaf(target.openFeed(), dropped) : Reflect.get(target, key)) });
    const relay = new NodeRelay({ core: coreB, storage: deafB, logger: silentLogger, sweepIntervalMs: 100 });
    try {
      await relay.start();
      const reader = new DocClient();
      await coreB.join(DOC, reader);
      for (let i = 0; i < 5; i++) await coreA.change(DOC, 'writer', (d) => d.getText('t').insert(0, `w${i} `));
      await until('the reader on node B to get every edit', () => reader.doc.getText('t').toString() === 'w4 w3 w2 w1 w0 ');
      // The wake-ups came and were dropped: the sweep read the table.
      expect(dropped.n).toBeGreaterThan(0);
      expect(relay.repairs).toBeGreaterThan(0);
      expect(coreB.cursorOf(DOC)).toBe(5);
    } finally {
      await relay.close();
      await coreA.close();
      await coreB.close();
      await storageA.close();
      await storageB.close();
    }
  });
});
