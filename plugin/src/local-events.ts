/**
 * `on_event`: file and workspace events from the host turn local changes into
 * CRDT changes (which the docs queue as local updates for the session).
 *
 * - file_saved {path, body_changed?=true} / file_created {path}: read the file,
 *   set the body doc to its body (minimal edit), remember it for echo
 *   suppression, store its front matter as metadata when it changed, and
 *   refresh the old and new parent index entries.
 * - file_deleted {path}: drop the body doc, tombstone the entry, refresh the parent.
 * - file_renamed / file_moved {old_path, new_path}: move the body doc, tombstone
 *   the old key, store the new one, refresh both parents.
 * - workspace_opened {workspace_root}: remember the root.
 * - file_opened {path}: ask the session to sync that body now.
 * Events for files that do not exist are logged and change nothing.
 */
import { PathError } from '../../common/src/workspace/paths';
import type { FileMetadata } from '../../common/src/workspace/metadata';
import { ORIGIN_LOCAL } from './core/origin';
import { localMetadataUnchanged } from './disk';
import { FileTooLargeError } from './file-limits';
import type { SyncRuntime } from './runtime';
import type { SessionAction } from '../../common/src/wire/envelope';

export interface GuestEvent {
  event_type: string;
  payload: Record<string, unknown>;
}

/** Parses `{"event_type": str, "payload": {...}}`; throws on anything else. */
export function parseGuestEvent(input: string): GuestEvent {
  const v = JSON.parse(input) as unknown;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('invalid event: expected a JSON object');
  const { event_type, payload } = v as { event_type?: unknown; payload?: unknown };
  if (typeof event_type !== 'string') throw new Error('invalid event: missing field `event_type`');
  if (payload === undefined) throw new Error('invalid event: missing field `payload`');
  return { event_type, payload: payload && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : {} };
}

const str = (payload: Record<string, unknown>, key: string): string | null =>
  typeof payload[key] === 'string' ? (payload[key] as string) : null;

export class LocalEvents {
  constructor(private readonly rt: SyncRuntime) {}

  private key(path: string, label: string): string | null {
    try {
      return this.rt.disk.keyOf(path);
    } catch (e) {
      if (!(e instanceof PathError)) throw e;
      this.rt.host.log('warn', `[on_event:${label}] ${e.message}`);
      return null;
    }
  }

  /** Handles one event; returns session actions to execute (file_opened). */
  handle(event: GuestEvent): SessionAction[] {
    const p = event.payload;
    switch (event.event_type) {
      case 'file_saved': {
        const path = str(p, 'path');
        return path !== null ? this.fileChanged(path, p.body_changed !== false, 'file_saved') : [];
      }
      case 'file_created': {
        const path = str(p, 'path');
        return path !== null ? this.fileChanged(path, true, 'file_created') : [];
      }
      case 'file_deleted': {
        const path = str(p, 'path');
        if (path !== null) this.fileDeleted(path);
        return [];
      }
      case 'file_renamed':
      case 'file_moved': {
        const oldPath = str(p, 'old_path');
        const newPath = str(p, 'new_path');
        return oldPath !== null && newPath !== null ? this.fileMoved(oldPath, newPath, event.event_type) : [];
      }
      case 'workspace_opened': {
        const root = str(p, 'workspace_root');
        if (root !== null) this.rt.state.workspaceRoot = root;
        return [];
      }
      case 'file_opened': {
        const path = str(p, 'path');
        return path !== null && this.rt.session ? this.rt.session.syncBodyFiles([path]) : [];
      }
      default:
        this.rt.host.log('debug', `Unhandled event type: ${event.event_type}`);
        return [];
    }
  }

  /** The server's state of a body that waits for it (see PluginSessionDocs.setLocalBody). */
  private requestBody(key: string, waits: boolean): SessionAction[] {
    return waits && this.rt.session ? this.rt.session.requestBodies([key]) : [];
  }

