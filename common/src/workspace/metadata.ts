/**
 * FileMetadata: the value stored (as JSON text) under each key of the
 * workspace doc's `files` map, and its JSON codec.
 *
 * The JSON must be readable by the Rust plugin's serde `FileMetadata` and vice
 * versa. `serializeMetadata` writes the fields in serde declaration order;
 * nested JSON objects in `extra` are written with sorted keys, like
 * serde_json's default (BTreeMap) map. `parseMetadata` accepts exactly what
 * serde accepts, with serde's defaults for missing fields and the lenient
 * title/description conversion (numbers and booleans become strings); anything
 * serde would reject yields null, which callers treat as "no usable entry".
 *
 * Known limits of JSON in JS: integers above 2^53 lose precision, and a float
 * written with a zero fraction (`1.0`) reads back as an integer.
 */

import { compareKeys } from './paths';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Reference to a binary attachment (serde `BinaryRef`; all fields required except uploaded_at). */
export interface BinaryRef {
  path: string;
  /** "local", "pending" or a URL. */
  source: string;
  /** sha256 hex, '' when unknown. */
  hash: string;
  mime_type: string;
  size: number;
  uploaded_at: number | null;
  deleted: boolean;
  /**
   * Only in an end-to-end encrypted workspace (whose doc the server cannot
   * read): where the sealed blob is and how to open it (common/src/e2ee/attachment-blob.ts).
   * Absent otherwise, and then never written, so plain workspaces keep serde's bytes.
   */
  e2ee?: EncryptedBlobRef;
}

/** A BinaryRef's `"e2ee":{"addr","key","epoch"}`: blob address, file key (hex) and key epoch. */
export interface EncryptedBlobRef {
  addr: string;
  key: string;
  epoch: number;
}

export interface FileMetadata {
  filename: string;
  title: string | null;
  part_of: string | null;
  contents: string[] | null;
  attachments: BinaryRef[];
  deleted: boolean;
  audience: string[] | null;
  description: string | null;
  extra: Record<string, JsonValue>;
  /** Milliseconds since the Unix epoch. */
  modified_at: number;
}

/** Serde `Default` plus a file name. */
export function emptyMetadata(filename = ''): FileMetadata {
  return {
    filename,
    title: null,
    part_of: null,
    contents: null,
    attachments: [],
    deleted: false,
    audience: null,
    description: null,
    extra: {},
    modified_at: 0,
  };
}

/** A local attachment reference as the front matter reader creates it. */
export function localBinaryRef(path: string): BinaryRef {
  return { path, source: 'local', hash: '', mime_type: '', size: 0, uploaded_at: null, deleted: false };
}

const TWO_63 = 9223372036854775808;

/**
 * Number text as serde_json writes it: integers as digits, other values in
 * ryu's shortest form (`0.1`, `1e-7`, `1.5e300`, `1e16`). A float with a zero
 * fraction is indistinguishable from an integer in JS and is written as one.
 */
export function formatJsonNumber(n: number): string {
  if (!Number.isFinite(n)) return 'null';
  if (Number.isInteger(n) && Math.abs(n) < TWO_63) return Math.abs(n) <= Number.MAX_SAFE_INTEGER ? String(n) : BigInt(n).toString();
  const [mant, expText] = n.toExponential().split('e');
  const sign = n < 0 ? '-' : '';
  const digits = mant.replace('-', '').replace('.', '');
  const length = digits.length;
  const kk = Number(expText) + 1;
  const k = kk - length;
  let body: string;
  if (k >= 0 && kk <= 16) body = digits + '0'.repeat(k) + '.0';
  else if (kk > 0 && kk <= 16) body = digits.slice(0, kk) + '.' + digits.slice(kk);
  else if (kk > -5 && kk <= 0) body = '0.' + '0'.repeat(-kk) + digits;
  else if (length === 1) body = digits + 'e' + (kk - 1);
  else body = digits[0] + '.' + digits.slice(1) + 'e' + (kk - 1);
  return sign + body;
}

/** Compact JSON with object keys sorted by code point (serde_json's default map order). */
export function canonicalJson(value: JsonValue): string {
  if (typeof value === 'number') return formatJsonNumber(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  const keys = Object.keys(value).sort(compareKeys);
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(value[k])).join(',') + '}';
}

