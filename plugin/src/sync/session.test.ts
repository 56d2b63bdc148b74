import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { encodeBase64 } from '../../../common/src/base64';
import { encodeEnvelope, type SessionAction } from '../../../common/src/wire/envelope';
import type { SyncEvent } from '../../../common/src/wire/events';
import { bodyDocId, decodeFrame, encodeFrame, workspaceDocId } from '../../../common/src/wire/frame';
import {
  decodeSyncMessages,
  encodeSyncMessages,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  type SyncMessage,
} from '../../../common/src/wire/sync';
import { MemoryDocs } from './testing/memory-docs';
import { LEGAL_MOVES, SessionState, SessionStateError, SyncSession } from './session';

const last = <T>(xs: readonly T[]): T => xs[xs.length - 1];

const WS = 'ws1';
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

function setup(opts: { writeToDisk?: boolean } = {}) {
  const docs = new MemoryDocs(WS, 1);
  const session = new SyncSession(docs, { workspaceId: WS, writeToDisk: opts.writeToDisk ?? true });
  return { docs, session };
}

/** A server-side doc holding files (metadata) and bodies. */
function serverWorkspace(files: Record<string, string>): { ws: Y.Doc; bodies: Map<string, Y.Doc> } {
  const ws = new Y.Doc();
  ws.clientID = 99;
  const bodies = new Map<string, Y.Doc>();
  for (const [key, body] of Object.entries(files)) {
    ws.getMap<string>('files').set(key, JSON.stringify({ title: null, deleted: false }));
    const b = new Y.Doc();
    b.clientID = 99;
    b.getText('body').insert(0, body);
    bodies.set(key, b);
  }
  return { ws, bodies };
}

interface Sent {
  docId: string;
  messages: SyncMessage[];
}

function sent(actions: SessionAction[]): Sent[] {
  return actions
    .filter((a): a is Extract<SessionAction, { type: 'SendBinary' }> => a.type === 'SendBinary')
    .map((a) => {
      const { docId, payload } = decodeFrame(a.data);
      return { docId, messages: decodeSyncMessages(payload) };
    });
}

function events(actions: SessionAction[]): SyncEvent[] {
  return actions.flatMap((a) => (a.type === 'EmitEvent' ? [a.event] : []));
}

/** Compact description of actions: `bin <docId> <kinds>`, `text ...`, `event <type>[:detail]`, `download <ws>`. */
function summary(actions: SessionAction[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case 'SendBinary': {
        const { docId, payload } = decodeFrame(a.data);
        return `bin ${docId} ${decodeSyncMessages(payload).map((m) => m.kind).join('+')}`;
      }
      case 'SendText':
        return `text ${a.text}`;
      case 'DownloadSnapshot':
        return `download ${a.workspaceId}`;
      case 'EmitEvent': {
        const e = a.event;
        if (e.type === 'statusChanged') return `event status:${e.status.state}`;
        if (e.type === 'progress') return `event progress:${e.completed}/${e.total}`;
        if (e.type === 'error') return `event error:${e.message}`;
        if (e.type === 'bodyChanged') return `event bodyChanged:${e.file_path}=${e.body}`;
        if (e.type === 'filesChanged') return `event filesChanged:${e.files.join(',')}`;
        return `event ${e.type}`;
      }
    }
  });
}

const crdtStateText = (ws: Y.Doc) => JSON.stringify({ type: 'crdt_state', state: encodeBase64(Y.encodeStateAsUpdate(ws)) });

/** Connects and completes the handshake with the given server workspace; returns the activation actions. */
function activate(session: SyncSession, ws: Y.Doc): SessionAction[] {
  session.connected();
  session.textMessage('{"client_is_new":false,"files":[],"type":"file_manifest"}');
  return session.textMessage(crdtStateText(ws));
}

/** Answers every body SyncStep1 in `actions` from the server bodies. */
function answerBodies(session: SyncSession, actions: SessionAction[], bodies: Map<string, Y.Doc>): SessionAction[] {
  const out: SessionAction[] = [];
  for (const s of sent(actions)) {
    if (!s.docId.startsWith('body:')) continue;
    const key = s.docId.slice(`body:${WS}/`.length);
    const server = bodies.get(key) ?? new Y.Doc();
    for (const m of s.messages) {
      if (m.kind !== 'step1') continue;
      out.push(...session.binaryMessage(encodeFrame(s.docId, encodeSyncStep2(Y.encodeStateAsUpdate(server, m.stateVector)))));
    }
  }
  return out;
}