  /** Stores the file's body and metadata (nothing when the file cannot be read). */
  private fileChanged(path: string, bodyChanged: boolean, label: string): SessionAction[] {
    const key = this.key(path, label);
    if (key === null) return [];
    const text = this.rt.disk.read(key);
    if (text === null) {
      this.rt.host.log('warn', `[on_event:${label}] read_file failed for ${path}`);
      return [];
    }
    let parsed;
    try {
      parsed = this.rt.disk.parseLocal(key, text);
    } catch (e) {
      this.rt.host.log('warn', `[on_event:${label}] ${(e as Error).message}`);
      return [];
    }
    const state = this.rt.state;
    let waits = false;
    if (bodyChanged) {
      waits = this.rt.docs.setLocalBody(key, parsed.body);
      state.bodies.trackContent(key, parsed.body);
    }
    const previousParent = state.workspace.getFile(key)?.part_of ?? null;
    this.applyMetadata(key, parsed);
    this.refreshParents([previousParent, parsed.metadata.part_of]);
    return this.requestBody(key, waits);
  }

  private applyMetadata(key: string, parsed: { metadata: FileMetadata; timed: boolean }): boolean {
    if (localMetadataUnchanged(this.rt.state.workspace.getFile(key), parsed)) return false;
    return this.rt.state.workspace.setFile(key, parsed.metadata);
  }

  /** Re-reads parent index files so their `contents` follow the host's edits. */
  private refreshParents(parents: (string | null)[]): void {
    for (const parent of new Set(parents.filter((p): p is string => p !== null))) {
      const current = this.rt.state.workspace.getFile(parent);
      const text = this.rt.disk.read(parent);
      if (text === null) continue;
      try {
        const parsed = this.rt.disk.parseLocal(parent, text);
        if (current && !current.deleted) this.applyMetadata(parent, parsed);
      } catch (e) {
        this.rt.host.log('warn', `[on_event] parent ${parent}: ${(e as Error).message}`);
      }
    }
  }

  private fileDeleted(path: string): void {
    const key = this.key(path, 'file_deleted');
    if (key === null) return;
    const state = this.rt.state;
    state.reports.skippedFiles.delete(key);
    const parent = state.workspace.getFile(key)?.part_of ?? null;
    state.forgetBody(key);
    const current = state.workspace.getFile(key);
    if (current && !current.deleted) state.workspace.deleteFile(key, state.now);
    this.refreshParents([parent]);
  }

  private fileMoved(oldPath: string, newPath: string, label: string): SessionAction[] {
    const oldKey = this.key(oldPath, label);
    const newKey = this.key(newPath, label);
    if (oldKey === null || newKey === null) return [];
    const state = this.rt.state;
    // Read the new file first: a move that cannot be read changes nothing.
    const text = this.rt.disk.read(newKey);
    if (text === null) {
      this.rt.host.log('warn', `[on_event:${label}] host_read_file(${newPath}) failed`);
      return [];
    }
    let parsed;
    try {
      parsed = this.rt.disk.parseLocal(newKey, text);
    } catch (e) {
      this.rt.host.log('warn', `[on_event:${label}] ${(e as Error).message}`);
      // A file moved to where it is too large to sync is gone from its old place all the same.
      if (e instanceof FileTooLargeError) this.fileDeleted(oldPath);
      return [];
    }
    // The doc keeps its history under the new key; the server's doc of that
    // key has none of it, so its whole state goes out.
    state.keepDroppedBodyClocks(oldKey);
    // The doc of a deleted file at the new path is about to be replaced by the moved one.
    if (state.workspace.getFile(newKey)?.deleted === true) state.keepDroppedBodyClocks(newKey);
    if (state.bodies.has(oldKey) && state.bodies.rename(oldKey, newKey)) state.queueBodyState(newKey);
    state.history.renameDoc(oldKey, newKey);
    const previousParent = state.workspace.getFile(oldKey)?.part_of ?? null;
    const old = state.workspace.getFile(oldKey);
    state.forgetBody(oldKey);
    const waits = this.rt.docs.setLocalBody(newKey, parsed.body);
    state.bodies.trackContent(newKey, parsed.body);
    // Tombstone and new entry in one update, so other devices see a rename.
    state.workspace.doc.transact(() => {
      if (old && !old.deleted) state.workspace.deleteFile(oldKey, state.now);
      this.applyMetadata(newKey, parsed);
    }, ORIGIN_LOCAL);
    this.refreshParents([previousParent, parsed.metadata.part_of]);
    return this.requestBody(newKey, waits);
  }
}
