import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeEnvelope,
  encodeEnvelope,
  EnvelopeError,
  type DecodedAction,
  type SessionAction,
} from './envelope';
import { serializeSyncEvent, type SyncEvent } from './events';
import { findUtf8Problem, describeUtf8Problem, decodeValidUtf8 } from './utf8';

const envSeed = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FC_SEED;
const seed = envSeed ? Number(envSeed) : Date.now() % 2 ** 31;
console.log(`envelope.test fast-check seed: ${seed} (set FC_SEED to replay)`);

const hex = (s: string) => Uint8Array.from(s.replace(/[\s|]+/g, '').match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

function expectError(bytes: Uint8Array | number[], message: string) {
  const input = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
  let caught: unknown;
  try {
    decodeEnvelope(input);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(EnvelopeError);
  expect((caught as Error).name).toBe('EnvelopeError');
  expect((caught as Error).message).toBe(message);
}

describe('envelope spec vectors', () => {
  it('empty envelope is 00 00', () => {
    expect(toHex(encodeEnvelope([]))).toBe('00 00');
    expect(decodeEnvelope(hex('0000'))).toEqual([]);
  });

  it('SendBinary [1,2,3,4]', () => {
    const bytes = encodeEnvelope([{ type: 'SendBinary', data: Uint8Array.from([1, 2, 3, 4]) }]);
    expect(toHex(bytes)).toBe('01 00 00 04 00 00 00 01 02 03 04');
    expect(decodeEnvelope(bytes)).toEqual([{ type: 'SendBinary', data: Uint8Array.from([1, 2, 3, 4]) }]);
  });

  it('mixed SendBinary + SendText + DownloadSnapshot', () => {
    const actions: SessionAction[] = [
      { type: 'SendBinary', data: Uint8Array.from([0xab]) },
      { type: 'SendText', text: 'hello' },
      { type: 'DownloadSnapshot', workspaceId: 'ws-123' },
    ];
    const expected = hex('03 00 | 00 01 00 00 00 ab | 01 05 00 00 00 68 65 6c 6c 6f | 03 06 00 00 00 77 73 2d 31 32 33');
    expect(encodeEnvelope(actions)).toEqual(expected);
    expect(decodeEnvelope(expected)).toEqual(actions);
  });

  it('EmitEvent statusChanged connected carries the 55-byte JSON', () => {
    const json = '{"type":"statusChanged","status":{"state":"connected"}}';
    expect(json.length).toBe(55);
    const bytes = encodeEnvelope([{ type: 'EmitEvent', event: { type: 'statusChanged', status: { state: 'connected' } } }]);
    expect(toHex(bytes.subarray(0, 7))).toBe('01 00 02 37 00 00 00');
    expect(new TextDecoder().decode(bytes.subarray(7))).toBe(json);
    expect(bytes.length).toBe(7 + 55);
    expect(decodeEnvelope(bytes)).toEqual([{ type: 'EmitEvent', json }]);
  });

  it('FilesReady text frame', () => {
    const bytes = encodeEnvelope([{ type: 'SendText', text: '{"type":"FilesReady"}' }]);
    expect(toHex(bytes)).toBe(
      '01 00 01 15 00 00 00 7b 22 74 79 70 65 22 3a 22 46 69 6c 65 73 52 65 61 64 79 22 7d',
    );
  });

  it('ignores trailing bytes', () => {
    expect(decodeEnvelope(hex('01 00 00 01 00 00 00 aa ff ff ff'))).toEqual([
      { type: 'SendBinary', data: Uint8Array.from([0xaa]) },
    ]);
    expect(decodeEnvelope(hex('00 00 01 02 03'))).toEqual([]);
  });

  it('keeps a leading BOM in text, like Rust', () => {
    const text = '\ufeffhi';
    const [a] = decodeEnvelope(encodeEnvelope([{ type: 'SendText', text }]));
    expect(a).toEqual({ type: 'SendText', text });
  });

  it('encodes non-ASCII text as UTF-8 with the byte length', () => {
    const bytes = encodeEnvelope([{ type: 'SendText', text: 'é😀' }]);
    expect(toHex(bytes)).toBe('01 00 01 06 00 00 00 c3 a9 f0 9f 98 80');
  });
});

describe('envelope decoder errors (exact messages)', () => {
  it('Buffer too short for action count', () => {
    expectError([], 'Buffer too short for action count');
    expectError([1], 'Buffer too short for action count');
  });
  it('Unexpected end of buffer', () => {
    expectError([1, 0], 'Unexpected end of buffer');
    expectError([2, 0, 0, 0, 0, 0, 0], 'Unexpected end of buffer');
  });
  it('Unexpected end of buffer reading payload length', () => {
    expectError([1, 0, 0], 'Unexpected end of buffer reading payload length');
    expectError([1, 0, 0, 1, 0, 0], 'Unexpected end of buffer reading payload length');
  });
  it('Payload exceeds buffer', () => {
    expectError([1, 0, 0, 2, 0, 0, 0, 9], 'Payload exceeds buffer');
    expectError([1, 0, 0, 0xff, 0xff, 0xff, 0xff], 'Payload exceeds buffer');
  });
  it('Invalid UTF-8 in SendText', () => {
    expectError([1, 0, 1, 1, 0, 0, 0, 0xff], 'Invalid UTF-8 in SendText: invalid utf-8 sequence of 1 bytes from index 0');
    expectError(
      [1, 0, 1, 3, 0, 0, 0, 0x61, 0xe2, 0x82],
      'Invalid UTF-8 in SendText: incomplete utf-8 byte sequence from index 1',
    );
  });
  it('Invalid UTF-8 in DownloadSnapshot', () => {
    expectError(
      [1, 0, 3, 3, 0, 0, 0, 0x77, 0x73, 0xc0],
      'Invalid UTF-8 in DownloadSnapshot: invalid utf-8 sequence of 1 bytes from index 2',
    );
  });
  it('Invalid UTF-8 in EmitEvent', () => {
    expectError(
      [1, 0, 2, 4, 0, 0, 0, 0x7b, 0xf0, 0x9f, 0x41],
      'Invalid UTF-8 in EmitEvent: invalid utf-8 sequence of 2 bytes from index 1',
    );
  });
  it('Unknown action type', () => {
    expectError([1, 0, 4, 0, 0, 0, 0], 'Unknown action type: 4');
    expectError([1, 0, 0xff, 0, 0, 0, 0], 'Unknown action type: 255');
  });
  it('an error in a later action fails the whole envelope', () => {
    expectError([2, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0], 'Unknown action type: 7');
  });
});

describe('encoder limits', () => {
  it('refuses more than 65535 actions instead of wrapping the count', () => {
    const many: SessionAction[] = Array.from({ length: 65536 }, () => ({ type: 'SendText', text: '' }));
    expect(() => encodeEnvelope(many)).toThrow(EnvelopeError);
    expect(decodeEnvelope(encodeEnvelope(many.slice(1)))).toHaveLength(65535);
  });
});

describe('Rust-compatible UTF-8 validation', () => {
  const cases: Array<[number[], string | null]> = [
    [[0x61, 0x62], null],
    [[0xc3, 0xa9], null],
    [[0x80], 'invalid utf-8 sequence of 1 bytes from index 0'],
    [[0xc1, 0x81], 'invalid utf-8 sequence of 1 bytes from index 0'],
    [[0xc3], 'incomplete utf-8 byte sequence from index 0'],
    [[0xc3, 0x41], 'invalid utf-8 sequence of 1 bytes from index 0'],
    [[0xe0, 0x80, 0x80], 'invalid utf-8 sequence of 1 bytes from index 0'],
    [[0xe0, 0xa0], 'incomplete utf-8 byte sequence from index 0'],
    [[0xe0, 0xa0, 0x41], 'invalid utf-8 sequence of 2 bytes from index 0'],
    [[0xed, 0xa0, 0x80], 'invalid utf-8 sequence of 1 bytes from index 0'],
    [[0xf0, 0x90, 0x80], 'incomplete utf-8 byte sequence from index 0'],
    [[0xf0, 0x90, 0x80, 0x41], 'invalid utf-8 sequence of 3 bytes from index 0'],
    [[0xf4, 0x90, 0x80, 0x80], 'invalid utf-8 sequence of 1 bytes from index 0'],
    [[0xf5, 0x80], 'invalid utf-8 sequence of 1 bytes from index 0'],
    [[0x61, 0xf0, 0x9f, 0x98, 0x80, 0xff], 'invalid utf-8 sequence of 1 bytes from index 5'],
  ];
  it.each(cases)('%j -> %s', (bytes, message) => {
    const p = findUtf8Problem(Uint8Array.from(bytes));
    expect(p ? describeUtf8Problem(p) : null).toBe(message);
  });

  it('agrees with a fatal TextDecoder on validity for random bytes', () => {
    const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        let ok = true;
        try {
          strict.decode(bytes);
        } catch {
          ok = false;
        }
        expect(findUtf8Problem(bytes) === null).toBe(ok);
        if (ok) expect(decodeValidUtf8(bytes)).toBe(strict.decode(bytes));
      }),
      { seed, numRuns: 2000 },
    );
  });
});

