/** SyncCore without sockets: fake clients, MemoryStorage with probes. */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { decodeFrame, encodeFrame } from '../../common/src/wire/frame';
import { decodeSyncMessages, encodeSyncUpdate } from '../../common/src/wire/sync';
import type { DocumentClient } from './hooks';
import { silentLogger } from './log';
import { MemoryStorage } from './storage/memory';
import { CoreClosedError, SyncCore } from './sync-core';
import { deleteSetUpdate } from './testing/delete-set-update';

const DOC = 'body:ws/a.md';

class FakeClient implements DocumentClient {
  static next = 1;
  readonly id = `f${FakeClient.next++}`;
  readonly frames: Uint8Array[] = [];
  readonly texts: string[] = [];
  closed: number | null = null;
  constructor(private readonly log?: string[]) {}
  sendBinary(frame: Uint8Array): void {
    this.frames.push(frame);
    this.log?.push(`send:${this.id}`);
  }
  sendText(text: string): void {
    this.texts.push(text);
  }
  close(code: number): void {
    this.closed = code;
  }
  kinds(): string[] {
    return this.frames.flatMap((f) => decodeSyncMessages(decodeFrame(f).payload).map((m) => m.kind));
  }
}

function core(storage = new MemoryStorage(), extra: Partial<ConstructorParameters<typeof SyncCore>[0]> = {}): SyncCore {
  return new SyncCore({ storage, logger: silentLogger, extensions: [], unloadDelayMs: 0, compactAfterUpdates: 100, compactAfterBytes: 1 << 20, ...extra });
}

function textUpdate(text: string): Uint8Array {
  const d = new Y.Doc();
  d.getText('body').insert(0, text);
  return Y.encodeStateAsUpdate(d);
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(cond()).toBe(true);
}