describe('state machine', () => {
  it('starts awaiting connect and rejects illegal moves', () => {
    const { session } = setup();
    expect(session.state).toBe(SessionState.AwaitingConnect);
    expect(() => session.transition(SessionState.Active)).toThrow(SessionStateError);
    const err = (() => {
      try {
        session.transition(SessionState.Active);
      } catch (e) {
        return e as SessionStateError;
      }
    })()!;
    expect(err.name).toBe('SessionStateError');
    expect([err.from, err.to]).toEqual(['AwaitingConnect', 'Active']);
    session.connected();
    expect(session.state).toBe(SessionState.WaitingForHandshake);
    activate(session, new Y.Doc());
    expect(session.state).toBe(SessionState.Active);
    expect(() => session.transition(SessionState.Active)).toThrow(SessionStateError);
    session.disconnected();
    expect(session.state).toBe(SessionState.AwaitingConnect);
    expect(() => session.transition(SessionState.AwaitingConnect)).toThrow(SessionStateError);
  });
});

describe('transition table', () => {
  const all = Object.values(SessionState);
  const legal = new Set(['AwaitingConnect>WaitingForHandshake', 'WaitingForHandshake>WaitingForHandshake',
    'WaitingForHandshake>Active', 'WaitingForHandshake>AwaitingConnect', 'Active>WaitingForHandshake', 'Active>AwaitingConnect']);
  for (const from of all) {
    for (const to of all) {
      it(`${from} -> ${to} is ${legal.has(`${from}>${to}`) ? 'allowed' : 'rejected'}`, () => {
        expect(LEGAL_MOVES[from].includes(to)).toBe(legal.has(`${from}>${to}`));
      });
    }
  }
});

