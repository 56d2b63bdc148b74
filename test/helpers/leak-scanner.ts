/**
 * Searches captured bytes (frames, HTTP bodies, logs, database files) for
 * secrets in every form a careless encoder could leave them in: a string as
 * UTF-8, UTF-16LE, lower case (both), hex (lower and upper case of its UTF-8)
 * and base64 / base64url of its UTF-8 at the three alignments it can sit at
 * inside a longer encoded value; raw key bytes as themselves, hex and base64
 * / base64url likewise.
 *
 * Base64 at an alignment: when a value is preceded by k bytes (k = 0, 1, 2
 * modulo 3), the characters that encode only its own bits are the same
 * whatever bytes surround it; that inner run is the needle.
 */

/** One byte pattern to look for; `label` names the secret it came from. */
export interface Needle {
  label: string;
  encoding: string;
  bytes: Buffer;
}

/** A named buffer to search. */
export interface ScanSource {
  name: string;
  bytes: Uint8Array;
}

export interface Hit {
  label: string;
  encoding: string;
  source: string;
  offset: number;
}

/** What to look for: secrets by label. */
export interface NeedleSpec {
  /** Strings (file names, bodies, the passphrase ...). */
  strings?: Record<string, string>;
  /** Raw key bytes. */
  keys?: Record<string, Uint8Array>;
  /** Names that should never show (field names such as `part_of`), each labelled `field <name>`. */
  fields?: readonly string[];
}

/** Shorter secrets give inner base64 runs short enough to turn up by chance in random bytes. */
export const MIN_SECRET_BYTES = 6;

const ALIGNMENTS = [0, 1, 2] as const;

/** The base64 (or base64url) characters that encode only `value`'s bits when `prefix` bytes precede it. */
export function innerBase64(value: Uint8Array, prefix: number, url: boolean): string {
  const padded = Buffer.concat([Buffer.alloc(prefix), Buffer.from(value)]);
  const text = padded.toString(url ? 'base64url' : 'base64').replace(/=+$/, '');
  const start = Math.ceil((8 * prefix) / 6);
  const end = Math.floor((8 * padded.length) / 6);
  return text.slice(start, end);
}

function encodedForms(label: string, bytes: Buffer, out: Needle[]): void {
  out.push({ label, encoding: 'hex', bytes: Buffer.from(bytes.toString('hex'), 'latin1') });
  out.push({ label, encoding: 'HEX', bytes: Buffer.from(bytes.toString('hex').toUpperCase(), 'latin1') });
  for (const url of [false, true]) {
    for (const k of ALIGNMENTS) {
      out.push({ label, encoding: `${url ? 'base64url' : 'base64'}@${k}`, bytes: Buffer.from(innerBase64(bytes, k, url), 'latin1') });
    }
  }
}

/** Every needle of a string secret. */
export function stringNeedles(label: string, value: string): Needle[] {
  const utf8 = Buffer.from(value, 'utf8');
  if (utf8.length < MIN_SECRET_BYTES) throw new RangeError(`secret ${label} has ${utf8.length} bytes; at least ${MIN_SECRET_BYTES} are needed to search for it`);
  const out: Needle[] = [
    { label, encoding: 'utf8', bytes: utf8 },
    { label, encoding: 'utf16le', bytes: Buffer.from(value, 'utf16le') },
    { label, encoding: 'lower-utf8', bytes: Buffer.from(value.toLowerCase(), 'utf8') },
    { label, encoding: 'lower-utf16le', bytes: Buffer.from(value.toLowerCase(), 'utf16le') },
  ];
  encodedForms(label, utf8, out);
  return dedupe(out);
}

/** Every needle of raw key bytes. */
export function keyNeedles(label: string, key: Uint8Array): Needle[] {
  if (key.length < MIN_SECRET_BYTES) throw new RangeError(`key ${label} has ${key.length} bytes; at least ${MIN_SECRET_BYTES} are needed to search for it`);
  const bytes = Buffer.from(key);
  const out: Needle[] = [{ label, encoding: 'raw', bytes }];
  encodedForms(label, bytes, out);
  return dedupe(out);
}

/** Needles of every secret in `spec`. */
export function buildNeedles(spec: NeedleSpec): Needle[] {
  const out: Needle[] = [];
  for (const [label, value] of Object.entries(spec.strings ?? {})) out.push(...stringNeedles(label, value));
  for (const [label, key] of Object.entries(spec.keys ?? {})) out.push(...keyNeedles(label, key));
  for (const name of spec.fields ?? []) out.push(...stringNeedles(`field ${name}`, name));
  return out;
}

/** One needle per distinct byte pattern of a secret (lower case of a lower-case string adds nothing). */
function dedupe(needles: Needle[]): Needle[] {
  const seen = new Set<string>();
  return needles.filter((n) => {
    const id = n.bytes.toString('latin1');
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Every occurrence of every needle in every source. */
export function scan(sources: Iterable<ScanSource>, needles: readonly Needle[]): Hit[] {
  const hits: Hit[] = [];
  for (const source of sources) {
    const hay = Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.byteLength);
    for (const needle of needles) {
      if (needle.bytes.length === 0) throw new RangeError(`needle ${needle.label} (${needle.encoding}) is empty`);
      for (let at = hay.indexOf(needle.bytes); at !== -1; at = hay.indexOf(needle.bytes, at + 1)) {
        hits.push({ label: needle.label, encoding: needle.encoding, source: source.name, offset: at });
      }
    }
  }
  return hits;
}

/** A readable list of hits (at most `limit` lines), for failure messages. */
export function describeHits(hits: readonly Hit[], limit = 40): string {
  const lines = hits.slice(0, limit).map((h) => `${h.label} as ${h.encoding} in ${h.source} at ${h.offset}`);
  if (hits.length > limit) lines.push(`... and ${hits.length - limit} more`);
  return lines.join('\n');
}
