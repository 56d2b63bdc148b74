/**
 * Nodes and the database failing under load: a node SIGKILLed at seeded random
 * points while a client streams through it (everything another client received
 * is in the database; the clients converge once the writer reconnects to the
 * other node), and a restart of the database under two running nodes.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { withPgAuthStore } from '../../server/src/index';
import { TestClient } from '../server/helpers/client';
import { waitFor } from '../server/helpers/wait';
import { useTestPostgres } from '../../server/src/testing/use-postgres';
import { prng, startNode, stopNode, storedState, type Node } from './nodes';

const pgi = useTestPostgres();
let dbUrl: string;
let token: string;
const nodes: Node[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  dbUrl = await pgi.createDatabase('faults');
  token = await withPgAuthStore(dbUrl, (auth) => auth.createToken('alice'));
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(nodes.splice(0).map(stopNode));
});

async function node(): Promise<Node> {
  const n = await startNode(dbUrl);
  nodes.push(n);
  return n;
}

async function client(n: Node): Promise<TestClient> {
  const c = await TestClient.connect(n.wsUrl, token);
  clients.push(c);
  return c;
}

async function joined(c: TestClient, doc: string): Promise<void> {
  c.sendStep1(doc);
  await waitFor(() => c.framesFor(doc).some((f) => f.subtype === 1), 'join');
}

/** Whether `held` has nothing `store` lacks (every struct and deletion of `held` is in `store`). */
function contains(store: Uint8Array, held: Y.Doc): boolean {
  const d = new Y.Doc();
  Y.applyUpdate(d, store);
  let changed = false;
  d.on('update', () => (changed = true));
  Y.applyUpdate(d, Y.encodeStateAsUpdate(held));
  return !changed;
}

describe('faults with two nodes', () => {
  it('loses nothing another client received when the writing node is SIGKILLed at random points', async () => {
    const seed = Number(process.env.DIARYX_SEED ?? Date.now() % 1_000_000);
    console.log(`[sigkill] seed ${seed}`);
    const rand = prng(seed);
    const survivor = await node();
    for (let round = 0; round < 3; round++) {
      const doc = `body:kill/r${round}.md`;
      const victim = await node();
      const writer = await client(victim);
      const reader = await client(survivor);
      await joined(writer, doc);
      await joined(reader, doc);
      const killAt = 20 + Math.floor(rand() * 400);
      const text = writer.doc(doc).getText('t');
      for (let i = 0; i < 500; i++) {
        if (i === killAt) victim.proc.kill('SIGKILL');
        if (writer.ws.readyState !== writer.ws.OPEN) break;
        text.insert(text.length, `w${i} `);
        if (i % 5 === 0) await new Promise((r) => setImmediate(r));
      }
      await victim.exited;
      // Whatever reached the reader was committed: it is all in the database.
      await new Promise((r) => setTimeout(r, 200));
      expect(contains(await storedState(dbUrl, doc), reader.doc(doc))).toBe(true);
      // The writer reconnects to the surviving node with its whole state; everyone converges.
      const again = await client(survivor);
      Y.applyUpdate(again.doc(doc), Y.encodeStateAsUpdate(writer.doc(doc)));
      await joined(again, doc);
      again.sendStep2(doc);
      await waitFor(() => reader.doc(doc).getText('t').toString() === text.toString(), `reader converges (round ${round}, kill at ${killAt})`, 30_000);
      await again.roundTrip(doc);
      expect(contains(await storedState(dbUrl, doc), writer.doc(doc))).toBe(true);
    }
  });

  it('survives a database restart: nodes become ready again and clients that reconnect converge', async () => {
    const [n1, n2] = [await node(), await node()];
    const doc = 'body:restart/a.md';
    const a = await client(n1);
    const b = await client(n2);
    await joined(a, doc);
    await joined(b, doc);
    a.doc(doc).getText('t').insert(0, 'before ');
    await waitFor(() => b.doc(doc).getText('t').toString() === 'before ', 'relay before the restart');
    await pgi.pause();
    // Down: not ready, and a write is refused (its socket closed 1011) rather than claimed.
    for (const n of [n1, n2]) {
      const r = await fetch(`${n.url}/ready`);
      expect(r.status).toBe(503);
      expect(await r.json()).toEqual({ error: 'database unavailable' });
    }
    a.doc(doc).getText('t').insert(0, 'during ');
    await waitFor(() => a.closeCode !== null, 'the writing socket to be closed', 15_000);
    expect(a.closeCode).toBe(1011);
    await pgi.resume();
    await waitFor(async () => (await fetch(`${n1.url}/ready`)).status === 200 && (await fetch(`${n2.url}/ready`)).status === 200, 'both nodes ready again', 30_000);
    // Edits made meanwhile live in the clients; after reconnecting they send them and everyone converges.
    a.doc(doc).getText('t').insert(0, 'after-a ');
    b.doc(doc).getText('t').insert(0, 'after-b ');
    const a2 = await client(n1);
    const b2 = await client(n2);
    Y.applyUpdate(a2.doc(doc), Y.encodeStateAsUpdate(a.doc(doc)));
    Y.applyUpdate(b2.doc(doc), Y.encodeStateAsUpdate(b.doc(doc)));
    await joined(a2, doc);
    await joined(b2, doc);
    a2.sendStep2(doc);
    b2.sendStep2(doc);
    await waitFor(() => {
      const ta = a2.doc(doc).getText('t').toString();
      return ta === b2.doc(doc).getText('t').toString() && ta.includes('after-a') && ta.includes('after-b') && ta.includes('before') && ta.includes('during');
    }, 'convergence after the restart', 30_000);
    await a2.roundTrip(doc);
    await b2.roundTrip(doc);
    expect(contains(await storedState(dbUrl, doc), a2.doc(doc))).toBe(true);
  });
});
