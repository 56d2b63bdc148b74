import fc from 'fast-check';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import {
  applySyncMessages,
  decodeSyncMessages,
  encodeSyncMessage,
  encodeSyncMessages,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  hasPendingStructs,
  SyncMessageError,
  type SyncMessage,
} from './sync';

const envSeed = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FC_SEED;
const seed = envSeed ? Number(envSeed) : Date.now() % 2 ** 31;
console.log(`sync.test fast-check seed: ${seed} (set FC_SEED to replay)`);

const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

function varUint(n: number): string {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, n);
  return toHex(encoding.toUint8Array(e));
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('y-sync encoding vectors', () => {
  it('varUint vectors', () => {
    expect(varUint(127)).toBe('7f');
    expect(varUint(128)).toBe('80 01');
    expect(varUint(300)).toBe('ac 02');
  });

  it('Update and SyncStep2 wrappers for a short update', () => {
    const u = Uint8Array.of(1, 2, 3);
    expect(toHex(encodeSyncUpdate(u))).toBe('00 02 03 01 02 03');
    expect(toHex(encodeSyncStep2(u))).toBe('00 01 03 01 02 03');
    expect(toHex(encodeSyncStep1(Uint8Array.of(0)))).toBe('00 00 01 00');
  });

  it('long payloads use a multi-byte length', () => {
    const u = new Uint8Array(300);
    expect(toHex(encodeSyncUpdate(u).subarray(0, 4))).toBe('00 02 ac 02');
  });

  it('matches y-protocols writeSyncStep1 / writeSyncStep2 / writeUpdate', () => {
    const doc = new Y.Doc();
    doc.getText('body').insert(0, 'hello');
    const sv = Y.encodeStateVector(doc);
    const viaLib = (write: (e: encoding.Encoder) => void) => {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      write(e);
      return encoding.toUint8Array(e);
    };
    expect(encodeSyncStep1(sv)).toEqual(viaLib((e) => syncProtocol.writeSyncStep1(e, doc)));
    expect(encodeSyncStep2(Y.encodeStateAsUpdate(doc))).toEqual(viaLib((e) => syncProtocol.writeSyncStep2(e, doc)));
    const update = Y.encodeStateAsUpdate(doc);
    expect(encodeSyncUpdate(update)).toEqual(viaLib((e) => syncProtocol.writeUpdate(e, update)));
  });
});

describe('decodeSyncMessages', () => {
  it('decodes concatenated messages of every kind', () => {
    const msgs: SyncMessage[] = [
      { kind: 'step1', stateVector: Uint8Array.of(0) },
      { kind: 'step2', update: Uint8Array.of(0, 0) },
      { kind: 'update', update: Uint8Array.of(1, 2) },
      { kind: 'awareness', data: Uint8Array.of(1, 2, 3) },
      { kind: 'auth', data: Uint8Array.of(0, 2, 0x6e, 0x6f) },
      { kind: 'auth', data: Uint8Array.of(1) },
    ];
    const payload = encodeSyncMessages(msgs);
    expect(toHex(payload)).toBe('00 00 01 00 00 01 02 00 00 00 02 02 01 02 01 03 01 02 03 02 00 02 6e 6f 02 01');
    expect(decodeSyncMessages(payload)).toEqual(msgs);
  });

  it('an empty payload holds no messages', () => {
    expect(decodeSyncMessages(new Uint8Array())).toEqual([]);
  });

  it('unknown sync subtype: "Unknown sync type: <n>"', () => {
    const e = errorOf(() => decodeSyncMessages(Uint8Array.of(0, 5, 0)));
    expect(e).toBeInstanceOf(SyncMessageError);
    expect(e.name).toBe('SyncMessageError');
    expect(e.message).toBe('Unknown sync type: 5');
    expect(errorOf(() => decodeSyncMessages(Uint8Array.of(0, 0x80, 0x01, 0))).message).toBe('Unknown sync type: 128');
  });

  it('unknown message type', () => {
    expect(errorOf(() => decodeSyncMessages(Uint8Array.of(3))).message).toBe('Unknown message type: 3');
    expect(errorOf(() => decodeSyncMessages(Uint8Array.of(0, 2, 0, 9))).message).toBe('Unknown message type: 9');
  });

  it('truncated input', () => {
    const cases: Array<[number[], RegExp]> = [
      [[0], /Truncated sync type/],
      [[0x80], /Truncated message type/],
      [[0, 0], /Truncated state vector length/],
      [[0, 1, 3, 1], /Truncated update at offset 3: length 3 but 1 bytes left/],
      [[1, 2, 7], /Truncated awareness update/],
      [[2], /Truncated auth permission type/],
      [[2, 0, 4, 0x61], /Truncated auth reason/],
    ];
    for (const [bytes, re] of cases) {
      const e = errorOf(() => decodeSyncMessages(Uint8Array.from(bytes)));
      expect(e).toBeInstanceOf(SyncMessageError);
      expect(e.message).toMatch(re);
    }
  });

  it('rejects varUints beyond 53 bits', () => {
    const bytes = Uint8Array.from([0, ...Array(12).fill(0xff), 0x01]);
    expect(errorOf(() => decodeSyncMessages(bytes))).toBeInstanceOf(SyncMessageError);
    const zeros = Uint8Array.from([0, ...Array(20).fill(0x80), 0x00]);
    expect(errorOf(() => decodeSyncMessages(zeros))).toBeInstanceOf(SyncMessageError);
  });

  it('reads what y-protocols writes', () => {
    const doc = new Y.Doc();
    doc.getMap('files').set('a.md', '{}');
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    syncProtocol.writeSyncStep1(e, doc);
    encoding.writeVarUint(e, 0);
    syncProtocol.writeSyncStep2(e, doc);
    const [m1, m2] = decodeSyncMessages(encoding.toUint8Array(e));
    expect(m1).toEqual({ kind: 'step1', stateVector: Y.encodeStateVector(doc) });
    expect(m2).toEqual({ kind: 'step2', update: Y.encodeStateAsUpdate(doc) });
  });
});