function binaryRefJson(r: BinaryRef): string {
  return (
    `{"path":${JSON.stringify(r.path)},"source":${JSON.stringify(r.source)},"hash":${JSON.stringify(r.hash)},` +
    `"mime_type":${JSON.stringify(r.mime_type)},"size":${JSON.stringify(r.size)},` +
    `"uploaded_at":${r.uploaded_at === null ? 'null' : JSON.stringify(r.uploaded_at)},"deleted":${r.deleted}` +
    (r.e2ee === undefined ? '' : `,"e2ee":{"addr":${JSON.stringify(r.e2ee.addr)},"key":${JSON.stringify(r.e2ee.key)},"epoch":${JSON.stringify(r.e2ee.epoch)}}`) +
    '}'
  );
}

function nullableStringJson(v: string | null): string {
  return v === null ? 'null' : JSON.stringify(v);
}

function nullableListJson(v: string[] | null): string {
  return v === null ? 'null' : '[' + v.map((s) => JSON.stringify(s)).join(',') + ']';
}

/** JSON text in serde field order: filename, title, part_of, contents, attachments, deleted, audience, description, extra, modified_at. */
export function serializeMetadata(m: FileMetadata): string {
  return (
    `{"filename":${JSON.stringify(m.filename)}` +
    `,"title":${nullableStringJson(m.title)}` +
    `,"part_of":${nullableStringJson(m.part_of)}` +
    `,"contents":${nullableListJson(m.contents)}` +
    `,"attachments":[${m.attachments.map(binaryRefJson).join(',')}]` +
    `,"deleted":${m.deleted ? 'true' : 'false'}` +
    `,"audience":${nullableListJson(m.audience)}` +
    `,"description":${nullableStringJson(m.description)}` +
    `,"extra":${canonicalJson(m.extra)}` +
    `,"modified_at":${JSON.stringify(Math.trunc(m.modified_at))}}`
  );
}

class Invalid extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const I64_LIMIT = 9223372036854775808; // 2^63

function isI64(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= -I64_LIMIT && v < I64_LIMIT;
}

function has(o: Record<string, unknown>, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k) && o[k] !== undefined;
}

function lenientString(o: Record<string, unknown>, k: string): string | null {
  if (!has(o, k)) return null;
  const v = o[k];
  if (v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatJsonNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  throw new Invalid();
}

function optString(o: Record<string, unknown>, k: string): string | null {
  if (!has(o, k) || o[k] === null) return null;
  if (typeof o[k] !== 'string') throw new Invalid();
  return o[k] as string;
}

function optStringList(o: Record<string, unknown>, k: string): string[] | null {
  if (!has(o, k) || o[k] === null) return null;
  const v = o[k];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Invalid();
  return [...(v as string[])];
}

function parseBinaryRef(v: unknown): BinaryRef {
  if (!isObject(v)) throw new Invalid();
  const { path, source, hash, mime_type, size, uploaded_at, deleted, e2ee } = v;
  if (typeof path !== 'string' || typeof source !== 'string' || typeof hash !== 'string') throw new Invalid();
  if (typeof mime_type !== 'string' || typeof deleted !== 'boolean') throw new Invalid();
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw new Invalid();
  if (uploaded_at !== undefined && uploaded_at !== null && !isI64(uploaded_at)) throw new Invalid();
  const ref: BinaryRef = { path, source, hash, mime_type, size, uploaded_at: uploaded_at ?? null, deleted };
  // serde ignores a field it does not know: a malformed e2ee is dropped, not the entry.
  const blob = parseEncryptedBlobRef(e2ee);
  if (blob !== null) ref.e2ee = blob;
  return ref;
}

const HEX_64 = /^[0-9a-f]{64}$/;

function parseEncryptedBlobRef(v: unknown): EncryptedBlobRef | null {
  if (!isObject(v)) return null;
  const { addr, key, epoch } = v;
  if (typeof addr !== 'string' || !HEX_64.test(addr) || typeof key !== 'string' || !HEX_64.test(key)) return null;
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 1 || epoch > 0xffffffff) return null;
  return { addr, key, epoch };
}

