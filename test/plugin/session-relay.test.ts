/**
 * Two plugin sync sessions through the real server core in memory
 * (relay-client.ts): the handshake as the server runs it, uploads, live
 * relaying both ways, offline edits, and random edits, deliveries and
 * reconnects that must converge with each other and with the server.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { FILES_READY_TEXT } from '../../common/src/wire/control';
import { decodeFrame } from '../../common/src/wire/frame';
import { hasPendingStructs } from '../../common/src/wire/sync';
import { BODY_TEXT_NAME, FILES_MAP_NAME } from '../../common/src/workspace/schema';
import { SessionState } from '../../plugin/src/sync/session';
import { MemorySyncServer } from '../../server/src/testing/memory-server';
import { pump, RelayClient } from './relay-client';

const last = <T>(xs: readonly T[]): T => xs[xs.length - 1];

const envSeed = process.env.FC_SEED;
const seed = envSeed ? Number(envSeed) : Date.now() % 2 ** 31;
console.log(`session-relay.test fast-check seed: ${seed} (set FC_SEED to replay)`);

const WS = 'ws1';

const servers: MemorySyncServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

function statuses(c: RelayClient): string[] {
  return c.events.flatMap((e) => (e.type === 'statusChanged' ? [e.status.state] : []));
}

function textsSent(c: RelayClient): string[] {
  return c.sent.flatMap((m) => (m.kind === 'text' ? [m.text] : []));
}

async function serverBody(server: MemorySyncServer, key: string): Promise<string> {
  return (await server.doc(`body:${WS}/${key}`)).getText(BODY_TEXT_NAME).toString();
}

/** Same files and bodies on every client, each equal to what the server stores, nothing left pending. */
async function expectConverged(clients: RelayClient[], server: MemorySyncServer): Promise<void> {
  const [first, ...rest] = clients;
  for (const c of rest) {
    expect(c.docs.activeFileKeys()).toEqual(first.docs.activeFileKeys());
    for (const key of first.docs.activeFileKeys()) expect(c.docs.bodyText(key)).toBe(first.docs.bodyText(key));
  }
  const workspace = await server.doc(`workspace:${WS}`);
  for (const c of clients) {
    expect(Y.encodeStateVector(c.docs.workspace)).toEqual(Y.encodeStateVector(workspace));
    expect(hasPendingStructs(c.docs.workspace)).toBe(false);
    for (const key of c.docs.activeFileKeys()) {
      expect(c.docs.bodyText(key)).toBe(await serverBody(server, key));
      expect(c.docs.bodyHasPendingStructs(key)).toBe(false);
    }
  }
}

/** First client uploads a workspace into an empty server (no handshake: the server has no files yet). */
async function seeded(files: Record<string, string>) {
  const server = new MemorySyncServer();
  servers.push(server);
  const a = new RelayClient('A', server, WS, 1);
  for (const [k, body] of Object.entries(files)) a.docs.addFile(k, {}, body);
  a.docs.drainLocalUpdates();
  a.connect();
  await pump(server, [a]);
  return { server, a };
}

