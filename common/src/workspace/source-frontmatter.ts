/**
 * Files written as their author wrote them.
 *
 * The workspace doc holds what a file's front matter means (FileMetadata), not
 * how it was written, so a file rebuilt from metadata alone differs from the
 * author's: an `updated` line the author never wrote, `---\nupdated: …\n---`
 * on a file without front matter, link titles replaced by path-derived ones
 * (`[Trial Journal](/README.md)` -> `[README](/README.md)`), other quoting,
 * order and comments.
 *
 * So the device that reads a local file also stores the file's front matter
 * block as written (everything before the body, `''` for none) in the entry's
 * `extra` under `_source_frontmatter`. Keys starting with `_` are never written
 * to files nor read from them, by this plugin and by the Rust original, so the
 * block travels with the metadata and nowhere else. A device writing the file
 * uses that block, or else the block the file on disk has now, when it still
 * says exactly what the metadata says (an `updated` time that moved only
 * rewrites the `updated` line); otherwise, say after an edit by a device that
 * does not know the key or a merge of two concurrent edits, it writes the
 * original's canonical front matter. A block that is already in the canonical
 * format is recorded as null rather than copied.
 */
import { parseFileMarkdown, renderFileMarkdown, splitFrontmatter, yamlString } from './frontmatter';
import { formatJsonNumber, localBinaryRef, metadataContentEqual, type FileMetadata, type JsonValue } from './metadata';
import { formatRfc3339Millis } from './rfc3339';

/** `extra` key holding the author's front matter block as written. */
export const SOURCE_FRONTMATTER_KEY = '_source_frontmatter';

/** The front matter block of a file text (everything before the body; '' when it has none). */
export function frontmatterHead(text: string): string {
  return text.slice(0, text.length - splitFrontmatter(text).body.length);
}

/**
 * `meta` (as read from `text`) with the front matter block of `text`
 * recorded; null instead of a copy when the block is exactly what the
 * original's format writes for `meta` (files written by Diaryx itself).
 */
export function withSourceFrontmatter(meta: FileMetadata, text: string): FileMetadata {
  const head = frontmatterHead(text);
  const value = head !== '' && head === renderFileMarkdown(meta, '') ? null : head;
  return { ...meta, extra: { ...meta.extra, [SOURCE_FRONTMATTER_KEY]: value } };
}

/** The recorded front matter block; null: the author's block is the canonical one; undefined: none recorded. */
export function sourceFrontmatterOf(meta: FileMetadata): string | null | undefined {
  const v = meta.extra[SOURCE_FRONTMATTER_KEY];
  return typeof v === 'string' || v === null ? v : undefined;
}

/** `meta` as hosts see it (GetCrdtFile, ListCrdtFiles): the recorded block is this plugin's own. */
export function withoutSourceFrontmatter(meta: FileMetadata): FileMetadata {
  if (!(SOURCE_FRONTMATTER_KEY in meta.extra)) return meta;
  const extra = { ...meta.extra };
  delete extra[SOURCE_FRONTMATTER_KEY];
  return { ...meta, extra };
}

/**
 * The metadata as a file can state it: no `_` keys in extra, and attachments
 * by path only (their hash, size, type and upload time are filled by hosts
 * that move the bytes, and never written to the file).
 */
function publicView(meta: FileMetadata): FileMetadata {
  const extra: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(meta.extra)) if (!k.startsWith('_')) extra[k] = v;
  return { ...meta, extra, attachments: meta.attachments.map((a) => ({ ...localBinaryRef(a.path), deleted: a.deleted })) };
}

/** Whether two entries state the same front matter (modified_at and `_` keys aside). */
export function sameStatedMetadata(a: FileMetadata, b: FileMetadata): boolean {
  return metadataContentEqual(publicView(a), publicView(b));
}

/** What `head` followed by `body` states, or null when that text would not split into exactly these two. */
function readHead(key: string, head: string, body: string): { metadata: FileMetadata; timed: boolean } | null {
  // Only the first few characters of the body decide where a closing `---` is found.
  const start = body.slice(0, 8);
  if (head === '') {
    if (splitFrontmatter(body).yaml !== null) return null;
  } else {
    const split = splitFrontmatter(head + start);
    if (split.yaml === null || split.body !== start) return null;
  }
  let timed = true;
  try {
    const { metadata } = parseFileMarkdown(key, head === '' ? '' : head + start, () => {
      timed = false;
      return 0;
    });
    return { metadata, timed };
  } catch {
    return null;
  }
}

/** `head` with its one top-level `updated:` line set to `at`, or null when it has not exactly one. */
function retime(head: string, at: number): string | null {
  const lines = head.split('\n');
  const found = lines.flatMap((line, i) => (/^updated[ \t]*:[ \t]*\S/.test(line) ? [i] : []));
  if (found.length !== 1) return null;
  const i = found[0];
  const formatted = formatRfc3339Millis(at);
  const cr = lines[i].endsWith('\r') ? '\r' : '';
  lines[i] = `updated: ${formatted === null ? formatJsonNumber(at) : yamlString(formatted)}${cr}`;
  return lines.join('\n');
}

/** `head` (or `head` with its `updated` line moved) when it states exactly `meta`; null otherwise. */
function fit(
  key: string,
  head: string,
  meta: FileMetadata,
  body: string,
  untimedOk: boolean,
  read: { metadata: FileMetadata; timed: boolean } | null = readHead(key, head, body),
): string | null {
  const expected = publicView(meta);
  if (read === null || !metadataContentEqual(publicView(read.metadata), expected)) return null;
  if (!read.timed) return untimedOk ? head : null;
  const at = Math.trunc(meta.modified_at);
  if (read.metadata.modified_at === at) return head;
  const moved = retime(head, at);
  if (moved === null) return null;
  const again = readHead(key, moved, body);
  return again !== null && again.timed && again.metadata.modified_at === at && metadataContentEqual(publicView(again.metadata), expected)
    ? moved
    : null;
}

/**
 * The file text for `meta` and `body`: the recorded front matter block, else
 * the one of `diskText` (the file as it is now), when it states `meta`; the
 * canonical rendering otherwise. A block without `updated` is used only when
 * the author's block has none either.
 */
export function renderFaithful(key: string, meta: FileMetadata, body: string, diskText: string | null): string {
  const source = sourceFrontmatterOf(meta);
  // The author wrote the original's format: so does every device.
  if (source === null) return renderFileMarkdown(meta, body);
  const sourceRead = source === undefined ? null : readHead(key, source, body);
  const sourceUntimed = sourceRead?.timed === false;
  if (source !== undefined) {
    const fitted = fit(key, source, meta, body, sourceUntimed, sourceRead);
    if (fitted !== null) return fitted + body;
  }
  const diskHead = diskText === null ? null : frontmatterHead(diskText);
  if (diskHead !== null && diskHead !== source) {
    const fitted = fit(key, diskHead, meta, body, sourceUntimed);
    if (fitted !== null) return fitted + body;
  }
  return renderFileMarkdown(meta, body);
}