describe('connect and handshake', () => {
  it('connected: workspace SyncStep1 then statusChanged connected (exact envelope)', () => {
    const { session } = setup();
    const actions = session.connected();
    const envelope = encodeEnvelope(actions);
    const frame = '0d 77 6f 72 6b 73 70 61 63 65 3a 77 73 31 00 00 01 00';
    const json = '{"type":"statusChanged","status":{"state":"connected"}}';
    expect(toHex(envelope.subarray(0, 25))).toBe(`02 00 00 12 00 00 00 ${frame}`);
    expect(toHex(envelope.subarray(25, 30))).toBe('02 37 00 00 00');
    expect(new TextDecoder().decode(envelope.subarray(30))).toBe(json);
    expect(envelope.length).toBe(30 + 55);
  });

  it('connected(workspaceId, writeToDisk) switches workspace; writeToDisk defaults to true', () => {
    const { session } = setup({ writeToDisk: false });
    expect(session.writeToDisk).toBe(false);
    const [first] = sent(session.connected('other'));
    expect(first.docId).toBe('workspace:other');
    expect(session.workspaceId).toBe('other');
    expect(session.writeToDisk).toBe(true);
    session.connected('third', false);
    expect(session.writeToDisk).toBe(false);
    session.connected();
    expect(session.workspaceId).toBe('third');
  });

  it('file_manifest: FilesReady (exact text) for a known client, DownloadSnapshot for a new one', () => {
    const { session } = setup();
    session.connected();
    expect(session.textMessage('{"type":"file_manifest","files":[],"client_is_new":false}')).toEqual([
      { type: 'SendText', text: '{"type":"FilesReady"}' },
    ]);
    expect(session.textMessage('{"type":"file_manifest","files":[],"client_is_new":true}')).toEqual([
      { type: 'DownloadSnapshot', workspaceId: WS },
    ]);
    expect(session.snapshotImported()).toEqual([{ type: 'SendText', text: '{"type":"FilesReady"}' }]);
    expect(session.state).toBe(SessionState.WaitingForHandshake);
  });

  it('ignores non-JSON, unknown and other texts during the handshake', () => {
    const { session } = setup();
    session.connected();
    for (const t of ['hello', '{"type":"peer_joined","peer_count":2}', '{"type":"session_joined","joinCode":"X"}', '{"type":"sync_progress","completed":1,"total":2}']) {
      expect(session.textMessage(t)).toEqual([]);
    }
    expect(session.state).toBe(SessionState.WaitingForHandshake);
  });

  it('crdt_state: apply, filesChanged [], syncing, progress, body SyncStep1s; synced after the last body answers', () => {
    const { docs, session } = setup();
    const { ws, bodies } = serverWorkspace({ 'a.md': 'alpha', 'notes/b.md': 'beta' });
    const actions = activate(session, ws);
    expect(summary(actions)).toEqual([
      'event filesChanged:',
      'event status:syncing',
      'event progress:0/2',
      'bin body:ws1/a.md step1',
      'bin body:ws1/notes/b.md step1',
    ]);
    expect(docs.activeFileKeys()).toEqual(['a.md', 'notes/b.md']);
    expect([...session.pendingBodyKeys]).toEqual(['a.md', 'notes/b.md']);
    const answers = answerBodies(session, actions, bodies);
    expect(summary(answers)).toEqual([
      'event bodyChanged:a.md=alpha',
      'event bodyChanged:notes/b.md=beta',
      // The bootstrap count reaches its end before `synced` (a host showing `Syncing 0/2` must not stay there).
      'event progress:2/2',
      'event status:synced',
    ]);
    expect(docs.bodyText('notes/b.md')).toBe('beta');
    expect(docs.disk.get('a.md')).toBe('alpha');
  });

  it('crdt_state for an empty workspace goes straight to synced', () => {
    const { session } = setup();
    expect(summary(activate(session, new Y.Doc()))).toEqual(['event filesChanged:', 'event status:syncing', 'event status:synced']);
  });

  it('crdt_state with bad base64 or an unusable update reports the error and still goes active', () => {
    const { session } = setup();
    session.connected();
    expect(summary(session.textMessage('{"type":"crdt_state","state":"abc"}'))).toEqual([
      'event error:Failed to decode CRDT state: Invalid input length.',
      'event status:syncing',
      'event status:synced',
    ]);
    const broken = setup();
    broken.docs.applyCrdtState = () => {
      throw new Error('boom');
    };
    broken.session.connected();
    expect(summary(broken.session.textMessage('{"type":"crdt_state","state":"AAA="}'))[0]).toBe(
      'event error:Failed to apply CRDT state: boom',
    );
    expect(broken.session.state).toBe(SessionState.Active);
  });

  it('a first binary frame during the handshake activates, then is routed', () => {
    const { docs, session } = setup();
    docs.addFile('a.md', {}, 'local body');
    session.connected();
    const serverStep1 = encodeFrame(workspaceDocId(WS), encodeSyncStep1(Y.encodeStateVector(new Y.Doc())));
    const actions = session.binaryMessage(serverStep1);
    expect(summary(actions)).toEqual([
      'event status:syncing',
      'event progress:0/1',
      'bin body:ws1/a.md step1',
      'bin workspace:ws1 step2+step1',
    ]);
    const reply = sent(actions)[1];
    const fresh = new Y.Doc();
    Y.applyUpdate(fresh, (reply.messages[0] as { update: Uint8Array }).update);
    expect(fresh.getMap('files').has('a.md')).toBe(true);
    expect(reply.messages[1]).toEqual({ kind: 'step1', stateVector: Y.encodeStateVector(docs.workspace) });
  });

  it('emits progress every 50 files during the bootstrap', () => {
    const { session } = setup();
    const files: Record<string, string> = {};
    for (let i = 0; i < 120; i++) files[`f${String(i).padStart(3, '0')}.md`] = '';
    const lines = summary(activate(session, serverWorkspace(files).ws));
    expect(lines.filter((l) => l.startsWith('event progress'))).toEqual([
      'event progress:0/120',
      'event progress:50/120',
      'event progress:100/120',
    ]);
    expect(lines.indexOf('event progress:50/120')).toBe(3 + 50);
    expect(lines.filter((l) => l.startsWith('bin body:'))).toHaveLength(120);
  });

  it('skips bodies already synced and counts only the rest', () => {
    const { docs, session } = setup();
    const { ws } = serverWorkspace({ 'a.md': '', 'b.md': '', 'c.md': '' });
    session.ledger.markBodySynced(docs, 'b.md');
    const lines = summary(activate(session, ws));
    expect(lines).toContain('event progress:0/2');
    expect(lines.filter((l) => l.startsWith('bin'))).toEqual(['bin body:ws1/a.md step1', 'bin body:ws1/c.md step1']);
  });

  it('sends only the body requests one input allows; each answer sends more, progress counts on, synced after the last', () => {
    const { docs, session } = setup();
    docs.bodyRequestsPerInput = 2;
    const files: Record<string, string> = {};
    for (let i = 0; i < 5; i++) files[`f${i}.md`] = `text ${i}`;
    const { ws, bodies } = serverWorkspace(files);
    let actions = activate(session, ws);
    expect(summary(actions)).toEqual([
      'event filesChanged:',
      'event status:syncing',
      'event progress:0/5',
      'bin body:ws1/f0.md step1',
      'bin body:ws1/f1.md step1',
    ]);
    // Waiting requests still count as pending: no synced before they are answered.
    expect([...session.pendingBodyKeys].sort()).toEqual(['f0.md', 'f1.md', 'f2.md', 'f3.md', 'f4.md']);
    const requested: string[] = [];
    const answered: string[] = [];
    for (let round = 0; round < 10 && sent(actions).length > 0; round++) {
      requested.push(...sent(actions).filter((x) => x.docId.startsWith('body:')).map((x) => x.docId));
      actions = answerBodies(session, actions, bodies);
      answered.push(...summary(actions));
    }
    expect(requested).toEqual(['f0.md', 'f1.md', 'f2.md', 'f3.md', 'f4.md'].map((k) => `body:${WS}/${k}`));
    expect(answered.filter((l) => l.startsWith('event status'))).toEqual(['event status:synced']);
    expect(answered[answered.length - 1]).toBe('event status:synced');
    for (let i = 0; i < 5; i++) expect(docs.bodyText(`f${i}.md`)).toBe(`text ${i}`);
  });

  it('a focused file goes before a waiting bootstrap; a reconnect forgets what waited', () => {
    const { docs, session } = setup();
    docs.bodyRequestsPerInput = 1;
    const { ws } = serverWorkspace({ 'a.md': '', 'b.md': '', 'c.md': '' });
    expect(sent(activate(session, ws)).map((x) => x.docId)).toEqual([`body:${WS}/a.md`]);
    const focus = sent(session.syncBodyFiles(['c.md'])).filter((x) => x.messages.some((m) => m.kind === 'step1'));
    expect(focus.map((x) => x.docId)).toEqual([`body:${WS}/c.md`]);
    session.disconnected();
    expect(session.pendingBodyKeys.size).toBe(0);
    // The new connection's bootstrap starts from the first file again; the focused file is asked for too, b.md waits.
    expect(sent(activate(session, ws)).map((x) => x.docId)).toEqual([`body:${WS}/a.md`, `body:${WS}/c.md`]);
    expect(session.pendingBodyKeys.size).toBe(3);
  });

  it('loads bodies from disk before the bootstrap so their content is offered', () => {
    const { docs, session } = setup();
    docs.addFile('a.md', {}, 'from disk');
    const { ws } = serverWorkspace({ 'a.md': '' });
    activate(session, ws);
    expect(docs.bodyText('a.md')).toBe('from disk');
    expect(docs.calls).toContain('ensureBodyLoaded:a.md');
  });
});

