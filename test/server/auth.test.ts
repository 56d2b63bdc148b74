/**
 * Access control: without a token, with a wrong token, or for another user's
 * workspace, a socket reads and writes nothing. A socket without a valid
 * token is closed (1008) at its first frame; a valid user refused a doc keeps
 * the socket and is told so with an `error` text that reveals nothing of the
 * doc. Nothing is logged with the token.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { TestClient, fileMeta } from './helpers/client';
import { startTestServer, type TestServer } from './helpers/server';
import { waitFor } from './helpers/wait';

let ts: TestServer | null = null;
const clients: TestClient[] = [];

async function server(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  ts = await startTestServer(options);
  return ts;
}

async function client(t: string | null, opts: { header?: boolean } = {}): Promise<TestClient> {
  const c = await TestClient.connect(ts!.wsUrl, t, opts);
  clients.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await ts?.dispose();
  ts = null;
});

/** Alice writes a workspace with one file and a body; returns her client. */
async function seed(token: string): Promise<TestClient> {
  const alice = await client(token);
  alice.sendStep1('workspace:ws1');
  alice.sendStep1('body:ws1/a.md');
  await waitFor(() => alice.framesFor('body:ws1/a.md').some((f) => f.subtype === 1), 'alice joined');
  alice.doc('workspace:ws1').getMap('files').set('a.md', fileMeta('a.md', { title: 'Secret' }));
  alice.doc('body:ws1/a.md').getText('body').insert(0, 'secret body');
  await alice.roundTrip('workspace:ws1');
  await alice.roundTrip('body:ws1/a.md');
  return alice;
}

/** An intruder sends SyncStep1 and an Update for both docs; returns the frames and texts it got back. */
async function intrude(intruder: TestClient, witness: TestClient): Promise<void> {
  for (const docId of ['workspace:ws1', 'body:ws1/a.md']) {
    intruder.sendStep1(docId);
    const evil = new Y.Doc();
    evil.getText('body').insert(0, 'EVIL');
    evil.getMap('files').set('evil.md', fileMeta('evil.md'));
    intruder.sendUpdate(docId, Y.encodeStateAsUpdate(evil));
    intruder.sendStep1(docId);
  }
  intruder.sendText('{"type":"FilesReady"}');
  // A doc the intruder may open proves its earlier frames were all handled.
  intruder.sendStep1('body:intruder-space/x.md');
  await waitFor(
    () => intruder.frames.some((f) => f.docId === 'body:intruder-space/x.md') || intruder.closeCode !== null || intruder.texts.length > 0,
    'intruder frames handled',
  );
  await witness.roundTrip('workspace:ws1');
}

function assertUntouched(alice: TestClient): void {
  expect([...alice.doc('workspace:ws1').getMap('files').keys()]).toEqual(['a.md']);
  expect(alice.doc('body:ws1/a.md').getText('body').toString()).toBe('secret body');
}

