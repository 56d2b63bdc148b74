/**
 * What a server must refuse, seen from the devices:
 * - a device or client with a wrong or missing token, or another user's
 *   token, gets nothing and changes nothing (over WebSocket and HTTP);
 * - malformed frames, junk text messages and hostile document content from
 *   one raw client do not disturb the devices; an oversized message is
 *   refused (the socket is closed with 1009).
 */
import fs from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import * as Y from 'yjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../common/src/wire/frame';
import { TestClient, fileMeta, updatePayload } from '../server/helpers/client';
import {
  cleanupTemp,
  createToken,
  entryText,
  folderSnapshot,
  startDevice,
  startServerProcess,
  stopDevice,
  tempDir,
  waitFor,
  waitForSameFolders,
  writeFile,
  type Device,
  type ServerProcess,
} from './helpers';

const MAX_MESSAGE_BYTES = 256 * 1024;

let server: ServerProcess;
let alice: string;
let bob: string;
const devices: Device[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  const dataDir = tempDir('server');
  alice = await createToken(dataDir, 'alice');
  bob = await createToken(dataDir, 'bob');
  server = await startServerProcess(dataDir, { args: ['--max-message-bytes', String(MAX_MESSAGE_BYTES)] });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(devices.splice(0).map(stopDevice));
});
afterAll(async () => {
  await server?.stop();
  cleanupTemp();
});

async function device(name: string, token: string, workspaceId: string, files: Record<string, string> = {}): Promise<Device> {
  const dir = tempDir(name);
  for (const [rel, text] of Object.entries(files)) writeFile(dir, rel, text);
  const d = await startDevice(name, dir, { serverUrl: server.url, token, workspaceId });
  devices.push(d);
  return d;
}

async function rawClient(token: string | null): Promise<TestClient> {
  const c = await TestClient.connect(`${server.url.replace(/^http/, 'ws')}/sync2`, token);
  clients.push(c);
  return c;
}

/** Joins a workspace doc that has files (Files-Ready handshake) and pulls its state. */
async function joinWorkspace(c: TestClient, docId: string): Promise<void> {
  c.sendStep1(docId);
  await c.waitForText('file_manifest');
  c.sendText('{"type":"FilesReady"}');
  await c.waitForText('sync_complete');
  await c.roundTrip(docId);
}

const deniedCount = () => (server.stderr.join('').match(/ access denied /g) ?? []).length;

async function snapshot(workspaceId: string, token: string | null): Promise<{ status: number; files: Record<string, string> }> {
  const res = await fetch(`${server.url}/api/workspaces/${workspaceId}/snapshot`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!res.ok) return { status: res.status, files: {} };
  const zip = unzipSync(new Uint8Array(await res.arrayBuffer()));
  return { status: res.status, files: Object.fromEntries(Object.entries(zip).map(([k, v]) => [k, new TextDecoder().decode(v)])) };
}