describe('local updates', () => {
  const update = encodeSyncUpdate(Uint8Array.of(0, 0));

  it('are dropped before connect and buffered during the handshake', () => {
    const { session } = setup();
    expect(session.localUpdate('workspace:ws1', update)).toEqual([]);
    session.connected();
    expect(session.localUpdate('body:ws1/a.md', update)).toEqual([]);
    session.textMessage('{"type":"file_manifest","client_is_new":false}');
    const actions = session.textMessage(crdtStateText(new Y.Doc()));
    expect(summary(actions)).toEqual(['event filesChanged:', 'event status:syncing', 'bin body:ws1/a.md update', 'event status:synced']);
  });

  it('buffered updates come last in the activation actions, framed verbatim', () => {
    const { session } = setup();
    session.connected();
    session.localUpdate('body:ws1/a.md', update);
    session.localUpdate('workspace:ws1', update);
    session.textMessage('{"type":"file_manifest","client_is_new":false}');
    const actions = session.textMessage(crdtStateText(serverWorkspace({ 'z.md': '' }).ws));
    expect(summary(actions).slice(-3)).toEqual(['bin body:ws1/z.md step1', 'bin body:ws1/a.md update', 'bin workspace:ws1 update']);
    expect(last(actions)).toEqual({ type: 'SendBinary', data: encodeFrame('workspace:ws1', update) });
    expect(session.localUpdate('body:ws1/a.md', update)).toEqual([{ type: 'SendBinary', data: encodeFrame('body:ws1/a.md', update) }]);
  });

  it('flushLocalUpdates drains the docs and sends each update', () => {
    const { docs, session } = setup();
    activate(session, new Y.Doc());
    docs.addFile('n.md');
    docs.editBody('n.md', 'text');
    const actions = session.flushLocalUpdates();
    expect(summary(actions)).toEqual(['bin workspace:ws1 update', 'bin body:ws1/n.md update']);
    expect(session.flushLocalUpdates()).toEqual([]);
  });
});

