import { describe, expect, it } from 'vitest';
import { e2eeDocId, e2eeWorkspaceDocId, encodeE2eeMessage, type E2eeMessage } from '../../../common/src/e2ee/frames';
import { encodeFrame } from '../../../common/src/wire/frame';
import { encryptedSessionFixture, sentE2ee } from './testing/session-fixture';
import { HeadsProbe } from './sync-check';

const WS = 'ws-check';
const ROOT = new Map([[1, new Uint8Array(32).fill(9)]]);

function session() {
  return encryptedSessionFixture(WS, ROOT);
}

const sent = sentE2ee;

const frame = (tag: string | null, msg: E2eeMessage) => encodeFrame(tag === null ? e2eeWorkspaceDocId(WS) : e2eeDocId(WS, tag), encodeE2eeMessage(msg));
const batch = (head: number): E2eeMessage => ({ type: 'batch', head, more: false, snapshot: null, envelopes: [] });
const heads = (changeHead: number, docs: { tag: string; head: number }[]): E2eeMessage => ({ type: 'changesReply', changeHead, docs });

describe('HeadsProbe', () => {
  it('keeps one Changes in flight: a probe asked meanwhile goes after the answer, and only its own answer counts', () => {
    const p = new HeadsProbe();
    p.changesSent(); // the connect's Changes
    expect(p.ask()).toBe(false);
    // The connect's answer lists only what changed since the stored number: not the probe's.
    expect(p.reply({ type: 'changesReply', changeHead: 4, docs: [{ tag: 'a', head: 1 }] })).toBe(true);
    expect([p.asked, p.answered, p.heads]).toEqual([1, 0, null]);
    expect(p.reply({ type: 'changesReply', changeHead: 5, docs: [{ tag: 'a', head: 2 }, { tag: 'b', head: 3 }] })).toBe(false);
    expect([p.asked, p.answered, [...p.heads!]]).toEqual([1, 1, [['a', 2], ['b', 3]]]);
    expect(p.changeHead).toBe(5);
  });

  it('a refused probe ends with a reason instead of heads; a reset forgets the heads of the old connection', () => {
    const p = new HeadsProbe();
    expect(p.ask()).toBe(true);
    expect(p.refused('server unavailable')).toBe(false);
    expect([p.answered, p.failure]).toEqual([1, 'the server did not tell the heads of the documents (server unavailable)']);
    expect(p.ask()).toBe(true);
    p.reply({ type: 'changesReply', changeHead: 1, docs: [] });
    expect(p.failure).toBeNull();
    p.reset();
    expect([p.heads, p.changeHead]).toEqual([null, null]);
  });
});

describe('EncryptedSession.syncCheck', () => {
  it('in sync only after a probe answered with heads the device has applied; a head above the cursor is named', () => {
    const { s, keys } = session();
    const ws = keys.tagOf('workspace');
    expect(s.syncCheck().problems).toEqual([{ doc: '', problem: 'not connected to the server' }]);
    s.connected();
    expect(s.syncCheck().problems).toEqual([{ doc: '', problem: 'the first sync of this connection has not finished' }]);
    s.binaryMessage(frame(ws, batch(0)));
    s.binaryMessage(frame(null, heads(0, [])));
    expect(s.syncCheck().problems).toEqual([{ doc: '', problem: 'the server has not told the heads of the documents yet' }]);
    const probe = sent(s.askHeads());
    expect(probe.map((m) => [m.tag, m.msg])).toEqual([[null, { type: 'changes', after: 0 }]]);
    expect(s.syncCheck()).toMatchObject({ asked: 1, answered: 0 });
    s.binaryMessage(frame(null, heads(3, [])));
    expect(s.syncCheck()).toEqual({ problems: [], asked: 1, answered: 1, changeHead: 3 });
    // Another device appended to the workspace doc and the relay never came.
    s.askHeads();
    s.binaryMessage(frame(null, heads(4, [{ tag: ws, head: 1 }])));
    expect(s.syncCheck().problems).toEqual([{ doc: 'workspace', problem: 'the server holds envelopes up to 1, this device applied up to 0' }]);
  });

  it('names local updates the server has not acknowledged, and bodies not pulled on this connection', () => {
    const { s, docs, keys } = session();
    const ws = keys.tagOf('workspace');
    s.connected();
    s.binaryMessage(frame(ws, batch(0)));
    s.binaryMessage(frame(null, heads(0, [])));
    docs.addFile('a.md', { title: 'A' });
    const [append] = sent(s.flushLocalUpdates());
    s.askHeads();
    s.binaryMessage(frame(null, heads(0, [])));
    expect(s.syncCheck().problems).toEqual([
      { doc: 'workspace', problem: '1 local update not acknowledged by the server' },
      { doc: 'a.md', problem: 'not pulled from the server on this connection' },
    ]);
    s.binaryMessage(frame(ws, { type: 'appended', req: (append.msg as { req: number }).req, seq: 1 }));
    const pulls = sent(s.requestBodies(['a.md']));
    expect(pulls.map((m) => m.msg.type)).toEqual(['pull']);
    s.binaryMessage(frame(pulls[0].tag, batch(0)));
    s.askHeads();
    s.binaryMessage(frame(null, heads(1, [{ tag: ws, head: 1 }])));
    expect(s.syncCheck().problems).toEqual([]);
  });

  it('a disconnect leaves the heads of the old connection behind', () => {
    const { s, keys } = session();
    s.connected();
    s.binaryMessage(frame(keys.tagOf('workspace'), batch(0)));
    s.askHeads();
    s.binaryMessage(frame(null, heads(0, [])));
    s.binaryMessage(frame(null, heads(0, [])));
    expect(s.syncCheck().problems).toEqual([]);
    s.disconnected();
    expect(s.askHeads()).toEqual([]);
    s.connected();
    s.binaryMessage(frame(keys.tagOf('workspace'), batch(0)));
    expect(s.syncCheck().problems).toEqual([{ doc: '', problem: 'the server has not told the heads of the documents yet' }]);
  });
});