const syncEventArb: fc.Arbitrary<SyncEvent> = fc.oneof(
  fc.constantFrom('connecting', 'connected', 'syncing', 'synced', 'disconnected').map(
    (state) => ({ type: 'statusChanged', status: { state } }) as SyncEvent,
  ),
  fc.nat().map((attempt) => ({ type: 'statusChanged', status: { state: 'reconnecting', attempt } }) as SyncEvent),
  fc.record({ completed: fc.nat(), total: fc.nat() }).map((r) => ({ type: 'progress', ...r }) as SyncEvent),
  fc.array(fc.string({ unit: 'binary' })).map((files) => ({ type: 'filesChanged', files }) as SyncEvent),
  fc.record({ file_path: fc.string({ unit: 'binary' }), body: fc.string({ unit: 'binary' }) }).map((r) => ({ type: 'bodyChanged', ...r }) as SyncEvent),
  fc.string({ unit: 'binary' }).map((message) => ({ type: 'error', message }) as SyncEvent),
  fc.nat().map((peer_count) => ({ type: 'peerJoined', peer_count }) as SyncEvent),
  fc.nat().map((peer_count) => ({ type: 'peerLeft', peer_count }) as SyncEvent),
  fc.nat().map((files_synced) => ({ type: 'syncComplete', files_synced }) as SyncEvent),
  fc.array(fc.string({ unit: 'binary' })).map((files) => ({ type: 'focusListChanged', files }) as SyncEvent),
);

