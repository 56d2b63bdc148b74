/**
 * Two raw clients (ws + yjs + y-protocols) syncing a workspace doc and a body
 * doc through the server: join, the Files-Ready handshake, relay rules.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { decodeBase64 } from '../../common/src/base64';
import { TestClient, awarenessUpdate, fileMeta, updatePayload } from './helpers/client';
import { startTestServer, type TestServer } from './helpers/server';
import { waitFor } from './helpers/wait';

const WS = 'workspace:ws1';
const BODY = 'body:ws1/notes/a.md';

let ts: TestServer;
let token: string;
const clients: TestClient[] = [];

async function client(t: string | null = token): Promise<TestClient> {
  const c = await TestClient.connect(ts.wsUrl, t);
  clients.push(c);
  return c;
}

beforeEach(async () => {
  ts = await startTestServer();
  token = ts.server.createToken('alice');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await ts.dispose();
});

describe('joining a doc', () => {
  it('answers the first SyncStep1 with the server SyncStep1 then SyncStep2, with exact framing', async () => {
    const a = await client();
    a.sendStep1('workspace:ws1');
    await waitFor(() => a.framesFor(WS).length >= 2, 'two frames');
    const [first, second] = a.framesFor(WS);
    // len 13, "workspace:ws1", [messageSync, SyncStep1, len 1, empty state vector]
    expect(Buffer.from(first.raw).toString('hex')).toBe('0d' + Buffer.from('workspace:ws1').toString('hex') + '00000100');
    expect(second.subtype).toBe(1);
  });

  it('syncs a body doc between two clients in both directions', async () => {
    const a = await client();
    const b = await client();
    a.sendStep1(BODY);
    await waitFor(() => a.framesFor(BODY).some((f) => f.subtype === 1), 'a joined');
    a.doc(BODY).getText('body').insert(0, 'Hello world\n');
    await a.roundTrip(BODY);

    b.sendStep1(BODY);
    await b.waitForDoc(BODY, (d) => d.getText('body').toString() === 'Hello world\n');

    b.doc(BODY).getText('body').insert(0, '# Title\n');
    await a.waitForDoc(BODY, (d) => d.getText('body').toString() === '# Title\nHello world\n');
    expect(Y.encodeStateVector(a.doc(BODY))).toEqual(Y.encodeStateVector(b.doc(BODY)));
  });

  it('accepts the token as a Bearer header and on every route', async () => {
    for (const route of ['/sync2', '/namespaces/ws1/sync', '/ns/ws1/sync', '/api/sync2']) {
      const c = await TestClient.connect(ts.wsUrl.replace('/sync2', route), token, { header: route === '/sync2' });
      clients.push(c);
      c.sendStep1(BODY);
      await waitFor(() => c.framesFor(BODY).some((f) => f.subtype === 1), `reply on ${route}`);
    }
  });

  it('refuses unknown WebSocket paths', async () => {
    await expect(TestClient.connect(ts.wsUrl.replace('/sync2', '/nope'), token)).rejects.toThrow(/404/);
  });
});

describe('Files-Ready handshake', () => {
  async function seedWorkspace(): Promise<TestClient> {
    const a = await client();
    a.sendStep1(WS);
    await waitFor(() => a.framesFor(WS).some((f) => f.subtype === 1), 'a joined');
    const files = a.doc(WS).getMap('files');
    a.doc(WS).transact(() => {
      files.set('README.md', fileMeta('README.md', { title: 'My Journal' }));
      files.set('notes/a.md', fileMeta('a.md', { title: 'Day one', part_of: 'README.md' }));
      files.set('old.md', fileMeta('old.md', { deleted: true }));
    });
    await a.roundTrip(WS);
    return a;
  }

  it('skips the handshake while the workspace has no files', async () => {
    const a = await client();
    a.sendStep1(WS);
    await waitFor(() => a.framesFor(WS).some((f) => f.subtype === 1), 'SyncStep2');
    expect(a.texts).toEqual([]);
  });

  it('sends file_manifest (client_is_new for an empty state vector), drops the frame, then crdt_state, sync_complete and SyncStep1', async () => {
    const a = await seedWorkspace();
    const b = await client();
    b.sendStep1(WS);
    const manifest = await b.waitForText('file_manifest');
    expect(manifest).toEqual({
      type: 'file_manifest',
      client_is_new: true,
      files: [
        { doc_id: 'body:ws1/README.md', filename: 'README.md', title: 'My Journal', part_of: null, deleted: false },
        { doc_id: 'body:ws1/notes/a.md', filename: 'a.md', title: 'Day one', part_of: 'README.md', deleted: false },
      ],
    });
    // The triggering SyncStep1 was consumed: no reply for the workspace doc yet.
    await b.roundTrip('body:ws1/README.md');
    expect(b.framesFor(WS)).toEqual([]);

    b.sendText('{"type":"FilesReady"}');
    const state = await b.waitForText('crdt_state');
    const complete = await b.waitForText('sync_complete');
    expect(complete).toEqual({ type: 'sync_complete', files_synced: 2 });
    const texts = b.texts.map((t) => JSON.parse(t).type);
    expect(texts).toEqual(['file_manifest', 'crdt_state', 'sync_complete']);
    Y.applyUpdate(b.doc(WS), decodeBase64(state.state as string), 'test');
    expect(b.doc(WS).getMap('files').toJSON()).toEqual(a.doc(WS).getMap('files').toJSON());
    await waitFor(() => b.framesFor(WS).some((f) => f.subtype === 0), 'server SyncStep1 after sync_complete');

    // Joined: live updates flow both ways.
    a.doc(WS).getMap('files').set('b.md', fileMeta('b.md'));
    await b.waitForDoc(WS, (d) => d.getMap('files').has('b.md'));
    b.doc(WS).getMap('files').set('c.md', fileMeta('c.md'));
    await a.waitForDoc(WS, (d) => d.getMap('files').has('c.md'));
  });

  it('says client_is_new=false to a client that has state, and accepts files_ready', async () => {
    const a = await seedWorkspace();
    const b = await client();
    Y.applyUpdate(b.doc(WS), Y.encodeStateAsUpdate(a.doc(WS)), 'seed');
    b.sendStep1(WS);
    expect((await b.waitForText('file_manifest')).client_is_new).toBe(false);
    b.sendText('{"type":"files_ready"}');
    await b.waitForText('sync_complete');
    b.sendStep1(WS);
    await waitFor(() => b.framesFor(WS).some((f) => f.subtype === 1), 'SyncStep2 after the handshake');
  });

  it('re-sends the manifest for every frame while the doc awaits FilesReady', async () => {
    await seedWorkspace();
    const b = await client();
    b.sendStep1(WS);
    await b.waitForText('file_manifest');
    b.sendStep1(WS);
    await waitFor(() => b.textsOfType('file_manifest').length === 2, 'second manifest');
    expect(b.framesFor(WS)).toEqual([]);
  });

  it('answers FilesReady without a pending doc with sync_complete 0, or the workspace state again', async () => {
    const a = await client();
    a.sendText('{"type":"FilesReady"}');
    expect(await a.waitForText('sync_complete')).toEqual({ type: 'sync_complete', files_synced: 0 });

    const seeded = await seedWorkspace();
    seeded.sendText('{"type":"FilesReady"}');
    expect(await seeded.waitForText('sync_complete')).toEqual({ type: 'sync_complete', files_synced: 2 });
    expect(seeded.textsOfType('crdt_state')).toHaveLength(1);
  });
});

describe('relay rules', () => {
  async function joinedPair(docId: string): Promise<[TestClient, TestClient]> {
    const a = await client();
    const b = await client();
    a.sendStep1(docId);
    b.sendStep1(docId);
    await waitFor(() => a.framesFor(docId).some((f) => f.subtype === 1) && b.framesFor(docId).some((f) => f.subtype === 1), 'both joined');
    return [a, b];
  }

  it('relays an Update verbatim to the other clients, not to the sender', async () => {
    const [a, b] = await joinedPair(BODY);
    const c = await client();
    c.sendStep1(BODY);
    await waitFor(() => c.framesFor(BODY).some((f) => f.subtype === 1), 'c joined');
    const source = new Y.Doc();
    source.getText('body').insert(0, 'x');
    const payload = updatePayload(Y.encodeStateAsUpdate(source));
    const aBefore = a.framesFor(BODY).length;
    a.sendPayload(BODY, payload);
    const relayed = await waitFor(() => b.framesFor(BODY).find((f) => f.subtype === 2), 'relay to b');
    await waitFor(() => c.framesFor(BODY).some((f) => f.subtype === 2), 'relay to c');
    expect(Buffer.from(relayed.raw)).toEqual(Buffer.from([...relayed.raw.subarray(0, 1 + BODY.length), ...payload]));
    await a.roundTrip(BODY);
    expect(a.framesFor(BODY).slice(aBefore).some((f) => f.subtype === 2)).toBe(false);
  });

  it('re-sends a SyncStep2 that changed the server as an Update, and an unchanged one not at all', async () => {
    const [a, b] = await joinedPair(BODY);
    const source = new Y.Doc();
    source.getText('body').insert(0, 'from step2');
    const update = Y.encodeStateAsUpdate(source);
    a.sendStep2(BODY, update);
    const relayed = await waitFor(() => b.framesFor(BODY).find((f) => f.subtype === 2), 'relayed as Update');
    expect(relayed.raw.subarray(1 + BODY.length)).toEqual(updatePayload(update));
    await b.waitForDoc(BODY, (d) => d.getText('body').toString() === 'from step2');

    a.sendStep2(BODY, update);
    await a.roundTrip(BODY);
    await b.roundTrip(BODY);
    expect(b.framesFor(BODY).filter((f) => f.subtype === 2)).toHaveLength(1);
  });

  it('relays awareness to others and announces the removal when a client leaves', async () => {
    const [a, b] = await joinedPair(BODY);
    const { update, awareness } = awarenessUpdate(a.doc(BODY), { user: 'alice' });
    a.sendAwareness(BODY, update);
    await waitFor(() => (b.awareness.get(BODY) ?? []).length === 1, 'awareness relayed');
    expect(b.awareness.get(BODY)![0]).toEqual(update);
    awareness.destroy();

    // A newcomer gets the known states on join.
    const c = await client();
    c.sendStep1(BODY);
    await waitFor(() => (c.awareness.get(BODY) ?? []).length === 1, 'awareness on join');

    await a.close();
    await waitFor(() => (b.awareness.get(BODY) ?? []).length === 2, 'removal announced');
  });

  it('asks the sender for missing updates (SyncStep1) when an update cannot be integrated', async () => {
    const [a, b] = await joinedPair(BODY);
    const source = new Y.Doc();
    source.getText('body').insert(0, 'one');
    const first = Y.encodeStateAsUpdate(source);
    const sv = Y.encodeStateVector(source);
    source.getText('body').insert(3, ' two');
    const second = Y.encodeStateAsUpdate(source, sv);
    const step1Before = a.framesFor(BODY).filter((f) => f.subtype === 0).length;
    a.sendPayload(BODY, updatePayload(second));
    await waitFor(() => a.framesFor(BODY).filter((f) => f.subtype === 0).length > step1Before, 'SyncStep1 for the gap');
    a.sendPayload(BODY, updatePayload(first));
    await b.waitForDoc(BODY, (d) => d.getText('body').toString() === 'one two');
  });

  it('keeps docs of one socket apart and leaves a doc on {"action":"leave"}', async () => {
    const [a, b] = await joinedPair(BODY);
    const other = 'body:ws1/other.md';
    a.sendStep1(other);
    await waitFor(() => a.framesFor(other).some((f) => f.subtype === 1), 'a joined other');
    a.doc(other).getText('body').insert(0, 'other');
    await a.roundTrip(other);
    expect(b.framesFor(other)).toEqual([]);

    b.sendText(JSON.stringify({ action: 'leave', doc: BODY }));
    await b.roundTrip(other); // handled in order: the leave is done
    const before = b.framesFor(BODY).length;
    a.doc(BODY).getText('body').insert(0, 'after leave');
    await a.roundTrip(BODY);
    await b.roundTrip(other);
    expect(b.framesFor(BODY).length).toBe(before);
  });
});