/** Validates a decoded JSON value as FileMetadata (serde rules); null when serde would reject it. */
export function metadataFromJson(v: unknown): FileMetadata | null {
  if (!isObject(v)) return null;
  try {
    let filename = '';
    if (has(v, 'filename')) {
      if (typeof v.filename !== 'string') throw new Invalid();
      filename = v.filename;
    }
    let attachments: BinaryRef[] = [];
    if (has(v, 'attachments')) {
      if (!Array.isArray(v.attachments)) throw new Invalid();
      attachments = v.attachments.map(parseBinaryRef);
    }
    let deleted = false;
    if (has(v, 'deleted')) {
      if (typeof v.deleted !== 'boolean') throw new Invalid();
      deleted = v.deleted;
    }
    let extra: Record<string, JsonValue> = {};
    if (has(v, 'extra')) {
      if (!isObject(v.extra)) throw new Invalid();
      extra = cloneJson(v.extra) as Record<string, JsonValue>;
    }
    let modified_at = 0;
    if (has(v, 'modified_at')) {
      if (!isI64(v.modified_at)) throw new Invalid();
      modified_at = v.modified_at;
    }
    return {
      filename,
      title: lenientString(v, 'title'),
      part_of: optString(v, 'part_of'),
      contents: optStringList(v, 'contents'),
      attachments,
      deleted,
      audience: optStringList(v, 'audience'),
      description: lenientString(v, 'description'),
      extra,
      modified_at,
    };
  } catch (e) {
    if (e instanceof Invalid) return null;
    throw e;
  }
}

/** Parses FileMetadata JSON text; null when it is not valid JSON or not a valid FileMetadata. */
export function parseMetadata(json: string): FileMetadata | null {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return null;
  }
  return metadataFromJson(v);
}

/** Deep copy of a JSON value (drops non-JSON values such as undefined). */
export function cloneJson(v: unknown): JsonValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (Array.isArray(v)) return v.map(cloneJson);
  if (typeof v === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x !== undefined) out[k] = cloneJson(x);
    }
    return out;
  }
  return null;
}

/** Structural equality of JSON values (object key order ignored). */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual(a[k], b[k]));
}

function listEqual(a: string[] | null, b: string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function binaryRefEqual(a: BinaryRef, b: BinaryRef): boolean {
  return (
    a.path === b.path &&
    a.source === b.source &&
    a.hash === b.hash &&
    a.mime_type === b.mime_type &&
    a.size === b.size &&
    a.uploaded_at === b.uploaded_at &&
    a.deleted === b.deleted &&
    a.e2ee?.addr === b.e2ee?.addr &&
    a.e2ee?.key === b.e2ee?.key &&
    a.e2ee?.epoch === b.e2ee?.epoch
  );
}

/** `FileMetadata::is_content_equal`: every field except modified_at. */
export function metadataContentEqual(a: FileMetadata, b: FileMetadata): boolean {
  return (
    a.filename === b.filename &&
    a.title === b.title &&
    a.part_of === b.part_of &&
    listEqual(a.contents, b.contents) &&
    a.attachments.length === b.attachments.length &&
    a.attachments.every((x, i) => binaryRefEqual(x, b.attachments[i])) &&
    a.deleted === b.deleted &&
    listEqual(a.audience, b.audience) &&
    a.description === b.description &&
    jsonEqual(a.extra, b.extra)
  );
}

/** Full equality (serde `PartialEq`), modified_at included. */
export function metadataEqual(a: FileMetadata, b: FileMetadata): boolean {
  return a.modified_at === b.modified_at && metadataContentEqual(a, b);
}

/** Deep copy. */
export function cloneMetadata(m: FileMetadata): FileMetadata {
  return {
    ...m,
    contents: m.contents === null ? null : [...m.contents],
    attachments: m.attachments.map((r) => (r.e2ee === undefined ? { ...r } : { ...r, e2ee: { ...r.e2ee } })),
    audience: m.audience === null ? null : [...m.audience],
    extra: cloneJson(m.extra) as Record<string, JsonValue>,
  };
}