describe('SyncCore', () => {
  it('stores an update before it relays it', async () => {
    const order: string[] = [];
    const storage = new MemoryStorage();
    const append = storage.appendUpdate.bind(storage);
    storage.appendUpdate = async (id, u) => {
      order.push('append');
      return append(id, u);
    };
    const c = core(storage);
    const a = new FakeClient(order);
    const b = new FakeClient(order);
    await c.join(DOC, a);
    await c.join(DOC, b);
    order.length = 0;
    const payload = encodeSyncUpdate(textUpdate('x'));
    await c.receive(DOC, a, encodeFrame(DOC, payload), payload);
    expect(order).toEqual(['append', `send:${b.id}`]);
    expect(b.kinds()).toEqual(['step1', 'update']);
  });

  it('refuses every doc when no extension authenticates', async () => {
    await expect(core().authenticate({ docId: DOC, workspaceId: 'ws', token: 't', client: new FakeClient() })).rejects.toMatchObject({
      name: 'AccessDeniedError',
    });
  });

  it('does not register, store or compact a document whose load failed', async () => {
    const storage = new MemoryStorage();
    let calls = 0;
    storage.load = async () => {
      throw new Error('disk gone');
    };
    storage.compact = async () => {
      calls++;
    };
    const c = core(storage);
    await expect(c.join(DOC, new FakeClient())).rejects.toMatchObject({ name: 'DocumentLoadError' });
    expect(c.isLoaded(DOC)).toBe(false);
    await c.close();
    expect(calls).toBe(0);
  });

  it('unloads an idle document (compacting it) and reloads the same content', async () => {
    const storage = new MemoryStorage();
    const c = core(storage);
    const a = new FakeClient();
    await c.join(DOC, a);
    const payload = encodeSyncUpdate(textUpdate('kept'));
    await c.receive(DOC, a, encodeFrame(DOC, payload), payload);
    await c.leave(DOC, a);
    await until(() => !c.isLoaded(DOC));
    expect((await storage.load(DOC)).updates).toHaveLength(0);
    expect(await c.read(DOC, (d) => d.getText('body').toString())).toBe('kept');
  });

  it('keeps a document that was joined again before its unload ran', async () => {
    const storage = new MemoryStorage();
    let gate!: () => void;
    const blocked = new Promise<void>((r) => (gate = r));
    const compact = storage.compact.bind(storage);
    let compacting = false;
    storage.compact = async (...args) => {
      compacting = true;
      await blocked;
      return compact(...args);
    };
    const c = core(storage, { unloadDelayMs: 0 });
    const a = new FakeClient();
    await c.join(DOC, a);
    const payload = encodeSyncUpdate(textUpdate('v1'));
    await c.receive(DOC, a, encodeFrame(DOC, payload), payload);
    await c.leave(DOC, a);
    // The unload is now waiting in compaction; a join queued behind it must see a consistent document.
    await until(() => compacting);
    const b = new FakeClient();
    const joined = c.join(DOC, b);
    gate();
    await joined;
    expect(c.isJoined(DOC, b)).toBe(true);
    expect(await c.read(DOC, (d) => d.getText('body').toString())).toBe('v1');
  });

  it('compacts by update count and closes cleanly', async () => {
    const storage = new MemoryStorage();
    const c = core(storage, { compactAfterUpdates: 3 });
    const a = new FakeClient();
    await c.join(DOC, a);
    const d = new Y.Doc();
    d.on('update', (u: Uint8Array) => void c.receive(DOC, a, encodeFrame(DOC, encodeSyncUpdate(u)), encodeSyncUpdate(u)));
    for (let i = 0; i < 7; i++) d.getText('body').insert(0, `${i}`);
    await c.read(DOC, () => undefined);
    const stored = await storage.load(DOC);
    expect(stored.snapshot).not.toBeNull();
    expect(stored.updates.length).toBeLessThan(3);
    await c.close();
    expect((await storage.load(DOC)).updates).toHaveLength(0);
    await expect(c.join(DOC, a)).rejects.toBeInstanceOf(CoreClosedError);
  });

  it('applies server-side changes, stores them and sends them to every client', async () => {
    const storage = new MemoryStorage();
    const c = core(storage);
    const a = new FakeClient();
    await c.join(DOC, a);
    expect(await c.change(DOC, 'test', (d) => d.getText('body').insert(0, 'srv'))).toBe(true);
    expect(await c.change(DOC, 'test', () => undefined)).toBe(false);
    expect(a.kinds()).toEqual(['step1', 'update']);
    expect((await storage.load(DOC)).updates).toHaveLength(1);
  });

  it('asks for a missing update once per update, not again after the SyncStep2 that answers it', async () => {
    // A gap nobody can fill (the first update is gone everywhere) used to make the
    // server answer each SyncStep2 with another SyncStep1, forever (fuzz seed 105).
    const c = core();
    const a = new FakeClient();
    await c.join(DOC, a);
    const source = new Y.Doc();
    source.getText('body').insert(0, 'one');
    const sv = Y.encodeStateVector(source);
    source.getText('body').insert(3, ' two');
    const second = Y.encodeStateAsUpdate(source, sv);
    const payload = (kind: 1 | 2, update: Uint8Array) => {
      const msg = encodeSyncUpdate(update);
      msg[1] = kind;
      return msg;
    };
    await c.receive(DOC, a, encodeFrame(DOC, payload(2, second)), payload(2, second));
    expect(a.kinds()).toEqual(['step1', 'step1']);
    // The client answers with all it has beyond the server's state: still the gap.
    await c.receive(DOC, a, encodeFrame(DOC, payload(1, second)), payload(1, second));
    expect(a.kinds()).toEqual(['step1', 'step1']);
  });

  describe('large delete sets', () => {
    it('applies a large delete set in steps with turns for the event loop, to the same document', async () => {
      const c = core(new MemoryStorage(), { deleteRangesPerStep: 1_000 });
      const a = new FakeClient();
      const b = new FakeClient();
      await c.join(DOC, a);
      await c.join(DOC, b);
      // 10,000 separate items of client 7 (each inserted at the start), then every other one deleted.
      const src = new Y.Doc();
      src.clientID = 7;
      for (let i = 0; i < 10_000; i++) src.getText('body').insert(0, 'x');
      const base = Y.encodeStateAsUpdate(src);
      await c.receive(DOC, a, encodeFrame(DOC, encodeSyncUpdate(base)), encodeSyncUpdate(base));
      const del = deleteSetUpdate(7, 5_000);
      let turns = 0;
      const ticker = setInterval(() => turns++, 0);
      await new Promise((r) => setImmediate(r));
      const before = turns;
      await c.receive(DOC, a, encodeFrame(DOC, encodeSyncUpdate(del)), encodeSyncUpdate(del));
      clearInterval(ticker);
      // Other work ran while the five steps were applied.
      expect(turns).toBeGreaterThan(before);
      const expected = new Y.Doc();
      Y.applyUpdate(expected, base);
      Y.applyUpdate(expected, del);
      const state = await c.read(DOC, (d) => d.getText('body').toString());
      expect(state).toBe(expected.getText('body').toString());
      expect(state.length).toBe(5_000);
      // Relayed once, as received.
      expect(b.frames.filter((f) => decodeSyncMessages(decodeFrame(f).payload).some((m) => m.kind === 'update')).length).toBe(2);
      expect(a.texts).toEqual([]);
    });

    it('refuses an update deleting many items the document does not hold, with an error, changing nothing', async () => {
      const storage = new MemoryStorage();
      const c = core(storage, { maxUnknownDeleteRanges: 100 });
      const a = new FakeClient();
      const b = new FakeClient();
      await c.join(DOC, a);
      await c.join(DOC, b);
      const before = await c.read(DOC, (d) => Y.encodeStateAsUpdate(d));
      const del = deleteSetUpdate(123, 101);
      await c.receive(DOC, a, encodeFrame(DOC, encodeSyncUpdate(del)), encodeSyncUpdate(del));
      expect(a.texts.map((t) => JSON.parse(t) as { type: string; message: string })).toEqual([
        { type: 'error', doc_id: DOC, message: `The update deletes 101 ranges of items ${DOC} does not hold (limit 100); it was refused` },
      ]);
      expect(b.frames.length).toBe(1); // its SyncStep1 only: nothing relayed
      expect(await c.read(DOC, (d) => Y.encodeStateAsUpdate(d))).toEqual(before);
      expect((await storage.load(DOC)).updates).toEqual([]);
      // 100 such ranges are still taken (a client may send deletes before the items).
      const ok = deleteSetUpdate(124, 100);
      await c.receive(DOC, a, encodeFrame(DOC, encodeSyncUpdate(ok)), encodeSyncUpdate(ok));
      expect(a.texts.length).toBe(1);
    });
  });
});
