/**
 * Encrypted workspaces on two server processes sharing one Postgres database:
 * the key record is shared, an envelope appended through one node is relayed
 * by the other (through the change feed), concurrent appends from both nodes
 * are numbered 1..n, and racing snapshots leave exactly one stored.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { e2eeDocId, e2eeWorkspaceDocId, SnapshotStatus } from '../../common/src/e2ee/frames';
import { withPgAuthStore } from '../../server/src/index';
import { useTestPostgres } from '../../server/src/testing/use-postgres';
import { E2eeClient, keyRecord, newDevice, randomTag, snapshotEnvelope, updateEnvelope } from '../server/helpers/e2ee-client';
import { TestClient } from '../server/helpers/client';
import { waitFor } from '../server/helpers/wait';
import { sql, startNode, stopNode, type Node } from './nodes';

const pgi = useTestPostgres();
let dbUrl: string;
let token: string;
let n1: Node;
let n2: Node;
let ws: string;
const clients: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  dbUrl = await pgi.createDatabase('e2ee_nodes');
  [n1, n2] = await Promise.all([startNode(dbUrl), startNode(dbUrl)]);
  token = await withPgAuthStore(dbUrl, (auth) => auth.createToken('alice'));
  const auth = { Authorization: `Bearer ${token}` };
  ws = ((await (await fetch(`${n1.url}/api/workspaces`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'Sealed' }) })).json()) as { id: string }).id;
  const put = await fetch(`${n1.url}/api/workspaces/${ws}/keys`, { method: 'PUT', headers: auth, body: JSON.stringify(keyRecord(0)) });
  expect(put.status).toBe(200);
});
afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all([n1, n2].filter(Boolean).map(stopNode));
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function client(node: Node): Promise<E2eeClient> {
  const c = await E2eeClient.connect(node.wsUrl, token);
  clients.push(c);
  return c;
}

describe('encrypted workspaces on two nodes', () => {
  it('share the key record and refuse plain frames on both nodes', async () => {
    const got = await fetch(`${n2.url}/api/workspaces/${ws}/keys`, { headers: { Authorization: `Bearer ${token}` } });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { gen: number }).gen).toBe(1);
    const plain = await TestClient.connect(n2.wsUrl, token);
    clients.push(plain);
    plain.sendStep1(`workspace:${ws}`);
    await waitFor(() => plain.texts.length > 0, 'refusal');
    expect(JSON.parse(plain.texts[0]).message).toMatch(/end-to-end encrypted/);
    const zip = await fetch(`${n2.url}/api/workspaces/${ws}/snapshot`, { headers: { Authorization: `Bearer ${token}` } });
    expect(zip.status).toBe(409);
  });

  it('relays an envelope appended through one node to the clients of the other, in seq order', async () => {
    const a = await client(n1);
    const b = await client(n2);
    const doc = e2eeDocId(ws, randomTag());
    await b.pull(doc, 0);
    const dev = newDevice();
    const envs = Array.from({ length: 20 }, (_, i) => updateEnvelope(dev, i + 1));
    for (const env of envs) a.send(doc, { type: 'append', req: envs.indexOf(env) + 1, env });
    await waitFor(() => a.of('appended', doc).length === 20, 'appended');
    await waitFor(() => b.of('relay', doc).length === 20, 'relays on node 2');
    expect(b.of('relay', doc)).toEqual(envs.map((env, i) => ({ type: 'relay', seq: i + 1, env })));
    expect((await b.changes(e2eeWorkspaceDocId(ws), 0)).docs.map((d) => d.head)).toContain(20);
  });

  it('numbers concurrent appends from both nodes 1..n, each client seeing the other side in order', async () => {
    const a = await client(n1);
    const b = await client(n2);
    const doc = e2eeDocId(ws, randomTag());
    await a.pull(doc, 0);
    await b.pull(doc, 0);
    const [da, db] = [newDevice(), newDevice()];
    for (let i = 1; i <= 50; i++) {
      a.send(doc, { type: 'append', req: i, env: updateEnvelope(da, i) });
      b.send(doc, { type: 'append', req: i, env: updateEnvelope(db, i) });
    }
    await waitFor(() => a.of('appended', doc).length === 50 && b.of('appended', doc).length === 50, 'all appended');
    const seqs = [...a.of('appended', doc), ...b.of('appended', doc)].map((m) => m.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await waitFor(() => a.of('relay', doc).length === 50 && b.of('relay', doc).length === 50, 'relays of the other side');
    for (const [c, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const relayed = c.of('relay', doc).map((r) => r.seq);
      expect(relayed).toEqual([...relayed].sort((x, y) => x - y));
      expect(relayed).toEqual(other.of('appended', doc).map((m) => m.seq).sort((x, y) => x - y));
    }
  });

  it('relays what was appended while the other node could not hear wake-ups, once it listens again', async () => {
    const a = await client(n1);
    const b = await client(n2);
    const doc = e2eeDocId(ws, randomTag());
    await b.pull(doc, 0);
    const dev = newDevice();
    expect(await a.append(doc, updateEnvelope(dev, 1))).toMatchObject({ seq: 1 });
    await waitFor(() => b.of('relay', doc).length === 1, 'live relay');
    const killed = await sql(dbUrl, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()");
    expect(killed.rowCount).toBe(2);
    for (let i = 2; i <= 10; i++) await a.append(doc, updateEnvelope(dev, i));
    // Node 2 reads the table after it listens again (the 30 s sweep would come too late for this wait).
    await waitFor(() => b.of('relay', doc).length === 10, 'relays after the LISTEN loss', 15_000);
    expect(b.of('relay', doc).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('stores exactly one of two snapshots racing through different nodes', async () => {
    const a = await client(n1);
    const b = await client(n2);
    const doc = e2eeDocId(ws, randomTag());
    const dev = newDevice();
    for (let i = 1; i <= 3; i++) await a.append(doc, updateEnvelope(dev, i));
    const zeros = new Uint8Array(16);
    a.send(doc, { type: 'putSnapshot', req: 100, env: snapshotEnvelope(dev, new Uint8Array(16).fill(1), zeros, 3) });
    b.send(doc, { type: 'putSnapshot', req: 100, env: snapshotEnvelope(dev, new Uint8Array(16).fill(2), zeros, 3) });
    const results = [await a.answer(doc, 100), await b.answer(doc, 100)];
    const statuses = results.map((r) => (r.type === 'snapshotResult' ? r.status : -1)).sort();
    expect(statuses).toEqual([SnapshotStatus.Stored, SnapshotStatus.Conflict]);
    const batch = await b.pull(doc, 0);
    expect(batch.snapshot?.snapSeq).toBe(3);
    expect(batch.envelopes).toEqual([]);
  });
});
