/**
 * Reading the past of a doc's log: its state at a kept update id, the
 * workspace `files` map of a state, what changed between two of them
 * (`HistoryManager::diff`), and a restore update holding given files.
 */
import * as Y from 'yjs';
import { metadataEqual, parseMetadata, serializeMetadata, type FileMetadata } from '../../../common/src/workspace/metadata';
import { compareKeys } from '../../../common/src/workspace/paths';
import { FILES_MAP_NAME } from '../../../common/src/workspace/schema';
import type { ChangeType, DocLog, FileDiff } from './history-types';

/** Encoded state of a doc's log after update `updateId`: its base, then its entries up to that id; null before its base. */
export function docStateAt(d: DocLog, updateId: number): Uint8Array | null {
  if (updateId < d.baseUpTo) return null;
  const doc = new Y.Doc();
  try {
    if (d.base) applyQuietly(doc, d.base);
    for (const e of d.entries) {
      if (e.update_id > updateId) break;
      applyQuietly(doc, e.update);
    }
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}

/** Raw `files` map entries of a state (keys as stored, invalid values skipped). */
export function filesFromState(state: Uint8Array): Map<string, FileMetadata> {
  const doc = new Y.Doc();
  try {
    const files = doc.getMap<unknown>(FILES_MAP_NAME);
    Y.applyUpdate(doc, state);
    const out = new Map<string, FileMetadata>();
    files.forEach((value, key) => {
      const json = typeof value === 'string' ? value : value instanceof Y.Text ? value.toString() : null;
      const meta = json === null ? null : parseMetadata(json);
      if (meta !== null) out.set(key, meta);
    });
    return out;
  } finally {
    doc.destroy();
  }
}

/** What changed from the `files` map `from` to `to`, sorted by path. */
export function diffFiles(from: Map<string, FileMetadata>, to: Map<string, FileMetadata>): FileDiff[] {
  const diffs: FileDiff[] = [];
  for (const [path, next] of to) {
    const prev = from.get(path);
    if (prev === undefined) {
      diffs.push({ path, change_type: 'Added', old_metadata: null, new_metadata: next });
    } else if (!metadataEqual(prev, next)) {
      const change_type: ChangeType =
        prev.deleted && !next.deleted ? 'Restored' : !prev.deleted && next.deleted ? 'Deleted' : 'Modified';
      diffs.push({ path, change_type, old_metadata: prev, new_metadata: next });
    }
  }
  for (const [path, prev] of from) {
    if (!to.has(path)) diffs.push({ path, change_type: 'Deleted', old_metadata: prev, new_metadata: null });
  }
  return diffs.sort((a, b) => compareKeys(a.path, b.path));
}

/** A fresh doc holding `files` in its `files` map, encoded as an update. */
export function updateWithFiles(files: Map<string, FileMetadata>): Uint8Array {
  const doc = new Y.Doc();
  try {
    const map = doc.getMap<string>(FILES_MAP_NAME);
    doc.transact(() => {
      for (const [path, meta] of files) map.set(path, serializeMetadata(meta));
    });
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}

function applyQuietly(doc: Y.Doc, update: Uint8Array): void {
  try {
    Y.applyUpdate(doc, update);
  } catch {
    // A stored update that no longer decodes is skipped, as the original storage does.
  }
}
