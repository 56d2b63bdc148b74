/**
 * The payload of a snapshot envelope: n (varUint), n x (device id 16, u32 run,
 * u32 ctr, u64 seq) for the highest envelope of each writer run folded in,
 * then `Y.encodeStateAsUpdate` of the doc (all little-endian). Decoding is
 * strict: a truncated entry list is an error naming the field.
 */
import { fromHex, toHex } from '../../../common/src/e2ee/bytes';
import { DEVICE_ID_BYTES } from '../../../common/src/e2ee/envelope-header';
import type { WriterEntry } from './writer-table';

const ENTRY_BYTES = DEVICE_ID_BYTES + 4 + 4 + 8;

export class SnapshotPayloadError extends Error {
  override name = 'SnapshotPayloadError';
  constructor(message: string) {
    super(`Malformed snapshot payload: ${message}`);
  }
}

export interface SnapshotPayload {
  writers: WriterEntry[];
  update: Uint8Array;
}

function varUint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

export function encodeSnapshotPayload(payload: SnapshotPayload): Uint8Array {
  const head = varUint(payload.writers.length);
  const out = new Uint8Array(head.length + payload.writers.length * ENTRY_BYTES + payload.update.length);
  out.set(head, 0);
  const view = new DataView(out.buffer);
  let o = head.length;
  for (const w of payload.writers) {
    const device = fromHex(w.device);
    if (device.length !== DEVICE_ID_BYTES) throw new RangeError(`writer device id ${w.device} is not ${DEVICE_ID_BYTES} bytes`);
    out.set(device, o);
    view.setUint32(o + 16, w.run, true);
    view.setUint32(o + 20, w.ctr, true);
    view.setBigUint64(o + 24, BigInt(w.seq), true);
    o += ENTRY_BYTES;
  }
  out.set(payload.update, o);
  return out;
}

export function decodeSnapshotPayload(bytes: Uint8Array): SnapshotPayload {
  let count = 0;
  let scale = 1;
  let o = 0;
  for (;;) {
    if (o >= bytes.length) throw new SnapshotPayloadError('truncated inside the writer count');
    const b = bytes[o++];
    count += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) break;
    scale *= 0x80;
    if (scale > 2 ** 49) throw new SnapshotPayloadError('writer count is too large');
  }
  if (count * ENTRY_BYTES > bytes.length - o) throw new SnapshotPayloadError(`${count} writer entries need ${count * ENTRY_BYTES} bytes, ${bytes.length - o} left`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const writers: WriterEntry[] = [];
  for (let i = 0; i < count; i++) {
    const seq = view.getBigUint64(o + 24, true);
    if (seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new SnapshotPayloadError(`writer entry ${i}: seq beyond 2^53`);
    writers.push({ device: toHex(bytes.subarray(o, o + 16)), run: view.getUint32(o + 16, true), ctr: view.getUint32(o + 20, true), seq: Number(seq) });
    o += ENTRY_BYTES;
  }
  return { writers, update: bytes.slice(o) };
}
