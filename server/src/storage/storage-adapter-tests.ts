/**
 * The acceptance suite every StorageAdapter must pass (`runStorageAdapterTests`).
 * Each adapter's test file calls it with a setup that returns a fresh adapter,
 * and, for adapters that persist beyond one instance (`{persistent: true}`), `reopen`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttachmentRecord, StorageAdapter, UploadRecord } from './adapter';

/** What a test setup returns. */
export interface StorageAdapterFixture {
  adapter: StorageAdapter;
  /** Closes `adapter` and opens a new one on the same data (persistent adapters only). */
  reopen?: () => Promise<StorageAdapter>;
  /** Releases everything the setup created. */
  teardown?: () => Promise<void>;
}

const bytes = (...values: number[]) => new Uint8Array(values);

/** Registers the shared StorageAdapter tests under `describe(name)`; the reopen test runs when the fixture has `reopen`. */
export function runStorageAdapterTests(name: string, setup: () => Promise<StorageAdapterFixture>, options: { persistent?: boolean } = {}): void {
  describe(`StorageAdapter acceptance: ${name}`, () => {
    let fixture: StorageAdapterFixture;
    let adapter: StorageAdapter;

    beforeEach(async () => {
      fixture = await setup();
      adapter = fixture.adapter;
    });
    afterEach(async () => {
      await adapter.close();
      await fixture.teardown?.();
    });

    it('loads an unknown document as empty', async () => {
      expect(await adapter.load('workspace:none')).toEqual({ snapshot: null, updates: [], lastSeq: 0, updateBytes: 0 });
    });

    it('returns appended updates in order with increasing sequence numbers', async () => {
      const s1 = await adapter.appendUpdate('workspace:a', bytes(1, 2, 3));
      const s2 = await adapter.appendUpdate('workspace:a', bytes(0, 0));
      const s3 = await adapter.appendUpdate('workspace:a', bytes(255));
      expect(s1).toBeLessThan(s2);
      expect(s2).toBeLessThan(s3);
      const doc = await adapter.load('workspace:a');
      expect(doc.snapshot).toBeNull();
      expect(doc.updates.map((u) => [...u])).toEqual([[1, 2, 3], [0, 0], [255]]);
      expect(doc.lastSeq).toBe(s3);
      expect(doc.updateBytes).toBe(6);
    });

    it("keeps each document's sequence numbers increasing while other documents are written", async () => {
      const a = await adapter.appendUpdate('workspace:a', bytes(1));
      await adapter.appendUpdate('body:a/x.md', bytes(2));
      const c = await adapter.appendUpdate('workspace:a', bytes(3));
      expect(a).toBeLessThan(c);
      expect((await adapter.load('workspace:a')).lastSeq).toBe(c);
    });

    it('keeps documents apart', async () => {
      await adapter.appendUpdate('workspace:a', bytes(1));
      await adapter.appendUpdate('workspace:b', bytes(2));
      expect((await adapter.load('workspace:a')).updates.map((u) => [...u])).toEqual([[1]]);
      expect((await adapter.load('workspace:b')).updates.map((u) => [...u])).toEqual([[2]]);
    });

    it('compacts into a base snapshot and keeps updates appended after throughSeq', async () => {
      await adapter.appendUpdate('workspace:a', bytes(1));
      const s2 = await adapter.appendUpdate('workspace:a', bytes(2));
      const s3 = await adapter.appendUpdate('workspace:a', bytes(3));
      await adapter.compact('workspace:a', bytes(9, 9), s2);
      const doc = await adapter.load('workspace:a');
      expect([...(doc.snapshot ?? [])]).toEqual([9, 9]);
      expect(doc.updates.map((u) => [...u])).toEqual([[3]]);
      expect(doc.lastSeq).toBe(s3);
      expect(doc.updateBytes).toBe(1);
    });

    it('replaces an earlier snapshot on the next compaction', async () => {
      const s1 = await adapter.appendUpdate('workspace:a', bytes(1));
      await adapter.compact('workspace:a', bytes(7), s1);
      const s2 = await adapter.appendUpdate('workspace:a', bytes(2));
      await adapter.compact('workspace:a', bytes(8), s2);
      const doc = await adapter.load('workspace:a');
      expect([...(doc.snapshot ?? [])]).toEqual([8]);
      expect(doc.updates).toEqual([]);
      expect(doc.lastSeq).toBe(0);
    });

    it('compacts a document that has no log', async () => {
      await adapter.compact('workspace:a', bytes(5), 0);
      expect([...((await adapter.load('workspace:a')).snapshot ?? [])]).toEqual([5]);
    });

    it('copies bytes in and out', async () => {
      const input = bytes(1, 2);
      await adapter.appendUpdate('workspace:a', input);
      input[0] = 99;
      const first = await adapter.load('workspace:a');
      first.updates[0][1] = 77;
      const second = await adapter.load('workspace:a');
      expect([...second.updates[0]]).toEqual([1, 2]);
    });

    it('stores large and empty values unchanged', async () => {
      const big = new Uint8Array(2 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255;
      await adapter.appendUpdate('workspace:a', big);
      await adapter.appendUpdate('workspace:a', new Uint8Array(0));
      const doc = await adapter.load('workspace:a');
      expect(doc.updates).toHaveLength(2);
      expect(Buffer.from(doc.updates[0]).equals(Buffer.from(big))).toBe(true);
      expect(doc.updates[1].byteLength).toBe(0);
    });

    it('lists documents by plain string prefix, sorted', async () => {
      await adapter.appendUpdate('body:ws/b.md', bytes(1));
      await adapter.compact('body:ws/a.md', bytes(1), 0);
      await adapter.appendUpdate('body:ws2/c.md', bytes(1));
      await adapter.appendUpdate('workspace:ws', bytes(1));
      expect(await adapter.list('body:ws/')).toEqual(['body:ws/a.md', 'body:ws/b.md']);
      expect(await adapter.list('body:ws')).toEqual(['body:ws/a.md', 'body:ws/b.md', 'body:ws2/c.md']);
      expect(await adapter.list('')).toEqual(['body:ws/a.md', 'body:ws/b.md', 'body:ws2/c.md', 'workspace:ws']);
      expect(await adapter.list('none')).toEqual([]);
    });

    it('treats ids with unusual characters literally', async () => {
      const ids = ['body:ws/emoji-🎉.md', 'body:ws/café.md', 'body:ws/100%_done.md', "body:ws/o'neil [1].md"];
      for (const id of ids) await adapter.appendUpdate(id, new TextEncoder().encode(id));
      for (const id of ids) expect(new TextDecoder().decode((await adapter.load(id)).updates[0])).toBe(id);
      expect(await adapter.list('body:ws/100%')).toEqual(['body:ws/100%_done.md']);
      expect(await adapter.list('body:ws/_')).toEqual([]);
    });

    it('removes a document', async () => {
      await adapter.appendUpdate('workspace:a', bytes(1));
      await adapter.compact('workspace:a', bytes(2), 0);
      await adapter.appendUpdate('workspace:b', bytes(3));
      await adapter.remove('workspace:a');
      await adapter.remove('workspace:never');
      expect(await adapter.load('workspace:a')).toEqual({ snapshot: null, updates: [], lastSeq: 0, updateBytes: 0 });
      expect(await adapter.list('')).toEqual(['workspace:b']);
    });

    it('rejects calls after close', async () => {
      await adapter.close();
      await adapter.close();
      await expect(adapter.load('workspace:a')).rejects.toMatchObject({ name: 'StorageError' });
      await expect(adapter.appendUpdate('workspace:a', bytes(1))).rejects.toMatchObject({ name: 'StorageError' });
    });

    // Attachment metadata: adapters without `attachments` skip these (the server uses SQLite for them).
    const blob = (workspaceId: string, hash: string, extra: Partial<AttachmentRecord> = {}): AttachmentRecord => ({
      workspaceId,
      hash,
      size: 10,
      mimeType: 'image/png',
      path: '_attachments/a.png',
      createdAt: 1,
      unreferencedSince: null,
      ...extra,
    });
    const upload = (uploadId: string, createdAt: number): UploadRecord => ({
      uploadId,
      workspaceId: 'w',
      hash: 'a'.repeat(64),
      size: 20_000_000,
      mimeType: 'image/jpeg',
      partSize: 8_388_608,
      totalParts: 3,
      attachmentPath: '_attachments/p.jpg',
      entryPath: 'day.md',
      createdAt,
    });

    it('stores, replaces, lists and removes attachment records', async (ctx) => {
      const meta = adapter.attachments;
      if (!meta) return ctx.skip();
      await meta.putAttachment(blob('w2', 'bb'));
      await meta.putAttachment(blob('w1', 'cc'));
      await meta.putAttachment(blob('w1', 'aa'));
      await meta.putAttachment(blob('w1', 'cc', { unreferencedSince: 5, size: 11 }));
      expect(await meta.getAttachment('w1', 'cc')).toEqual(blob('w1', 'cc', { unreferencedSince: 5, size: 11 }));
      expect(await meta.getAttachment('w2', 'cc')).toBeNull();
      expect((await meta.listAttachments(null)).map((r) => `${r.workspaceId}/${r.hash}`)).toEqual(['w1/aa', 'w1/cc', 'w2/bb']);
      expect((await meta.listAttachments('w1')).map((r) => r.hash)).toEqual(['aa', 'cc']);
      await meta.removeAttachment('w1', 'aa', '_attachments/a.png');
      await meta.removeAttachment('w1', 'never', '_attachments/a.png');
      await meta.removeAttachment('w1', 'cc', '_attachments/other.png');
      expect((await meta.listAttachments(null)).map((r) => r.hash)).toEqual(['cc', 'bb']);
      // Records are copies: changing one read does not change the store.
      const read = (await meta.getAttachment('w2', 'bb'))!;
      read.size = 99;
      expect((await meta.getAttachment('w2', 'bb'))!.size).toBe(10);
    });

    it('holds one blob under each path it was uploaded as', async (ctx) => {
      const meta = adapter.attachments;
      if (!meta) return ctx.skip();
      await meta.putAttachment(blob('w', 'aa', { path: 'z/linked.png', createdAt: 2 }));
      await meta.putAttachment(blob('w', 'aa', { path: '_attachments/dot.png', createdAt: 1 }));
      await meta.putAttachment(blob('w', 'aa', { path: 'z/linked.png', createdAt: 3 }));
      expect((await meta.listAttachments('w')).map((r) => `${r.path}@${r.createdAt}`)).toEqual(['_attachments/dot.png@1', 'z/linked.png@3']);
      expect((await meta.getAttachment('w', 'aa'))!.path).toBe('_attachments/dot.png');
      await meta.removeAttachment('w', 'aa', '_attachments/dot.png');
      expect((await meta.listAttachments(null)).map((r) => r.path)).toEqual(['z/linked.png']);
      expect((await meta.getAttachment('w', 'aa'))!.path).toBe('z/linked.png');
    });

    it('stores, lists and removes uploads', async (ctx) => {
      const meta = adapter.attachments;
      if (!meta) return ctx.skip();
      await meta.putUpload(upload('u2', 20));
      await meta.putUpload(upload('u1', 10));
      expect(await meta.getUpload('u2')).toEqual(upload('u2', 20));
      expect(await meta.getUpload('nope')).toBeNull();
      expect((await meta.listUploads()).map((u) => u.uploadId)).toEqual(['u1', 'u2']);
      await meta.removeUpload('u1');
      await meta.removeUpload('u1');
      expect((await meta.listUploads()).map((u) => u.uploadId)).toEqual(['u2']);
    });

    if (options.persistent) it('keeps attachment metadata across a reopen', async (ctx) => {
      if (!fixture.reopen) throw new Error('a persistent adapter fixture must provide reopen()');
      if (!adapter.attachments) return ctx.skip();
      await adapter.attachments.putAttachment(blob('w', 'aa'));
      await adapter.attachments.putUpload(upload('u', 1));
      adapter = await fixture.reopen();
      expect(await adapter.attachments!.getAttachment('w', 'aa')).toEqual(blob('w', 'aa'));
      expect(await adapter.attachments!.getUpload('u')).toEqual(upload('u', 1));
    });

    if (options.persistent) it('keeps data across a reopen', async () => {
      if (!fixture.reopen) throw new Error('a persistent adapter fixture must provide reopen()');
      await adapter.appendUpdate('workspace:a', bytes(1));
      const s2 = await adapter.appendUpdate('workspace:a', bytes(2));
      await adapter.compact('workspace:a', bytes(3), s2 - 1);
      adapter = await fixture.reopen();
      const doc = await adapter.load('workspace:a');
      expect([...(doc.snapshot ?? [])]).toEqual([3]);
      expect(doc.updates.map((u) => [...u])).toEqual([[2]]);
      const s3 = await adapter.appendUpdate('workspace:a', bytes(4));
      expect(s3).toBeGreaterThan(s2);
    });
  });
}
