/**
 * Randomised convergence through the server: several raw clients edit a body
 * doc and the workspace file table concurrently; afterwards every client and a
 * fresh one see the same state. Seeded: set DIARYX_SEED to replay a failure.
 */
import { afterEach, expect, it } from 'vitest';
import * as Y from 'yjs';
import { hasPendingStructs } from '../../common/src/wire/sync';
import { TestClient, fileMeta } from './helpers/client';
import { startTestServer, type TestServer } from './helpers/server';
import { waitFor } from './helpers/wait';

const WS = 'ws9'; // a legacy bare workspace id: no prefix, no handshake
const BODY = 'body:cw/notes.md';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let ts: TestServer;
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await ts.dispose();
});

it('converges after random concurrent edits from several clients', async () => {
  const seed = Number(process.env.DIARYX_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`convergence seed: ${seed} (replay with DIARYX_SEED=${seed})`);
  const rand = mulberry32(seed);
  ts = await startTestServer({ compactAfterUpdates: 25 });
  const token = ts.server.createToken('alice');
  for (let i = 0; i < 4; i++) {
    const c = await TestClient.connect(ts.wsUrl, token);
    clients.push(c);
    c.sendStep1(BODY);
    c.sendStep1(WS);
  }
  await waitFor(() => clients.every((c) => c.framesFor(BODY).some((f) => f.subtype === 1) && c.framesFor(WS).some((f) => f.subtype === 1)), 'all joined');

  for (let step = 0; step < 400; step++) {
    const c = clients[Math.floor(rand() * clients.length)];
    const text = c.doc(BODY).getText('body');
    const r = rand();
    if (r < 0.55) {
      text.insert(Math.floor(rand() * (text.length + 1)), String.fromCharCode(97 + Math.floor(rand() * 26)).repeat(1 + Math.floor(rand() * 3)));
    } else if (r < 0.8 && text.length > 0) {
      const at = Math.floor(rand() * text.length);
      text.delete(at, Math.min(text.length - at, 1 + Math.floor(rand() * 4)));
    } else {
      const key = `f${Math.floor(rand() * 8)}.md`;
      c.doc(WS).getMap('files').set(key, fileMeta(key, { title: `t${step}`, deleted: rand() < 0.2 }));
    }
    if (rand() < 0.1) await new Promise((resolve) => setImmediate(resolve));
  }

  for (const c of clients) {
    await c.roundTrip(BODY);
    await c.roundTrip(WS);
  }
  const fresh = await TestClient.connect(ts.wsUrl, token);
  clients.push(fresh);
  fresh.sendStep1(BODY);
  fresh.sendStep1(WS);
  // Y.Map iteration order is local insertion order, so compare sorted entries.
  const same = (d: Y.Doc, docId: string) =>
    docId === BODY ? d.getText('body').toString() : JSON.stringify([...d.getMap('files').entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  for (const docId of [BODY, WS]) {
    await waitFor(
      () => clients.every((c) => same(c.doc(docId), docId) === same(clients[0].doc(docId), docId)),
      `${docId} converged (seed ${seed})`,
    );
    const sv = Y.encodeStateVector(clients[0].doc(docId));
    for (const c of clients) {
      expect(Y.encodeStateVector(c.doc(docId))).toEqual(sv);
      expect(hasPendingStructs(c.doc(docId))).toBe(false);
    }
  }
});
