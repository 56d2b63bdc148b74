import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bodyDocId,
  decodeFrame,
  DocIdTooLongError,
  encodeFrame,
  FrameError,
  MAX_DOC_ID_BYTES,
  parseDocId,
  workspaceDocId,
} from './frame';
import { encodeSyncStep1 } from './sync';

const envSeed = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FC_SEED;
const seed = envSeed ? Number(envSeed) : Date.now() % 2 ** 31;
console.log(`frame.test fast-check seed: ${seed} (set FC_SEED to replay)`);

const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

describe('v2 frames', () => {
  it('spec vector: workspace ws1, empty-doc SyncStep1', () => {
    const frame = encodeFrame(workspaceDocId('ws1'), encodeSyncStep1(Uint8Array.of(0)));
    expect(toHex(frame)).toBe('0d 77 6f 72 6b 73 70 61 63 65 3a 77 73 31 00 00 01 00');
    const { docId, payload } = decodeFrame(frame);
    expect(docId).toBe('workspace:ws1');
    expect(toHex(payload)).toBe('00 00 01 00');
  });

  it('body doc id for ws1 / notes/a.md is 19 bytes (prefix 13)', () => {
    const id = bodyDocId('ws1', 'notes/a.md');
    expect(id).toBe('body:ws1/notes/a.md');
    expect(encodeFrame(id, new Uint8Array())[0]).toBe(0x13);
  });

  it('accepts an id of exactly 255 bytes and an empty id', () => {
    const id = 'x'.repeat(255);
    expect(decodeFrame(encodeFrame(id, Uint8Array.of(9)))).toEqual({ docId: id, payload: Uint8Array.of(9) });
    expect(decodeFrame(encodeFrame('', Uint8Array.of(1, 2)))).toEqual({ docId: '', payload: Uint8Array.of(1, 2) });
    expect(decodeFrame(Uint8Array.of(0))).toEqual({ docId: '', payload: new Uint8Array() });
  });

  it('never truncates: 256 bytes throws DocIdTooLongError', () => {
    const id = 'body:ws/' + 'é'.repeat(124); // 8 + 248 = 256 bytes
    let caught: unknown;
    try {
      encodeFrame(id, new Uint8Array());
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DocIdTooLongError);
    const err = caught as DocIdTooLongError;
    expect(err.name).toBe('DocIdTooLongError');
    expect(err.docId).toBe(id);
    expect(err.byteLength).toBe(256);
  });

  it('decode errors are FrameErrors', () => {
    expect(() => decodeFrame(new Uint8Array())).toThrow(FrameError);
    expect(() => decodeFrame(Uint8Array.of(3, 0x61, 0x62))).toThrow(/Frame too short/);
    expect(() => decodeFrame(Uint8Array.of(1, 0xff, 0))).toThrow(
      'Doc id is not valid UTF-8: invalid utf-8 sequence of 1 bytes from index 0',
    );
    try {
      decodeFrame(new Uint8Array());
    } catch (e) {
      expect((e as Error).name).toBe('FrameError');
    }
  });

  it('keeps a BOM at the start of a doc id', () => {
    expect(decodeFrame(encodeFrame('\ufeffid', new Uint8Array())).docId).toBe('\ufeffid');
  });
});

describe('doc ids', () => {
  it('parses workspace and body ids', () => {
    expect(parseDocId('workspace:ws1')).toEqual({ kind: 'workspace', workspaceId: 'ws1' });
    expect(parseDocId('workspace:')).toEqual({ kind: 'workspace', workspaceId: '' });
    expect(parseDocId('body:ws1/notes/a.md')).toEqual({ kind: 'body', workspaceId: 'ws1', key: 'notes/a.md' });
    expect(parseDocId('body:ws1/')).toEqual({ kind: 'body', workspaceId: 'ws1', key: '' });
    expect(parseDocId('body:/x')).toEqual({ kind: 'body', workspaceId: '', key: 'x' });
  });
  it('rejects ids without a known prefix or a body id without /', () => {
    expect(parseDocId('ws1')).toBeNull();
    expect(parseDocId('Workspace:ws1')).toBeNull();
    expect(parseDocId('body:ws1')).toBeNull();
    expect(parseDocId('')).toBeNull();
  });
  it('round-trips generated ids (workspace ids without /)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }).filter((s) => !s.includes('/')),
        fc.string({ unit: 'grapheme' }),
        (ws, key) => {
          expect(parseDocId(workspaceDocId(ws))).toEqual({ kind: 'workspace', workspaceId: ws });
          expect(parseDocId(bodyDocId(ws, key))).toEqual({ kind: 'body', workspaceId: ws, key });
        },
      ),
      { seed, numRuns: 300 },
    );
  });
});

describe('frame properties', () => {
  it('decode(encode(id, payload)) round-trips for ids up to 255 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.uint8Array({ maxLength: 64 }), (id, payload) => {
        const bytes = new TextEncoder().encode(id).length;
        if (bytes > MAX_DOC_ID_BYTES) {
          expect(() => encodeFrame(id, payload)).toThrow(DocIdTooLongError);
          return;
        }
        const frame = encodeFrame(id, payload);
        expect(frame.length).toBe(1 + bytes + payload.length);
        expect(decodeFrame(frame)).toEqual({ docId: id, payload });
      }),
      { seed, numRuns: 500 },
    );
  });

  it('random bytes either decode or throw FrameError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        try {
          const { docId, payload } = decodeFrame(bytes);
          expect(new TextEncoder().encode(docId).length).toBe(bytes[0]);
          expect(payload.length).toBe(bytes.length - 1 - bytes[0]);
        } catch (e) {
          expect(e).toBeInstanceOf(FrameError);
        }
      }),
      { seed, numRuns: 3000 },
    );
  });
});