describe('applySyncMessages', () => {
  it('answers SyncStep1 with the diff as SyncStep2', () => {
    const server = new Y.Doc();
    server.getText('body').insert(0, 'abc');
    const client = new Y.Doc();
    const { reply, changed, messages } = applySyncMessages(server, encodeSyncStep1(Y.encodeStateVector(client)), 'remote');
    expect(changed).toBe(false);
    expect(messages).toHaveLength(1);
    expect(reply).toEqual(encodeSyncStep2(Y.encodeStateAsUpdate(server, Y.encodeStateVector(client))));
    const r2 = applySyncMessages(client, reply!, 'sync');
    expect(r2.reply).toBeNull();
    expect(r2.changed).toBe(true);
    expect(client.getText('body').toString()).toBe('abc');
  });

  it('applies updates with the given origin and reports no change for a duplicate', () => {
    const a = new Y.Doc();
    a.getText('t').insert(0, 'x');
    const b = new Y.Doc();
    const origins: unknown[] = [];
    b.on('update', (_u: Uint8Array, origin: unknown) => origins.push(origin));
    const payload = encodeSyncUpdate(Y.encodeStateAsUpdate(a));
    expect(applySyncMessages(b, payload, 'ORIGIN').changed).toBe(true);
    expect(origins).toEqual(['ORIGIN']);
    expect(applySyncMessages(b, payload, 'ORIGIN').changed).toBe(false);
  });

  it('concatenates replies to several SyncStep1s', () => {
    const doc = new Y.Doc();
    doc.getText('t').insert(0, 'hi');
    const sv = Y.encodeStateVector(new Y.Doc());
    const payload = encodeSyncMessages([
      { kind: 'step1', stateVector: sv },
      { kind: 'awareness', data: Uint8Array.of(0) },
      { kind: 'step1', stateVector: sv },
    ]);
    const one = encodeSyncStep2(Y.encodeStateAsUpdate(doc, sv));
    const { reply } = applySyncMessages(doc, payload, null);
    expect(reply).toEqual(Uint8Array.from([...one, ...one]));
  });

  it('leaves the doc untouched when the payload is malformed', () => {
    const a = new Y.Doc();
    a.getText('t').insert(0, 'x');
    const b = new Y.Doc();
    const payload = Uint8Array.from([...encodeSyncUpdate(Y.encodeStateAsUpdate(a)), 0, 9]);
    expect(() => applySyncMessages(b, payload, null)).toThrow(SyncMessageError);
    expect(b.getText('t').toString()).toBe('');
  });

  it('reports a bad state vector as SyncMessageError', () => {
    const doc = new Y.Doc();
    const e = errorOf(() => applySyncMessages(doc, encodeSyncStep1(Uint8Array.of(5, 0xff)), null));
    expect(e).toBeInstanceOf(SyncMessageError);
  });
});

