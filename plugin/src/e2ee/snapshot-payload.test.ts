import { describe, expect, it } from 'vitest';
import { decodeSnapshotPayload, encodeSnapshotPayload, SnapshotPayloadError } from './snapshot-payload';

const A = 'aa'.repeat(16);
const B = '0f'.repeat(16);

describe('snapshot payload', () => {
  it('round-trips writer entries and the update, with the design layout', () => {
    const payload = { writers: [{ device: A, run: 1, ctr: 2, seq: 3 }, { device: B, run: 0xffffffff, ctr: 7, seq: 2 ** 40 }], update: Uint8Array.of(9, 8, 7) };
    const bytes = encodeSnapshotPayload(payload);
    expect(bytes.length).toBe(1 + 2 * 32 + 3);
    expect(bytes[0]).toBe(2);
    expect(Array.from(bytes.subarray(1, 17))).toEqual(new Array(16).fill(0xaa));
    expect(Array.from(bytes.subarray(17, 21))).toEqual([1, 0, 0, 0]);
    expect(Array.from(bytes.subarray(21, 25))).toEqual([2, 0, 0, 0]);
    expect(Array.from(bytes.subarray(25, 33))).toEqual([3, 0, 0, 0, 0, 0, 0, 0]);
    expect(decodeSnapshotPayload(bytes)).toEqual(payload);
  });

  it('takes an empty writer list', () => {
    expect(decodeSnapshotPayload(encodeSnapshotPayload({ writers: [], update: Uint8Array.of(0, 0) }))).toEqual({ writers: [], update: Uint8Array.of(0, 0) });
  });

  it('refuses a count beyond the bytes and a truncated count', () => {
    expect(() => decodeSnapshotPayload(Uint8Array.of(3, 1, 2))).toThrow(SnapshotPayloadError);
    expect(() => decodeSnapshotPayload(Uint8Array.of(0x80))).toThrow(/truncated/);
    expect(() => decodeSnapshotPayload(new Uint8Array(0))).toThrow(/truncated/);
  });
});
