/**
 * Doc states larger than one storage value. Hosts refuse values over 1 MiB
 * (the Diaryx default quota), and the workspace doc of a workspace with some
 * 5,000 files is larger than that. A state up to PART_BYTES is stored as is
 * (the Rust plugin's encoding); a larger one is stored in parts
 * `<key>:part:<gen>.<n>` (chunked-store.ts) with a small header under `<key>`
 * itself. The parts
 * of a new generation are written before the header that names them and the
 * previous generation's parts are removed after it, so a crash at any point
 * leaves one complete state readable.
 */
import { CHUNK_BYTES, ChunkError, readChunks, removeChunks, writeChunks } from './chunked-store';
import type { HostBridge } from './host/bridge';

/** Bytes per stored part (chunked-store.ts). */
export const PART_BYTES = CHUNK_BYTES;

/** Starts a header: no Yjs update starts with these bytes. */
const MAGIC = Uint8Array.of(0x00, 0xff, 0x44, 0x58, 0x50, 0x41, 0x52, 0x54, 0x53, 0x0a); // "\0\xffDXPARTS\n"

interface Header {
  gen: number;
  parts: number;
  length: number;
}

const partKey = (key: string, gen: number, n: number) => `${key}:part:${gen}.${n}`;

function isHeader(bytes: Uint8Array): boolean {
  return bytes.length > MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
}

export class LargeValueStore {
  /** Headers of keys stored in parts, as last read or written. */
  private readonly headers = new Map<string, Header>();

  constructor(private readonly host: HostBridge) {}

  /** The value under `key` (joined from its parts), null when missing; throws when a part is missing or the header is bad. */
  read(key: string): Uint8Array | null {
    const raw = this.host.storageGet(key);
    if (raw === null || !isHeader(raw)) {
      this.headers.delete(key);
      return raw;
    }
    const header = parseHeader(key, raw);
    let out: Uint8Array;
    try {
      out = readChunks((k) => this.host.storageGet(k), (n) => partKey(key, header.gen, n), header.parts, header.length);
    } catch (e) {
      if (e instanceof ChunkError) throw new Error(`${key}: part ${e.chunk} of ${header.parts} is missing or too long`);
      throw e;
    }
    if (out.length !== header.length) throw new Error(`${key}: parts hold ${out.length} of ${header.length} bytes`);
    this.headers.set(key, header);
    return out;
  }

  /** Stores `bytes` under `key` (empty bytes delete it); throws HostError when the host refuses a write. */
  write(key: string, bytes: Uint8Array): void {
    const previous = this.headers.get(key) ?? null;
    if (bytes.length <= PART_BYTES) {
      this.host.storageSet(key, bytes);
      this.headers.delete(key);
    } else {
      const gen = previous ? previous.gen + 1 : 0;
      const parts = writeChunks((k, chunk) => this.host.storageSet(k, chunk), (n) => partKey(key, gen, n), bytes, PART_BYTES);
      const header: Header = { gen, parts, length: bytes.length };
      const json = new TextEncoder().encode(JSON.stringify(header));
      const headerBytes = new Uint8Array(MAGIC.length + json.length);
      headerBytes.set(MAGIC);
      headerBytes.set(json, MAGIC.length);
      this.host.storageSet(key, headerBytes);
      this.headers.set(key, header);
    }
    if (previous) {
      const remove = (k: string) => {
        try {
          this.host.storageSet(k, new Uint8Array(0));
        } catch {
          // A part left behind takes space but is never read: the header names the current ones.
        }
      };
      removeChunks(remove, (n) => partKey(key, previous.gen, n), previous.parts);
    }
  }
}

function parseHeader(key: string, raw: Uint8Array): Header {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(raw.subarray(MAGIC.length)));
  } catch {
    throw new Error(`${key}: unreadable parts header`);
  }
  const h = v as Partial<Header>;
  const ok = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  if (!ok(h.gen) || !ok(h.parts) || !ok(h.length) || h.parts! > 100_000) throw new Error(`${key}: unreadable parts header`);
  return h as Header;
}
