import fc from 'fast-check';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../../common/src/wire/frame';
import { hasPendingStructs } from '../../../common/src/wire/sync';
import { FakeServer, pump, TestClient } from './testing/fake-server';
import { SessionState } from './session';

const last = <T>(xs: readonly T[]): T => xs[xs.length - 1];

const envSeed = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FC_SEED;
const seed = envSeed ? Number(envSeed) : Date.now() % 2 ** 31;
console.log(`session-relay.test fast-check seed: ${seed} (set FC_SEED to replay)`);

const WS = 'ws1';

function statuses(c: TestClient): string[] {
  return c.events.flatMap((e) => (e.type === 'statusChanged' ? [e.status.state] : []));
}

function expectConverged(clients: TestClient[], server: FakeServer): void {
  const [first, ...rest] = clients;
  for (const c of rest) {
    expect(c.docs.activeFileKeys()).toEqual(first.docs.activeFileKeys());
    for (const key of first.docs.activeFileKeys()) expect(c.docs.bodyText(key)).toBe(first.docs.bodyText(key));
  }
  for (const c of clients) {
    expect(Y.encodeStateVector(c.docs.workspace)).toEqual(Y.encodeStateVector(server.doc(`workspace:${WS}`)));
    expect(hasPendingStructs(c.docs.workspace)).toBe(false);
    for (const key of c.docs.activeFileKeys()) {
      expect(c.docs.bodyText(key)).toBe(server.doc(`body:${WS}/${key}`).getText('body').toString());
      expect(c.docs.bodyHasPendingStructs(key)).toBe(false);
    }
  }
}

/** First client uploads a workspace into an empty server (no handshake: the server has no files yet). */
function seeded(files: Record<string, string>) {
  const server = new FakeServer();
  const a = new TestClient('A', server, WS, 1);
  for (const [k, body] of Object.entries(files)) a.docs.addFile(k, {}, body);
  a.docs.drainLocalUpdates();
  a.connect();
  pump([a]);
  return { server, a };
}

