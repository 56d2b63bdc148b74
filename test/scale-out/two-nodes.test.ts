/**
 * Two real server processes on one real Postgres database act as one server:
 * live relay across nodes, shared tokens and workspaces, catch-up after a lost
 * LISTEN connection, gap-free sequence numbers under concurrent appends from
 * both nodes, and compaction by both nodes at once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { withPgAuthStore } from '../../server/src/index';
import { TestClient } from '../server/helpers/client';
import { waitFor } from '../server/helpers/wait';
import { useTestPostgres } from '../../server/src/testing/use-postgres';
import pg from 'pg';
import { logShape, prng, randomEdit, sql, startNode, stopNode, storedState, type Node } from './nodes';

const pgi = useTestPostgres();
let dbUrl: string;
let token: string;
let n1: Node;
let n2: Node;
const clients: TestClient[] = [];

beforeAll(async () => {
  dbUrl = await pgi.createDatabase('two_nodes');
  [n1, n2] = await Promise.all([startNode(dbUrl), startNode(dbUrl)]);
  token = await withPgAuthStore(dbUrl, (auth) => auth.createToken('alice'));
});
afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all([n1, n2].filter(Boolean).map(stopNode));
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function client(node: Node): Promise<TestClient> {
  const c = await TestClient.connect(node.wsUrl, token);
  clients.push(c);
  return c;
}

function text(c: TestClient, doc: string): string {
  return c.doc(doc).getText('t').toString();
}

function sameState(a: Y.Doc, b: Y.Doc): boolean {
  return Buffer.from(Y.encodeStateVector(a)).equals(Buffer.from(Y.encodeStateVector(b)));
}

describe('two nodes on one database', () => {
  it('share tokens and workspaces, report the database as reachable, and refuse what they should', async () => {
    const created = await fetch(`${n1.url}/api/workspaces`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Journal' }),
    });
    expect(created.status).toBe(200);
    const ws = (await created.json()) as { id: string };
    const listed = (await (await fetch(`${n2.url}/api/workspaces`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { id: string }[];
    expect(listed.map((w) => w.id)).toContain(ws.id);
    expect((await fetch(`${n2.url}/api/workspaces`, { headers: { Authorization: 'Bearer dxs_nope' } })).status).toBe(401);
    for (const n of [n1, n2]) {
      const ready = await fetch(`${n.url}/ready`);
      expect(ready.status).toBe(200);
      const status = (await (await fetch(`${n.url}/api/status`, { headers: { Authorization: `Bearer ${token}` } })).json()) as Record<string, unknown>;
      expect(status).toMatchObject({ database: 'ok', listen: 'up' });
    }
    // A workspace first opened through node 1 belongs to alice on node 2 as well; bob is refused there.
    const a = await client(n1);
    a.sendStep1('body:shared-ws/a.md');
    await waitFor(() => a.framesFor('body:shared-ws/a.md').some((f) => f.subtype === 1), 'join on node 1');
    const bobToken = await withPgAuthStore(dbUrl, (auth) => auth.createToken('bob'));
    const bob = await TestClient.connect(n2.wsUrl, bobToken);
    clients.push(bob);
    bob.sendStep1('body:shared-ws/a.md');
    await waitFor(() => bob.texts.length > 0 || bob.closeCode !== null, 'refusal of bob');
    expect(bob.framesFor('body:shared-ws/a.md').some((f) => f.subtype === 1)).toBe(false);
  });

  it('closes sockets on every node when their token is revoked through the database', async () => {
    const carol = await withPgAuthStore(dbUrl, (auth) => auth.createToken('carol'));
    const onN1 = await TestClient.connect(n1.wsUrl, carol);
    const onN2 = await TestClient.connect(n2.wsUrl, carol);
    clients.push(onN1, onN2);
    onN2.sendStep1('body:carol/a.md');
    await waitFor(() => onN2.framesFor('body:carol/a.md').some((f) => f.subtype === 1), 'join');
    const [info] = await withPgAuthStore(dbUrl, (auth) => auth.listTokens('carol'));
    await withPgAuthStore(dbUrl, (auth) => auth.revokeToken(info.id));
    await waitFor(() => onN1.closeCode !== null && onN2.closeCode !== null, 'both sockets closed', 15_000);
    expect([onN1.closeCode, onN2.closeCode]).toEqual([4001, 4001]);
  });

  it('relays 1,000 random edits from each side across nodes; the clients and the database end byte-equal', async () => {
    const seed = Number(process.env.DIARYX_SEED ?? Date.now() % 1_000_000);
    console.log(`[two-nodes relay] seed ${seed}`);
    const rand = prng(seed);
    const doc = 'body:relay/notes.md';
    const a = await client(n1);
    const b = await client(n2);
    a.sendStep1(doc);
    b.sendStep1(doc);
    await waitFor(() => a.framesFor(doc).some((f) => f.subtype === 1) && b.framesFor(doc).some((f) => f.subtype === 1), 'both joined');
    const ta = a.doc(doc).getText('t');
    const tb = b.doc(doc).getText('t');
    let fromA = 0;
    let fromB = 0;
    while (fromA < 1000 || fromB < 1000) {
      const useA = fromB >= 1000 || (fromA < 1000 && rand() < 0.5);
      if (useA) randomEdit(ta, rand, `a${fromA++}-`);
      else randomEdit(tb, rand, `b${fromB++}-`);
      // Let the sockets breathe now and then, so edits cross while others are in flight.
      if (rand() < 0.05) await new Promise((r) => setTimeout(r, 1));
    }
    await waitFor(() => sameState(a.doc(doc), b.doc(doc)) && text(a, doc) === text(b, doc), 'clients on both nodes to converge', 60_000);
    const stored = await waitFor(async () => {
      const s = await storedState(dbUrl, doc);
      return Buffer.from(s).equals(Buffer.from(Y.encodeStateAsUpdate(a.doc(doc)))) ? s : null;
    }, 'stored state to equal the clients', 30_000);
    expect(Buffer.from(Y.encodeStateAsUpdate(b.doc(doc))).equals(Buffer.from(stored))).toBe(true);
    expect(text(a, doc).length).toBeGreaterThan(0);
  });

  it('relays an update to nobody, on either node, before its append committed', async () => {
    const doc = 'body:commit/a.md';
    const writer = await client(n1);
    const sameNode = await client(n1);
    const otherNode = await client(n2);
    for (const c of [writer, sameNode, otherNode]) {
      c.sendStep1(doc);
      await waitFor(() => c.framesFor(doc).some((f) => f.subtype === 1), 'join');
    }
    writer.doc(doc).getText('t').insert(0, 'first ');
    await waitFor(() => text(sameNode, doc) === 'first ' && text(otherNode, doc) === 'first ', 'first edit everywhere');
    // Hold the document's row lock: the next append waits for it and cannot commit.
    const locker = new pg.Client({ connectionString: dbUrl });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT head FROM docs WHERE doc_id = $1 FOR UPDATE', [doc]);
    writer.doc(doc).getText('t').insert(0, 'held ');
    await waitFor(async () => (await sql(dbUrl, "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE docs SET head%'")).rowCount === 1, 'the append to wait for the lock');
    const framesBefore = sameNode.framesFor(doc).length + otherNode.framesFor(doc).length;
    await new Promise((r) => setTimeout(r, 300));
    expect(sameNode.framesFor(doc).length + otherNode.framesFor(doc).length).toBe(framesBefore);
    expect(text(sameNode, doc)).toBe('first ');
    await locker.query('COMMIT');
    await locker.end();
    await waitFor(() => text(sameNode, doc) === 'held first ' && text(otherNode, doc) === 'held first ', 'the edit after commit, on both nodes');
  });

  it('stores an update that waited on one node for a row another node committed, before relaying it', async () => {
    const doc = 'body:pending/a.md';
    const src = new Y.Doc();
    const updates: Uint8Array[] = [];
    src.on('update', (u: Uint8Array) => updates.push(u));
    src.getText('t').insert(0, 'a');
    src.getText('t').insert(1, 'b');
    const [first, second] = updates;
    // A client of node 1 sends the second update only; it cannot integrate there yet. It answers no SyncStep1.
    const waiting = await client(n1);
    waiting.autoApply = false;
    const reader = await client(n1);
    for (const c of [waiting, reader]) {
      c.sendStep1(doc);
      await waitFor(() => c.framesFor(doc).some((f) => f.subtype === 1), 'join');
    }
    waiting.sendUpdate(doc, second);
    await waiting.roundTrip(doc);
    // The first one arrives through node 2 and is committed there.
    const other = await client(n2);
    other.sendStep1(doc);
    await waitFor(() => other.framesFor(doc).some((f) => f.subtype === 1), 'join on node 2');
    Y.applyUpdate(other.doc(doc), first); // sent as an Update
    await waitFor(() => text(reader, doc) === 'ab', 'node 1 to integrate both and relay them');
    const stored = new Y.Doc();
    Y.applyUpdate(stored, await storedState(dbUrl, doc));
    expect(stored.getText('t').toString()).toBe('ab');
    await waitFor(() => text(other, doc) === 'ab', 'node 2 client to get the update that waited on node 1');
  });

  it('numbers concurrent appends from both nodes 1..n without gaps', async () => {
    const doc = 'body:seq/a.md';
    const a = await client(n1);
    const b = await client(n2);
    a.sendStep1(doc);
    b.sendStep1(doc);
    await waitFor(() => a.framesFor(doc).some((f) => f.subtype === 1) && b.framesFor(doc).some((f) => f.subtype === 1), 'both joined');
    for (let i = 0; i < 200; i++) {
      a.doc(doc).getText('t').insert(0, 'a');
      b.doc(doc).getText('t').insert(0, 'b');
    }
    await waitFor(() => text(a, doc).length === 400 && text(b, doc).length === 400, 'all edits on both sides', 30_000);
    await a.roundTrip(doc);
    await b.roundTrip(doc);
    const shape = await logShape(dbUrl, doc);
    expect(shape.head).toBeGreaterThanOrEqual(400);
    // The rows are exactly snap_seq+1 .. head: no hole, no duplicate.
    expect(shape.seqs).toEqual(Array.from({ length: shape.head - shape.snapSeq }, (_, i) => shape.snapSeq + 1 + i));
  });

  it('clients converge after the database terminates both LISTEN connections', async () => {
    const doc = 'body:listen/a.md';
    const a = await client(n1);
    const b = await client(n2);
    a.sendStep1(doc);
    b.sendStep1(doc);
    await waitFor(() => a.framesFor(doc).some((f) => f.subtype === 1) && b.framesFor(doc).some((f) => f.subtype === 1), 'both joined');
    // Live, one way: only the wake-up can tell node 2 about node 1's edit.
    a.doc(doc).getText('t').insert(0, 'live ');
    await waitFor(() => text(b, doc) === 'live ', 'edit on node 1 seen through node 2');
    const killed = await sql(dbUrl, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()");
    expect(killed.rowCount).toBe(2);
    // Edits on one side only, made while wake-ups cannot arrive: node 2 learns of them by reading the table after it listens again.
    for (let i = 0; i < 50; i++) a.doc(doc).getText('t').insert(0, `a${i} `);
    await waitFor(() => sameState(a.doc(doc), b.doc(doc)), 'node 2 client to catch up after LISTEN loss (reconnect, then read; the 30 s sweep comes too late)', 15_000);
    for (let i = 0; i < 50; i++) b.doc(doc).getText('t').insert(0, `b${i} `);
    await waitFor(() => sameState(a.doc(doc), b.doc(doc)), 'node 1 client to catch up', 30_000);
    expect(text(a, doc)).toBe(text(b, doc));
    expect(text(a, doc)).toContain('a49 ');
    expect(text(a, doc)).toContain('b49 ');
    await waitFor(async () => (await fetch(`${n2.url}/ready`)).status === 200, 'node 2 ready again', 30_000);
  });

  it('keeps every write while both nodes compact the same document at once', async () => {
    const doc = 'body:compact/a.md';
    const a = await client(n1);
    const b = await client(n2);
    a.sendStep1(doc);
    b.sendStep1(doc);
    await waitFor(() => a.framesFor(doc).some((f) => f.subtype === 1) && b.framesFor(doc).some((f) => f.subtype === 1), 'both joined');
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 10; i++) {
        a.doc(doc).getText('t').insert(0, `a${round}.${i} `);
        b.doc(doc).getText('t').insert(0, `b${round}.${i} `);
      }
      a.sendText(JSON.stringify({ action: 'save', doc }));
      b.sendText(JSON.stringify({ action: 'save', doc }));
    }
    await waitFor(() => sameState(a.doc(doc), b.doc(doc)), 'convergence', 30_000);
    await a.roundTrip(doc);
    await b.roundTrip(doc);
    a.sendText(JSON.stringify({ action: 'save', doc }));
    await a.roundTrip(doc);
    const stored = new Y.Doc();
    Y.applyUpdate(stored, await storedState(dbUrl, doc));
    expect(stored.getText('t').toString()).toBe(text(a, doc));
    for (let round = 0; round < 20; round++) for (let i = 0; i < 10; i++) {
      expect(text(a, doc)).toContain(`a${round}.${i} `);
      expect(text(a, doc)).toContain(`b${round}.${i} `);
    }
    const shape = await logShape(dbUrl, doc);
    expect(shape.snapSeq).toBeGreaterThan(0);
    expect(shape.seqs.length).toBeLessThan(400);
    expect(shape.seqs).toEqual(Array.from({ length: shape.head - shape.snapSeq }, (_, i) => shape.snapSeq + 1 + i));
  });
});