describe('active routing', () => {
  function active(files: Record<string, string> = {}) {
    const ctx = setup();
    const server = serverWorkspace(files);
    const bootstrap = activate(ctx.session, server.ws);
    answerBodies(ctx.session, bootstrap, server.bodies);
    return { ...ctx, server };
  }

  it('workspace SyncStep1 is answered with SyncStep2 + SyncStep1 in one frame', () => {
    const { docs, session } = active({ 'a.md': 'x' });
    const [reply] = sent(session.binaryMessage(encodeFrame('workspace:ws1', encodeSyncStep1(Uint8Array.of(0)))));
    expect(reply.docId).toBe('workspace:ws1');
    expect(reply.messages).toEqual([
      { kind: 'step2', update: Y.encodeStateAsUpdate(docs.workspace, Uint8Array.of(0)) },
      { kind: 'step1', stateVector: Y.encodeStateVector(docs.workspace) },
    ]);
  });

  it('workspace updates apply with their origin and emit filesChanged (deduplicated)', () => {
    const { docs, session, server } = active();
    const before = Y.encodeStateVector(server.ws);
    server.ws.getMap<string>('files').set('new.md', JSON.stringify({ deleted: false }));
    server.ws.getMap<string>('files').set('other.md', JSON.stringify({ deleted: false }));
    const diff = Y.encodeStateAsUpdate(server.ws, before);
    const actions = session.binaryMessage(encodeFrame('workspace:ws1', encodeSyncMessages([
      { kind: 'update', update: diff },
      { kind: 'step2', update: diff },
    ])));
    expect(events(actions)).toEqual([{ type: 'filesChanged', files: ['new.md', 'other.md'] }]);
    expect(docs.calls.filter((c) => c.startsWith('applyWorkspaceUpdate'))).toEqual([
      'applyWorkspaceUpdate:remote',
      'applyWorkspaceUpdate:sync',
    ]);
    expect(docs.isActiveFile('new.md')).toBe(true);
  });

  it('an unknown sync subtype on the workspace doc becomes an error event', () => {
    const { session } = active();
    expect(events(session.binaryMessage(encodeFrame('workspace:ws1', Uint8Array.of(0, 7, 0))))).toEqual([
      { type: 'error', message: 'CRDT error: Unknown sync type: 7' },
    ]);
  });

  it('malformed frames, unknown doc ids and bad body payloads are ignored', () => {
    const { session } = active({ 'a.md': 'x' });
    expect(session.binaryMessage(new Uint8Array())).toEqual([]);
    expect(session.binaryMessage(Uint8Array.of(9, 1))).toEqual([]);
    expect(session.binaryMessage(encodeFrame('other:ws1', encodeSyncStep1(Uint8Array.of(0))))).toEqual([]);
    expect(session.binaryMessage(encodeFrame('body:ws1', encodeSyncStep1(Uint8Array.of(0))))).toEqual([]);
    expect(session.binaryMessage(encodeFrame('body:ws1/a.md', Uint8Array.of(0, 9, 0)))).toEqual([]);
  });

  it('body frames for files neither active nor focused are ignored', () => {
    const { docs, session } = active({ 'a.md': 'x' });
    const frame = encodeFrame('body:ws1/ghost.md', encodeSyncStep2(Y.encodeStateAsUpdate(new Y.Doc())));
    expect(session.binaryMessage(frame)).toEqual([]);
    expect(docs.bodies.has('ghost.md')).toBe(false);
  });

  it('a SyncStep1 for the body of a file not active here is still answered, nothing applied', () => {
    // The server asks for a client's side of a body only when it joins; a file
    // deleted here in the meantime (and restored elsewhere later) would lose
    // this device's text on the server otherwise (fuzz seed 119).
    const { docs, session } = active({ 'a.md': 'x' });
    docs.body('gone.md').getText('body').insert(0, 'kept text');
    docs.deleteFile('gone.md');
    const step1 = encodeFrame('body:ws1/gone.md', encodeSyncStep1(Uint8Array.of(0)));
    const [reply] = sent(session.binaryMessage(step1));
    expect(reply.docId).toBe('body:ws1/gone.md');
    expect(reply.messages.map((m) => m.kind)).toEqual(['step2']);
    const update = encodeFrame('body:ws1/gone.md', encodeSyncStep2(Y.encodeStateAsUpdate(docs.body('a.md'))));
    expect(session.binaryMessage(update)).toEqual([]);
    expect(docs.bodyText('gone.md')).toBe('kept text');
  });

  it('body SyncStep1 is answered only when the diff is more than 2 bytes', () => {
    const { session } = active({ 'a.md': 'x', 'empty.md': '' });
    expect(sent(session.binaryMessage(encodeFrame('body:ws1/empty.md', encodeSyncStep1(Uint8Array.of(0)))))).toEqual([]);
    const [reply] = sent(session.binaryMessage(encodeFrame('body:ws1/a.md', encodeSyncStep1(Uint8Array.of(0)))));
    expect(reply.docId).toBe('body:ws1/a.md');
    expect(reply.messages.map((m) => m.kind)).toEqual(['step2']);
  });

  it('a remote body edit emits bodyChanged; an echo of our own text does not', () => {
    const { docs, session, server } = active({ 'a.md': 'one' });
    const b = server.bodies.get('a.md')!;
    const before = Y.encodeStateVector(b);
    b.getText('body').insert(3, ' two');
    const upd = Y.encodeStateAsUpdate(b, before);
    expect(events(session.binaryMessage(encodeFrame('body:ws1/a.md', encodeSyncUpdate(upd))))).toEqual([
      { type: 'bodyChanged', file_path: 'a.md', body: 'one two' },
    ]);
    // The file was saved locally with the text the next remote update produces: an echo.
    const before2 = Y.encodeStateVector(b);
    b.getText('body').insert(7, ' three');
    docs.trackContent('a.md', 'one two three');
    docs.disk.set('a.md', 'saved locally');
    const echo = session.binaryMessage(encodeFrame('body:ws1/a.md', encodeSyncUpdate(Y.encodeStateAsUpdate(b, before2))));
    expect(events(echo)).toEqual([]);
    expect(docs.bodyText('a.md')).toBe('one two three');
    expect(docs.disk.get('a.md')).toBe('saved locally');
  });

  it('statusChanged synced is emitted once per connection', () => {
    const { session } = active({ 'a.md': 'x' });
    const again = session.binaryMessage(encodeFrame('body:ws1/a.md', encodeSyncStep2(new Uint8Array([0, 0]))));
    expect(events(again).filter((e) => e.type === 'statusChanged')).toEqual([]);
  });

  it('control texts while active', () => {
    const { session } = active();
    expect(events(session.textMessage('{"type":"sync_progress","completed":3,"total":9}'))).toEqual([
      { type: 'progress', completed: 3, total: 9 },
    ]);
    expect(events(session.textMessage('{"type":"sync_complete","files_synced":4}'))).toEqual([
      { type: 'syncComplete', files_synced: 4 },
    ]);
    expect(events(session.textMessage('{"type":"peer_joined","guestId":"g","peer_count":2}'))).toEqual([
      { type: 'peerJoined', peer_count: 2 },
    ]);
    expect(events(session.textMessage('{"type":"peer_joined"}'))).toEqual([{ type: 'peerJoined', peer_count: 0 }]);
    expect(events(session.textMessage('{"type":"peer_left","peer_count":1}'))).toEqual([{ type: 'peerLeft', peer_count: 1 }]);
    expect(events(session.textMessage('{"type":"focus_list_changed","files":["a.md"]}'))).toEqual([
      { type: 'focusListChanged', files: ['a.md'] },
    ]);
    for (const t of ['{"type":"sync_complete"}', '{"type":"session_ended"}', '{"type":"crdt_state","state":""}', 'nope', '{"type":"file_manifest"}']) {
      expect(session.textMessage(t)).toEqual([]);
    }
  });

  it('sync_complete while a body is pending: syncComplete but no synced yet', () => {
    const { session } = setup();
    session.connected();
    session.textMessage('{"type":"file_manifest"}');
    session.textMessage(crdtStateText(serverWorkspace({ 'a.md': '' }).ws)); // body pending: no synced yet
    expect(summary(session.textMessage('{"type":"sync_complete","files_synced":1}'))).toEqual(['event syncComplete']);
  });
});

