/**
 * Encrypted attachment blobs: deterministic per workspace and epoch, so one
 * file from two devices makes one blob, and addressed by the SHA-256 of the
 * ciphertext, so the server can check what it stores.
 *
 *   blob = `DXA1` || u32 epoch || u32 chunks || sealed chunks
 *
 * The plaintext is framed and padded as in an envelope (u32 L || file || zeros
 * up to the bucket P) and cut into 1 MiB chunks; chunk i is
 * XChaCha20-Poly1305 under FK = HMAC-SHA256(K_att(epoch), file), nonce u64 i
 * || 16 zero bytes (safe: FK differs per file), AAD `DXA1` || u32 epoch || u32
 * i || u8 last. Address = lowercase hex SHA-256 of the blob.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, equalBytes, fromHex, readU32, toHex, u32, utf8 } from './bytes';
import { MAX_PADDED_BYTES, NONCE_BYTES, paddedLength, TAG_BYTES } from './envelope-header';

const MAGIC = utf8('DXA1');
const HEAD_BYTES = 12;
const CHUNK_BYTES = 1 << 20;

/** What the encrypted workspace doc keeps beside a BinaryRef (`"e2ee":{"addr","key","epoch"}`). */
export interface AttachmentRef {
  addr: string;
  /** FK, lowercase hex. */
  key: string;
  epoch: number;
}

export class AttachmentRejectedError extends Error {
  override name = 'AttachmentRejectedError';
  constructor(
    readonly addr: string,
    readonly reason: string,
  ) {
    super(`Attachment rejected: ${addr}: ${reason}`);
  }
}

function chunkNonce(i: number): Uint8Array {
  const nonce = new Uint8Array(NONCE_BYTES);
  new DataView(nonce.buffer).setBigUint64(0, BigInt(i), true);
  return nonce;
}

function chunkAad(epoch: number, i: number, last: boolean): Uint8Array {
  return concatBytes([MAGIC, u32(epoch), u32(i), Uint8Array.of(last ? 1 : 0)]);
}

/** Bytes of a blob's head (`DXA1` || u32 epoch || u32 chunks). */
export const ATTACHMENT_HEAD_BYTES = HEAD_BYTES;

/**
 * The chunk count of a blob of `size` bytes, or null when no DXA1 blob has
 * that size (the server refuses such an upload to an encrypted workspace:
 * it cannot be a sealed file). Uses no key.
 */
export function attachmentBlobChunks(size: number): number | null {
  if (!Number.isSafeInteger(size)) return null;
  for (let chunks = 1; chunks <= MAX_PADDED_BYTES / CHUNK_BYTES; chunks++) {
    const padded = size - HEAD_BYTES - chunks * TAG_BYTES;
    if (padded <= 0) return null;
    if (Math.ceil(padded / CHUNK_BYTES) === chunks && padded <= MAX_PADDED_BYTES && paddedLength(padded - 4) === padded) return chunks;
  }
  return null;
}

/** What is wrong with the first bytes of a blob of `size` bytes, or null when they are a DXA1 head of that size. Uses no key. */
export function attachmentHeadProblem(head: Uint8Array, size: number): string | null {
  const chunks = attachmentBlobChunks(size);
  if (chunks === null) return `${size} bytes is not the size of a DXA1 blob`;
  if (head.length < HEAD_BYTES || !equalBytes(head.subarray(0, 4), MAGIC)) return 'it does not start with DXA1';
  if (readU32(head, 4) === 0) return 'its epoch is 0';
  if (readU32(head, 8) !== chunks) return `its head names ${readU32(head, 8)} chunks, its size ${chunks}`;
  return null;
}

export function attachmentAddress(blob: Uint8Array): string {
  return toHex(sha256(blob));
}

