import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { equalBytes, utf8 } from './bytes';
import { EnvelopeRejectedError, MissingKeyError, openEnvelope, sealEnvelope, type EnvelopeContext } from './envelope';
import { paddedLength, parseEnvelope, type EnvelopeHeader } from './envelope-header';
import { docKey, docTag, nameKey } from './keys';

const rootKey = new Uint8Array(32).fill(3);
const workspaceId = 'ws-envelope-test';
const tag = docTag(nameKey(rootKey, workspaceId), 'workspace');
const ctx: EnvelopeContext = { workspaceId, docTag: tag };
const key = docKey(rootKey, workspaceId, tag);
const keys = (epoch: number) => (epoch === 1 ? key : undefined);
const update: EnvelopeHeader = { kind: 'update', epoch: 1, deviceId: new Uint8Array(16).fill(9), run: 2, ctr: 5 };
const snapshot: EnvelopeHeader = {
  kind: 'snapshot',
  epoch: 1,
  deviceId: new Uint8Array(16).fill(9),
  run: 2,
  ctr: 0,
  snapshot: { snapId: new Uint8Array(16).fill(1), prevSnapId: new Uint8Array(16), coversSeq: 77 },
};

function rejected(bytes: Uint8Array, context: EnvelopeContext = ctx, keyFor = keys): string {
  try {
    openEnvelope(bytes, context, keyFor);
  } catch (e) {
    expect(e).toBeInstanceOf(EnvelopeRejectedError);
    return (e as Error).message;
  }
  throw new Error('the envelope opened');
}

describe('envelopes', () => {
  it('round-trip updates and snapshots, padded to the bucket, 1 MiB and 3 MiB included', () => {
    for (const [header, size] of [[update, 0], [update, 1024], [snapshot, 1 << 20], [snapshot, 3 << 20]] as const) {
      const payload = Uint8Array.from({ length: size }, (_, i) => i % 251);
      const sealed = sealEnvelope(key, ctx, header, payload);
      expect(parseEnvelope(sealed).sealed.length).toBe(paddedLength(size) + 16);
      const opened = openEnvelope(sealed, ctx, keys);
      expect(opened.header).toEqual(header);
      // equalBytes: vitest's deep equality takes seconds per MiB.
      expect(equalBytes(opened.payload, payload)).toBe(true);
    }
  });

  it('draws a new nonce for every seal', () => {
    const a = sealEnvelope(key, ctx, update, utf8('same'));
    const b = sealEnvelope(key, ctx, update, utf8('same'));
    expect(parseEnvelope(a).nonce).not.toEqual(parseEnvelope(b).nonce);
    expect(a).not.toEqual(b);
  });

  it('rejects any flipped bit as `Envelope rejected: <tag>` (an epoch not held: missing key)', () => {
    const sealed = sealEnvelope(key, ctx, snapshot, utf8('snapshot body'));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: sealed.length - 1 }), fc.integer({ min: 0, max: 7 }), (i, bit) => {
        const bad = sealed.slice();
        bad[i] ^= 1 << bit;
        try {
          openEnvelope(bad, ctx, keys);
          return false;
        } catch (e) {
          if (i >= 2 && i < 6) return e instanceof MissingKeyError || e instanceof EnvelopeRejectedError;
          return e instanceof EnvelopeRejectedError && e.message === `Envelope rejected: ${tag}`;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('rejects a transplant to another doc, workspace, kind or epoch key', () => {
    const sealed = sealEnvelope(key, ctx, update, utf8('x'));
    const other = docTag(nameKey(rootKey, workspaceId), 'body/a.md');
    expect(rejected(sealed, { ...ctx, docTag: other })).toBe(`Envelope rejected: ${other}`);
    expect(rejected(sealed, { ...ctx, workspaceId: 'ws-other' })).toBe(`Envelope rejected: ${tag}`);
    expect(rejected(sealed, ctx, () => docKey(new Uint8Array(32).fill(4), workspaceId, tag))).toBe(`Envelope rejected: ${tag}`);
    const snap = sealEnvelope(key, ctx, snapshot, utf8('x'));
    const asUpdate = new Uint8Array(snap.length - 40);
    asUpdate.set(snap.subarray(0, 30));
    asUpdate[1] = 1;
    asUpdate.set(snap.subarray(70), 30);
    // ctr 0 is no valid update header either way; give it one so only the AEAD can refuse it.
    asUpdate[26] = 1;
    expect(rejected(asUpdate)).toBe(`Envelope rejected: ${tag}`);
  });

  it('names the epoch it has no key for, and refuses malformed bytes with the reason kept', () => {
    const sealed = sealEnvelope(key, ctx, { ...update, epoch: 9 }, utf8('x'));
    expect(() => openEnvelope(sealed, ctx, keys)).toThrow('Missing key for epoch 9');
    try {
      openEnvelope(sealed.slice(0, 40), ctx, keys);
      expect.unreachable();
    } catch (e) {
      expect((e as EnvelopeRejectedError).reason).toMatch(/too short/);
    }
  });

  it('refuses a nonce of the wrong length', () => {
    expect(() => sealEnvelope(key, ctx, update, utf8('x'), new Uint8Array(12))).toThrow(/nonce has 12 bytes/);
  });
});