describe('two sessions through a relay', () => {
  it('the first client skips the handshake, goes active on the server SyncStep1 and uploads everything', () => {
    const { server, a } = seeded({ 'index.md': 'root', 'notes/day.md': 'today' });
    expect(a.session.state).toBe(SessionState.Active);
    expect(statuses(a)).toEqual(['connected', 'syncing', 'synced']);
    expect(server.doc(`body:${WS}/notes/day.md`).getText('body').toString()).toBe('today');
    expect(server.doc(`workspace:${WS}`).getMap('files').has('index.md')).toBe(true);
  });

  it('a second client does the Files-Ready handshake and receives metadata and bodies', () => {
    const { server, a } = seeded({ 'index.md': 'root', 'notes/day.md': 'today' });
    const b = new TestClient('B', server, WS, 2);
    b.connect();
    pump([a, b]);
    const texts = server.received.filter((r) => r.from === 'B' && r.text).map((r) => r.text);
    expect(texts).toEqual(['{"type":"FilesReady"}']);
    expect(statuses(b)).toEqual(['connected', 'syncing', 'synced']);
    expect(b.events.filter((e) => e.type === 'bodyChanged')).toEqual([
      { type: 'bodyChanged', file_path: 'index.md', body: 'root' },
      { type: 'bodyChanged', file_path: 'notes/day.md', body: 'today' },
    ]);
    expect(b.docs.disk.get('notes/day.md')).toBe('today');
    expectConverged([a, b], server);
  });

  it('a new client downloads the snapshot first when the server says client_is_new', () => {
    const { server, a } = seeded({ 'a.md': 'x' });
    server.clientIsNew = true;
    const b = new TestClient('B', server, WS, 2);
    b.connect();
    pump([a, b]);
    expect(b.dispatched.some((d) => d.type === 'DownloadSnapshot' && d.workspaceId === WS)).toBe(true);
    expect(last(statuses(b))).toBe('synced');
    expectConverged([a, b], server);
  });

  it('live edits flow both ways: bodies as bodyChanged, new files as filesChanged', () => {
    const { server, a } = seeded({ 'a.md': 'x' });
    const b = new TestClient('B', server, WS, 2);
    b.connect();
    pump([a, b]);
    a.docs.editBody('a.md', 'x edited by A');
    a.run([]);
    b.docs.addFile('new.md', {}, '');
    b.docs.editBody('new.md', 'from B');
    b.run([]);
    pump([a, b]);
    expect(last(b.events)).toEqual({ type: 'bodyChanged', file_path: 'a.md', body: 'x edited by A' });
    expect(a.events.some((e) => e.type === 'filesChanged' && e.files.includes('new.md'))).toBe(true);
    // A learns the new file's body once it asks for it (files added later are not bootstrapped).
    a.run(a.session.syncBodyFiles(['new.md']));
    pump([a, b]);
    expect(a.docs.bodyText('new.md')).toBe('from B');
    expectConverged([a, b], server);
  });

  it('edits made while disconnected reach the other side after reconnecting', () => {
    const { server, a } = seeded({ 'a.md': 'start' });
    const b = new TestClient('B', server, WS, 2);
    b.connect();
    pump([a, b]);
    b.disconnect();
    expect(last(statuses(b))).toBe('disconnected');
    b.docs.editBody('a.md', 'offline edit');
    b.run([]); // dropped: not connected
    a.docs.editBody('a.md', 'start, online edit');
    a.run([]);
    pump([a, b]);
    b.connect();
    pump([a, b]);
    b.run(b.session.syncBodyFiles(['a.md']));
    pump([a, b]);
    expect(statuses(b).slice(-3)).toEqual(['connected', 'syncing', 'synced']);
    expectConverged([a, b], server);
  });

  it('every frame the sessions send has a doc id of this workspace', () => {
    const { server, a } = seeded({ 'a.md': 'x', 'b/c.md': 'y' });
    const b = new TestClient('B', server, WS, 2);
    b.connect();
    pump([a, b]);
    for (const r of server.received) {
      if (!r.frame) continue;
      const { docId } = decodeFrame(r.frame);
      expect(docId === `workspace:${WS}` || docId.startsWith(`body:${WS}/`)).toBe(true);
    }
  });
});

type Op =
  | { kind: 'edit'; who: 0 | 1; file: number; pos: number; text: string }
  | { kind: 'add'; who: 0 | 1; file: number }
  | { kind: 'toggle'; who: 0 | 1 }
  | { kind: 'deliver'; who: 0 | 1; n: number };

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
);

describe('random edits, deliveries and reconnects converge', () => {
  it('converges once both are connected and every file is resynced', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const { server, a } = seeded({ 'f0.md': 'zero' });
        const b = new TestClient('B', server, WS, 2);
        b.connect();
        pump([a, b]);
        const clients = [a, b];
        const online = [true, true];
        for (const op of ops) {
          const c = clients[op.who];
          if (op.kind === 'toggle') {
            if (online[op.who]) c.disconnect();
            else c.connect();
            online[op.who] = !online[op.who];
          } else if (op.kind === 'deliver') {
            for (let i = 0; i < op.n; i++) c.deliverOne();
          } else if (op.kind === 'add') {
            c.docs.addFile(`f${op.file}.md`, {}, c.docs.disk.get(`f${op.file}.md`) ?? '');
            c.run([]);
          } else {
            const key = `f${op.file}.md`;
            if (!c.docs.isActiveFile(key)) continue;
            const t = c.docs.body(key).getText('body');
            c.docs.body(key).transact(() => t.insert(op.pos % (t.length + 1), op.text), 'local');
            c.run([]);
          }
        }
        for (let i = 0; i < 2; i++) if (!online[i]) clients[i].connect();
        pump(clients);
        for (const c of clients) c.run(c.session.syncBodyFiles(c.docs.activeFileKeys()));
        pump(clients);
        for (const c of clients) expect(c.session.state).toBe(SessionState.Active);
        expectConverged(clients, server);
      }),
      { seed, numRuns: 150 },
    );
  });
});
