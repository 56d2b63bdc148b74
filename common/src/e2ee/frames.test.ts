import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeE2eeMessage,
  E2eeFrameError,
  E2eeTag,
  e2eeDocId,
  e2eeWorkspaceDocId,
  encodeE2eeMessage,
  parseE2eeDocId,
  RefusedCode,
  salvageReq,
  SnapshotStatus,
  type E2eeMessage,
} from './frames';

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);
const TAG = 'AAAAAAAAAAAAAAAAAAAAAA';

const examples: E2eeMessage[] = [
  { type: 'append', req: 1, env: bytes(300, 7) },
  { type: 'appended', req: 1, seq: 2 ** 40 },
  { type: 'refused', req: 9, code: RefusedCode.CounterConflict },
  { type: 'pull', after: 0 },
  { type: 'batch', head: 5, more: true, snapshot: { snapSeq: 3, env: bytes(10, 2) }, envelopes: [{ seq: 4, env: bytes(3) }, { seq: 5, env: new Uint8Array(0) }] },
  { type: 'batch', head: 0, more: false, snapshot: null, envelopes: [] },
  { type: 'putSnapshot', req: 300, env: bytes(5) },
  { type: 'snapshotResult', req: 300, status: SnapshotStatus.Conflict, snapId: bytes(16, 9), snapSeq: 12 },
  { type: 'changes', after: 127 },
  { type: 'changesReply', changeHead: 8, docs: [{ tag: TAG, head: 1 }, { tag: 'x', head: 0 }] },
  { type: 'relay', seq: 128, env: bytes(2) },
  { type: 'compactHint', logCount: 500, logBytes: 4 << 20 },
];

const arbBytes = fc.uint8Array({ maxLength: 40 });
const arbN = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const arbMessage: fc.Arbitrary<E2eeMessage> = fc.oneof(
  fc.record({ type: fc.constant('append' as const), req: arbN, env: arbBytes }),
  fc.record({ type: fc.constant('appended' as const), req: arbN, seq: arbN }),
  fc.record({ type: fc.constant('refused' as const), req: arbN, code: fc.constantFrom(1, 2, 3, 4, 5) as fc.Arbitrary<RefusedCode> }),
  fc.record({ type: fc.constant('pull' as const), after: arbN }),
  fc.record({
    type: fc.constant('batch' as const),
    head: arbN,
    more: fc.boolean(),
    snapshot: fc.option(fc.record({ snapSeq: arbN, env: arbBytes }), { nil: null }),
    envelopes: fc.array(fc.record({ seq: arbN, env: arbBytes }), { maxLength: 5 }),
  }),
  fc.record({ type: fc.constant('putSnapshot' as const), req: arbN, env: arbBytes }),
  fc.record({
    type: fc.constant('snapshotResult' as const),
    req: arbN,
    status: fc.constantFrom(0, 1, 2) as fc.Arbitrary<SnapshotStatus>,
    snapId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    snapSeq: arbN,
  }),
  fc.record({ type: fc.constant('changes' as const), after: arbN }),
  fc.record({ type: fc.constant('changesReply' as const), changeHead: arbN, docs: fc.array(fc.record({ tag: fc.string({ maxLength: 30 }), head: arbN }), { maxLength: 4 }) }),
  fc.record({ type: fc.constant('relay' as const), seq: arbN, env: arbBytes }),
  fc.record({ type: fc.constant('compactHint' as const), logCount: arbN, logBytes: arbN }),
);

