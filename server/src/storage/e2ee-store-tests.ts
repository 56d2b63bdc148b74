/**
 * The acceptance suite every EncryptedStore must pass (`runEncryptedStoreTests`),
 * beside runStorageAdapterTests. The setup returns a fresh store; `addWorkspace`
 * creates a workspace row where the store needs one (Postgres).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NO_SNAP_ID, type EncryptedStore } from './e2ee';

export interface EncryptedStoreFixture {
  store: EncryptedStore;
  /** Makes workspace `id` exist (an owner's row), before keys are put. */
  addWorkspace?: (id: string) => Promise<void>;
  /** Closes the store and opens a new one on the same data (persistent stores only). */
  reopen?: () => Promise<EncryptedStore>;
  teardown?: () => Promise<void>;
}

const WS = 'ws1';
const DOC = 'e2e:ws1/AAAAAAAAAAAAAAAAAAAAAA';
const DOC2 = 'e2e:ws1/BBBBBBBBBBBBBBBBBBBBBB';
const env = (fill: number, n = 100) => new Uint8Array(n).fill(fill);
const key = (ctr: number, device = 1) => {
  const k = new Uint8Array(24).fill(device, 0, 16);
  new DataView(k.buffer).setUint32(20, ctr, true);
  return k;
};
const id = (b: number) => new Uint8Array(16).fill(b);
const record = (gen: number) => JSON.stringify({ v: 1, gen });
const BIG = Number.MAX_SAFE_INTEGER;