describe('hasPendingStructs', () => {
  it('is true while an update waits for a missing earlier one', () => {
    const a = new Y.Doc();
    const updates: Uint8Array[] = [];
    a.on('update', (u: Uint8Array) => updates.push(u));
    a.getText('t').insert(0, 'one');
    a.getText('t').insert(3, 'two');
    const b = new Y.Doc();
    expect(hasPendingStructs(b)).toBe(false);
    Y.applyUpdate(b, updates[1]);
    expect(hasPendingStructs(b)).toBe(true);
    expect(b.getText('t').toString()).toBe('');
    Y.applyUpdate(b, updates[0]);
    expect(hasPendingStructs(b)).toBe(false);
    expect(b.getText('t').toString()).toBe('onetwo');
  });

  it('is true for a delete set that refers to unknown items', () => {
    const a = new Y.Doc();
    a.getText('t').insert(0, 'abc');
    const before = Y.encodeStateVector(a);
    a.getText('t').delete(0, 1);
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a, before));
    expect(hasPendingStructs(b)).toBe(true);
  });
});

const bytesArb = fc.uint8Array({ maxLength: 40 });
const messageArb: fc.Arbitrary<SyncMessage> = fc.oneof(
  bytesArb.map((stateVector) => ({ kind: 'step1', stateVector }) as SyncMessage),
  bytesArb.map((update) => ({ kind: 'step2', update }) as SyncMessage),
  bytesArb.map((update) => ({ kind: 'update', update }) as SyncMessage),
  bytesArb.map((data) => ({ kind: 'awareness', data }) as SyncMessage),
  fc.string({ maxLength: 20 }).map((reason) => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    encoding.writeVarString(e, reason);
    return { kind: 'auth', data: encoding.toUint8Array(e) } as SyncMessage;
  }),
  fc.integer({ min: 1, max: 1000 }).map((perm) => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, perm);
    return { kind: 'auth', data: encoding.toUint8Array(e) } as SyncMessage;
  }),
);

describe('sync properties', () => {
  it('decode(encode(messages)) round-trips', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 8 }), (msgs) => {
        expect(decodeSyncMessages(encodeSyncMessages(msgs))).toEqual(msgs);
        for (const m of msgs) expect(decodeSyncMessages(encodeSyncMessage(m))).toEqual([m]);
      }),
      { seed, numRuns: 500 },
    );
  });

  it('sync messages are readable by lib0 decoding', () => {
    fc.assert(
      fc.property(bytesArb, fc.constantFrom(0, 1, 2), (data, sub) => {
        const enc = sub === 0 ? encodeSyncStep1(data) : sub === 1 ? encodeSyncStep2(data) : encodeSyncUpdate(data);
        const d = decoding.createDecoder(enc);
        expect(decoding.readVarUint(d)).toBe(0);
        expect(decoding.readVarUint(d)).toBe(sub);
        expect(decoding.readVarUint8Array(d)).toEqual(data);
        expect(decoding.hasContent(d)).toBe(false);
      }),
      { seed, numRuns: 300 },
    );
  });

  it('random bytes either decode or throw SyncMessageError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
        try {
          decodeSyncMessages(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(SyncMessageError);
        }
      }),
      { seed, numRuns: 3000 },
    );
  });

  it('truncating a valid payload never throws anything but SyncMessageError', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 4 }), fc.nat(), (msgs, cut) => {
        const bytes = encodeSyncMessages(msgs);
        const part = bytes.subarray(0, cut % bytes.length);
        try {
          decodeSyncMessages(part);
        } catch (e) {
          expect(e).toBeInstanceOf(SyncMessageError);
        }
      }),
      { seed, numRuns: 500 },
    );
  });

  it('two docs converge through Step1/Step2 exchanges of random edits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.string({ maxLength: 5 })), { maxLength: 12 }),
        (edits) => {
          const a = new Y.Doc();
          const b = new Y.Doc();
          for (const [onA, pos, text] of edits) {
            const t = (onA ? a : b).getText('body');
            t.insert(pos % (t.length + 1), text);
          }
          const ra = applySyncMessages(b, encodeSyncStep1(Y.encodeStateVector(a)), 'sync');
          applySyncMessages(a, ra.reply!, 'sync');
          const rb = applySyncMessages(a, encodeSyncStep1(Y.encodeStateVector(b)), 'sync');
          applySyncMessages(b, rb.reply!, 'sync');
          expect(a.getText('body').toString()).toBe(b.getText('body').toString());
          expect(Y.encodeStateVector(a)).toEqual(Y.encodeStateVector(b));
          expect(hasPendingStructs(a) || hasPendingStructs(b)).toBe(false);
        },
      ),
      { seed, numRuns: 100 },
    );
  });
});