/** Encrypts a file under K_att(epoch); the same file, key and epoch always give the same blob. */
export function encryptAttachment(attachmentKey: Uint8Array, epoch: number, file: Uint8Array): { blob: Uint8Array; ref: AttachmentRef } {
  const padded = paddedLength(file.length);
  if (padded > MAX_PADDED_BYTES) throw new RangeError(`attachment of ${file.length} bytes exceeds ${MAX_PADDED_BYTES} bytes padded`);
  const fk = hmac(sha256, attachmentKey, file);
  const plaintext = new Uint8Array(padded);
  new DataView(plaintext.buffer).setUint32(0, file.length, true);
  plaintext.set(file, 4);
  const chunks = Math.ceil(padded / CHUNK_BYTES);
  const blob = new Uint8Array(HEAD_BYTES + padded + chunks * TAG_BYTES);
  blob.set(MAGIC);
  blob.set(u32(epoch), 4);
  blob.set(u32(chunks), 8);
  for (let i = 0; i < chunks; i++) {
    const part = plaintext.subarray(i * CHUNK_BYTES, Math.min(padded, (i + 1) * CHUNK_BYTES));
    const at = HEAD_BYTES + i * (CHUNK_BYTES + TAG_BYTES);
    xchacha20poly1305(fk, chunkNonce(i), chunkAad(epoch, i, i === chunks - 1)).encrypt(part, blob.subarray(at, at + part.length + TAG_BYTES));
  }
  return { blob, ref: { addr: attachmentAddress(blob), key: toHex(fk), epoch } };
}

/**
 * Decrypts a blob fetched for `ref`, checking in turn the address, the layout,
 * every chunk's tag, the framing and padding, and that FK is the file's
 * HMAC under K_att (`attachmentKey`, of `ref.epoch`). Throws AttachmentRejectedError.
 */
export function decryptAttachment(attachmentKey: Uint8Array, ref: AttachmentRef, blob: Uint8Array): Uint8Array {
  const reject = (reason: string): never => {
    throw new AttachmentRejectedError(ref.addr, reason);
  };
  if (attachmentAddress(blob) !== ref.addr) reject('content does not match its address');
  if (blob.length < HEAD_BYTES || !equalBytes(blob.subarray(0, 4), MAGIC)) reject('not a DXA1 blob');
  const epoch = readU32(blob, 4);
  if (epoch !== ref.epoch) reject(`sealed in epoch ${epoch}, referenced as epoch ${ref.epoch}`);
  const chunks = readU32(blob, 8);
  const padded = blob.length - HEAD_BYTES - chunks * TAG_BYTES;
  if (chunks === 0 || padded <= 0 || padded > MAX_PADDED_BYTES || Math.ceil(padded / CHUNK_BYTES) !== chunks || paddedLength(padded - 4) !== padded) {
    reject(`${chunks} chunks do not fit ${blob.length} bytes`);
  }
  let fk: Uint8Array;
  try {
    fk = fromHex(ref.key);
  } catch {
    return reject('file key is not hex');
  }
  if (fk.length !== 32) reject(`file key has ${fk.length} bytes`);
  const plaintext = new Uint8Array(padded);
  for (let i = 0; i < chunks; i++) {
    const size = Math.min(CHUNK_BYTES, padded - i * CHUNK_BYTES);
    const at = HEAD_BYTES + i * (CHUNK_BYTES + TAG_BYTES);
    try {
      xchacha20poly1305(fk, chunkNonce(i), chunkAad(epoch, i, i === chunks - 1)).decrypt(blob.subarray(at, at + size + TAG_BYTES), plaintext.subarray(i * CHUNK_BYTES, i * CHUNK_BYTES + size));
    } catch {
      reject(`chunk ${i} failed authentication`);
    }
  }
  const length = readU32(plaintext, 0);
  if (length > padded - 4) reject(`length ${length} beyond the ${padded}-byte bucket`);
  for (let i = 4 + length; i < padded; i++) if (plaintext[i] !== 0) reject(`nonzero padding at byte ${i}`);
  const file = plaintext.slice(4, 4 + length);
  if (!equalBytes(hmac(sha256, attachmentKey, file), fk)) reject('file key is not the HMAC of the file under this workspace key');
  return file;
}
