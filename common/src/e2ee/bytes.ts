/**
 * Byte encodings of the end-to-end encryption formats: little-endian u32,
 * `str(x)` (u8 length || bytes), UTF-8, hex and unpadded base64url. Pure code
 * for the plugin (QuickJS), the Node host and the server.
 */
import { encodeBase64 } from '../base64';
import { concatBytes } from '../bytes';

/** The ASCII prefix every associated data and derivation label starts with. */
export const E2EE_LABEL = 'diaryx-e2ee-v1';

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export { concatBytes };

export function u32(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${value} is not a u32`);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true);
}

/** `str(x)`: u8 length || the UTF-8 bytes of a string (or the bytes themselves). */
export function str(value: string | Uint8Array): Uint8Array {
  const bytes = typeof value === 'string' ? utf8(value) : value;
  if (bytes.length > 255) throw new RangeError(`str(): ${bytes.length} bytes, at most 255`);
  return concatBytes([Uint8Array.of(bytes.length), bytes]);
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += (b < 16 ? '0' : '') + b.toString(16);
  return out;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new RangeError(`not a hex string: ${hex.slice(0, 16)}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** base64url without padding (RFC 4648 section 5). */
export function base64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Equality without an early exit, for keys and tags. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
