import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { useTestPostgres } from '../testing/use-postgres';
import { COMPACTION_LOCK_CLASS, PostgresStorage } from './postgres';
import { runStorageAdapterTests } from './storage-adapter-tests';

const instance = useTestPostgres();
let n = 0;

runStorageAdapterTests('PostgresStorage', async () => {
  const url = await instance.createDatabase(`acceptance_${n++}`);
  let current = await PostgresStorage.open({ url });
  return {
    adapter: current,
    reopen: async () => {
      await current.close();
      current = await PostgresStorage.open({ url });
      return current;
    },
    teardown: async () => void (await current.close()),
  };
}, { persistent: true });

describe('PostgresStorage as a shared log', () => {
  let url: string;
  let a: PostgresStorage;
  let b: PostgresStorage;
  beforeAll(async () => {
    url = await instance.createDatabase('shared');
    [a, b] = await Promise.all([PostgresStorage.open({ url }), PostgresStorage.open({ url })]);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('numbers concurrent appends from two pools 1..n per document, without gap or duplicate', async () => {
    const appends = [];
    for (let i = 0; i < 200; i++) appends.push((i % 2 ? a : b).appendUpdate('workspace:c', new Uint8Array([i & 255])));
    const seqs = (await Promise.all(appends)).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const read = await b.readSince('workspace:c', 0);
    expect(read.updates.map((u) => u.seq)).toEqual(seqs);
    expect(read.head).toBe(200);
    expect((await a.readSince('workspace:c', 150)).updates.map((u) => u.seq)).toEqual(seqs.slice(150));
  });

  it('wakes the other pool after commit with the doc id and seq', async () => {
    const feed = b.openFeed();
    const seen: string[] = [];
    await feed.start((doc, seq) => seen.push(`${doc} ${seq}`), () => undefined);
    const seq = await a.appendUpdate('body:ws/a b.md', new Uint8Array([1]));
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual([`body:ws/a b.md ${seq}`]);
    await feed.close();
  });

  it('reconnects LISTEN after the database terminates it and says so', async () => {
    const feed = b.openFeed();
    let reconnected = 0;
    const seen: number[] = [];
    await feed.start((_d, s) => seen.push(s), () => reconnected++);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()");
    await admin.end();
    for (let i = 0; i < 200 && reconnected === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(reconnected).toBe(1);
    expect(feed.up).toBe(true);
    const seq = await a.appendUpdate('workspace:feed', new Uint8Array([1]));
    for (let i = 0; i < 100 && !seen.includes(seq); i++) await new Promise((r) => setTimeout(r, 20));
    expect(seen).toContain(seq);
    await feed.close();
  });

  it('refuses to compact while another node holds the lock, and never moves the base back', async () => {
    for (let i = 0; i < 3; i++) await a.appendUpdate('workspace:k', new Uint8Array([i]));
    const holder = await a.pool.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [COMPACTION_LOCK_CLASS, 'workspace:k']);
    expect(await b.tryCompact('workspace:k', new Uint8Array([9]), 2)).toBe('busy');
    await holder.query('COMMIT');
    holder.release();
    expect(await b.tryCompact('workspace:k', new Uint8Array([9]), 2)).toBe('done');
    expect(await a.tryCompact('workspace:k', new Uint8Array([8]), 1)).toBe('nothing');
    const doc = await a.load('workspace:k');
    expect([...(doc.snapshot ?? [])]).toEqual([9]);
    expect(doc.updates.map((u) => [...u])).toEqual([[2]]);
    const since = await a.readSince('workspace:k', 1);
    expect(since.snapshot).not.toBeNull();
    expect(since.updates.map((u) => u.seq)).toEqual([3]);
  });
});
