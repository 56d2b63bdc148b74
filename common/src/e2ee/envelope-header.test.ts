import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeEnvelopeHeader,
  EnvelopeFormatError,
  isPaddedLength,
  NONCE_BYTES,
  paddedLength,
  parseEnvelope,
  TAG_BYTES,
  type EnvelopeHeader,
} from './envelope-header';

const id = (b: number) => new Uint8Array(16).fill(b);

function envelope(header: EnvelopeHeader, padded = 256): Uint8Array {
  const head = encodeEnvelopeHeader(header);
  const out = new Uint8Array(head.length + NONCE_BYTES + padded + TAG_BYTES);
  out.set(head);
  out.fill(7, head.length, head.length + NONCE_BYTES);
  return out;
}

describe('padding buckets', () => {
  it('are powers of two from 256 up to 1 MiB, then multiples of 1 MiB, always leaving room for the length', () => {
    expect([0, 1, 252, 253, 1000, (1 << 20) - 4, (1 << 20) - 3, 3 << 20].map(paddedLength)).toEqual([
      256, 256, 256, 512, 1024, 1 << 20, 2 << 20, 4 << 20,
    ]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50 << 20 }), (n) => {
        const p = paddedLength(n);
        return p >= n + 4 && isPaddedLength(p) && (p === 256 || p <= 2 * (n + 4) || p - (n + 4) < 1 << 20);
      }),
    );
    for (const bad of [0, 255, 257, 768, (1 << 20) + 256, 1.5]) expect(isPaddedLength(bad)).toBe(false);
  });
});

describe('envelope header', () => {
  it('round-trips updates and snapshots at the documented offsets', () => {
    const update: EnvelopeHeader = { kind: 'update', epoch: 3, deviceId: id(9), run: 0x01020304, ctr: 5 };
    const bytes = envelope(update);
    expect([...bytes.slice(0, 6)]).toEqual([1, 1, 3, 0, 0, 0]);
    expect([...bytes.slice(22, 26)]).toEqual([4, 3, 2, 1]);
    const parsed = parseEnvelope(bytes);
    expect(parsed.header).toEqual(update);
    expect(parsed.headerBytes.length).toBe(30);
    expect(parsed.nonce).toEqual(new Uint8Array(24).fill(7));
    expect(parsed.sealed.length).toBe(256 + TAG_BYTES);

    const snapshot: EnvelopeHeader = {
      kind: 'snapshot',
      epoch: 1,
      deviceId: id(1),
      run: 2,
      ctr: 0,
      snapshot: { snapId: id(2), prevSnapId: id(0), coversSeq: 2 ** 40 + 1 },
    };
    const snap = parseEnvelope(envelope(snapshot, 2 << 20));
    expect(snap.header).toEqual(snapshot);
    expect(snap.headerBytes.length).toBe(70);
  });

  it('refuses every malformed layout with the field named', () => {
    const good = envelope({ kind: 'update', epoch: 1, deviceId: id(1), run: 1, ctr: 1 });
    const cases: [Uint8Array, RegExp][] = [
      [good.slice(0, 1), /too short for a header/],
      [Uint8Array.of(2, ...good.slice(1)), /version 2/],
      [Uint8Array.of(1, 3, ...good.slice(2)), /kind 3/],
      [good.slice(0, 30 + 24 + 15), /too short for a update envelope/],
      [good.slice(0, good.length - 1), /not a padding bucket/],
      [envelope({ kind: 'update', epoch: 1, deviceId: id(1), run: 1, ctr: 1 }, 300), /not a padding bucket/],
    ];
    const zeroCtr = good.slice();
    zeroCtr.fill(0, 26, 30);
    cases.push([zeroCtr, /update counter 0/]);
    for (const [bytes, message] of cases) {
      expect(() => parseEnvelope(bytes)).toThrow(EnvelopeFormatError);
      expect(() => parseEnvelope(bytes)).toThrow(message);
    }
    expect(() => encodeEnvelopeHeader({ kind: 'update', epoch: -1, deviceId: id(1), run: 1, ctr: 1 })).toThrow(/epoch -1/);
    expect(() => encodeEnvelopeHeader({ kind: 'update', epoch: 1, deviceId: new Uint8Array(15), run: 1, ctr: 1 })).toThrow(/device id has 15/);
    expect(() => encodeEnvelopeHeader({ kind: 'snapshot', epoch: 1, deviceId: id(1), run: 1, ctr: 0 })).toThrow(/snapshot fields/);
  });
});
