/**
 * History commands: versions per workspace and per file, diffs, the state at
 * a version, and restores. A restore is a new local change (it syncs to the
 * other devices like any edit); nothing is rewritten in place.
 */
import * as Y from 'yjs';
import { encodeBase64 } from '../../../common/src/base64';
import { BODY_TEXT_NAME } from '../../../common/src/workspace/schema';
import { metadataContentEqual } from '../../../common/src/workspace/metadata';
import { normalizeSyncKey } from '../../../common/src/workspace/paths';
import type { SyncRuntime } from '../runtime';
import { WORKSPACE_DOC_NAME } from '../history-recording';
import type { CommandTable } from './table';
import { deviceRegistry } from '../devices';
import { markConcurrent } from '../concurrent-edits-log';
import { withoutSourceFrontmatter } from '../../../common/src/workspace/source-frontmatter';
import { automaticSnapshot } from './snapshots';
import { rehydrateBody, removeFile, writeBackFile } from './write-back';
import { CommandError, optionalNumber, requireInteger, requireString, type Params } from './params';

function docName(params: Params): string {
  const name = requireString(params, 'doc_name');
  return name === WORKSPACE_DOC_NAME ? name : normalizeSyncKey(name);
}

function limit(params: Params): number | undefined {
  const n = optionalNumber(params, 'limit');
  return n === null ? undefined : Math.max(0, Math.floor(n));
}

/** Body text of a file as of a history id, from the body doc's log. */
export function bodyTextAt(rt: SyncRuntime, key: string, updateId: number): string | null {
  const state = rt.state.history.stateAt(key, updateId);
  if (state === null) return null;
  const doc = new Y.Doc();
  try {
    Y.applyUpdate(doc, state);
    return doc.getText(BODY_TEXT_NAME).toString();
  } finally {
    doc.destroy();
  }
}

function metadataAt(rt: SyncRuntime, key: string, updateId: number) {
  const files = rt.state.history.filesAt(WORKSPACE_DOC_NAME, updateId);
  return files?.get(key) ?? null;
}

/** Restores a file's body and metadata as of `updateId`, as a new local change written to disk. */
function restoreFile(rt: SyncRuntime, key: string, updateId: number): { restored: boolean } {
  const text = bodyTextAt(rt, key, updateId);
  const meta = metadataAt(rt, key, updateId) ?? rt.state.workspace.getFile(key);
  if (text === null && meta === null) throw new CommandError(`No version ${updateId} of ${key}`);
  writeBackFile(rt, key, meta, text);
  return { restored: true };
}

export const HISTORY_COMMANDS: CommandTable = {
  GetHistory: (rt, p) => {
    // Workspace entries that changed no file (a device naming itself, see devices.ts) are left out.
    const name = docName(p);
    const entries = rt.state.history.list(name).filter((e) => name !== WORKSPACE_DOC_NAME || e.files_changed.length > 0);
    const max = limit(p);
    return deviceRegistry(rt.state).attribute(max === undefined ? entries : entries.slice(0, max), () => name);
  },
  /**
   * Entries of every doc (workspace and bodies) with their doc name, newest
   * first; workspace entries that changed no file (device names) are left out.
   */
  GetWorkspaceHistory: (rt, p) => {
    const max = limit(p) ?? 200;
    const all = rt.state.history
      .docNames()
      .flatMap((name) => rt.state.history.list(name, max + 20).map((e) => ({ ...e, doc_name: name })))
      .filter((e) => e.doc_name !== WORKSPACE_DOC_NAME || e.files_changed.length > 0);
    return markConcurrent(rt.host, deviceRegistry(rt.state).attribute(all.sort((a, b) => b.update_id - a.update_id).slice(0, max), (e) => e.doc_name));
  },
  GetFileHistory: (rt, p) => {
    // listForFile's entries, each with the doc it belongs to (the workspace doc: metadata; the file's own doc: its text).
    const key = normalizeSyncKey(requireString(p, 'file_path'));
    const bodyIds = new Set(rt.state.history.list(key).map((e) => e.update_id));
    const entries = rt.state.history.listForFile(key, limit(p)).map((e) => ({ ...e, doc_name: bodyIds.has(e.update_id) ? key : WORKSPACE_DOC_NAME }));
    return markConcurrent(rt.host, deviceRegistry(rt.state).attribute(entries, (e) => e.doc_name));
  },
  GetVersionDiff: (rt, p) =>
    rt.state.history.diff(docName(p), requireInteger(p, 'from_id'), requireInteger(p, 'to_id')).map((d) => ({
      ...d,
      old_metadata: d.old_metadata && withoutSourceFrontmatter(d.old_metadata),
      new_metadata: d.new_metadata && withoutSourceFrontmatter(d.new_metadata),
    })),
  GetStateAt: (rt, p) => {
    const state = rt.state.history.stateAt(docName(p), requireInteger(p, 'update_id'));
    return state === null ? null : { data: encodeBase64(state) };
  },
  RestoreVersion: (rt, p) => {
    const name = docName(p);
    const id = requireInteger(p, 'update_id');
    if (name === WORKSPACE_DOC_NAME) {
      // Every entry is written back as it was (a new local change that wins
      // over the current values); entries created later become tombstones.
      const files = rt.state.history.filesAt(WORKSPACE_DOC_NAME, id);
      if (files === null) throw new CommandError(`No version ${id} of ${name}`);
      automaticSnapshot(rt, `Before restoring version ${id}`);
      for (const [key, meta] of rt.state.workspace.listFiles({ includeDeleted: true })) {
        if (!files.has(key) && !meta.deleted) removeFile(rt, key);
      }
      for (const [key, meta] of files) {
        const current = rt.state.workspace.getFile(key);
        if (meta.deleted) {
          if (current && !current.deleted) removeFile(rt, key);
          continue;
        }
        const text = bodyTextAt(rt, key, id);
        if (current && !current.deleted && metadataContentEqual(current, meta) && (text === null || text === rt.state.bodies.getBody(key))) continue;
        writeBackFile(rt, key, meta, text);
      }
    } else {
      const text = bodyTextAt(rt, name, id);
      if (text === null) throw new CommandError(`No version ${id} of ${name}`);
      rehydrateBody(rt, name);
      rt.state.bodies.setBody(name, text);
      rt.disk.writeSafely(name);
    }
    return null;
  },
  GetFileVersion: (rt, p) => {
    const key = normalizeSyncKey(requireString(p, 'file_path'));
    const id = requireInteger(p, 'update_id');
    const meta = metadataAt(rt, key, id);
    return { content: bodyTextAt(rt, key, id), metadata: meta && withoutSourceFrontmatter(meta) };
  },
  RestoreFileVersion: (rt, p) => restoreFile(rt, normalizeSyncKey(requireString(p, 'file_path')), requireInteger(p, 'update_id')),
  RestoreDeletedFile: (rt, p) => {
    const key = normalizeSyncKey(requireString(p, 'path'));
    const meta = rt.state.workspace.getFile(key);
    if (!meta) throw new CommandError(`Unknown file: ${key}`);
    if (!meta.deleted) return { restored: false };
    return restoreFile(rt, key, rt.state.history.latestId());
  },
};