describe('disconnect and reconnect', () => {
  it('emits disconnected, resets the sync bookkeeping and ignores traffic until reconnected', () => {
    const { session } = setup();
    const server = serverWorkspace({ 'a.md': 'x' });
    answerBodies(session, activate(session, server.ws), server.bodies);
    session.ledger.workspaceSynced = true;
    expect(session.ledger.syncedBodies()).toEqual(['a.md']);
    expect(events(session.disconnected())).toEqual([{ type: 'statusChanged', status: { state: 'disconnected' } }]);
    expect(session.ledger.syncedBodies()).toEqual([]);
    expect(session.ledger.workspaceSynced).toBe(false);
    expect(session.state).toBe(SessionState.AwaitingConnect);
    expect(session.binaryMessage(encodeFrame('workspace:ws1', encodeSyncStep1(Uint8Array.of(0))))).toEqual([]);
    expect(session.textMessage('{"type":"peer_joined"}')).toEqual([]);
    expect(session.syncBodyFiles(['a.md'])).toEqual([]);
    expect(events(session.disconnected())).toEqual([{ type: 'statusChanged', status: { state: 'disconnected' } }]);
  });

  it('a reconnect runs the full handshake again and re-bootstraps bodies', () => {
    const { session } = setup();
    const server = serverWorkspace({ 'a.md': 'x' });
    answerBodies(session, activate(session, server.ws), server.bodies);
    session.disconnected();
    expect(summary(session.connected())).toEqual(['bin workspace:ws1 step1', 'event status:connected']);
    session.textMessage('{"type":"file_manifest"}');
    const lines = summary(session.textMessage(crdtStateText(server.ws)));
    expect(lines).toContain('bin body:ws1/a.md step1');
  });

  it('a disconnect drops updates buffered during the handshake', () => {
    const { session } = setup();
    session.connected();
    session.localUpdate('workspace:ws1', encodeSyncUpdate(Uint8Array.of(0, 0)));
    session.disconnected();
    session.connected();
    session.textMessage('{"type":"file_manifest"}');
    expect(summary(session.textMessage(crdtStateText(new Y.Doc())))).not.toContain('bin workspace:ws1 update');
  });
});