const sessionActionArb: fc.Arbitrary<SessionAction> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((data) => ({ type: 'SendBinary', data }) as SessionAction),
  fc.string({ unit: 'grapheme' }).map((text) => ({ type: 'SendText', text }) as SessionAction),
  syncEventArb.map((event) => ({ type: 'EmitEvent', event }) as SessionAction),
  fc.string({ unit: 'grapheme' }).map((workspaceId) => ({ type: 'DownloadSnapshot', workspaceId }) as SessionAction),
);

function expectedDecoded(a: SessionAction): DecodedAction {
  return a.type === 'EmitEvent' ? { type: 'EmitEvent', json: serializeSyncEvent(a.event) } : a;
}

describe('envelope properties', () => {
  it('decode(encode(actions)) gives the actions back', () => {
    fc.assert(
      fc.property(fc.array(sessionActionArb, { maxLength: 20 }), (actions) => {
        const decoded = decodeEnvelope(encodeEnvelope(actions));
        expect(decoded).toEqual(actions.map(expectedDecoded));
        for (const d of decoded) if (d.type === 'EmitEvent') JSON.parse(d.json);
      }),
      { seed, numRuns: 300 },
    );
  });

  it('random bytes either decode or throw EnvelopeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeEnvelope(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(EnvelopeError);
        }
      }),
      { seed, numRuns: 3000 },
    );
  });

  it('mutated valid envelopes either decode or throw EnvelopeError', () => {
    fc.assert(
      fc.property(
        fc.array(sessionActionArb, { maxLength: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (actions, flips, cut) => {
          const bytes = encodeEnvelope(actions).slice();
          for (const [pos, v] of flips) if (bytes.length) bytes[pos % bytes.length] = v;
          const truncated = bytes.subarray(0, bytes.length ? cut % (bytes.length + 1) : 0);
          for (const input of [bytes, truncated]) {
            try {
              decodeEnvelope(input);
            } catch (e) {
              expect(e).toBeInstanceOf(EnvelopeError);
            }
          }
        },
      ),
      { seed, numRuns: 1000 },
    );
  });
});
