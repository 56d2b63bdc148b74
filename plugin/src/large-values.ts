/**
 * Doc states larger than one storage value. Hosts refuse values over 1 MiB
 * (the Diaryx default quota), and the workspace doc of a workspace with some
 * 5,000 files is larger than that. A state up to PART_BYTES is stored as is
 * (the Rust plugin's encoding); a larger one is stored in parts
 * `<key>:part:<gen>.<n>` with a small header under `<key>` itself. The parts
 * of a new generation are written before the header that names them and the
 * previous generation's parts are removed after it, so a crash at any point
 * leaves one complete state readable.
 */
import type { HostBridge } from './host/bridge';

/** Bytes per stored part (half the 1 MiB quota, like history and snapshot chunks). */
export const PART_BYTES = 512 * 1024;

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
    const out = new Uint8Array(header.length);
    let offset = 0;
    for (let n = 0; n < header.parts; n++) {
      const part = this.host.storageGet(partKey(key, header.gen, n));
      if (part === null || offset + part.length > header.length) throw new Error(`${key}: part ${n} of ${header.parts} is missing or too long`);
      out.set(part, offset);
      offset += part.length;
    }
    if (offset !== header.length) throw new Error(`${key}: parts hold ${offset} of ${header.length} bytes`);
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
      const header: Header = { gen: previous ? previous.gen + 1 : 0, parts: Math.ceil(bytes.length / PART_BYTES), length: bytes.length };
      for (let n = 0; n < header.parts; n++) {
        this.host.storageSet(partKey(key, header.gen, n), bytes.subarray(n * PART_BYTES, (n + 1) * PART_BYTES));
      }
      const json = new TextEncoder().encode(JSON.stringify(header));
      const headerBytes = new Uint8Array(MAGIC.length + json.length);
      headerBytes.set(MAGIC);
      headerBytes.set(json, MAGIC.length);
      this.host.storageSet(key, headerBytes);
      this.headers.set(key, header);
    }
    if (previous) {
      for (let n = 0; n < previous.parts; n++) {
        try {
          this.host.storageSet(partKey(key, previous.gen, n), new Uint8Array(0));
        } catch {
          // A part left behind takes space but is never read: the header names the current ones.
        }
      }
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
