/**
 * The bad-input corpus for every HTTP route of the server: each route with no
 * token, a wrong token and another user's token, workspace ids with path
 * tricks, and malformed, wrong-typed and oversized bodies. Each gets a 4xx
 * with a message, the stored state (workspaces and their documents) stays as
 * it was, a client connected meanwhile keeps syncing, and no token appears
 * in the log.
 */
import { strToU8, unzipSync, zipSync } from 'fflate';
import * as Y from 'yjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestClient, fileMeta } from './helpers/client';
import { startTestServer, type TestServer } from './helpers/server';

let ts: TestServer;
let alice: string;
let bob: string;
let workspaceId: string;
let watcher: TestClient;

interface Call {
  method: string;
  path: string;
  body?: BodyInit;
}

async function api(call: Call, token: string | null): Promise<Response> {
  const headers = new Headers();
  if (token) headers.set('Authorization', `Bearer ${token}`);
  return fetch(`${ts.server.url}${call.path}`, { method: call.method, body: call.body, headers });
}

/** Everything a request could have changed: each user's workspaces and alice's documents (as the snapshot export shows them). */
async function state(): Promise<string> {
  const lists = await Promise.all([alice, bob].map(async (t) => (await api({ method: 'GET', path: '/api/workspaces' }, t)).text()));
  const zip = new Uint8Array(await (await api({ method: 'GET', path: `/api/workspaces/${workspaceId}/snapshot` }, alice)).arrayBuffer());
  const files = Object.entries(unzipSync(zip)).map(([name, data]) => `${name}=${new TextDecoder().decode(data)}`);
  return JSON.stringify({ lists, files: files.sort() });
}

beforeEach(async () => {
  ts = await startTestServer({ snapshotUploadMaxBytes: 256 * 1024 });
  alice = ts.server.createToken('alice');
  bob = ts.server.createToken('bob');
  const res = await api({ method: 'POST', path: '/api/workspaces', body: JSON.stringify({ name: 'Journal' }) }, alice);
  workspaceId = ((await res.json()) as { id: string }).id;
  watcher = await TestClient.connect(ts.wsUrl, alice);
  const doc = new Y.Doc();
  doc.getMap<string>('files').set('a.md', fileMeta('a.md', { title: 'A' }));
  watcher.sendUpdate(`workspace:${workspaceId}`, Y.encodeStateAsUpdate(doc));
  await watcher.roundTrip(`workspace:${workspaceId}`);
});

afterEach(async () => {
  await watcher.close();
  await ts.dispose();
});

const ROUTES = (): Call[] => [
  { method: 'GET', path: '/api/workspaces' },
  { method: 'POST', path: '/api/workspaces', body: JSON.stringify({ name: 'Intruder' }) },
  { method: 'GET', path: `/api/workspaces/${workspaceId}/snapshot` },
  { method: 'POST', path: `/api/workspaces/${workspaceId}/snapshot?mode=replace`, body: zipSync({ 'evil.md': strToU8('---\ntitle: Evil\n---\nEVIL\n') }) },
];

describe('every route without a valid token', () => {
  it.each([
    ['no token', () => null],
    ['a wrong token', () => 'dxs_not-a-real-token'],
    ['a token with a space and quotes', () => 'dxs_" OR 1=1 --'],
  ])('%s: 401, nothing read or written', async (_label, token) => {
    const before = await state();
    for (const call of ROUTES()) {
      const res = await api(call, token());
      expect(res.status, `${call.method} ${call.path}`).toBe(401);
      expect(await res.text(), `${call.method} ${call.path}: body`).toMatch(/Unauthorized/);
    }
    expect(await state()).toBe(before);
  });

  it("another user's token: the workspace does not exist for them (404), nothing read or written", async () => {
    const before = await state();
    for (const call of ROUTES().filter((c) => c.path.includes(workspaceId))) {
      const res = await api(call, bob);
      expect(res.status, `${call.method} ${call.path}`).toBe(404);
    }
    expect(await state()).toBe(before);
  });
});

