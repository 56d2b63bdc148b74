/**
 * Markdown files <-> FileMetadata + body, in the exact format of the Diaryx
 * sync plugin.
 *
 * Reading (`parseFileMarkdown`) follows `materialize::parse_snapshot_markdown`:
 * links resolved to workspace keys, `updated` -> modified_at (the current host
 * time when missing), unknown keys into `extra`. `parseDiskFrontmatter` is the
 * variant the remote-write path uses to merge with what is on disk
 * (`SyncHandler::read_disk_frontmatter`: link strings kept as written).
 *
 * Writing (`renderFileMarkdown`) is the hand-written emitter of
 * `metadata_writer::FrontmatterMetadata::to_yaml` with the file assembly of
 * `write_file_with_metadata_and_canonical_path`: `---\n<yaml>\n---\n<body>`,
 * no blank line added. Extra keys are written sorted (the original's order is
 * HashMap order, i.e. unspecified).
 *
 * YAML is read with the `yaml` package (YAML 1.2 core schema, like serde_yaml
 * 0.9); plain scalars with leading zeros (`0123`) stay strings and `0b`/signed
 * `0x`/`0o` integers are numbers, as serde_yaml resolves them.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { formatLink, parseLink, pathToTitle, rustFileName, rustTrim, toCanonical } from './links';
import { cloneJson, formatJsonNumber, localBinaryRef, type FileMetadata, type JsonValue, canonicalJson } from './metadata';
import { compareKeys, fileName } from './paths';
import { formatRfc3339Millis, parseRfc3339 } from './rfc3339';

/** Invalid YAML in a file's front matter. */
export class FrontmatterError extends Error {
  override name = 'FrontmatterError';
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`Failed to parse frontmatter in ${path}: YAML parsing error: ${detail}`);
  }
}

/** `frontmatter::parse_or_empty` without the YAML step. */
export function splitFrontmatter(text: string): { yaml: string | null; body: string } {
  if (!text.startsWith('---\n') && !text.startsWith('---\r\n')) return { yaml: null, body: text };
  const rest = text.slice(4);
  let idx = rest.indexOf('\n---\n');
  if (idx < 0) idx = rest.indexOf('\n---\r\n');
  if (idx < 0) return { yaml: null, body: text };
  return { yaml: rest.slice(0, idx), body: rest.slice(idx + 5) };
}

// ---------------------------------------------------------------- YAML reading

type YNode = unknown;
type Scalarish = string | number | boolean | null;
const MAX_NODES = 100_000;
const MAX_DEPTH = 128;

class YamlReader {
  private visited = 0;
  constructor(
    private readonly doc: Document,
    private readonly path: string,
  ) {}

  private resolve(node: YNode): YNode {
    let n = node;
    for (let i = 0; isAlias(n) && i < 64; i++) n = n.resolve(this.doc);
    if (isAlias(n)) throw new FrontmatterError(this.path, 'alias chain too long');
    if (++this.visited > MAX_NODES) throw new FrontmatterError(this.path, 'repetition limit exceeded');
    return n;
  }

  /** Scalar value as serde_yaml resolves it; undefined for collections. */
  scalar(node: YNode): Scalarish | undefined {
    const n = this.resolve(node);
    if (n === null || n === undefined) return null;
    if (!isScalar(n)) return undefined;
    const v = n.value;
    if (n.type === 'PLAIN' && !n.tag && typeof n.source === 'string') {
      const src = n.source;
      if (/^[-+]?0[0-9]+$/.test(src)) return src;
      const m = /^([-+]?)0([xob])([0-9a-fA-F]+)$/.exec(src);
      if (m) {
        const radix = m[2] === 'x' ? 16 : m[2] === 'o' ? 8 : 2;
        const digits = radix === 16 ? /^[0-9a-fA-F]+$/ : radix === 8 ? /^[0-7]+$/ : /^[01]+$/;
        if (digits.test(m[3])) return (m[1] === '-' ? -1 : 1) * parseInt(m[3], radix);
      }
    }
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
    if (typeof v === 'bigint') return Number(v);
    return typeof n.source === 'string' ? n.source : String(v);
  }

