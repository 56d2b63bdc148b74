/**
 * Seeded convergence simulation with two server nodes on one database:
 * devices spread over both nodes type unique tokens, disconnect, reconnect to
 * either node (edits made offline are sent on reconnect), while nodes are
 * SIGKILLed and restarted and the database restarts. At the end every device
 * reconnects and all devices and the stored state must hold the same state,
 * with every token any device typed. The seed is printed (DIARYX_SEED replays).
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { withPgAuthStore } from '../../server/src/index';
import { TestClient } from '../server/helpers/client';
import { waitFor } from '../server/helpers/wait';
import { startPostgres, type PostgresInstance } from '../../server/src/testing/postgres-instance';
import { prng, startNode, stopNode, storedState, type Node } from './nodes';

const DOC = 'body:sim/journal.md';
const DEVICES = 4;
const STEPS = 150;

let pgi: PostgresInstance | undefined;
const live: Node[] = [];
const sockets: TestClient[] = [];

afterAll(async () => {
  await Promise.all(sockets.map((c) => c.close()));
  await Promise.all(live.map(stopNode));
  await pgi?.stop();
});

interface Device {
  client: TestClient | null;
  /** The device's state, kept across connections. */
  doc: Y.Doc;
}

describe('seeded simulation with two nodes', () => {
  it('converges with node kills, database restarts and devices moving between nodes', async () => {
    const seed = Number(process.env.DIARYX_SEED ?? Date.now() % 1_000_000);
    console.log(`[scale-out simulation] seed ${seed} (replay: DIARYX_SEED=${seed})`);
    const rand = prng(seed);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    pgi = await startPostgres();
    const url = await pgi.createDatabase('sim');
    const token = await withPgAuthStore(url, (auth) => auth.createToken('sim'));
    const nodes: (Node | null)[] = [await startNode(url), await startNode(url)];
    live.push(...(nodes as Node[]));
    const devices: Device[] = Array.from({ length: DEVICES }, () => ({ client: null, doc: new Y.Doc() }));
    const typed: string[] = [];
    const log: string[] = [];

    const connected = (d: Device) => d.client !== null && d.client.closeCode === null;
    const connect = async (d: Device) => {
      const upNodes = nodes.filter((n): n is Node => n !== null);
      if (upNodes.length === 0) return;
      const node = pick(upNodes);
      let c: TestClient;
      try {
        c = await TestClient.connect(node.wsUrl, token);
      } catch {
        return; // the node may be going down; the device stays offline
      }
      sockets.push(c);
      // The connection's doc starts from the device's state; whatever it receives becomes the device's.
      Y.applyUpdate(c.doc(DOC), Y.encodeStateAsUpdate(d.doc));
      c.doc(DOC).on('update', (u: Uint8Array) => Y.applyUpdate(d.doc, u));
      c.sendStep1(DOC);
      d.client = c;
    };
    const type = (d: Device, n: number) => {
      const word = `d${devices.indexOf(d)}.${n} `;
      typed.push(word.trim());
      // Typed into the connection's doc when online (sent at once), else into the device's.
      const target = connected(d) ? d.client!.doc(DOC) : d.doc;
      const t = target.getText('t');
      // At a word boundary, so words stay whole and can be checked one by one.
      const s = t.toString();
      const bounds = [0];
      for (let i = 0; i < s.length; i++) if (s[i] === ' ') bounds.push(i + 1);
      t.insert(pick(bounds), word);
      if (target !== d.doc) Y.applyUpdate(d.doc, Y.encodeStateAsUpdate(target));
    };

    for (const d of devices) await connect(d);
    for (let step = 0; step < STEPS; step++) {
      const r = rand();
      const d = pick(devices);
      if (r < 0.6) {
        const k = 1 + Math.floor(rand() * 3);
        for (let i = 0; i < k; i++) type(d, typed.length);
        log.push(`${step}: device ${devices.indexOf(d)} types ${k}`);
      } else if (r < 0.72) {
        if (connected(d)) await d.client!.close();
        log.push(`${step}: device ${devices.indexOf(d)} disconnects`);
      } else if (r < 0.86) {
        if (!connected(d)) await connect(d);
        log.push(`${step}: device ${devices.indexOf(d)} connects`);
      } else if (r < 0.9) {
        const i = Math.floor(rand() * 2);
        const n = nodes[i];
        if (n) {
          n.proc.kill('SIGKILL');
          await n.exited;
          nodes[i] = null;
          log.push(`${step}: node ${i} SIGKILLed`);
        } else {
          nodes[i] = await startNode(url);
          live.push(nodes[i]!);
          log.push(`${step}: node ${i} restarted`);
        }
      } else if (r < 0.92) {
        await pgi.restart();
        log.push(`${step}: database restarted`);
      } else {
        await new Promise((res) => setTimeout(res, Math.floor(rand() * 50)));
      }
    }

    // Heal: both nodes up, every device reconnected.
    for (let i = 0; i < nodes.length; i++) {
      if (!nodes[i]) {
        nodes[i] = await startNode(url);
        live.push(nodes[i]!);
      }
    }
    await waitFor(async () => {
      for (const n of nodes) if ((await fetch(`${n!.url}/ready`)).status !== 200) return false;
      return true;
    }, 'nodes ready', 30_000);
    const sv = (doc: Y.Doc) => Buffer.from(Y.encodeStateVector(doc)).toString('hex');
    try {
      await waitFor(async () => {
        for (const d of devices) if (!connected(d)) await connect(d);
        const first = sv(devices[0].doc);
        return devices.every((d) => sv(d.doc) === first && connected(d));
      }, 'all devices to converge', 60_000, 200);
    } catch (e) {
      console.log(log.join('\n'));
      throw e;
    }
    const text = devices[0].doc.getText('t').toString();
    for (const d of devices) expect(d.doc.getText('t').toString()).toBe(text);
    for (const word of typed) expect(text.split(' ')).toContain(word);
    // The database holds it all too (devices' last updates may still be landing).
    await waitFor(async () => {
      const stored = new Y.Doc();
      Y.applyUpdate(stored, await storedState(url, DOC));
      return stored.getText('t').toString() === text;
    }, 'stored state to match the devices', 30_000);
    console.log(`[scale-out simulation] seed ${seed}: ${typed.length} words, ${log.filter((l) => /SIGKILL|database/.test(l)).length} node kills and database restarts`);
  });
});
