import { describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../../common/src/e2ee/envelope-header';
import { e2eeDocId, encodeE2eeMessage, type E2eeMessage } from '../../../common/src/e2ee/frames';
import type { SessionAction } from '../../../common/src/wire/envelope';
import { encodeFrame } from '../../../common/src/wire/frame';
import { MemoryDocs } from '../sync/testing/memory-docs';
import { encryptedSessionFixture, sentE2ee } from './testing/session-fixture';

const WS = 'ws-e';
const ROOT = new Map([[1, new Uint8Array(32).fill(7)]]);

function session(docs?: MemoryDocs) {
  return encryptedSessionFixture(WS, ROOT, docs);
}

const sent = sentE2ee;

const frame = (tag: string, msg: E2eeMessage) => encodeFrame(e2eeDocId(WS, tag), encodeE2eeMessage(msg));

function events(actions: SessionAction[]): string[] {
  return actions.flatMap((a) => (a.type === 'EmitEvent' ? [a.event.type === 'statusChanged' ? a.event.status.state : a.event.type] : []));
}

describe('encrypted session', () => {
  it('connects with Changes and a Pull of the workspace doc; goes synced once it and the bodies are at head', () => {
    const { s, keys } = session();
    const first = s.connected();
    expect(events(first)).toEqual(['connected']);
    expect(sent(first).map((m) => [m.tag, m.msg.type])).toEqual([[null, 'changes'], [keys.tagOf('workspace'), 'pull']]);
    const answer = s.binaryMessage(frame(keys.tagOf('workspace'), { type: 'batch', head: 0, more: false, snapshot: null, envelopes: [] }));
    expect(events(answer)).toEqual(['syncing', 'filesChanged', 'synced']);
  });

  it('pulls every active body once the workspace doc is at head, with progress events, then goes synced', () => {
    const { s, docs, keys } = session();
    for (const k of ['a.md', 'b.md', 'c.md']) docs.addFile(k);
    docs.drainLocalUpdates();
    s.connected();
    const atHead = s.binaryMessage(frame(keys.tagOf('workspace'), { type: 'batch', head: 0, more: false, snapshot: null, envelopes: [] }));
    expect(events(atHead)).toEqual(['syncing', 'filesChanged', 'progress']);
    const pulls = sent(atHead).filter((m) => m.msg.type === 'pull');
    expect(pulls.map((m) => m.tag).sort()).toEqual(['a.md', 'b.md', 'c.md'].map((k) => keys.tagOf(`body/${k}`)).sort());
    let last: SessionAction[] = [];
    for (const p of pulls) last = s.binaryMessage(frame(p.tag!, { type: 'batch', head: 0, more: false, snapshot: null, envelopes: [] }));
    expect(events(last)).toEqual(['progress', 'synced']);
  });

  it('appends local updates with this run and counters from 1; moves the cursor contiguously', () => {
    const { s, docs, keys } = session();
    const ws = keys.tagOf('workspace');
    s.connected();
    s.binaryMessage(frame(ws, { type: 'batch', head: 0, more: false, snapshot: null, envelopes: [] }));
    docs.addFile('a.md', { title: 'A' });
    docs.addFile('b.md', { title: 'B' });
    const appends = sent(s.flushLocalUpdates());
    expect(appends.map((m) => m.msg.type)).toEqual(['append', 'append']);
    const headers = appends.map((m) => parseEnvelope((m.msg as { env: Uint8Array }).env).header);
    expect(headers.map((h) => [h.run, h.ctr])).toEqual([[1, 1], [1, 2]]);
    const [r1, r2] = appends.map((m) => (m.msg as { req: number }).req);
    // The first lands at seq 1 (contiguous); the second at 3: someone else appended seq 2, so it pulls.
    expect(sent(s.binaryMessage(frame(ws, { type: 'appended', req: r1, seq: 1 })))).toEqual([]);
    expect(sent(s.binaryMessage(frame(ws, { type: 'appended', req: r2, seq: 3 }))).map((m) => [m.msg.type, (m.msg as { after: number }).after])).toEqual([['pull', 1]]);
  });

  it('a relay past cursor + 1 pulls, one at or below is skipped; a counter conflict reseals under a new run', () => {
    const { s, docs, keys } = session();
    const ws = keys.tagOf('workspace');
    s.connected();
    s.binaryMessage(frame(ws, { type: 'batch', head: 2, more: false, snapshot: null, envelopes: [] }));
    const fakeEnv = new Uint8Array(30 + 24 + 256 + 16);
    expect(sent(s.binaryMessage(frame(ws, { type: 'relay', seq: 5, env: fakeEnv }))).map((m) => m.msg.type)).toEqual(['pull']);
    expect(sent(s.binaryMessage(frame(ws, { type: 'batch', head: 2, more: false, snapshot: null, envelopes: [] })))).toEqual([]);
    expect(sent(s.binaryMessage(frame(ws, { type: 'relay', seq: 1, env: fakeEnv })))).toEqual([]);
    docs.addFile('c.md');
    const [append] = sent(s.flushLocalUpdates());
    const req = (append.msg as { req: number }).req;
    const resent = sent(s.binaryMessage(frame(ws, { type: 'refused', req, code: 3 })));
    expect(resent).toHaveLength(1);
    const h = parseEnvelope((resent[0].msg as { env: Uint8Array }).env).header;
    expect([h.run, h.ctr]).toEqual([2, 1]);
    expect((resent[0].msg as { req: number }).req).not.toBe(req);
  });

  it('puts a snapshot on a hint once at head with nothing waiting; a conflict pulls, a stored one becomes the next prev', () => {
    const { s, docs, keys } = session();
    const ws = keys.tagOf('workspace');
    s.connected();
    s.binaryMessage(frame(ws, { type: 'batch', head: 0, more: false, snapshot: null, envelopes: [] }));
    docs.addFile('e.md');
    const [append] = sent(s.flushLocalUpdates());
    // Hinted while an append waits: kept until it is acknowledged.
    expect(sent(s.binaryMessage(frame(ws, { type: 'compactHint', logCount: 9, logBytes: 9 })))).toEqual([]);
    const [put] = sent(s.binaryMessage(frame(ws, { type: 'appended', req: (append.msg as { req: number }).req, seq: 1 })));
    expect(put.msg.type).toBe('putSnapshot');
    const snap = parseEnvelope((put.msg as { env: Uint8Array }).env).header.snapshot!;
    expect(snap.coversSeq).toBe(1);
    expect(Array.from(snap.prevSnapId)).toEqual(new Array(16).fill(0));
    const req = (put.msg as { req: number }).req;
    const conflict = sent(s.binaryMessage(frame(ws, { type: 'snapshotResult', req, status: 1, snapId: new Uint8Array(16).fill(5), snapSeq: 1 })));
    expect(conflict.map((m) => m.msg.type)).toEqual(['pull']);
    s.binaryMessage(frame(ws, { type: 'batch', head: 1, more: false, snapshot: null, envelopes: [] }));
    docs.addFile('f.md');
    const [second] = sent(s.flushLocalUpdates());
    s.binaryMessage(frame(ws, { type: 'appended', req: (second.msg as { req: number }).req, seq: 2 }));
    const [again] = sent(s.binaryMessage(frame(ws, { type: 'compactHint', logCount: 9, logBytes: 9 })));
    const stored = parseEnvelope((again.msg as { env: Uint8Array }).env).header.snapshot!;
    s.binaryMessage(frame(ws, { type: 'snapshotResult', req: (again.msg as { req: number }).req, status: 0, snapId: stored.snapId, snapSeq: 2 }));
    docs.addFile('g.md');
    const [third] = sent(s.flushLocalUpdates());
    s.binaryMessage(frame(ws, { type: 'appended', req: (third.msg as { req: number }).req, seq: 3 }));
    const [next] = sent(s.binaryMessage(frame(ws, { type: 'compactHint', logCount: 9, logBytes: 9 })));
    expect(parseEnvelope((next.msg as { env: Uint8Array }).env).header.snapshot!.prevSnapId).toEqual(stored.snapId);
  });

  it('resends what waits, unchanged, after a reconnect', () => {
    const { s, docs, keys } = session();
    s.connected();
    s.binaryMessage(frame(keys.tagOf('workspace'), { type: 'batch', head: 0, more: false, snapshot: null, envelopes: [] }));
    docs.addFile('d.md');
    const [append] = sent(s.flushLocalUpdates());
    s.disconnected();
    const again = sent(s.connected()).filter((m) => m.msg.type === 'append');
    expect(again).toEqual([append]);
  });
});
