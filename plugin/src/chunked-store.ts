/**
 * Chunked values over host storage. Hosts refuse values over 1 MiB (the
 * Diaryx default quota), so a value that may be larger is kept in chunks of
 * at most CHUNK_BYTES (half the quota), chunk n under a key of its own.
 *
 * Three layouts store chunks, each naming them and keeping their count and
 * length its own way, and all of them write, read and remove the chunks here:
 * - large-values.ts: doc states, `<key>:part:<gen>.<n>`, named by a header
 *   under `<key>`;
 * - core/history-codec.ts: the update history, `history:g<gen>.<n>` (and the
 *   earlier `history:<doc>:g<gen>.<n>`), named by `history:manifest`;
 * - snapshot-store.ts: snapshot zips, `snapshot:<id>:<n>`, named by
 *   `snapshot_index`.
 * Every layout writes the chunks before the value that names them, and
 * removes the chunks a value no longer names after writing it, so a crash
 * leaves the previous value readable.
 */
import { concatBytes } from '../../common/src/bytes';

/** Largest chunk: half the hosts' 1 MiB per-value quota. */
export const CHUNK_BYTES = 512 * 1024;

/** The key of chunk n of one value. */
export type ChunkKey = (n: number) => string;

/** A chunk is missing, or (with a length limit) the chunks so far hold more than the value's length. */
export class ChunkError extends Error {
  override name = 'ChunkError';
  constructor(
    /** The chunk that was missing or went past the limit. */
    readonly chunk: number,
    readonly key: string,
    readonly problem: 'missing' | 'too long',
  ) {
    super(`chunk ${chunk} (${key}) is ${problem}`);
  }
}

/** The chunks of `bytes`, at most `size` bytes each; at least one (an empty value is one empty chunk). */
export function splitChunks(bytes: Uint8Array, size: number = CHUNK_BYTES): Uint8Array[] {
  const count = Math.max(1, Math.ceil(bytes.length / size));
  const chunks: Uint8Array[] = [];
  for (let n = 0; n < count; n++) chunks.push(bytes.subarray(n * size, (n + 1) * size));
  return chunks;
}

/** Writes the chunks of `bytes` in order (each through `write`, which may throw); returns how many. */
export function writeChunks(write: (key: string, bytes: Uint8Array) => void, keyOf: ChunkKey, bytes: Uint8Array, size: number = CHUNK_BYTES): number {
  const chunks = splitChunks(bytes, size);
  chunks.forEach((chunk, n) => write(keyOf(n), chunk));
  return chunks.length;
}

/**
 * Reads `count` chunks in order and joins them. Throws ChunkError when one is
 * missing, or, with `limit`, as soon as they hold more than `limit` bytes. The
 * caller checks the joined length against what it expects.
 */
export function readChunks(read: (key: string) => Uint8Array | null, keyOf: ChunkKey, count: number, limit?: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let length = 0;
  for (let n = 0; n < count; n++) {
    const key = keyOf(n);
    const chunk = read(key);
    if (chunk === null) throw new ChunkError(n, key, 'missing');
    if (limit !== undefined && length + chunk.length > limit) throw new ChunkError(n, key, 'too long');
    parts.push(chunk);
    length += chunk.length;
  }
  return parts.length === 1 ? parts[0].slice() : concatBytes(parts);
}

/** Removes `count` chunks (`remove` writes the empty value that deletes a key, and handles its own failures). */
export function removeChunks(remove: (key: string) => void, keyOf: ChunkKey, count: number): void {
  for (let n = 0; n < count; n++) remove(keyOf(n));
}