  str(node: YNode): string | null {
    const v = this.scalar(node);
    return typeof v === 'string' ? v : null;
  }

  seq(node: YNode): YNode[] | null {
    const n = this.resolve(node);
    return isSeq(n) ? (n.items as YNode[]) : null;
  }

  /** Top-level mapping as ordered (key, value node) pairs; a repeated key keeps its first position and last value. */
  topLevel(): Map<string, YNode> {
    const out = new Map<string, YNode>();
    const root = this.resolve(this.doc.contents);
    if (root === null || root === undefined) return out;
    if (isScalar(root) && root.value === null) return out;
    if (!isMap(root)) throw new FrontmatterError(this.path, `invalid type: ${isSeq(root) ? 'sequence' : 'scalar'}, expected a map`);
    for (const item of root.items) {
      if (!isPair(item)) continue;
      const key = this.resolve(item.key);
      let k: string;
      if (key === null || key === undefined) k = '';
      else if (isScalar(key)) k = typeof key.source === 'string' ? key.source : String(key.value ?? '');
      else throw new FrontmatterError(this.path, 'invalid type: map key, expected a string');
      out.set(k, item.value);
    }
    return out;
  }

  private key(node: YNode): string | undefined {
    const v = this.scalar(node);
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return Number.isFinite(v) ? formatJsonNumber(v) : undefined;
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    return undefined;
  }

  /** serde_json::to_value of the YAML value; undefined when serde_json would fail (null or complex map keys). */
  json(node: YNode, depth = 0): JsonValue | undefined {
    if (depth > MAX_DEPTH) throw new FrontmatterError(this.path, 'recursion limit exceeded');
    const n = this.resolve(node);
    if (isSeq(n)) {
      const out: JsonValue[] = [];
      for (const item of n.items) {
        const v = this.json(item, depth + 1);
        if (v === undefined) return undefined;
        out.push(v);
      }
      return out;
    }
    if (isMap(n)) {
      const out: Record<string, JsonValue> = {};
      for (const item of n.items) {
        if (!isPair(item)) continue;
        const k = this.key(item.key);
        const v = this.json(item.value, depth + 1);
        if (k === undefined || v === undefined) return undefined;
        out[k] = v;
      }
      return out;
    }
    const v = this.scalar(n);
    if (v === undefined) return undefined;
    return typeof v === 'number' && !Number.isFinite(v) ? null : v;
  }
}

function readYaml(path: string, yaml: string): { reader: YamlReader; fm: Map<string, YNode> } {
  const doc = parseDocument(yaml, { version: '1.2', schema: 'core', uniqueKeys: false, prettyErrors: false });
  if (doc.errors.length > 0) throw new FrontmatterError(path, doc.errors[0].message);
  const reader = new YamlReader(doc, path);
  return { reader, fm: reader.topLevel() };
}

const I64_MAX = 9223372036854775807;

/** `parse_updated_value`: integer, float (truncated), integer string or RFC 3339 string. */
function parseUpdated(reader: YamlReader, node: YNode): number | null {
  const v = reader.scalar(node);
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 0;
    return Math.max(-I64_MAX - 1, Math.min(I64_MAX, Math.trunc(v)));
  }
  if (typeof v === 'string') {
    if (/^[+-]?[0-9]+$/.test(v)) {
      const n = Number(v);
      if (Math.abs(n) <= I64_MAX) return n;
    }
    return parseRfc3339(v);
  }
  return null;
}

const KNOWN_KEYS = new Set(['title', 'part_of', 'contents', 'attachments', 'deleted', 'audience', 'description', 'updated']);

function readExtra(reader: YamlReader, fm: Map<string, YNode>): Record<string, JsonValue> {
  const extra: Record<string, JsonValue> = {};
  for (const [key, node] of fm) {
    if (KNOWN_KEYS.has(key) || key.startsWith('_')) continue;
    const v = reader.json(node);
    if (v !== undefined) extra[key] = v;
  }
  return extra;
}