describe('encrypted-workspace frames', () => {
  it('round-trip every message type', () => {
    for (const m of examples) expect(decodeE2eeMessage(encodeE2eeMessage(m))).toEqual(m);
    fc.assert(fc.property(arbMessage, (m) => void expect(decodeE2eeMessage(encodeE2eeMessage(m))).toEqual(m)));
  });

  it('use the documented tags and varUint fields', () => {
    expect([...encodeE2eeMessage({ type: 'appended', req: 1, seq: 300 })]).toEqual([0x41, 1, 0xac, 0x02]);
    expect([...encodeE2eeMessage({ type: 'append', req: 2, env: bytes(2, 9) })]).toEqual([0x40, 2, 2, 9, 9]);
    expect([...encodeE2eeMessage({ type: 'refused', req: 0, code: 2 })]).toEqual([0x4f, 0, 2]);
    expect([...encodeE2eeMessage({ type: 'batch', head: 1, more: false, snapshot: { snapSeq: 1, env: bytes(1, 5) }, envelopes: [] })]).toEqual([0x43, 1, 1, 1, 1, 5, 0]);
    expect([...encodeE2eeMessage({ type: 'changesReply', changeHead: 2, docs: [{ tag: 'ab', head: 3 }] })]).toEqual([0x49, 2, 1, 2, 97, 98, 3]);
    for (const m of examples) expect(encodeE2eeMessage(m)[0]).toBeGreaterThanOrEqual(0x40);
  });

  it('refuse every strict prefix of a valid payload (truncation) and trailing bytes', () => {
    for (const m of examples) {
      const full = encodeE2eeMessage(m);
      for (let len = 0; len < full.length; len++) expect(() => decodeE2eeMessage(full.slice(0, len))).toThrow(E2eeFrameError);
      const longer = new Uint8Array(full.length + 1);
      longer.set(full);
      expect(() => decodeE2eeMessage(longer)).toThrow(/after the end/);
    }
  });

  it('refuse unknown tags, flags, codes and statuses, and non-minimal or oversized numbers', () => {
    expect(() => decodeE2eeMessage(Uint8Array.of(0x00, 0x00, 0x01))).toThrow(/unknown tag 0x00/);
    expect(() => decodeE2eeMessage(Uint8Array.of(0x4a, 0))).toThrow(/unknown tag 0x4a/);
    expect(() => decodeE2eeMessage(Uint8Array.of(0x43, 0, 4, 0))).toThrow(/unknown batch flags 4/);
    expect(() => decodeE2eeMessage(Uint8Array.of(0x4f, 0, 6))).toThrow(/unknown refusal code 6/);
    expect(() => decodeE2eeMessage(Uint8Array.of(0x46, 0, 3, ...bytes(16), 0))).toThrow(/unknown snapshot status 3/);
    expect(() => decodeE2eeMessage(Uint8Array.of(0x42, 0x80, 0x00))).toThrow(/not minimally encoded/);
    expect(() => decodeE2eeMessage(Uint8Array.of(0x42, ...bytes(8, 0xff), 0x7f))).toThrow(/below 2\^53/);
    expect(() => decodeE2eeMessage(Uint8Array.of(0x43, 0, 0, 0xff, 0xff, 0x03))).toThrow(/exceeds the payload/);
    expect(() => decodeE2eeMessage(Uint8Array.of(0x40, 1, 5, 1, 2))).toThrow(/envelope needs 5 bytes, 2 left/);
    expect(() => encodeE2eeMessage({ type: 'pull', after: -1 })).toThrow(E2eeFrameError);
    expect(() => encodeE2eeMessage({ type: 'snapshotResult', req: 0, status: 0, snapId: bytes(15), snapSeq: 0 })).toThrow(/16/);
  });

  it('never throw anything but E2eeFrameError on random input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0x40, max: 0x4f }), (rest, tag) => {
        for (const input of [rest, Uint8Array.of(tag, ...rest)]) {
          try {
            const m = decodeE2eeMessage(input);
            expect(encodeE2eeMessage(m)).toEqual(input);
          } catch (e) {
            expect(e).toBeInstanceOf(E2eeFrameError);
          }
        }
      }),
    );
  });

  it('salvage the req number of a broken Append or PutSnapshot', () => {
    expect(salvageReq(Uint8Array.of(E2eeTag.Append, 0xac, 0x02, 9))).toBe(300);
    expect(salvageReq(Uint8Array.of(E2eeTag.PutSnapshot, 7))).toBe(7);
    expect(salvageReq(Uint8Array.of(E2eeTag.Pull, 7))).toBe(0);
    expect(salvageReq(Uint8Array.of(E2eeTag.Append, 0x80))).toBe(0);
  });
});

describe('encrypted doc ids', () => {
  it('name one doc or the whole workspace', () => {
    expect(e2eeDocId('ws-1', TAG)).toBe(`e2e:ws-1/${TAG}`);
    expect(parseE2eeDocId(`e2e:ws-1/${TAG}`)).toEqual({ workspaceId: 'ws-1', tag: TAG });
    expect(parseE2eeDocId(e2eeWorkspaceDocId('ws-1'))).toEqual({ workspaceId: 'ws-1', tag: null });
    const longest = e2eeDocId('w'.repeat(200), TAG);
    expect(new TextEncoder().encode(longest).length).toBe(227);
    expect(parseE2eeDocId(longest)).not.toBeNull();
  });

  it('refuse other prefixes, bad workspace ids and tags that are not 22 base64url characters', () => {
    for (const bad of ['workspace:ws', 'body:ws/a.md', 'e2e:', `e2e:/${TAG}`, 'e2e:ws/short', `e2e:ws/${TAG}A`, `e2e:ws/${TAG.slice(1)}+`, `e2e:ws/${TAG}/x`, `e2e:a\u0001b/${TAG}`, `e2e:${'w'.repeat(201)}`]) {
      expect(parseE2eeDocId(bad)).toBeNull();
    }
  });
});