describe('workspace ids with path tricks', () => {
  const tricks = (): string[] => [
    `..%2F${workspaceId}`,
    `%2e%2e%2f${workspaceId}`,
    `${workspaceId}%2F..%2F${workspaceId}`,
    workspaceId.toUpperCase() === workspaceId ? `${workspaceId}x` : workspaceId.toUpperCase(),
    `${workspaceId}%00`,
    `%E0%A4%A`,
    'Journal',
    encodeURIComponent(`body:${workspaceId}/a.md`),
  ];

  it('reach nothing: bob gets 404 for each, alice only for the ids that are not hers', async () => {
    const before = await state();
    for (const id of tricks()) {
      for (const method of ['GET', 'POST']) {
        const call = { method, path: `/api/workspaces/${id}/snapshot`, body: method === 'POST' ? zipSync({ 'x.md': strToU8('x') }) : undefined };
        const asBob = await api(call, bob);
        expect([400, 404], `bob ${method} ${id}`).toContain(asBob.status);
        const asAlice = await api(call, alice);
        expect([400, 404], `alice ${method} ${id}`).toContain(asAlice.status);
      }
    }
    expect(await state()).toBe(before);
  });
});

describe('malformed bodies and methods', () => {
  it('400, 404, 405 or 413 with a message; nothing written', async () => {
    const before = await state();
    const snapshot = `/api/workspaces/${workspaceId}/snapshot`;
    const cases: [Call, number][] = [
      [{ method: 'POST', path: '/api/workspaces', body: 'not json' }, 400],
      [{ method: 'POST', path: '/api/workspaces', body: '{"name":' }, 400],
      [{ method: 'POST', path: '/api/workspaces', body: JSON.stringify({ name: 42 }) }, 400],
      [{ method: 'POST', path: '/api/workspaces', body: JSON.stringify(['Journal']) }, 400],
      [{ method: 'POST', path: '/api/workspaces', body: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }) }, 413],
      [{ method: 'PUT', path: '/api/workspaces', body: '{}' }, 405],
      [{ method: 'DELETE', path: snapshot }, 405],
      [{ method: 'POST', path: `${snapshot}?mode=wipe`, body: zipSync({ 'a.md': strToU8('a') }) }, 400],
      [{ method: 'POST', path: snapshot, body: 'this is not a zip' }, 400],
      [{ method: 'POST', path: snapshot, body: new Uint8Array(300 * 1024).fill(1) }, 413],
      [{ method: 'GET', path: '/api/nothing-here' }, 404],
      [{ method: 'GET', path: '/api/workspaces/a/b/c/snapshot' }, 404],
    ];
    for (const [call, status] of cases) {
      const res = await api(call, alice);
      expect(res.status, `${call.method} ${call.path}`).toBe(status);
      expect((await res.text()).length, `${call.method} ${call.path}: message`).toBeGreaterThan(0);
    }
    expect(await state()).toBe(before);
  });
});

describe('after the corpus', () => {
  it('a connected client still syncs, and no token is in the log', async () => {
    for (const call of ROUTES()) {
      await api(call, null);
      await api(call, 'dxs_not-a-real-token');
      await api(call, bob);
    }
    // A second device of alice joins (handshake) and makes a change; the watcher, connected all along, receives it.
    const other = await TestClient.connect(ts.wsUrl, alice);
    other.sendStep1(`workspace:${workspaceId}`);
    await other.waitForText('file_manifest');
    other.sendText('{"type":"FilesReady"}');
    await other.waitForText('crdt_state');
    const doc = new Y.Doc();
    doc.getMap<string>('files').set('b.md', fileMeta('b.md', { title: 'B' }));
    other.sendUpdate(`workspace:${workspaceId}`, Y.encodeStateAsUpdate(doc));
    await watcher.waitForDoc(`workspace:${workspaceId}`, (d) => d.getMap('files').has('b.md'), 'the watcher receives the new entry');
    await other.close();
    const log = ts.logs.join('\n');
    for (const token of [alice, bob, 'dxs_not-a-real-token']) expect(log.includes(token), 'token in the log').toBe(false);
  });
});