export function runEncryptedStoreTests(name: string, setup: () => Promise<EncryptedStoreFixture>): void {
  describe(`EncryptedStore acceptance: ${name}`, () => {
    let f: EncryptedStoreFixture;
    let store: EncryptedStore;

    beforeEach(async () => {
      f = await setup();
      store = f.store;
      await f.addWorkspace?.(WS);
      await f.addWorkspace?.('ws2');
    });
    afterEach(async () => {
      await f.teardown?.();
    });

    const encrypt = async (ws = WS) => expect(await store.putKeys(ws, 0, record(1))).toEqual({ ok: true, gen: 1 });

    it('stores key records by generation compare-and-set', async () => {
      expect(await store.getKeys(WS)).toBeNull();
      expect(await store.putKeys(WS, 1, record(2))).toEqual({ ok: false, current: null });
      expect(await store.getKeys(WS)).toBeNull();
      await encrypt();
      expect(await store.getKeys(WS)).toMatchObject({ gen: 1 });
      expect(JSON.parse((await store.getKeys(WS))!.record)).toEqual({ v: 1, gen: 1 });
      const stale = await store.putKeys(WS, 0, record(1));
      expect(stale.ok).toBe(false);
      expect(!stale.ok && stale.current?.gen).toBe(1);
      expect(await store.putKeys(WS, 1, record(2))).toEqual({ ok: true, gen: 2 });
      expect(await store.getKeys(WS)).toMatchObject({ gen: 2 });
      expect(await store.getKeys('ws2')).toBeNull();
    });

    it('refuses appends to a workspace without a key record, storing nothing', async () => {
      await expect(store.append(DOC, WS, key(1), env(1), BIG)).rejects.toMatchObject({ name: 'StorageError' });
      expect((await store.read(DOC, 0, BIG)).head).toBe(0);
    });

    it('numbers appends 1..n per doc without gaps, idempotent by client key', async () => {
      await encrypt();
      expect(await store.append(DOC, WS, key(1), env(1), BIG)).toEqual({ kind: 'stored', seq: 1, duplicate: false, logCount: 1, logBytes: 100, head: 1 });
      expect(await store.append(DOC2, WS, key(1), env(9), BIG)).toMatchObject({ kind: 'stored', seq: 1, duplicate: false });
      expect(await store.append(DOC, WS, key(2), env(2), BIG)).toMatchObject({ kind: 'stored', seq: 2, duplicate: false });
      // Same key and bytes: the first seq, nothing new. Same key, other bytes: conflict.
      expect(await store.append(DOC, WS, key(1), env(1), BIG)).toMatchObject({ kind: 'stored', seq: 1, duplicate: true, head: 2 });
      expect(await store.append(DOC, WS, key(1), env(7), BIG)).toEqual({ kind: 'conflict' });
      // The same counter of another device is another key.
      expect(await store.append(DOC, WS, key(1, 2), env(3), BIG)).toMatchObject({ kind: 'stored', seq: 3 });
      const read = await store.read(DOC, 0, BIG);
      expect(read.envelopes.map((e) => [e.seq, e.data[0]])).toEqual([
        [1, 1],
        [2, 2],
        [3, 3],
      ]);
      expect(read).toMatchObject({ head: 3, snapSeq: 0, snapshot: null, more: false, logCount: 3, logBytes: 300 });
      expect(read.snapId).toEqual(NO_SNAP_ID);
    });

    it('numbers concurrent appends of one doc 1..n', async () => {
      await encrypt();
      const seqs = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const r = await store.append(DOC, WS, key(i + 1), env(i), BIG);
          return r.kind === 'stored' ? r.seq : -1;
        }),
      );
      expect(seqs.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    });

    it('refuses an append past the doc size limit, storing nothing', async () => {
      await encrypt();
      await store.append(DOC, WS, key(1), env(1), 250);
      await store.append(DOC, WS, key(2), env(2), 250);
      expect(await store.append(DOC, WS, key(3), env(3), 250)).toEqual({ kind: 'quota' });
      expect((await store.read(DOC, 0, BIG)).head).toBe(2);
      expect((await store.changes(WS, 0)).changeHead).toBe(2);
    });

    it('reads after a cursor, cut at the byte limit but never empty', async () => {
      await encrypt();
      for (let i = 1; i <= 5; i++) await store.append(DOC, WS, key(i), env(i, 100 * i), BIG);
      const r1 = await store.read(DOC, 1, 450);
      expect(r1.envelopes.map((e) => e.seq)).toEqual([2]);
      expect(r1.more).toBe(true);
      expect(r1.envelopes[0].data.length).toBe(200);
      const r2 = await store.read(DOC, 1, 700);
      expect(r2.envelopes.map((e) => e.seq)).toEqual([2, 3]);
      const tiny = await store.read(DOC, 3, 10);
      expect(tiny.envelopes.map((e) => e.seq)).toEqual([4]);
      expect(tiny.more).toBe(true);
      const last = await store.read(DOC, 4, 10);
      expect(last.envelopes.map((e) => e.seq)).toEqual([5]);
      expect(last.more).toBe(false);
      expect(await store.read(DOC, 5, BIG)).toMatchObject({ envelopes: [], more: false, head: 5 });
      expect(await store.read(DOC, 9, BIG)).toMatchObject({ envelopes: [], head: 5 });
      expect(await store.read('e2e:ws1/CCCCCCCCCCCCCCCCCCCCCC', 0, BIG)).toMatchObject({ head: 0, envelopes: [], snapshot: null });
    });

    it('stores a snapshot only on top of the current one and deletes what it covers', async () => {
      await encrypt();
      for (let i = 1; i <= 4; i++) await store.append(DOC, WS, key(i), env(i), BIG);
      const snap = { envelope: env(50, 300), snapId: id(1), prevSnapId: NO_SNAP_ID, coversSeq: 3 };
      // covers seq beyond head, or a prev that is not the current: conflict.
      expect(await store.putSnapshot(DOC, { ...snap, coversSeq: 5 })).toEqual({ stored: false, snapId: NO_SNAP_ID, snapSeq: 0 });
      expect(await store.putSnapshot(DOC, { ...snap, prevSnapId: id(9) })).toEqual({ stored: false, snapId: NO_SNAP_ID, snapSeq: 0 });
      expect(await store.putSnapshot(DOC, { ...snap, coversSeq: 0 })).toMatchObject({ stored: false });
      expect(await store.putSnapshot(DOC, snap)).toEqual({ stored: true, snapId: id(1), snapSeq: 3 });
      // The same request again: not on top of the current one any more.
      expect(await store.putSnapshot(DOC, snap)).toEqual({ stored: false, snapId: id(1), snapSeq: 3 });
      const from0 = await store.read(DOC, 0, BIG);
      expect(from0.snapshot).toEqual(env(50, 300));
      expect(from0.envelopes.map((e) => e.seq)).toEqual([4]);
      expect(from0).toMatchObject({ snapSeq: 3, head: 4, logCount: 1, logBytes: 100 });
      expect(from0.snapId).toEqual(id(1));
      // At or after snap seq: no snapshot.
      expect((await store.read(DOC, 3, BIG)).snapshot).toBeNull();
      expect((await store.read(DOC, 2, BIG)).snapshot).not.toBeNull();
      // The snapshot counts against the byte limit; it always comes whole.
      const cut = await store.read(DOC, 0, 10);
      expect(cut).toMatchObject({ envelopes: [], more: true });
      expect(cut.snapshot).not.toBeNull();
      // New appends keep numbering; a second snapshot needs the first as prev and a higher covers seq.
      expect(await store.append(DOC, WS, key(5), env(5), BIG)).toMatchObject({ seq: 5 });
      expect(await store.putSnapshot(DOC, { envelope: env(51), snapId: id(2), prevSnapId: NO_SNAP_ID, coversSeq: 5 })).toMatchObject({ stored: false, snapSeq: 3 });
      expect(await store.putSnapshot(DOC, { envelope: env(51), snapId: id(2), prevSnapId: id(1), coversSeq: 3 })).toMatchObject({ stored: false });
      expect(await store.putSnapshot(DOC, { envelope: env(51), snapId: id(2), prevSnapId: id(1), coversSeq: 5 })).toEqual({ stored: true, snapId: id(2), snapSeq: 5 });
      expect(await store.read(DOC, 0, BIG)).toMatchObject({ envelopes: [], head: 5, snapSeq: 5, logCount: 0, logBytes: 0 });
      expect(await store.putSnapshot(DOC2, snap)).toEqual({ stored: false, snapId: NO_SNAP_ID, snapSeq: 0 });
    });

    it('lets exactly one of two racing snapshots win', async () => {
      await encrypt();
      for (let i = 1; i <= 3; i++) await store.append(DOC, WS, key(i), env(i), BIG);
      const results = await Promise.all([1, 2].map((b) => store.putSnapshot(DOC, { envelope: env(b), snapId: id(b), prevSnapId: NO_SNAP_ID, coversSeq: 3 })));
      expect(results.filter((r) => r.stored)).toHaveLength(1);
      const winner = results.find((r) => r.stored)!;
      expect(results.find((r) => !r.stored)!.snapId).toEqual(winner.snapId);
      expect((await store.read(DOC, 0, BIG)).snapId).toEqual(winner.snapId);
    });

    it('lists docs changed after a workspace change number', async () => {
      await encrypt();
      await encrypt('ws2');
      expect(await store.changes(WS, 0)).toEqual({ changeHead: 0, docs: [] });
      await store.append(DOC, WS, key(1), env(1), BIG);
      await store.append(DOC2, WS, key(1), env(1), BIG);
      await store.append(DOC, WS, key(2), env(1), BIG);
      await store.append('e2e:ws2/AAAAAAAAAAAAAAAAAAAAAA', 'ws2', key(1), env(1), BIG);
      expect(await store.changes(WS, 0)).toEqual({ changeHead: 3, docs: [{ docId: DOC, head: 2 }, { docId: DOC2, head: 1 }] });
      expect(await store.changes(WS, 2)).toEqual({ changeHead: 3, docs: [{ docId: DOC, head: 2 }] });
      expect(await store.changes(WS, 3)).toEqual({ changeHead: 3, docs: [] });
      expect((await store.changes('ws2', 0)).changeHead).toBe(1);
      // A duplicate or a conflict changes nothing.
      await store.append(DOC2, WS, key(1), env(1), BIG);
      await store.append(DOC2, WS, key(1), env(2), BIG);
      expect((await store.changes(WS, 0)).changeHead).toBe(3);
      expect(await store.heads([DOC, DOC2, 'e2e:ws1/none'])).toEqual(new Map([[DOC, 2], [DOC2, 1], ['e2e:ws1/none', 0]]));
    });

    it('marks a hint at most once per interval', async () => {
      await encrypt();
      await store.append(DOC, WS, key(1), env(1), BIG);
      expect(await store.markHinted(DOC, 1_000_000, 600_000)).toBe(true);
      expect(await store.markHinted(DOC, 1_500_000, 600_000)).toBe(false);
      expect(await store.markHinted(DOC, 1_600_000, 600_000)).toBe(true);
      expect(await store.markHinted(DOC2, 1_600_000, 600_000)).toBe(false);
    });

    it('keeps everything across a reopen', async (ctx) => {
      if (!f.reopen) return ctx.skip();
      await encrypt();
      await store.append(DOC, WS, key(1), env(1), BIG);
      await store.append(DOC, WS, key(2), env(2), BIG);
      await store.putSnapshot(DOC, { envelope: env(5), snapId: id(1), prevSnapId: NO_SNAP_ID, coversSeq: 1 });
      store = await f.reopen();
      expect(await store.getKeys(WS)).toMatchObject({ gen: 1 });
      const r = await store.read(DOC, 0, BIG);
      expect(r).toMatchObject({ head: 2, snapSeq: 1 });
      expect(r.envelopes.map((e) => e.seq)).toEqual([2]);
      expect(await store.append(DOC, WS, key(2), env(2), BIG)).toMatchObject({ seq: 2, duplicate: true });
      expect(await store.append(DOC, WS, key(3), env(3), BIG)).toMatchObject({ seq: 3, duplicate: false });
    });
  });
}
