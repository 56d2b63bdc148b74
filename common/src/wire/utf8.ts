/**
 * Strict UTF-8 for the wire codecs.
 *
 * Decoders must reject exactly what Rust's `String::from_utf8` rejects and
 * report it the way `FromUtf8Error` displays it, because those messages are
 * part of the envelope decoder's error strings. Decoding keeps a leading BOM
 * (U+FEFF) as a character, like Rust, which a default TextDecoder would strip.
 */

let encoder: TextEncoder | null = null;
let decoder: TextDecoder | null = null;

/** UTF-8 bytes of a string (lone surrogates become U+FFFD, as TextEncoder does). */
export function encodeUtf8(text: string): Uint8Array {
  encoder ??= new TextEncoder();
  return encoder.encode(text);
}

/** Where and how a byte sequence stops being valid UTF-8 (Rust `Utf8Error`). */
export interface Utf8Problem {
  /** Number of leading bytes that are valid UTF-8. */
  validUpTo: number;
  /** Length of the invalid sequence, or null when the input ends mid-sequence. */
  errorLen: 1 | 2 | 3 | null;
}

/** Width of the sequence a lead byte starts (0 for bytes that cannot start one). */
function charWidth(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

const isCont = (b: number): boolean => (b & 0xc0) === 0x80;

/** Finds the first UTF-8 error, with the same positions and lengths as Rust's validator. */
export function findUtf8Problem(bytes: Uint8Array): Utf8Problem | null {
  const len = bytes.length;
  let i = 0;
  while (i < len) {
    const first = bytes[i];
    if (first < 0x80) {
      i++;
      continue;
    }
    const start = i;
    const w = charWidth(first);
    if (w === 0) return { validUpTo: start, errorLen: 1 };
    if (i + 1 >= len) return { validUpTo: start, errorLen: null };
    const second = bytes[i + 1];
    if (w === 2) {
      if (!isCont(second)) return { validUpTo: start, errorLen: 1 };
      i += 2;
      continue;
    }
    let secondOk: boolean;
    if (w === 3) {
      secondOk =
        (first === 0xe0 && second >= 0xa0 && second <= 0xbf) ||
        (first >= 0xe1 && first <= 0xec && isCont(second)) ||
        (first === 0xed && second >= 0x80 && second <= 0x9f) ||
        (first >= 0xee && isCont(second));
    } else {
      secondOk =
        (first === 0xf0 && second >= 0x90 && second <= 0xbf) ||
        (first >= 0xf1 && first <= 0xf3 && isCont(second)) ||
        (first === 0xf4 && second >= 0x80 && second <= 0x8f);
    }
    if (!secondOk) return { validUpTo: start, errorLen: 1 };
    if (i + 2 >= len) return { validUpTo: start, errorLen: null };
    if (!isCont(bytes[i + 2])) return { validUpTo: start, errorLen: 2 };
    if (w === 3) {
      i += 3;
      continue;
    }
    if (i + 3 >= len) return { validUpTo: start, errorLen: null };
    if (!isCont(bytes[i + 3])) return { validUpTo: start, errorLen: 3 };
    i += 4;
  }
  return null;
}

/** Rust's Display text for a UTF-8 error, e.g. `invalid utf-8 sequence of 1 bytes from index 0`. */
export function describeUtf8Problem(p: Utf8Problem): string {
  return p.errorLen === null
    ? `incomplete utf-8 byte sequence from index ${p.validUpTo}`
    : `invalid utf-8 sequence of ${p.errorLen} bytes from index ${p.validUpTo}`;
}

/** Decodes bytes already known to be valid UTF-8, keeping a leading BOM. */
export function decodeValidUtf8(bytes: Uint8Array): string {
  decoder ??= new TextDecoder('utf-8', { ignoreBOM: true });
  return decoder.decode(bytes);
}

/** Decodes UTF-8 or returns the Rust-style problem description. */
export function tryDecodeUtf8(bytes: Uint8Array): { ok: true; text: string } | { ok: false; error: string } {
  const problem = findUtf8Problem(bytes);
  if (problem) return { ok: false, error: describeUtf8Problem(problem) };
  return { ok: true, text: decodeValidUtf8(bytes) };
}
