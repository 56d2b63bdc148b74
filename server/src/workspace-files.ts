/**
 * Reading and writing the workspace doc's file table (common/src/workspace/schema.ts): the
 * top-level Y.Map `files` maps a normalised workspace-relative key to a JSON
 * string of FileMetadata. Entries are never removed; `deleted: true` is a
 * tombstone. Body docs hold the markdown body in the Y.Text `body`.
 */
import * as Y from 'yjs';
import { parseMetadata, serializeMetadata, type FileMetadata } from '../../common/src/workspace/metadata';
import { aliasKeys, compareKeys, isTempFile, normalizeSyncKey } from '../../common/src/workspace/paths';
import { BODY_TEXT_NAME, FILES_MAP_NAME } from '../../common/src/workspace/schema';

/** One entry of the file table. */
export interface WorkspaceFile {
  key: string;
  metadata: FileMetadata;
}

/**
 * Every entry of the file table, aliases (`x`, `./x`, `/x`) merged: the larger
 * `modified_at` wins, on a tie a live entry beats a tombstone. Values that are
 * not FileMetadata JSON (by serde's rules) and temp-file keys are skipped.
 * Sorted by key (code point order).
 */
export function readWorkspaceFiles(doc: Y.Doc): WorkspaceFile[] {
  const byKey = new Map<string, FileMetadata>();
  doc.getMap<unknown>(FILES_MAP_NAME).forEach((value, rawKey) => {
    const key = normalizeSyncKey(rawKey);
    if (key === '' || isTempFile(key) || typeof value !== 'string') return;
    const meta = parseMetadata(value);
    if (!meta) return;
    const prev = byKey.get(key);
    if (!prev || meta.modified_at > prev.modified_at || (meta.modified_at === prev.modified_at && prev.deleted && !meta.deleted)) {
      byKey.set(key, meta);
    }
  });
  return [...byKey.entries()].sort(([a], [b]) => compareKeys(a, b)).map(([key, metadata]) => ({ key, metadata }));
}

/** Entries that are not tombstones. */
export function activeWorkspaceFiles(doc: Y.Doc): WorkspaceFile[] {
  return readWorkspaceFiles(doc).filter((f) => !f.metadata.deleted);
}

/** Writes one entry (JSON in serde field order) and removes its alias keys. Call inside a transaction. */
export function writeFileMetadata(doc: Y.Doc, key: string, metadata: FileMetadata): void {
  const files = doc.getMap<unknown>(FILES_MAP_NAME);
  files.set(key, serializeMetadata(metadata));
  for (const alias of aliasKeys(key)) if (files.has(alias)) files.delete(alias);
}

/** The body text of a body doc. */
export function readBodyText(doc: Y.Doc): string {
  return doc.getText(BODY_TEXT_NAME).toString();
}

/** Replaces a body doc's text with one delete and one insert around the common prefix and suffix; no-op when equal. */
export function writeBodyText(doc: Y.Doc, next: string): void {
  const text = doc.getText(BODY_TEXT_NAME);
  const current = text.toString();
  if (current === next) return;
  let start = 0;
  const max = Math.min(current.length, next.length);
  while (start < max && current.charCodeAt(start) === next.charCodeAt(start)) start++;
  let end = 0;
  while (end < max - start && current.charCodeAt(current.length - 1 - end) === next.charCodeAt(next.length - 1 - end)) end++;
  // Never split a surrogate pair.
  if (start > 0 && isHighSurrogate(current.charCodeAt(start - 1))) start--;
  if (end > 0 && isLowSurrogate(current.charCodeAt(current.length - end))) end--;
  doc.transact(() => {
    const removed = current.length - start - end;
    if (removed > 0) text.delete(start, removed);
    const inserted = next.slice(start, next.length - end);
    if (inserted.length > 0) text.insert(start, inserted);
  });
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
