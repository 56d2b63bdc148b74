/**
 * Storage format of the HistoryLog (plugin storage via host_storage_get/set).
 *
 * Layout (keys under a prefix, default `history`):
 * - `<prefix>:manifest`: UTF-8 JSON `{"version":2,"generation":g,"next_id":n,
 *   "chunks":c,"bytes":b,"docs":[{"name","offset","bytes"}]}`;
 * - `<prefix>:g<g>.<i>`: chunk i (at most 512 KiB, half the hosts' default
 *   1 MiB per-value quota; chunked-store.ts) of the concatenated binary logs
 *   of all docs.
 * All docs share the chunks, so a workspace of 10,000 files writes a handful
 * of keys, not one per file (a host call per key is the expensive part).
 * Version 1 manifests (one set of chunks per doc, `<prefix>:<doc>:g<g>.<i>`)
 * are still read.
 *
 * Doc log binary format (lib0 encoding): varUint format version (1),
 * varString name, varUint base id, varUint8Array base state (empty = none),
 * varUint thinned count, varUint entry count, then per entry: varUint id,
 * varInt timestamp, varString origin, varUint n + n varString files,
 * uint8 0|1 + varString device id, uint8 0|1 + varString device name,
 * varUint8Array update (Yjs v1).
 *
 * Writing produces every doc under a new generation and returns, in write
 * order, the chunks, then the manifest, then the keys of the previous
 * generation with EMPTY values (an empty value deletes a key, see
 * HostBridge.storageSet). A crash before the manifest is written leaves the
 * previous generation intact. Reading skips a doc whose chunks are missing or
 * corrupt (reported in `errors`) and keeps the rest.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { decodeUtf8, encodeUtf8 } from 'lib0/string';
import { CHUNK_BYTES, ChunkError, readChunks, splitChunks } from '../chunked-store';
import type { DocLog, StoredUpdate } from './history-types';
import { concatBytes } from '../../../common/src/bytes';

/** Largest history chunk (chunked-store.ts). */
export const HISTORY_CHUNK_BYTES = CHUNK_BYTES;
const FORMAT_VERSION = 2;
const FORMAT_VERSION_PER_DOC = 1;

export class HistoryCodecError extends Error {
  override name = 'HistoryCodecError';
}

interface Manifest {
  version: number;
  generation: number;
  next_id: number;
  /** Version 2: chunks of the shared blob and its length. */
  chunks?: number;
  bytes?: number;
  /** Version 2: offset in the shared blob; version 1: the doc's own chunk count. */
  docs: { name: string; chunks?: number; offset?: number; bytes: number }[];
}

function sharedChunkKey(prefix: string, gen: number, i: number): string {
  return `${prefix}:g${gen}.${i}`;
}

export function manifestKey(prefix: string): string {
  return `${prefix}:manifest`;
}

function chunkKey(prefix: string, doc: string, gen: number, i: number): string {
  return `${prefix}:${doc}:g${gen}.${i}`;
}

/** Storage writes for a log (see the layout above) and the set of keys they leave in storage. */
export function encodeHistoryStorage(
  prefix: string,
  chunkBytes: number,
  generation: number,
  nextId: number,
  docs: DocLog[],
  knownKeys: ReadonlySet<string>,
): { writes: Map<string, Uint8Array>; keys: Set<string> } {
  const size = Math.max(1, Math.min(chunkBytes, HISTORY_CHUNK_BYTES));
  const writes = new Map<string, Uint8Array>();
  const manifest: Manifest = { version: FORMAT_VERSION, generation, next_id: nextId, chunks: 0, bytes: 0, docs: [] };
  const blobs = docs.map((d) => encodeDocLog(d));
  let offset = 0;
  docs.forEach((d, i) => {
    manifest.docs.push({ name: d.name, offset, bytes: blobs[i].length });
    offset += blobs[i].length;
  });
  const all = concatBytes(blobs);
  const chunks = splitChunks(all, size);
  chunks.forEach((chunk, i) => writes.set(sharedChunkKey(prefix, generation, i), chunk));
  manifest.chunks = chunks.length;
  manifest.bytes = all.length;
  writes.set(manifestKey(prefix), encodeUtf8(JSON.stringify(manifest)));
  const keys = new Set(writes.keys());
  for (const k of knownKeys) if (!keys.has(k)) writes.set(k, new Uint8Array(0));
  return { writes, keys };
}