describe('SyncBodyFiles', () => {
  function activeWith(files: Record<string, string>) {
    const ctx = setup();
    const server = serverWorkspace(files);
    answerBodies(ctx.session, activate(ctx.session, server.ws), server.bodies);
    return { ...ctx, server };
  }

  it('does nothing unless active', () => {
    const { session } = setup();
    session.connected();
    expect(session.syncBodyFiles(['a.md'])).toEqual([]);
    expect(session.focusedFiles).toEqual([]);
  });

  it('focuses, reloads, re-subscribes with SyncStep1 and pushes changed bodies as a full Update', () => {
    const { docs, session } = activeWith({ 'a.md': 'x', 'b.md': 'y' });
    docs.editBody('a.md', 'edited offline');
    docs.drainLocalUpdates();
    const actions = session.syncBodyFiles(['./a.md', 'b.md']);
    expect(session.focusedFiles).toEqual(['./a.md', 'b.md']);
    expect(summary(actions)).toEqual(['bin body:ws1/a.md step1', 'bin body:ws1/b.md step1', 'bin body:ws1/a.md update']);
    expect(session.ledger.isBodySynced('a.md')).toBe(false);
    expect(session.ledger.isBodySynced('b.md')).toBe(false);
    const full = sent(actions)[2].messages[0] as { update: Uint8Array };
    expect(full.update).toEqual(Y.encodeStateAsUpdate(docs.body('a.md')));
    // Still pending and unchanged since the full push: nothing to send.
    expect(summary(session.syncBodyFiles(['a.md']))).toEqual([]);
  });

  it('takes a path without / and . as a key and skips paths that do not resolve', () => {
    const { session } = activeWith({ README: 'r' });
    expect(summary(session.syncBodyFiles(['README', 'missing/file.md']))).toEqual(['bin body:ws1/README step1']);
  });

  it('body frames for a focused key are accepted even when the file is not active', () => {
    const { docs, session } = activeWith({});
    session.syncBodyFiles(['LOOSE']);
    const b = new Y.Doc();
    b.getText('body').insert(0, 'loose text');
    const actions = session.binaryMessage(encodeFrame('body:ws1/LOOSE', encodeSyncStep2(Y.encodeStateAsUpdate(b))));
    expect(events(actions)).toEqual([{ type: 'bodyChanged', file_path: 'LOOSE', body: 'loose text' }]);
    expect(docs.bodyText('LOOSE')).toBe('loose text');
  });

  it('the audit re-requests a focused body that is missing on disk', () => {
    const { docs, session } = activeWith({ 'a.md': 'x', 'b.md': 'y' });
    session.syncBodyFiles(['a.md']);
    session.binaryMessage(encodeFrame('body:ws1/a.md', encodeSyncStep2(new Uint8Array([0, 0]))));
    expect(session.ledger.isBodySynced('a.md')).toBe(true);
    docs.disk.delete('a.md');
    const actions = session.textMessage('{"type":"sync_complete","files_synced":2}');
    expect(summary(actions)).toEqual(['bin body:ws1/a.md step1', 'event syncComplete']);
    expect(session.ledger.isBodySynced('a.md')).toBe(false);
    // Answered but still missing: not requested again on this connection...
    session.binaryMessage(encodeFrame('body:ws1/a.md', encodeSyncStep2(new Uint8Array([0, 0]))));
    expect(summary(session.textMessage('{"type":"sync_complete","files_synced":2}'))).toEqual(['event syncComplete']);
    // ...until the file has been seen on disk again and goes missing once more.
    docs.disk.set('a.md', 'x');
    session.textMessage('{"type":"sync_complete","files_synced":2}');
    docs.disk.delete('a.md');
    expect(summary(session.textMessage('{"type":"sync_complete","files_synced":2}'))).toEqual([
      'bin body:ws1/a.md step1',
      'event syncComplete',
    ]);
  });
});

describe('doc ids longer than 255 bytes (never truncated)', () => {
  const longKey = `notes/${'x'.repeat(260)}.md`;

  it('the bootstrap skips the file with one error event and still reaches synced', () => {
    const { session } = setup();
    const lines = summary(activate(session, serverWorkspace({ [longKey]: 'body', 'a.md': '' }).ws));
    const prefix = `body:ws1/${longKey}`.slice(0, 64);
    expect(lines).toEqual([
      'event filesChanged:',
      'event status:syncing',
      `event error:Document id longer than 255 bytes: ${prefix}...`,
      'event progress:0/1',
      'bin body:ws1/a.md step1',
    ]);
    expect([...session.pendingBodyKeys]).toEqual(['a.md']);
    const done = session.binaryMessage(encodeFrame('body:ws1/a.md', encodeSyncStep2(new Uint8Array([0, 0]))));
    expect(summary(done)).toEqual(['event progress:1/1', 'event status:synced']);
  });

  it('a local update for a long id is dropped with an error event, reported once per connection', () => {
    const { session } = setup();
    activate(session, new Y.Doc());
    const id = bodyDocId(WS, longKey);
    const first = session.localUpdate(id, encodeSyncUpdate(Uint8Array.of(0, 0)));
    expect(first).toEqual([{ type: 'EmitEvent', event: { type: 'error', message: `Document id longer than 255 bytes: ${id.slice(0, 64)}...` } }]);
    expect(session.localUpdate(id, encodeSyncUpdate(Uint8Array.of(0, 0)))).toEqual([]);
    session.disconnected();
    activate(session, new Y.Doc());
    expect(events(session.localUpdate(id, Uint8Array.of(0)))).toHaveLength(1);
  });

  it('a workspace id that is too long cannot start the handshake', () => {
    const docs = new MemoryDocs('w'.repeat(250));
    const session = new SyncSession(docs, { workspaceId: 'w'.repeat(250) });
    expect(summary(session.connected())).toEqual([
      `event error:Document id longer than 255 bytes: workspace:${'w'.repeat(54)}...`,
      'event status:connected',
    ]);
  });
});

