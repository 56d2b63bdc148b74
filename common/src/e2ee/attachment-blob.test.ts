import { describe, expect, it } from 'vitest';
import { equalBytes, readU32, u32 } from './bytes';
import { attachmentAddress, attachmentBlobChunks, attachmentHeadProblem, AttachmentRejectedError, decryptAttachment, encryptAttachment, type AttachmentRef } from './attachment-blob';
import { attachmentKey } from './keys';

const kAtt = attachmentKey(new Uint8Array(32).fill(5), 'ws-att');
const kAtt2 = attachmentKey(new Uint8Array(32).fill(6), 'ws-att');
const MIB = 1 << 20;
const file = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

function rejection(ref: AttachmentRef, blob: Uint8Array, key = kAtt): string {
  try {
    decryptAttachment(key, ref, blob);
  } catch (e) {
    expect(e).toBeInstanceOf(AttachmentRejectedError);
    return (e as Error).message;
  }
  throw new Error('the blob was accepted');
}

/** The blob changed by `edit`, with an address that matches it (as a server holding it would have). */
function altered(blob: Uint8Array, ref: AttachmentRef, edit: (b: Uint8Array) => Uint8Array): [AttachmentRef, Uint8Array] {
  const bad = edit(blob.slice());
  return [{ ...ref, addr: attachmentAddress(bad) }, bad];
}

describe('attachment blobs', () => {
  it('round-trip files across the chunk boundaries; the layout is DXA1, epoch, chunk count, 1 MiB chunks', () => {
    for (const [size, chunks] of [[0, 1], [1000, 1], [MIB - 4, 1], [MIB, 2], [2.5 * MIB, 3]] as const) {
      const data = file(size);
      const { blob, ref } = encryptAttachment(kAtt, 3, data);
      expect(new TextDecoder().decode(blob.subarray(0, 4))).toBe('DXA1');
      expect(readU32(blob, 4)).toBe(3);
      expect(readU32(blob, 8)).toBe(chunks);
      expect(ref).toMatchObject({ addr: attachmentAddress(blob), epoch: 3 });
      expect(ref.addr).toMatch(/^[0-9a-f]{64}$/);
      // equalBytes: vitest's deep equality takes seconds per MiB.
      expect(equalBytes(decryptAttachment(kAtt, ref, blob), data)).toBe(true);
    }
  });

  it('are deterministic per file, workspace key and epoch, and differ otherwise', () => {
    const a = encryptAttachment(kAtt, 1, file(5000));
    const again = encryptAttachment(kAtt, 1, file(5000));
    expect(again.ref).toEqual(a.ref);
    expect(equalBytes(again.blob, a.blob)).toBe(true);
    expect(encryptAttachment(kAtt, 2, file(5000)).ref.addr).not.toBe(a.ref.addr);
    expect(encryptAttachment(kAtt2, 1, file(5000)).ref.addr).not.toBe(a.ref.addr);
    expect(encryptAttachment(kAtt, 1, file(5000, 2)).ref.addr).not.toBe(a.ref.addr);
  });

  it('reject a blob that is not its address, a flipped byte, reordered or dropped chunks, another epoch, another key', () => {
    const { blob, ref } = encryptAttachment(kAtt, 1, file(MIB + 10));
    const bad = blob.slice();
    bad[100] ^= 1;
    expect(rejection(ref, bad)).toBe(`Attachment rejected: ${ref.addr}: content does not match its address`);
    expect(rejection(...altered(blob, ref, (b) => ((b[20] ^= 1), b)))).toMatch(/chunk 0 failed authentication/);
    expect(rejection(...altered(blob, ref, (b) => ((b[b.length - 1] ^= 1), b)))).toMatch(/chunk 1 failed authentication/);
    const chunk = MIB + 16;
    const swapped = (b: Uint8Array) => {
      const out = b.slice();
      out.set(b.subarray(12, 12 + chunk), 12 + chunk);
      out.set(b.subarray(12 + chunk), 12);
      return out;
    };
    expect(rejection(...altered(blob, ref, swapped))).toMatch(/failed authentication/);
    // The last chunk cut off and the count lowered: chunk 0 was not sealed as the last one.
    const cut = (b: Uint8Array) => {
      const out = b.slice(0, 12 + chunk);
      out.set(u32(1), 8);
      return out;
    };
    expect(rejection(...altered(blob, ref, cut))).toMatch(/chunk 0 failed authentication/);
    expect(rejection(...altered(blob, ref, (b) => (b.set(u32(2), 4), b)))).toMatch(/sealed in epoch 2, referenced as epoch 1/);
    expect(rejection(...altered(blob, ref, (b) => (b.set(u32(2), 4), b)).map((x, i) => (i === 0 ? { ...(x as AttachmentRef), epoch: 2 } : x)) as [AttachmentRef, Uint8Array])).toMatch(/failed authentication/);
    expect(rejection(...altered(blob, ref, (b) => b.slice(0, b.length - 1)))).toMatch(/do not fit/);
    expect(rejection(...altered(blob, ref, (b) => ((b[0] = 0x45), b)))).toMatch(/not a DXA1 blob/);
    // Another file's key opens nothing; a key that opens but is not this workspace's HMAC is refused.
    const other = encryptAttachment(kAtt, 1, file(10));
    expect(rejection({ ...ref, key: other.ref.key }, blob)).toMatch(/failed authentication/);
    expect(rejection(ref, blob, kAtt2)).toMatch(/file key is not the HMAC of the file/);
    expect(rejection({ ...ref, key: 'zz' }, blob)).toMatch(/not hex/);
  });
});

describe('blob layout checks without a key (what the server can verify)', () => {
  it('knows the size and head of every sealed file, and refuses other sizes and heads', () => {
    for (const size of [0, 1, 252, 253, 5000, MIB - 4, MIB - 3, 3 * MIB + 7]) {
      const { blob } = encryptAttachment(kAtt, 3, file(size));
      expect(attachmentBlobChunks(blob.length)).toBe(readU32(blob, 8));
      expect(attachmentHeadProblem(blob.subarray(0, 12), blob.length)).toBeNull();
      expect(attachmentBlobChunks(blob.length + 1)).toBeNull();
      expect(attachmentBlobChunks(blob.length - 1)).toBeNull();
    }
    // Plain files of ordinary sizes are not blob sizes.
    expect(attachmentBlobChunks(5000)).toBeNull();
    expect(attachmentBlobChunks(0)).toBeNull();
    const { blob } = encryptAttachment(kAtt, 1, file(10));
    const head = blob.slice(0, 12);
    expect(attachmentHeadProblem(Uint8Array.of(...head.subarray(0, 4), 0, 0, 0, 0, ...head.subarray(8)), blob.length)).toMatch(/epoch is 0/);
    const notMagic = head.slice();
    notMagic[0] ^= 1;
    expect(attachmentHeadProblem(notMagic, blob.length)).toMatch(/DXA1/);
    const chunks = head.slice();
    chunks.set(u32(2), 8);
    expect(attachmentHeadProblem(chunks, blob.length)).toMatch(/names 2 chunks/);
  });
});