export interface DecodedHistory {
  generation: number;
  nextId: number;
  docs: DocLog[];
  /** Every key the stored history occupies (manifest and chunks, readable or not). */
  keys: Set<string>;
  errors: string[];
}

/** Reads what encodeHistoryStorage wrote; null when there is no manifest. */
export function decodeHistoryStorage(prefix: string, read: (key: string) => Uint8Array | null): DecodedHistory | null {
  const raw = read(manifestKey(prefix));
  if (raw === null || raw.length === 0) return null;
  const keys = new Set<string>([manifestKey(prefix)]);
  const errors: string[] = [];
  let manifest: Manifest;
  try {
    manifest = parseManifest(decodeUtf8(raw));
  } catch (e) {
    return { generation: 0, nextId: 1, docs: [], keys, errors: [`manifest: ${(e as Error).message}`] };
  }
  const docs: DocLog[] = [];
  if (manifest.version === FORMAT_VERSION) {
    let blob: Uint8Array;
    try {
      blob = readHistoryChunks(read, keys, (i) => sharedChunkKey(prefix, manifest.generation, i), manifest.chunks ?? 0);
      if (blob.length !== manifest.bytes) throw new HistoryCodecError(`expected ${manifest.bytes} bytes, got ${blob.length}`);
    } catch (e) {
      return { generation: manifest.generation, nextId: manifest.next_id, docs: [], keys, errors: [`chunks: ${(e as Error).message}`] };
    }
    for (const entry of manifest.docs) {
      try {
        const d = decodeDocLog(blob.subarray(entry.offset ?? 0, (entry.offset ?? 0) + entry.bytes));
        if (d.name !== entry.name) throw new HistoryCodecError(`log holds doc ${JSON.stringify(d.name)}`);
        docs.push(d);
      } catch (e) {
        errors.push(`${entry.name}: ${(e as Error).message}`);
      }
    }
    return { generation: manifest.generation, nextId: manifest.next_id, docs, keys, errors };
  }
  for (const entry of manifest.docs) {
    try {
      const blob = readHistoryChunks(read, keys, (i) => chunkKey(prefix, entry.name, manifest.generation, i), entry.chunks ?? 0);
      if (blob.length !== entry.bytes) throw new HistoryCodecError(`expected ${entry.bytes} bytes, got ${blob.length}`);
      const d = decodeDocLog(blob);
      if (d.name !== entry.name) throw new HistoryCodecError(`chunk holds doc ${JSON.stringify(d.name)}`);
      docs.push(d);
    } catch (e) {
      errors.push(`${entry.name}: ${(e as Error).message}`);
    }
  }
  return { generation: manifest.generation, nextId: manifest.next_id, docs, keys, errors };
}

/** Reads chunks (chunked-store.ts), noting in `keys` each key read, up to a missing one. */
function readHistoryChunks(read: (key: string) => Uint8Array | null, keys: Set<string>, keyOf: (i: number) => string, count: number): Uint8Array {
  const noted = (key: string) => {
    keys.add(key);
    return read(key);
  };
  try {
    return readChunks(noted, keyOf, count);
  } catch (e) {
    if (e instanceof ChunkError) throw new HistoryCodecError(`missing chunk ${e.key}`);
    throw e;
  }
}

/** Names of the docs the stored manifest lists; null when there is none or it does not parse. */
export function readHistoryDocNames(prefix: string, read: (key: string) => Uint8Array | null): Set<string> | null {
  const raw = read(manifestKey(prefix));
  if (raw === null || raw.length === 0) return null;
  try {
    return new Set(parseManifest(decodeUtf8(raw)).docs.map((d) => d.name));
  } catch {
    return null;
  }
}

