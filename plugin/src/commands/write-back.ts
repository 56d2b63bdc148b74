/**
 * Writing an older version of a file back (history and snapshot restores) as
 * a new local change: metadata through the workspace doc, the body as one
 * minimal edit of the body doc, the file on disk. Nothing is rewritten in
 * place, so the restore syncs to the other devices like any edit.
 *
 * A body doc that is not loaded (the file was deleted, or never opened) is
 * first rebuilt from its history, so the edit lands on top of the text the
 * server already holds instead of inserting the whole text a second time.
 */
import { renderFaithful } from '../../../common/src/workspace/source-frontmatter';
import { metadataContentEqual, type FileMetadata } from '../../../common/src/workspace/metadata';
import { ORIGIN_SYNC } from '../core/origin';
import type { SyncRuntime } from '../runtime';

/** Loads the body doc of `key` from its history when it is not in memory. */
export function rehydrateBody(rt: SyncRuntime, key: string): void {
  const { bodies, history } = rt.state;
  if (bodies.has(key)) return;
  const state = history.stateAt(key, history.latestId());
  if (state === null || state.length <= 2) return;
  try {
    bodies.applyUpdate(key, state, ORIGIN_SYNC);
  } catch (e) {
    rt.host.log('warn', `[restore] history of ${key} does not load: ${(e as Error).message}`);
  }
}

export interface WriteBackResult {
  metadataChanged: boolean;
  bodyChanged: boolean;
  diskChanged: boolean;
}

/**
 * Makes `key` hold `meta` and `body` again (undeleting it when needed).
 * `meta.modified_at` becomes the host's current time when the metadata changes.
 */
export function writeBackFile(rt: SyncRuntime, key: string, meta: FileMetadata | null, body: string | null): WriteBackResult {
  const { state, disk } = rt;
  const result: WriteBackResult = { metadataChanged: false, bodyChanged: false, diskChanged: false };
  const current = state.workspace.getFile(key);
  if (meta) {
    if (!current || current.deleted || !metadataContentEqual(current, { ...meta, deleted: false })) {
      state.workspace.setFile(key, { ...meta, deleted: false, modified_at: state.now() });
      result.metadataChanged = true;
    }
  } else if (current?.deleted) {
    state.workspace.setFile(key, { ...current, deleted: false, modified_at: state.now() });
    result.metadataChanged = true;
  }
  const finalMeta = state.workspace.getFile(key);
  const diskText = disk.read(key);
  let text = body;
  if (text === null) {
    // Metadata only: keep the body the file has now.
    text = state.bodies.has(key) && state.bodies.getBody(key) !== '' ? state.bodies.getBody(key) : (disk.readBody(key) ?? '');
  } else {
    rehydrateBody(rt, key);
    const before = state.bodies.has(key) ? state.bodies.getBody(key) : null;
    if (before !== text) {
      rt.docs.setLocalBody(key, text);
      result.bodyChanged = true;
    }
  }
  state.bodies.trackContent(key, text);
  if (finalMeta && !finalMeta.deleted) {
    const rendered = renderFaithful(key, finalMeta, text, diskText);
    if (rendered !== diskText) {
      try {
        disk.writeText(key, rendered);
        result.diskChanged = true;
      } catch (e) {
        state.reports.reportError(`writing ${key} failed: ${(e as Error).message}`);
      }
    }
  }
  return result;
}

/** Tombstones `key`, drops its body doc and deletes the file. Returns false when it was not active. */
export function removeFile(rt: SyncRuntime, key: string): boolean {
  const { state, disk } = rt;
  const current = state.workspace.getFile(key);
  if (!current || current.deleted) return false;
  state.forgetBody(key);
  state.workspace.deleteFile(key, state.now);
  try {
    if (disk.exists(key)) disk.deleteKey(key);
  } catch (e) {
    state.reports.reportError(`deleting ${key} failed: ${(e as Error).message}`);
  }
  return true;
}
