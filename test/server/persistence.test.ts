/**
 * Durability: documents survive a graceful restart and a SIGKILL of a
 * child-process server (every update the server acknowledged is there), the
 * update log is compacted, idle documents unload, a document whose load
 * failed is never written over, and a failed write never leaks unstored state.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createToken } from '../../server/src/index';
import { databasePath } from '../../server/src/db';
import { MemoryStorage } from '../../server/src/storage/memory';
import { TestClient, fileMeta } from './helpers/client';
import { startChildServer, type ChildServer } from './helpers/child';
import { startTestServer, type TestServer } from './helpers/server';
import { waitFor } from './helpers/wait';
import { useCleanup } from './helpers/cleanup';

const WS = 'workspace:ws1';
const BODY = 'body:ws1/a.md';

const cleanup = useCleanup();

async function connect(url: string, token: string): Promise<TestClient> {
  const c = await TestClient.connect(url, token);
  cleanup.push(() => c.close());
  return c;
}

async function server(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const ts = await startTestServer(options);
  cleanup.push(() => ts.stop());
  return ts;
}

async function joinBody(c: TestClient, docId = BODY): Promise<void> {
  c.sendStep1(docId);
  await waitFor(() => c.framesFor(docId).some((f) => f.subtype === 1), `joined ${docId}`);
}

function dbRows(dataDir: string, docId: string): { snapshot: boolean; updates: number } {
  const db = new Database(databasePath(dataDir), { readonly: true });
  try {
    const snapshot = db.prepare('SELECT count(*) AS n FROM doc_snapshots WHERE doc_id = ?').get(docId) as { n: number };
    const updates = db.prepare('SELECT count(*) AS n FROM doc_updates WHERE doc_id = ?').get(docId) as { n: number };
    return { snapshot: snapshot.n > 0, updates: updates.n };
  } finally {
    db.close();
  }
}

describe('restart', () => {
  it('keeps workspace and body docs across a graceful restart', async () => {
    const dataDir = cleanup.tempDataDir();
    const first = await server({ dataDir });
    const token = first.server.createToken('alice');
    const a = await connect(first.wsUrl, token);
    a.sendStep1(WS);
    await waitFor(() => a.framesFor(WS).some((f) => f.subtype === 1), 'joined');
    await joinBody(a);
    a.doc(WS).getMap('files').set('a.md', fileMeta('a.md', { title: 'A' }));
    a.doc(BODY).getText('body').insert(0, 'persisted body');
    await a.roundTrip(WS);
    await a.roundTrip(BODY);
    await a.close();
    await first.stop();

    const second = await server({ dataDir });
    const b = await connect(second.wsUrl, token);
    await joinBody(b);
    expect(b.doc(BODY).getText('body').toString()).toBe('persisted body');
    b.sendStep1(WS);
    await b.waitForText('file_manifest');
    b.sendText('{"type":"FilesReady"}');
    await b.waitForText('crdt_state');
  });

  it('compacts the update log into a snapshot and loads the same content', async () => {
    const ts = await server({ compactAfterUpdates: 5, unloadDelayMs: 0 });
    const token = ts.server.createToken('alice');
    const a = await connect(ts.wsUrl, token);
    await joinBody(a);
    for (let i = 0; i < 23; i++) {
      a.doc(BODY).getText('body').insert(a.doc(BODY).getText('body').length, `[${i}]`);
    }
    await a.roundTrip(BODY);
    const rows = dbRows(ts.dataDir, BODY);
    expect(rows.snapshot).toBe(true);
    expect(rows.updates).toBeLessThan(5);
    const expected = a.doc(BODY).getText('body').toString();
    await a.close();
    await waitFor(() => !ts.server.core.isLoaded(BODY), 'unloaded after the last client left');
    const b = await connect(ts.wsUrl, token);
    await joinBody(b);
    expect(b.doc(BODY).getText('body').toString()).toBe(expected);
  });

  it('compacts a document with updates when it unloads, and on {"action":"save"}', async () => {
    const ts = await server({ unloadDelayMs: 0 });
    const token = ts.server.createToken('alice');
    const a = await connect(ts.wsUrl, token);
    await joinBody(a);
    a.doc(BODY).getText('body').insert(0, 'one');
    await a.roundTrip(BODY);
    expect(dbRows(ts.dataDir, BODY)).toEqual({ snapshot: false, updates: 1 });
    a.sendText(JSON.stringify({ action: 'save', doc: BODY }));
    await a.roundTrip(BODY);
    expect(dbRows(ts.dataDir, BODY)).toEqual({ snapshot: true, updates: 0 });
    a.doc(BODY).getText('body').insert(3, ' two');
    await a.roundTrip(BODY);
    await a.close();
    await waitFor(() => !ts.server.core.isLoaded(BODY), 'unloaded');
    expect(dbRows(ts.dataDir, BODY)).toEqual({ snapshot: true, updates: 0 });
  });
});

describe('crash', () => {
  it('every acknowledged update survives SIGKILL of a child-process server', async () => {
    const dataDir = cleanup.tempDataDir();
    const token = createToken(dataDir, 'alice');
    let child: ChildServer = await startChildServer(dataDir);
    cleanup.push(() => void child.proc.kill('SIGKILL'));

    const writer = await connect(child.wsUrl, token);
    const witness = await connect(child.wsUrl, token);
    await joinBody(writer);
    await joinBody(witness);
    const text = writer.doc(BODY).getText('body');
    // A first batch, acknowledged by a round trip (the server handles a socket's frames in order).
    for (let i = 0; i < 50; i++) text.insert(text.length, `[a${i}]`);
    await writer.roundTrip(BODY);
    const acked = writer.doc(BODY).getText('body').toString();
    // A second batch still in flight when the server is killed; what the witness received was relayed, so stored.
    for (let i = 0; i < 300; i++) text.insert(text.length, `[b${i}]`);
    await waitFor(() => witness.doc(BODY).getText('body').toString().includes('[b20]'), 'some relays');
    child.proc.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    const seen = witness.doc(BODY).getText('body').toString();
    const seenSv = Y.decodeStateVector(Y.encodeStateVector(witness.doc(BODY)));

    child = await startChildServer(dataDir);
    const reader = await connect(child.wsUrl, token);
    await joinBody(reader);
    const recovered = reader.doc(BODY).getText('body').toString();
    expect(recovered.startsWith(acked)).toBe(true);
    expect(recovered.startsWith(seen)).toBe(true);
    const recoveredSv = Y.decodeStateVector(Y.encodeStateVector(reader.doc(BODY)));
    for (const [client, clock] of seenSv) expect(recoveredSv.get(client) ?? 0).toBeGreaterThanOrEqual(clock);

    // The writer reconnects and resyncs what the crash lost.
    const again = await connect(child.wsUrl, token);
    Y.applyUpdate(again.doc(BODY), Y.encodeStateAsUpdate(writer.doc(BODY)));
    again.sendStep1(BODY);
    await reader.waitForDoc(BODY, (d) => d.getText('body').toString() === writer.doc(BODY).getText('body').toString(), 'full resync');
    child.proc.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
  });
});

describe('storage failures', () => {
  it('never writes over a document whose load failed', async () => {
    const dataDir = cleanup.tempDataDir();
    const first = await server({ dataDir });
    const token = first.server.createToken('alice');
    const a = await connect(first.wsUrl, token);
    await joinBody(a);
    a.doc(BODY).getText('body').insert(0, 'precious');
    await a.roundTrip(BODY);
    a.sendText(JSON.stringify({ action: 'save', doc: BODY }));
    await a.roundTrip(BODY);
    await a.close();
    await first.stop();

    // Corrupt the stored document: an undecodable row in its update log.
    const db = new Database(databasePath(dataDir));
    db.prepare('INSERT INTO doc_updates (doc_id, data, created_at) VALUES (?, ?, 0)').run(BODY, Buffer.from([9, 9, 9]));
    const before = db.prepare('SELECT state FROM doc_snapshots WHERE doc_id = ?').get(BODY) as { state: Buffer };
    db.close();

    const second = await server({ dataDir, unloadDelayMs: 0, compactAfterUpdates: 1 });
    const b = await connect(second.wsUrl, token);
    b.sendStep1(BODY);
    b.doc(BODY).getText('body').insert(0, 'EMPTY OVERWRITE');
    await waitFor(() => second.logs.some((l) => l.includes('loading a document failed')), 'load failure logged');
    await b.roundTrip('body:ws1/other.md');
    expect(b.framesFor(BODY)).toEqual([]);
    await b.close();
    await second.stop();

    const check = new Database(databasePath(dataDir), { readonly: true });
    const after = check.prepare('SELECT state FROM doc_snapshots WHERE doc_id = ?').get(BODY) as { state: Buffer };
    const rows = check.prepare('SELECT count(*) AS n FROM doc_updates WHERE doc_id = ?').get(BODY) as { n: number };
    check.close();
    expect(Buffer.compare(after.state, before.state)).toBe(0);
    expect(rows.n).toBe(1);
  });

  it('disconnects the clients of a document whose write failed and keeps other documents working', async () => {
    const storage = new MemoryStorage();
    let failFor: string | null = null;
    const append = storage.appendUpdate.bind(storage);
    storage.appendUpdate = async (docId, update) => {
      if (docId === failFor) throw new Error('disk full');
      return append(docId, update);
    };
    const ts = await server({ storage, dataDir: ':memory:' });
    const token = ts.server.createToken('alice');
    const a = await connect(ts.wsUrl, token);
    const b = await connect(ts.wsUrl, token);
    await joinBody(a);
    await joinBody(b);
    await joinBody(b, 'body:ws1/other.md');
    a.doc(BODY).getText('body').insert(0, 'stored');
    await b.waitForDoc(BODY, (d) => d.getText('body').toString() === 'stored');

    failFor = BODY;
    a.doc(BODY).getText('body').insert(6, ' NOT STORED');
    await waitFor(() => a.closeCode !== null && b.closeCode !== null, 'both clients of the doc disconnected');
    expect(a.closeCode).toBe(1011);
    expect(b.doc(BODY).getText('body').toString()).toBe('stored');

    failFor = null;
    const c = await connect(ts.wsUrl, token);
    c.sendStep1(BODY);
    await c.waitForDoc(BODY, (d) => d.getText('body').toString() === 'stored', 'the server forgot the unstored change');
    expect((await storage.load(BODY)).updates).toHaveLength(1);
  });
});
