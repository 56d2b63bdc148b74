/**
 * A zip reader for uploads that never holds the archive in memory and never
 * blocks the event loop: the central directory is read from the end of the
 * file, each entry is inflated by node:zlib (in the thread pool) from a
 * stream of the file, and the inflated bytes are counted as they come, so a
 * zip bomb stops at the limit instead of at its declared (forgeable) size.
 *
 * Supported: Store (0) and Deflate (8), no encryption, no multi-disk, no Zip64
 * (the size limits keep uploads far below 4 GiB anyway).
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';

/** Random access to the archive's bytes. */
export interface ZipSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Buffer>;
  stream(offset: number, length: number): Readable;
}

/** One central directory entry. */
export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

/** The archive is not a zip this reader can read; the message says why. */
export class ZipFormatError extends Error {
  override name = 'ZipFormatError';
}

const EOCD_SIG = 0x06054b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;
const EOCD_MIN = 22;
const MAX_COMMENT = 0xffff;

/** A ZipSource over a file on disk. */
export async function fileZipSource(path: string): Promise<ZipSource & { close(): Promise<void> }> {
  const handle = await fs.promises.open(path, 'r');
  const { size } = await handle.stat();
  return {
    size,
    async read(offset, length) {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    },
    stream: (offset, length) =>
      length === 0 ? Readable.from([]) : fs.createReadStream(path, { start: offset, end: offset + length - 1, highWaterMark: 64 * 1024 }),
    close: () => handle.close(),
  };
}

/** A ZipSource over bytes in memory. */
export function bytesZipSource(bytes: Uint8Array): ZipSource {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    size: buf.byteLength,
    read: async (offset, length) => buf.subarray(offset, offset + length),
    stream: (offset, length) => Readable.from([buf.subarray(offset, offset + length)]),
  };
}

/** Reads the central directory; refuses more than `maxEntries` entries before reading them. */
export async function readZipDirectory(src: ZipSource, maxEntries: number): Promise<ZipEntry[]> {
  if (src.size < EOCD_MIN) throw new ZipFormatError('not a zip archive (too short)');
  const tailLength = Math.min(src.size, EOCD_MIN + MAX_COMMENT);
  const tail = await src.read(src.size - tailLength, tailLength);
  let eocd = -1;
  for (let i = tail.length - EOCD_MIN; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipFormatError('not a zip archive (no end of central directory)');
  const count = tail.readUInt16LE(eocd + 10);
  const cdSize = tail.readUInt32LE(eocd + 12);
  const cdOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) throw new ZipFormatError('Zip64 archives are not supported');
  if (count > maxEntries) throw new ZipFormatError(`the zip has ${count} entries; the limit is ${maxEntries}`);
  if (cdOffset + cdSize > src.size) throw new ZipFormatError('central directory outside the archive');
  const cd = await src.read(cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CEN_SIG) throw new ZipFormatError('corrupt central directory');
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    if (p + 46 + nameLen > cd.length) throw new ZipFormatError('corrupt central directory');
    entries.push({
      flags: cd.readUInt16LE(p + 8),
      method: cd.readUInt16LE(p + 10),
      compressedSize: cd.readUInt32LE(p + 20),
      uncompressedSize: cd.readUInt32LE(p + 24),
      localHeaderOffset: cd.readUInt32LE(p + 42),
      // Names are UTF-8 in every zip we produce or expect (flag 11, or plain ASCII).
      name: cd.toString('utf8', p + 46, p + 46 + nameLen),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/**
 * Streams the inflated bytes of an entry to `onChunk`, chunk by chunk as zlib
 * produces them (the event loop runs between chunks). Reading stops with
 * `onExceeded()`'s error as soon as more than `limit` bytes came out.
 */
export async function readZipEntry(
  src: ZipSource,
  entry: ZipEntry,
  limit: number,
  onExceeded: () => Error,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  if (entry.flags & 0x1) throw new ZipFormatError(`encrypted entry: ${entry.name}`);
  if (entry.method !== 0 && entry.method !== 8) throw new ZipFormatError(`unsupported compression method ${entry.method}: ${entry.name}`);
  const loc = await src.read(entry.localHeaderOffset, 30);
  if (loc.length < 30 || loc.readUInt32LE(0) !== LOC_SIG) throw new ZipFormatError(`corrupt local header: ${entry.name}`);
  const dataStart = entry.localHeaderOffset + 30 + loc.readUInt16LE(26) + loc.readUInt16LE(28);
  if (dataStart + entry.compressedSize > src.size) throw new ZipFormatError(`entry outside the archive: ${entry.name}`);
  const input = src.stream(dataStart, entry.compressedSize);
  const output: Readable = entry.method === 8 ? input.pipe(zlib.createInflateRaw()) : input;
  input.on('error', (e) => output.destroy(e));
  let size = 0;
  try {
    for await (const chunk of output as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > limit) throw onExceeded();
      onChunk(chunk);
    }
  } catch (e) {
    if (e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('Z_')) {
      throw new ZipFormatError(`corrupt compressed data: ${entry.name}`);
    }
    throw e;
  } finally {
    input.destroy();
    output.destroy();
  }
}