describe('WebSocket auth', () => {
  it('another user reads and writes nothing in a workspace it does not own', async () => {
    const t = await server();
    const alice = await seed(t.server.createToken('alice'));
    const bob = await client(t.server.createToken('bob'));
    await intrude(bob, alice);
    expect(bob.frames.filter((f) => f.docId.includes('ws1'))).toEqual([]);
    const errors = bob.textsOfType('error');
    expect(errors).toEqual([
      { type: 'error', doc_id: 'workspace:ws1', message: 'Access denied to workspace ws1' },
      { type: 'error', doc_id: 'body:ws1/a.md', message: 'Access denied to workspace ws1' },
    ]);
    expect(bob.texts.filter((x) => !x.includes('sync_complete') && !x.includes('"error"'))).toEqual([]);
    expect(bob.closeCode).toBeNull();
    assertUntouched(alice);
    // A fresh client of alice sees no trace of bob's writes.
    const again = await client(t.server.createToken('alice'));
    again.sendStep1('body:ws1/a.md');
    await again.waitForDoc('body:ws1/a.md', (d) => d.getText('body').toString() === 'secret body');
  });

  it.each([
    ['no token', null],
    ['a wrong token', 'dxs_not-a-real-token'],
  ])('a socket with %s reads and writes nothing', async (_label, badToken) => {
    const t = await server();
    const alice = await seed(t.server.createToken('alice'));
    const intruder = await client(badToken);
    for (const docId of ['workspace:ws1', 'body:ws1/a.md', 'body:newspace/x.md']) intruder.sendStep1(docId);
    const evil = new Y.Doc();
    evil.getText('body').insert(0, 'EVIL');
    intruder.sendUpdate('body:ws1/a.md', Y.encodeStateAsUpdate(evil));
    await waitFor(() => intruder.closeCode !== null, 'intruder closed');
    expect(intruder.closeCode).toBe(1008);
    expect(t.logs.some((l) => l.includes('closing a socket without a valid token'))).toBe(true);
    await alice.roundTrip('body:ws1/a.md');
    expect(intruder.frames).toEqual([]);
    expect(intruder.texts).toEqual([]);
    assertUntouched(alice);
    // Nothing was created for the unknown workspace either.
    expect(t.server.core.isLoaded('body:newspace/x.md')).toBe(false);
  });

  it('closes a socket without a valid token that sends nothing, and keeps a silent valid one', async () => {
    await server({ unauthenticatedTimeoutMs: 300 });
    const silent = await client(null);
    const wrong = await client('dxs_not-a-real-token');
    const alice = await client(ts!.server.createToken('alice'));
    await waitFor(() => silent.closeCode !== null && wrong.closeCode !== null, 'silent token-less sockets closed');
    expect([silent.closeCode, wrong.closeCode]).toEqual([1008, 1008]);
    // Well past the timeout, the socket with a valid token is open and served.
    await new Promise((r) => setTimeout(r, 600));
    expect(alice.closeCode).toBeNull();
    alice.sendStep1('body:ws1/a.md');
    await alice.roundTrip('body:ws1/a.md');
  });

  it('never writes a token into the log', async () => {
    const t = await server();
    const token = t.server.createToken('alice');
    const c = await client(token);
    c.sendStep1('body:ws1/a.md');
    const bad = await client(token + 'x', { header: true });
    bad.sendStep1('body:ws1/a.md');
    await waitFor(() => t.logs.some((l) => l.includes('closing a socket without a valid token')), 'refusal logged');
    const other = await client(t.server.createToken('bob'));
    other.sendStep1('body:ws1/a.md');
    await waitFor(() => t.logs.some((l) => l.includes('access denied')), 'denial logged');
    await c.roundTrip('body:ws1/a.md');
    const all = t.logs.join('');
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.slice(4, 20));
  });

  it('only lets users on the allow list in', async () => {
    const t = await server({ allowUsers: ['alice'] });
    const carol = await client(t.server.createToken('carol'));
    carol.sendStep1('body:cws/x.md');
    await waitFor(() => carol.closeCode !== null, 'carol closed');
    expect(carol.closeCode).toBe(1008);
    expect(carol.frames).toEqual([]);
    const alice = await client(t.server.createToken('alice'));
    alice.sendStep1('body:cws/x.md');
    await waitFor(() => alice.framesFor('body:cws/x.md').length > 0, 'alice allowed');
  });

  it('does not create workspaces on first use when createWorkspaces is false', async () => {
    const t = await server({ createWorkspaces: false });
    const token = t.server.createToken('alice');
    const alice = await client(token);
    alice.sendStep1('workspace:unknown');
    await waitFor(() => t.logs.some((l) => l.includes('no-workspace')), 'denied');
    expect(alice.frames).toEqual([]);

    const res = await fetch(`${t.server.url}/api/workspaces`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Journal' }),
    });
    const { id } = (await res.json()) as { id: string };
    alice.sendStep1(`workspace:${id}`);
    await waitFor(() => alice.framesFor(`workspace:${id}`).length > 0, 'created workspace opens');
  });

  it('limits the sockets per user', async () => {
    const t = await server({ maxConnectionsPerUser: 2 });
    const token = t.server.createToken('alice');
    await client(token);
    await client(token);
    await expect(TestClient.connect(t.wsUrl, token)).rejects.toThrow(/429/);
    await clients[0].close();
    await waitFor(async () => {
      try {
        clients.push(await TestClient.connect(t.wsUrl, token));
        return true;
      } catch {
        return false;
      }
    }, 'a slot is free again');
  });
});