describe('pending structs self-heal', () => {
  function gapUpdates() {
    const remote = new Y.Doc();
    remote.clientID = 7;
    const updates: Uint8Array[] = [];
    remote.on('update', (u: Uint8Array) => updates.push(u));
    remote.getText('body').insert(0, 'one ');
    remote.getText('body').insert(4, 'two ');
    remote.getText('body').insert(8, 'three');
    return { remote, updates };
  }

  it('re-sends SyncStep1 once for a body doc that waits for a missing update', () => {
    const { docs, session } = setup();
    const server = serverWorkspace({ 'a.md': '' });
    answerBodies(session, activate(session, server.ws), server.bodies);
    const { remote, updates } = gapUpdates();
    const first = session.binaryMessage(encodeFrame('body:ws1/a.md', encodeSyncUpdate(updates[1])));
    expect(summary(first)).toEqual(['bin body:ws1/a.md step1']);
    expect(sent(first)[0].messages[0]).toEqual({ kind: 'step1', stateVector: Y.encodeStateVector(docs.body('a.md')) });
    expect(summary(session.binaryMessage(encodeFrame('body:ws1/a.md', encodeSyncUpdate(updates[2]))))).toEqual([]);
    const healed = session.binaryMessage(encodeFrame('body:ws1/a.md', encodeSyncStep2(Y.encodeStateAsUpdate(remote))));
    expect(events(healed)).toEqual([{ type: 'bodyChanged', file_path: 'a.md', body: 'one two three' }]);
    expect(docs.bodyHasPendingStructs('a.md')).toBe(false);
    // A new gap later is requested again.
    const more = new Y.Doc();
    more.clientID = 8;
    const u: Uint8Array[] = [];
    more.on('update', (x: Uint8Array) => u.push(x));
    more.getText('body').insert(0, 'p');
    more.getText('body').insert(1, 'q');
    expect(summary(session.binaryMessage(encodeFrame('body:ws1/a.md', encodeSyncUpdate(u[1]))))).toEqual(['bin body:ws1/a.md step1']);
  });

  it('re-sends SyncStep1 for the workspace doc too', () => {
    const { session } = setup();
    activate(session, new Y.Doc());
    const remote = new Y.Doc();
    const updates: Uint8Array[] = [];
    remote.on('update', (u: Uint8Array) => updates.push(u));
    remote.getMap('files').set('a.md', '{"deleted":false}');
    remote.getMap('files').set('b.md', '{"deleted":false}');
    const lines = summary(session.binaryMessage(encodeFrame('workspace:ws1', encodeSyncUpdate(updates[1]))));
    expect(lines).toEqual(['bin workspace:ws1 step1']);
  });
});

describe('bodies of files that appear while active', () => {
  function active(files: Record<string, string> = {}) {
    const ctx = setup();
    const server = serverWorkspace(files);
    answerBodies(ctx.session, activate(ctx.session, server.ws), server.bodies);
    return { ...ctx, server };
  }

  /** A workspace Update frame carrying what the server doc gained since `before`. */
  const workspaceUpdate = (ws: Y.Doc, before: Uint8Array) => encodeFrame('workspace:ws1', encodeSyncUpdate(Y.encodeStateAsUpdate(ws, before)));

  it('a workspace update that brings a new file asks for its body at once', () => {
    const { session, server } = active({ 'a.md': 'x' });
    const before = Y.encodeStateVector(server.ws);
    server.ws.getMap<string>('files').set('new.md', JSON.stringify({ deleted: false }));
    const actions = session.binaryMessage(workspaceUpdate(server.ws, before));
    expect(summary(actions)).toContain('bin body:ws1/new.md step1');
    expect(sent(actions).filter((s) => s.docId === 'body:ws1/a.md')).toEqual([]);
    expect([...session.pendingBodyKeys]).toEqual(['new.md']);
  });

  it('a body dropped while its file was deleted is asked for again when the file comes back', () => {
    const { session, server } = active({ 'a.md': 'x' });
    const files = server.ws.getMap<string>('files');
    let before = Y.encodeStateVector(server.ws);
    files.set('a.md', JSON.stringify({ deleted: true }));
    session.binaryMessage(workspaceUpdate(server.ws, before));
    const body = server.bodies.get('a.md')!;
    const bodyBefore = Y.encodeStateVector(body);
    body.getText('body').insert(1, 'y');
    expect(session.binaryMessage(encodeFrame('body:ws1/a.md', encodeSyncUpdate(Y.encodeStateAsUpdate(body, bodyBefore))))).toEqual([]);
    before = Y.encodeStateVector(server.ws);
    files.set('a.md', JSON.stringify({ deleted: false }));
    expect(summary(session.binaryMessage(workspaceUpdate(server.ws, before)))).toContain('bin body:ws1/a.md step1');
  });

  it('requestBodies sends SyncStep1 even for a body answered before, and nothing when not active', () => {
    const { session } = active({ 'a.md': 'x' });
    expect(summary(session.requestBodies(['a.md']))).toEqual(['bin body:ws1/a.md step1']);
    session.disconnected();
    expect(session.requestBodies(['a.md'])).toEqual([]);
  });
});
