/**
 * The byte layout of an end-to-end encrypted envelope (one sealed Yjs update
 * or doc snapshot), without any cryptography: the server checks and indexes
 * envelopes by this header alone, and the plugin seals and opens them with the
 * header as associated data.
 *
 * | offset | bytes | field |
 * |---|---|---|
 * | 0, 1 | 1, 1 | version = 1; kind: 1 update, 2 snapshot |
 * | 2 | 4 | epoch (u32 LE) of the key that sealed it |
 * | 6 | 16 | device id |
 * | 22 | 4 | run (u32 LE) |
 * | 26 | 4 | ctr (u32 LE): from 1 in updates, 0 in snapshots |
 * | 30 | 40 | snapshots only: snap id (16), prev snap id (16), covers seq (u64 LE) |
 * | h | 24 | nonce (h = 30 for updates, 70 for snapshots) |
 * | h + 24 | P + 16 | ciphertext and tag, P a padding bucket (`paddedLength`) |
 */

export const ENVELOPE_VERSION = 1;
export const NONCE_BYTES = 24;
export const TAG_BYTES = 16;
export const DEVICE_ID_BYTES = 16;
export const SNAP_ID_BYTES = 16;

export type EnvelopeKind = 'update' | 'snapshot';
const KIND_BYTE: Record<EnvelopeKind, number> = { update: 1, snapshot: 2 };

const UPDATE_HEADER_BYTES = 30;
const SNAPSHOT_HEADER_BYTES = 70;
const MIB = 1 << 20;
/** The largest plaintext bucket an envelope may carry (a bound for the server, not the format). */
export const MAX_PADDED_BYTES = 256 * MIB;

export interface SnapshotFields {
  snapId: Uint8Array;
  /** All zeros when the snapshot is the doc's first. */
  prevSnapId: Uint8Array;
  /** The highest sequence number whose envelope this snapshot folds in. */
  coversSeq: number;
}

export interface EnvelopeHeader {
  kind: EnvelopeKind;
  epoch: number;
  deviceId: Uint8Array;
  run: number;
  ctr: number;
  /** Present exactly when `kind` is 'snapshot'. */
  snapshot?: SnapshotFields;
}

export interface ParsedEnvelope {
  header: EnvelopeHeader;
  /** Header bytes 0..h-1, as sealed into the associated data. */
  headerBytes: Uint8Array;
  nonce: Uint8Array;
  /** Ciphertext followed by the 16-byte tag. */
  sealed: Uint8Array;
}

/** An envelope whose bytes do not follow the layout; the message says which field. */
export class EnvelopeFormatError extends Error {
  constructor(message: string) {
    super(`Malformed envelope: ${message}`);
    this.name = 'EnvelopeFormatError';
  }
}

export function headerLength(kind: EnvelopeKind): number {
  return kind === 'update' ? UPDATE_HEADER_BYTES : SNAPSHOT_HEADER_BYTES;
}

/**
 * The padded plaintext length for a payload of `payloadLength` bytes (plus its
 * 4-byte length prefix): the smallest power of two >= 256 up to 1 MiB, then the
 * next multiple of 1 MiB, so sizes reveal only a bucket.
 */
export function paddedLength(payloadLength: number): number {
  const need = Math.max(256, payloadLength + 4);
  if (need <= MIB) {
    let p = 256;
    while (p < need) p *= 2;
    return p;
  }
  return Math.ceil(need / MIB) * MIB;
}

/** Whether `p` is one of the sizes `paddedLength` yields. */
export function isPaddedLength(p: number): boolean {
  if (!Number.isInteger(p) || p < 256) return false;
  if (p <= MIB) return (p & (p - 1)) === 0;
  return p % MIB === 0;
}

function checkU32(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new EnvelopeFormatError(`${field} ${value} is not a u32`);
}

function checkId(bytes: Uint8Array, field: string): void {
  if (bytes.length !== 16) throw new EnvelopeFormatError(`${field} has ${bytes.length} bytes, expected 16`);
}

export function encodeEnvelopeHeader(header: EnvelopeHeader): Uint8Array {
  const out = new Uint8Array(headerLength(header.kind));
  const view = new DataView(out.buffer);
  checkU32(header.epoch, 'epoch');
  checkU32(header.run, 'run');
  checkU32(header.ctr, 'ctr');
  checkId(header.deviceId, 'device id');
  if ((header.kind === 'snapshot') !== (header.snapshot !== undefined)) {
    throw new EnvelopeFormatError('snapshot fields go with kind snapshot and only with it');
  }
  out[0] = ENVELOPE_VERSION;
  out[1] = KIND_BYTE[header.kind];
  view.setUint32(2, header.epoch, true);
  out.set(header.deviceId, 6);
  view.setUint32(22, header.run, true);
  view.setUint32(26, header.ctr, true);
  if (header.snapshot) {
    const s = header.snapshot;
    checkId(s.snapId, 'snap id');
    checkId(s.prevSnapId, 'prev snap id');
    if (!Number.isSafeInteger(s.coversSeq) || s.coversSeq < 0) throw new EnvelopeFormatError(`covers seq ${s.coversSeq} is not a u64 below 2^53`);
    out.set(s.snapId, 30);
    out.set(s.prevSnapId, 46);
    view.setBigUint64(62, BigInt(s.coversSeq), true);
  }
  return out;
}

/** Splits an envelope into its header, nonce and sealed part; throws `EnvelopeFormatError`. */
export function parseEnvelope(bytes: Uint8Array): ParsedEnvelope {
  if (bytes.length < 2) throw new EnvelopeFormatError(`${bytes.length} bytes, too short for a header`);
  if (bytes[0] !== ENVELOPE_VERSION) throw new EnvelopeFormatError(`version ${bytes[0]}, expected ${ENVELOPE_VERSION}`);
  const kind: EnvelopeKind | null = bytes[1] === 1 ? 'update' : bytes[1] === 2 ? 'snapshot' : null;
  if (kind === null) throw new EnvelopeFormatError(`kind ${bytes[1]}, expected 1 (update) or 2 (snapshot)`);
  const h = headerLength(kind);
  const sealedLength = bytes.length - h - NONCE_BYTES;
  if (sealedLength < TAG_BYTES) throw new EnvelopeFormatError(`${bytes.length} bytes, too short for a ${kind} envelope`);
  const padded = sealedLength - TAG_BYTES;
  if (!isPaddedLength(padded) || padded > MAX_PADDED_BYTES) throw new EnvelopeFormatError(`ciphertext of ${padded} bytes is not a padding bucket`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header: EnvelopeHeader = {
    kind,
    epoch: view.getUint32(2, true),
    deviceId: bytes.slice(6, 22),
    run: view.getUint32(22, true),
    ctr: view.getUint32(26, true),
  };
  if (kind === 'update' && header.ctr === 0) throw new EnvelopeFormatError('update counter 0 (counters start at 1)');
  if (kind === 'snapshot') {
    if (header.ctr !== 0) throw new EnvelopeFormatError(`snapshot counter ${header.ctr}, expected 0`);
    const coversSeq = view.getBigUint64(62, true);
    if (coversSeq > BigInt(Number.MAX_SAFE_INTEGER)) throw new EnvelopeFormatError('covers seq beyond 2^53');
    header.snapshot = { snapId: bytes.slice(30, 46), prevSnapId: bytes.slice(46, 62), coversSeq: Number(coversSeq) };
  }
  return {
    header,
    headerBytes: bytes.slice(0, h),
    nonce: bytes.slice(h, h + NONCE_BYTES),
    sealed: bytes.slice(h + NONCE_BYTES),
  };
}
