/**
 * The `e2ee-sync` benchmark's measurement on a few files: device B ends with
 * every file of A byte for byte (firstSync throws otherwise), each mode left
 * rows only in its own tables, and the figures it reports add up (every
 * stored envelope opened, its size split into payload, framing and padding).
 * Correctness only: no time is asserted.
 */
import { describe, expect, it } from 'vitest';
import { headerLength, NONCE_BYTES, TAG_BYTES } from '../../common/src/e2ee/envelope-header';
import { firstSync } from '../../bench/first-sync';

describe('bench: first sync from device A to device B', () => {
  it('plain and encrypted: B holds every file, wire and stored bytes counted, envelopes opened', async () => {
    const files = 12;
    const plain = await firstSync({ files, mode: 'plain', timeoutMs: 60_000 });
    const enc = await firstSync({ files, mode: 'encrypted', timeoutMs: 60_000 });
    for (const r of [plain, enc]) {
      expect(r.errors).toEqual([]);
      expect(r.files).toBe(files + 1);
      // A uploads at least the files' text (in Yjs updates, plain or sealed).
      expect(r.wireA.toServer).toBeGreaterThan(r.fileBytes);
      expect(r.wireB.toClient).toBeGreaterThan(0);
      expect(r.storedRows).toBeGreaterThan(0);
      expect(r.dataDirBytes).toBeGreaterThan(r.storedBytes);
    }
    expect(plain.envelopes).toBeNull();
    // Ciphertext does not compress: B downloads at least the files' size.
    expect(enc.wireB.toClient).toBeGreaterThan(enc.fileBytes);
    const m = enc.envelopes!;
    expect(m.updates + m.snapshots).toBe(enc.storedRows);
    // Every stored envelope byte is payload, framing or padding.
    expect(m.payloadBytes + m.framingBytes + m.paddingBytes).toBe(enc.storedBytes);
    expect(m.framingBytes).toBe(m.updates * (headerLength('update') + NONCE_BYTES + TAG_BYTES + 4) + m.snapshots * (headerLength('snapshot') + NONCE_BYTES + TAG_BYTES + 4));
    const padded = Object.entries(m.buckets).reduce((sum, [size, n]) => sum + Number(size) * n, 0);
    expect(padded).toBe(m.payloadBytes + m.paddingBytes + 4 * (m.updates + m.snapshots));
    expect(m.mergedUpdateBytes).toBeGreaterThan(0);
    // The text of every file went up, sealed: at least one envelope per body doc.
    expect(m.updates).toBeGreaterThanOrEqual(files + 1);
    // Each update goes up once: a doc's first-head catch-up repeating the local updates queued
    // meanwhile would seal every body twice (payload about twice the merged updates).
    expect(m.payloadBytes).toBeLessThan(m.mergedUpdateBytes * 1.2);
  });
});