function stringItems(reader: YamlReader, node: YNode): string[] | null {
  const seq = reader.seq(node);
  if (seq === null) return null;
  const out: string[] = [];
  for (const item of seq) {
    const s = reader.str(item);
    if (s !== null) out.push(s);
  }
  return out;
}

/**
 * Metadata and body of a markdown file, as the plugin stores a local file in
 * the workspace doc. `relativePath` is the file's workspace key.
 */
export function parseFileMarkdown(
  relativePath: string,
  text: string,
  now: () => number,
): { metadata: FileMetadata; body: string } {
  const { yaml, body } = splitFrontmatter(text);
  const { reader, fm } = readYaml(relativePath, yaml ?? '');
  const resolve = (raw: string): string => toCanonical(parseLink(raw), relativePath);
  const get = (k: string): YNode | undefined => (fm.has(k) ? fm.get(k) : undefined);

  const partOfRaw = fm.has('part_of') ? reader.str(get('part_of')) : null;
  const contents = fm.has('contents') ? stringItems(reader, get('contents')) : null;
  const attachments = fm.has('attachments') ? (stringItems(reader, get('attachments')) ?? []) : [];
  let audience: string[] | null = null;
  if (fm.has('audience')) {
    const node = get('audience');
    const s = reader.str(node);
    if (s !== null) {
      const t = rustTrim(s);
      audience = t === '' ? null : [t];
    } else {
      audience = stringItems(reader, node);
    }
  }
  const updated = fm.has('updated') ? parseUpdated(reader, get('updated')) : null;
  const metadata: FileMetadata = {
    filename: fileName(relativePath),
    title: fm.has('title') ? reader.str(get('title')) : null,
    part_of: partOfRaw === null ? null : resolve(partOfRaw),
    contents: contents === null ? null : contents.map(resolve),
    attachments: attachments.map((a) => localBinaryRef(resolve(a))),
    deleted: fm.has('deleted') ? reader.scalar(get('deleted')) === true : false,
    audience,
    description: fm.has('description') ? reader.str(get('description')) : null,
    extra: readExtra(reader, fm),
    modified_at: updated ?? now(),
  };
  return { metadata, body };
}

/**
 * `SyncHandler::read_disk_frontmatter`: like parseFileMarkdown but link values
 * are kept as written and `audience` is read only from a sequence. Used to
 * merge with the file on disk before a remote write.
 */
export function parseDiskFrontmatter(path: string, text: string, now: () => number): { metadata: FileMetadata; body: string } {
  const { yaml, body } = splitFrontmatter(text);
  const { reader, fm } = readYaml(path, yaml ?? '');
  const get = (k: string): YNode | undefined => (fm.has(k) ? fm.get(k) : undefined);
  const updated = fm.has('updated') ? parseUpdated(reader, get('updated')) : null;
  const metadata: FileMetadata = {
    filename: rustFileName(path) ?? '',
    title: fm.has('title') ? reader.str(get('title')) : null,
    part_of: fm.has('part_of') ? reader.str(get('part_of')) : null,
    contents: fm.has('contents') ? stringItems(reader, get('contents')) : null,
    attachments: (fm.has('attachments') ? (stringItems(reader, get('attachments')) ?? []) : []).map(localBinaryRef),
    deleted: fm.has('deleted') ? reader.scalar(get('deleted')) === true : false,
    audience: fm.has('audience') ? stringItems(reader, get('audience')) : null,
    description: fm.has('description') ? reader.str(get('description')) : null,
    extra: readExtra(reader, fm),
    modified_at: updated ?? now(),
  };
  return { metadata, body };
}

// ---------------------------------------------------------------- YAML writing

