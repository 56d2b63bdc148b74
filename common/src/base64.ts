/**
 * Standard base64 (RFC 4648 alphabet, padded), as the Diaryx hosts and the
 * Rust plugin use it (`base64::engine::general_purpose::STANDARD`).
 * Pure code: runs in the QuickJS plugin, which has neither Buffer nor atob.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

/** A decoding failure; `message` reads like the Rust base64 crate's errors. */
export class Base64Error extends Error {
  override name = 'Base64Error';
}

/** The plugin runtime's C codec (plugin/runtime/prelude.js); absent in Node and browsers. */
interface NativeBase64 {
  encode(bytes: Uint8Array): string;
  /** Null when the text is not strict padded base64. */
  decode(text: string): Uint8Array | null;
}

const native = (globalThis as { __nativeBase64?: NativeBase64 }).__nativeBase64 ?? null;

/** Encodes bytes as padded standard base64. */
export function encodeBase64(bytes: Uint8Array): string {
  if (native !== null) return native.encode(bytes);
  const parts: string[] = [];
  let chunk = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    chunk += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = '';
    }
  }
  if (i < bytes.length) {
    const n = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8);
    chunk += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63];
    chunk += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] + '=' : '==';
  }
  parts.push(chunk);
  return parts.join('');
}

/** Decodes padded standard base64; throws Base64Error on any malformed input. */
export function decodeBase64(text: string): Uint8Array {
  const fast = native?.decode(text) ?? null;
  if (fast !== null) return fast;
  // Not valid: the code below finds and reports the error.
  if (text.length % 4 !== 0) throw new Base64Error('Invalid input length.');
  let pad = 0;
  if (text.endsWith('==')) pad = 2;
  else if (text.endsWith('=')) pad = 1;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const idx = i + j;
      const code = text.charCodeAt(idx);
      if (code === 61 /* = */ && idx >= text.length - pad) {
        n <<= 6;
        continue;
      }
      const v = code < 128 ? LOOKUP[code] : -1;
      if (v < 0) throw new Base64Error(`Invalid symbol ${code}, offset ${idx}.`);
      n = (n << 6) | v;
    }
    out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  // Non-canonical trailing bits (e.g. "QQ==" vs "QR==") are rejected like the Rust crate does.
  if (pad > 0) {
    const last = text.length - pad - 1;
    const v = LOOKUP[text.charCodeAt(last)];
    const mask = pad === 2 ? 0x0f : 0x03;
    if ((v & mask) !== 0) throw new Base64Error(`Invalid last symbol ${text.charCodeAt(last)}, offset ${last}.`);
  }
  return out;
}