function parseManifest(text: string): Manifest {
  const v = JSON.parse(text) as Partial<Manifest>;
  if (!v || typeof v !== 'object' || (v.version !== FORMAT_VERSION && v.version !== FORMAT_VERSION_PER_DOC)) {
    throw new HistoryCodecError('unsupported manifest');
  }
  if (typeof v.generation !== 'number' || typeof v.next_id !== 'number' || !Array.isArray(v.docs)) {
    throw new HistoryCodecError('malformed manifest');
  }
  if (v.version === FORMAT_VERSION && (typeof v.chunks !== 'number' || typeof v.bytes !== 'number')) {
    throw new HistoryCodecError('malformed manifest');
  }
  const position = v.version === FORMAT_VERSION ? 'offset' : 'chunks';
  for (const d of v.docs) {
    if (!d || typeof d.name !== 'string' || typeof d[position] !== 'number' || typeof d.bytes !== 'number') {
      throw new HistoryCodecError('malformed manifest entry');
    }
  }
  return v as Manifest;
}

function writeOptString(enc: encoding.Encoder, s: string | null): void {
  encoding.writeUint8(enc, s === null ? 0 : 1);
  if (s !== null) encoding.writeVarString(enc, s);
}

/** Binary form of one doc's log. */
export function encodeDocLog(d: DocLog): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, FORMAT_VERSION);
  encoding.writeVarString(enc, d.name);
  encoding.writeVarUint(enc, d.baseUpTo);
  encoding.writeVarUint8Array(enc, d.base ?? new Uint8Array(0));
  encoding.writeVarUint(enc, d.thinned);
  encoding.writeVarUint(enc, d.entries.length);
  for (const e of d.entries) {
    encoding.writeVarUint(enc, e.update_id);
    encoding.writeVarInt(enc, e.timestamp);
    encoding.writeVarString(enc, e.origin);
    encoding.writeVarUint(enc, e.files_changed.length);
    for (const f of e.files_changed) encoding.writeVarString(enc, f);
    writeOptString(enc, e.device_id);
    writeOptString(enc, e.device_name);
    encoding.writeVarUint8Array(enc, e.update);
  }
  return encoding.toUint8Array(enc);
}

function readByte(dec: decoding.Decoder): number {
  if (!decoding.hasContent(dec)) throw new HistoryCodecError('unexpected end of data');
  return decoding.readUint8(dec);
}

function readOptString(dec: decoding.Decoder): string | null {
  const flag = readByte(dec);
  if (flag > 1) throw new HistoryCodecError('bad flag');
  return flag === 1 ? decoding.readVarString(dec) : null;
}

function readBytes(dec: decoding.Decoder): Uint8Array {
  const len = decoding.readVarUint(dec);
  if (dec.pos + len > dec.arr.length) throw new HistoryCodecError('unexpected end of data');
  return decoding.readUint8Array(dec, len).slice();
}

/** Inverse of encodeDocLog; throws HistoryCodecError on malformed data. */
export function decodeDocLog(blob: Uint8Array): DocLog {
  const dec = decoding.createDecoder(blob);
  try {
    const version = decoding.readVarUint(dec);
    if (version !== FORMAT_VERSION) throw new HistoryCodecError(`unsupported format ${version}`);
    const name = decoding.readVarString(dec);
    const baseUpTo = decoding.readVarUint(dec);
    const baseBytes = readBytes(dec);
    const thinned = decoding.readVarUint(dec);
    const count = decoding.readVarUint(dec);
    const entries: StoredUpdate[] = [];
    for (let i = 0; i < count; i++) {
      const update_id = decoding.readVarUint(dec);
      const timestamp = decoding.readVarInt(dec);
      const origin = decoding.readVarString(dec);
      const nFiles = decoding.readVarUint(dec);
      if (nFiles > blob.length) throw new HistoryCodecError('bad file count');
      const files_changed: string[] = [];
      for (let j = 0; j < nFiles; j++) files_changed.push(decoding.readVarString(dec));
      const device_id = readOptString(dec);
      const device_name = readOptString(dec);
      const update = readBytes(dec);
      entries.push({ update_id, timestamp, origin, files_changed, device_id, device_name, doc_name: name, update });
    }
    if (decoding.hasContent(dec)) throw new HistoryCodecError('trailing data');
    return { name, baseUpTo, base: baseBytes.length > 0 ? baseBytes : null, entries, thinned };
  } catch (e) {
    if (e instanceof HistoryCodecError) throw e;
    throw new HistoryCodecError(`malformed doc log: ${(e as Error).message}`);
  }
}