const QUOTE_CHARS = /[:#[\]{}|>&*!?'"%@`\n]/;
const RUST_FLOAT = /^[+-]?(?:inf|infinity|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)$/i;
const KEYWORDS = new Set(['true', 'false', 'null', 'yes', 'no', 'on', 'off']);

/** `metadata_writer::yaml_string`: bare, or double-quoted with only `\` and `"` escaped. */
export function yamlString(value: string): string {
  const quote =
    value === '' ||
    QUOTE_CHARS.test(value) ||
    value.startsWith(' ') ||
    value.endsWith(' ') ||
    RUST_FLOAT.test(value) ||
    KEYWORDS.has(value.toLowerCase());
  return quote ? `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : value;
}

/** `metadata_writer::yaml_value`. */
export function yamlValue(value: JsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return formatJsonNumber(value);
  if (typeof value === 'string') return yamlString(value);
  if (Array.isArray(value)) return `[${value.map(yamlValue).join(', ')}]`;
  return canonicalJson(value);
}

function linkFor(raw: string, fallbackTitle: (path: string) => string): string {
  const parsed = parseLink(raw);
  return formatLink(parsed.path, parsed.title ?? fallbackTitle(parsed.path));
}

function attachmentTitle(path: string): string {
  return rustFileName(path) ?? path;
}

/** The YAML block (without delimiters) the plugin writes for `metadata`. */
export function renderFrontmatterYaml(metadata: FileMetadata): string {
  const lines: string[] = [];
  if (metadata.title !== null) lines.push(`title: ${yamlString(metadata.title)}`);
  if (metadata.part_of !== null) lines.push(`part_of: ${yamlString(linkFor(metadata.part_of, pathToTitle))}`);
  if (metadata.contents !== null) {
    if (metadata.contents.length === 0) lines.push('contents: []');
    else {
      lines.push('contents:');
      for (const c of metadata.contents) lines.push(`  - ${yamlString(linkFor(c, pathToTitle))}`);
    }
  }
  if (metadata.audience !== null && metadata.audience.length > 0) {
    lines.push('audience:');
    for (const a of metadata.audience) lines.push(`  - ${yamlString(a)}`);
  }
  if (metadata.description !== null) lines.push(`description: ${yamlString(metadata.description)}`);
  if (metadata.attachments.length > 0) {
    lines.push('attachments:');
    for (const a of metadata.attachments) lines.push(`  - ${yamlString(linkFor(a.path, attachmentTitle))}`);
  }
  const updated = Math.trunc(metadata.modified_at);
  const formatted = formatRfc3339Millis(updated);
  lines.push(`updated: ${formatted === null ? formatJsonNumber(updated) : yamlString(formatted)}`);
  const keys = Object.keys(metadata.extra)
    .filter((k) => !k.startsWith('_'))
    .sort(compareKeys);
  for (const k of keys) lines.push(`${k}: ${yamlValue(cloneJson(metadata.extra[k]))}`);
  return lines.join('\n');
}

/** The file text the plugin writes: `---\n<yaml>\n---\n<body>` (the body verbatim). */
export function renderFileMarkdown(metadata: FileMetadata, body: string): string {
  const yaml = renderFrontmatterYaml(metadata);
  return yaml === '' ? body : `---\n${yaml}\n---\n${body}`;
}

/**
 * `SyncHandler::merge_metadata`: the CRDT value wins field by field; the disk
 * value fills only what the CRDT leaves unset (empty filename, null
 * title/part_of/description/contents/audience, no attachments, empty extra).
 * `deleted` and `modified_at` always come from the CRDT.
 */
export function mergeWithDisk(crdt: FileMetadata, disk: FileMetadata | null): FileMetadata {
  if (disk === null) return crdt;
  const extraEmpty = Object.keys(crdt.extra).length === 0;
  return {
    filename: crdt.filename === '' ? disk.filename : crdt.filename,
    title: crdt.title ?? disk.title,
    part_of: crdt.part_of ?? disk.part_of,
    contents: crdt.contents ?? disk.contents,
    attachments: crdt.attachments.length === 0 ? disk.attachments : crdt.attachments,
    deleted: crdt.deleted,
    audience: crdt.audience ?? disk.audience,
    description: crdt.description ?? disk.description,
    extra: extraEmpty ? disk.extra : crdt.extra,
    modified_at: crdt.modified_at,
  };
}

/** Body to write for a remote change: the body doc's text, or the disk body when that text is empty. */
export function bodyForWrite(crdtBody: string, diskBody: string | null): string {
  return crdtBody === '' && diskBody !== null && diskBody !== '' ? diskBody : crdtBody;
}
