/**
 * The Files-Ready handshake of workspace docs (server/README.md, common/src/wire/PROTOCOL.md) and
 * the routing of doc ids to workspaces.
 *
 * On the first binary frame for `workspace:<ws>` whose doc has active files,
 * the server sends `file_manifest`, holds the doc pending and drops that frame.
 * `client_is_new` is true when that first frame is a SyncStep1 with an empty
 * state vector: the client has no workspace state at all, so it should
 * download the snapshot zip before continuing. The client answers
 * `FilesReady`/`files_ready`; the server then sends `crdt_state` (the full
 * workspace update, when the doc is not empty) and
 * `sync_complete{files_synced: <active files>}`, joins the doc and sends its
 * SyncStep1. Without active files the handshake is skipped.
 */
import * as Y from 'yjs';
import { encodeBase64 } from '../../common/src/base64';
import { encodeCrdtState, encodeSyncComplete, type FileManifestEntry } from '../../common/src/wire/control';
import { bodyDocId, parseDocId } from '../../common/src/wire/frame';
import { decodeSyncMessages } from '../../common/src/wire/sync';
import { isValidWorkspaceId } from './auth';
import { activeWorkspaceFiles, type WorkspaceFile } from './workspace-files';

/** What a doc id refers to. `legacy` is a bare workspace id (no prefix), which the original also accepted. */
export type DocTarget =
  | { kind: 'workspace'; workspaceId: string }
  | { kind: 'body'; workspaceId: string; key: string }
  | { kind: 'legacy'; workspaceId: string };

/** Routes a doc id to its workspace; null for ids the server refuses (bad workspace id, empty body key, unknown prefix). */
export function resolveDocTarget(docId: string): DocTarget | null {
  const parsed = parseDocId(docId);
  if (parsed) {
    if (!isValidWorkspaceId(parsed.workspaceId)) return null;
    if (parsed.kind === 'body' && parsed.key === '') return null;
    return parsed;
  }
  if (!docId.includes(':') && isValidWorkspaceId(docId)) return { kind: 'legacy', workspaceId: docId };
  return null;
}

/** `file_manifest` entries for the active files of a workspace. */
export function manifestEntries(workspaceId: string, files: readonly WorkspaceFile[]): FileManifestEntry[] {
  return files.map((f) => ({
    doc_id: bodyDocId(workspaceId, f.key),
    filename: f.metadata.filename,
    title: f.metadata.title,
    part_of: f.metadata.part_of,
    deleted: false,
  }));
}

/** True when a payload starts with a SyncStep1 carrying an empty state vector (a client with no state). */
export function isFreshClient(payload: Uint8Array): boolean {
  try {
    const first = decodeSyncMessages(payload)[0];
    return first?.kind === 'step1' && Y.decodeStateVector(first.stateVector).size === 0;
  } catch {
    return false;
  }
}

/** The texts that end the handshake: `crdt_state` (skipped for an empty doc) and `sync_complete`. */
export function handshakeReplies(doc: Y.Doc): string[] {
  const state = Y.encodeStateAsUpdate(doc);
  const out: string[] = [];
  // An empty doc encodes as 2 bytes (no structs, no deletes): nothing is stored, so no crdt_state.
  if (state.byteLength > 2) out.push(encodeCrdtState(encodeBase64(state)));
  out.push(encodeSyncComplete(activeWorkspaceFiles(doc).length));
  return out;
}