describe('two sessions through the real server core', () => {
  it('the first client skips the handshake, goes active on the server SyncStep1 and uploads everything', async () => {
    const { server, a } = await seeded({ 'index.md': 'root', 'notes/day.md': 'today' });
    expect(a.session.state).toBe(SessionState.Active);
    expect(statuses(a)).toEqual(['connected', 'syncing', 'synced']);
    expect(textsSent(a)).toEqual([]);
    expect(await serverBody(server, 'notes/day.md')).toBe('today');
    expect(await serverBody(server, 'index.md')).toBe('root');
    expect((await server.doc(`workspace:${WS}`)).getMap(FILES_MAP_NAME).has('index.md')).toBe(true);
  });

  it('a client with workspace state of its own does the Files-Ready handshake without a snapshot and receives metadata and bodies', async () => {
    const { server, a } = await seeded({ 'index.md': 'root', 'notes/day.md': 'today' });
    const b = new RelayClient('B', server, WS, 2);
    b.docs.addFile('own.md', {}, 'mine');
    b.docs.drainLocalUpdates();
    b.connect();
    await pump(server, [a, b]);
    // The server tells a client whose first SyncStep1 names state that it is not new: no DownloadSnapshot.
    expect(b.dispatched.some((d) => d.type === 'DownloadSnapshot')).toBe(false);
    expect(textsSent(b)).toEqual([FILES_READY_TEXT]);
    expect(statuses(b)).toEqual(['connected', 'syncing', 'synced']);
    expect(b.events.filter((e) => e.type === 'bodyChanged')).toEqual([
      { type: 'bodyChanged', file_path: 'index.md', body: 'root' },
      { type: 'bodyChanged', file_path: 'notes/day.md', body: 'today' },
    ]);
    expect(b.docs.disk.get('notes/day.md')).toBe('today');
    // B's own file reached A through the server.
    expect(a.events.some((e) => e.type === 'filesChanged' && e.files.includes('own.md'))).toBe(true);
    expect(a.docs.bodyText('own.md')).toBe('mine');
    await expectConverged([a, b], server);
  });

  it('a client without any state is told client_is_new and downloads the snapshot first', async () => {
    const { server, a } = await seeded({ 'a.md': 'x' });
    const b = new RelayClient('B', server, WS, 2);
    b.connect();
    await pump(server, [a, b]);
    const download = b.dispatched.findIndex((d) => d.type === 'DownloadSnapshot' && d.workspaceId === WS);
    const filesReady = b.dispatched.findIndex((d) => d.type === 'SendText' && d.text === FILES_READY_TEXT);
    expect(download).toBeGreaterThanOrEqual(0);
    expect(filesReady).toBeGreaterThan(download);
    expect(textsSent(b)).toEqual([FILES_READY_TEXT]);
    expect(statuses(b)).toEqual(['connected', 'syncing', 'synced']);
    expect(b.docs.bodyText('a.md')).toBe('x');
    await expectConverged([a, b], server);
  });

  it('live edits flow both ways: bodies as bodyChanged, new files as filesChanged', async () => {
    const { server, a } = await seeded({ 'a.md': 'x' });
    const b = new RelayClient('B', server, WS, 2);
    b.connect();
    await pump(server, [a, b]);
    a.docs.editBody('a.md', 'x edited by A');
    a.run([]);
    b.docs.addFile('new.md', {}, '');
    b.docs.editBody('new.md', 'from B');
    b.run([]);
    await pump(server, [a, b]);
    expect(last(b.events)).toEqual({ type: 'bodyChanged', file_path: 'a.md', body: 'x edited by A' });
    expect(a.events.some((e) => e.type === 'filesChanged' && e.files.includes('new.md'))).toBe(true);
    // A opened the new file's body doc when it learnt of the file, so the body is there already.
    expect(a.docs.bodyText('new.md')).toBe('from B');
    a.run(a.session.syncBodyFiles(['new.md']));
    await pump(server, [a, b]);
    expect(a.docs.bodyText('new.md')).toBe('from B');
    await expectConverged([a, b], server);
  });

  it('edits made while disconnected reach the other side after reconnecting', async () => {
    const { server, a } = await seeded({ 'a.md': 'start' });
    const b = new RelayClient('B', server, WS, 2);
    b.connect();
    await pump(server, [a, b]);
    b.disconnect();
    expect(last(statuses(b))).toBe('disconnected');
    b.docs.editBody('a.md', 'offline edit');
    b.run([]); // dropped: not connected
    a.docs.editBody('a.md', 'start, online edit');
    a.run([]);
    await pump(server, [a, b]);
    b.connect();
    await pump(server, [a, b]);
    b.run(b.session.syncBodyFiles(['a.md']));
    await pump(server, [a, b]);
    expect(statuses(b).slice(-3)).toEqual(['connected', 'syncing', 'synced']);
    // B came back with state: a handshake without a snapshot.
    expect(b.dispatched.filter((d) => d.type === 'DownloadSnapshot')).toHaveLength(1);
    await expectConverged([a, b], server);
    expect(a.docs.bodyText('a.md')).toContain('offline edit');
    expect(a.docs.bodyText('a.md')).toContain('online edit');
  });

  it('every frame the sessions send has a doc id of this workspace', async () => {
    const { server, a } = await seeded({ 'a.md': 'x', 'b/c.md': 'y' });
    const b = new RelayClient('B', server, WS, 2);
    b.connect();
    await pump(server, [a, b]);
    const frames = [...a.sent, ...b.sent].flatMap((m) => (m.kind === 'binary' ? [m.data] : []));
    expect(frames.length).toBeGreaterThan(0);
    for (const frame of frames) {
      const { docId } = decodeFrame(frame);
      expect(docId === `workspace:${WS}` || docId.startsWith(`body:${WS}/`)).toBe(true);
    }
  });
});

type Op =
  | { kind: 'edit'; who: 0 | 1; file: number; pos: number; text: string }
  | { kind: 'add'; who: 0 | 1; file: number }
  | { kind: 'toggle'; who: 0 | 1 }
  | { kind: 'deliver'; who: 0 | 1; n: number }
  | { kind: 'serve' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('edit' as const),
    who: fc.constantFrom(0 as const, 1 as const),
    file: fc.nat(3),
    pos: fc.nat(),
    text: fc.string({ maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('add' as const), who: fc.constantFrom(0 as const, 1 as const), file: fc.nat(3) }),
  fc.record({ kind: fc.constant('toggle' as const), who: fc.constantFrom(0 as const, 1 as const) }),
  fc.record({ kind: fc.constant('deliver' as const), who: fc.constantFrom(0 as const, 1 as const), n: fc.nat(6) }),
  fc.record({ kind: fc.constant('serve' as const) }),
);

describe('random edits, deliveries and reconnects converge', () => {
  it('converges once both are connected and every file is resynced', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
        const { server, a } = await seeded({ 'f0.md': 'zero' });
        const b = new RelayClient('B', server, WS, 2);
        b.connect();
        await pump(server, [a, b]);
        const clients = [a, b];
        for (const op of ops) {
          // The server works only when a step lets it: until then what the clients sent waits
          // unhandled (and is lost when its sender disconnects), and its answers are not sent yet.
          if (op.kind === 'serve') {
            await server.idle();
            continue;
          }
          const c = clients[op.who];
          if (op.kind === 'toggle') {
            if (c.online) c.disconnect();
            else c.connect();
          } else if (op.kind === 'deliver') {
            for (let i = 0; i < op.n; i++) c.deliverOne();
          } else if (op.kind === 'add') {
            c.docs.addFile(`f${op.file}.md`, {}, c.docs.disk.get(`f${op.file}.md`) ?? '');
            c.run([]);
          } else {
            const key = `f${op.file}.md`;
            if (!c.docs.isActiveFile(key)) continue;
            const t = c.docs.body(key).getText(BODY_TEXT_NAME);
            c.docs.body(key).transact(() => t.insert(op.pos % (t.length + 1), op.text), 'local');
            c.run([]);
          }
        }
        for (const c of clients) if (!c.online) c.connect();
        await pump(server, clients);
        for (const c of clients) c.run(c.session.syncBodyFiles(c.docs.activeFileKeys()));
        await pump(server, clients);
        for (const c of clients) expect(c.session.state).toBe(SessionState.Active);
        await expectConverged(clients, server);
        await server.close();
      }),
      { seed, numRuns: 150 },
    );
  });
});