describe('auth', () => {
  it('a wrong or missing token, or another user’s token, gets nothing and changes nothing', async () => {
    const privateText = entryText({ title: 'Private', body: '\nAlice only.\n' });
    const a = await device('alice', alice, 'ws-sec', { 'private.md': privateText });
    await waitFor(async () => (await a.job.verify()).length === 0, 'the server to hold private.md');
    const aliceFolder = folderSnapshot(a.dir);
    const serverBefore = await snapshot('ws-sec', alice);
    expect(Object.keys(serverBefore.files)).toEqual(['private.md']);
    const aliceFrames = a.job.host.bridge!.status().framesReceived;
    const denied = deniedCount();

    const intruderText = entryText({ title: 'Intruder', body: '\nShould never arrive.\n' });
    const wrong = await device('wrong-token', 'not-a-token', 'ws-sec', { 'intruder.md': intruderText });
    const missing = await device('no-token', '', 'ws-sec', { 'intruder.md': intruderText });
    const other = await device('bob', bob, 'ws-sec', { 'intruder.md': intruderText });
    // Raw clients try to write into Alice's workspace doc and one of her bodies.
    const forged = new Y.Doc();
    forged.getMap('files').set('intruder.md', fileMeta('intruder.md', { title: 'Intruder' }));
    const forgedBody = new Y.Doc();
    forgedBody.getText('body').insert(0, 'overwritten');
    for (const token of [null, 'not-a-token', bob]) {
      const c = await rawClient(token);
      c.sendPayload('workspace:ws-sec', updatePayload(Y.encodeStateAsUpdate(forged)));
      c.sendPayload('body:ws-sec/private.md', updatePayload(Y.encodeStateAsUpdate(forgedBody)));
      c.sendStep1('body:ws-sec/private.md');
    }
    // Sockets without a valid token are closed at their first frame (1008). Bob's
    // refusals are logged once per socket and doc: his device, and his raw client
    // for two docs.
    await waitFor(() => clients[0].closeCode === 1008 && clients[1].closeCode === 1008, 'the token-less sockets to be closed');
    await waitFor(() => deniedCount() >= denied + 1 + 2, 'the server to refuse every attempt');
    const log = server.stderr.join('');
    expect(log).toContain('"user":"bob"');
    expect(log).not.toContain('not-a-token');

    // The refused get nothing.
    for (const d of [wrong, other]) {
      expect(d.job.host.bridge!.status().opens).toBeGreaterThan(0);
      expect(d.job.status).not.toBe('synced');
    }
    // Bob's device is told access was denied (an `error` text); the token-less one gets nothing.
    expect(wrong.job.host.bridge!.status().framesReceived).toBe(0);
    expect(missing.job.host.bridge!.status().opens).toBe(0);
    for (const d of [wrong, missing, other]) expect(folderSnapshot(d.dir)).toEqual({ 'intruder.md': intruderText });
    for (const c of clients) {
      expect(c.frames).toEqual([]);
      // Bob is told that access was denied, and nothing more.
      for (const t of c.texts) expect(JSON.parse(t)).toMatchObject({ type: 'error', message: 'Access denied to workspace ws-sec' });
    }
    // ... and change nothing: Alice's device saw no frame, her folder and the server are as before.
    await a.job.host.plugin.callRaw('get_config', '');
    expect(a.job.host.bridge!.status().framesReceived).toBe(aliceFrames);
    expect(folderSnapshot(a.dir)).toEqual(aliceFolder);
    expect(await snapshot('ws-sec', alice)).toEqual(serverBefore);

    // HTTP: no token 401, a wrong token 401, another user's token 404 (like a missing workspace).
    expect((await snapshot('ws-sec', null)).status).toBe(401);
    expect((await snapshot('ws-sec', 'not-a-token')).status).toBe(401);
    expect((await snapshot('ws-sec', bob)).status).toBe(404);
    const upload = await fetch(`${server.url}/api/workspaces/ws-sec/snapshot?mode=replace`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${bob}`, 'Content-Type': 'application/zip' },
      body: new Uint8Array(22),
    });
    expect(upload.status).toBe(404);
    expect(await snapshot('ws-sec', alice)).toEqual(serverBefore);

    // Bob's token still works for a workspace of his own.
    const own = await device('bob-own', bob, 'ws-bob', { 'bob.md': entryText({ title: 'Bob', body: '\nMine.\n' }) });
    await own.job.waitUntilSynced(20_000);
    await waitFor(async () => (await own.job.verify()).length === 0, 'bob’s own workspace to sync');
  });
});

describe('bad input from one client', () => {
  it('malformed frames, junk texts and hostile content do not disturb the devices; an oversized message is refused', async () => {
    const a = await device('a', alice, 'ws-junk', { 'shared.md': entryText({ title: 'Shared', body: '\nStart.\n' }) });
    await a.job.waitUntilSynced(20_000);
    const b = await device('b', alice, 'ws-junk');
    await b.job.waitUntilSynced(20_000);
    await waitForSameFolders([a, b]);
    const opens = [a, b].map((d) => d.job.host.bridge!.status().opens);

    const junk = await rawClient(alice);
    await joinWorkspace(junk, 'workspace:ws-junk');
    const frames: Uint8Array[] = [
      new Uint8Array(0),
      Uint8Array.of(5),
      Uint8Array.of(200, 1, 2, 3),
      Uint8Array.of(3, 0xff, 0xfe, 0xfd, 0, 0, 1, 0),
      encodeFrame('other:thing', Uint8Array.of(0, 0, 1, 0)),
      encodeFrame('workspace:', Uint8Array.of(0, 0, 1, 0)),
      encodeFrame('body:ws-junk', Uint8Array.of(0, 0, 1, 0)),
      encodeFrame('body:ws-junk/' + 'x'.repeat(230), Uint8Array.of(0, 0, 1, 0)),
    ];
    for (const doc of ['workspace:ws-junk', 'body:ws-junk/shared.md']) {
      frames.push(
        encodeFrame(doc, new Uint8Array(0)),
        encodeFrame(doc, Uint8Array.of(0, 2, 5, 1, 2, 3, 4, 5)), // an Update that is not a Yjs update
        encodeFrame(doc, Uint8Array.of(0, 1, 100, 1)), // truncated SyncStep2
        encodeFrame(doc, Uint8Array.of(0, 0, 3, 0xff, 0xff, 0xff)), // SyncStep1 with a broken state vector
        encodeFrame(doc, Uint8Array.of(0, 9, 1, 0)), // unknown sync subtype
        encodeFrame(doc, Uint8Array.of(7, 7, 7)), // unknown message type
        encodeFrame(doc, Uint8Array.of(1, 3, 1, 2, 3)), // broken awareness
        encodeFrame(doc, Uint8Array.of(0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f)), // absurd length
      );
    }
    for (const f of frames) junk.sendRaw(f);
    for (const t of [
      'hello',
      '{',
      'null',
      '[]',
      '{"type":123}',
      '{"type":"file_manifest","files":"x"}',
      '{"type":"crdt_state","state":"!!!"}',
      '{"type":"sync_complete","files_synced":-1}',
      '{"action":"save","doc":"body:ws-junk/shared.md"}',
      '{"action":"leave","doc":"body:ws-junk/none.md"}',
      '{"type":"focus","files":["shared.md"]}',
      '{"type":"files_ready"}',
      '['.repeat(100_000),
    ]) {
      junk.sendText(t);
    }
    // Hostile but well-formed content: an entry that is not metadata JSON, and paths that leave the folder.
    const files = junk.doc('workspace:ws-junk').getMap<string>('files');
    files.set('evil.md', 'not json');
    files.set('../escape.md', fileMeta('escape.md', { title: 'Escape' }));
    files.set('deep/../../escape2.md', fileMeta('escape2.md', { title: 'Escape 2' }));
    junk.doc('body:ws-junk/../escape.md').getText('body').insert(0, 'outside');
    // Frames of one socket are handled in order: a round trip means all of the above was handled.
    await junk.roundTrip('workspace:ws-junk');
    expect(junk.closeCode).toBeNull();

    writeFile(a.dir, 'shared.md', entryText({ title: 'Shared', body: '\nStart.\nStill syncing.\n' }));
    writeFile(b.dir, 'from-b.md', entryText({ title: 'From B', body: '\nB too.\n' }));
    const after = await waitForSameFolders([a, b]);
    expect(after['shared.md']).toContain('Still syncing.');
    expect(after['from-b.md']).toContain('B too.');
    expect([a, b].map((d) => d.job.host.bridge!.status().opens)).toEqual(opens);
    for (const d of [a, b]) {
      for (const name of ['escape.md', 'escape2.md']) expect(fs.existsSync(path.join(d.dir, '..', name))).toBe(false);
      expect(Object.keys(folderSnapshot(d.dir)).some((k) => k.includes('escape') || k.includes('evil'))).toBe(false);
    }

    // An oversized message closes only that socket (1009).
    const big = await rawClient(alice);
    big.sendRaw(encodeFrame('body:ws-junk/shared.md', updatePayload(new Uint8Array(MAX_MESSAGE_BYTES))));
    await waitFor(() => big.closeCode !== null, 'the oversized message to be refused');
    expect(big.closeCode).toBe(1009);
    writeFile(b.dir, 'from-b.md', entryText({ title: 'From B', body: '\nB too.\nAfter the big one.\n' }));
    await waitForSameFolders([a, b]);
    expect(folderSnapshot(a.dir)['from-b.md']).toContain('After the big one.');
    expect([a, b].map((d) => d.job.host.bridge!.status().opens)).toEqual(opens);
    for (const d of [a, b]) await waitFor(async () => (await d.job.verify()).length === 0, `${d.name} to match the server`);
  });
});
