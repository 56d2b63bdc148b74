/**
 * CRDT commands of the Rust plugin's embedded sync plugin: workspace doc,
 * body docs, y-sync helpers and sync-manager bookkeeping. Parameter and
 * result shapes follow the original; binary results are base64 strings.
 */
import * as Y from 'yjs';
import { encodeBase64 } from '../../../common/src/base64';
import { workspaceDocId } from '../../../common/src/wire/frame';
import { decodeSyncMessages, encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate, concatBytes, SyncMessageError } from '../../../common/src/wire/sync';
import { ORIGIN_REMOTE, ORIGIN_SYNC } from '../core/origin';
import { metadataFromJson, type BinaryRef, type FileMetadata } from '../../../common/src/workspace/metadata';
import { withoutSourceFrontmatter } from '../../../common/src/workspace/source-frontmatter';
import { normalizeSyncKey } from '../../../common/src/workspace/paths';
import type { SyncRuntime } from '../runtime';
import type { BodyApplyResult } from '../sync/session-host';
import type { CommandTable } from './table';
import { CommandError, dataResult, optionalBool, requireBytes, requireString, type Params } from './params';

const WORKSPACE_DOC = 'workspace';

/** The Rust plugin's test for the workspace doc's name (`workspace`, or `<id>:workspace`). */
function isWorkspaceDocName(name: string): boolean {
  return name === WORKSPACE_DOC || name.endsWith(':workspace');
}

/**
 * `write_to_disk` of the delegated sync commands: false unless given, as in
 * the Rust plugin (a host that wants the files written says so).
 */
function writeToDiskParam(params: Params): boolean {
  return optionalBool(params, 'write_to_disk') ?? false;
}

function applyOrFail(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    throw new CommandError(`Failed to apply update: ${(e as Error).message}`);
  }
}

/** Applies a remote body update as the session does: the body's state afterwards is its synced baseline. */
function applyRemoteBody(rt: SyncRuntime, key: string, update: Uint8Array, writeToDisk: boolean): BodyApplyResult {
  const result = rt.docs.applyBodyUpdates(key, [update], { writeToDisk, focused: true });
  rt.docs.ledger.recordBaseline(rt.docs, key);
  return result;
}

function stateVectorParam(params: Params, key: string): Uint8Array {
  const sv = requireBytes(params, key);
  try {
    Y.decodeStateVector(sv);
  } catch (e) {
    throw new CommandError(`Invalid state vector: ${(e as Error).message}`);
  }
  return sv;
}

/**
 * Handles y-sync messages for one doc; returns the concatenated replies. A
 * SyncStep1 is answered with the SyncStep2, followed by this side's own
 * SyncStep1 when `ownStep1` gives its state vector (HandleSyncMessage, as
 * the Rust plugin).
 */
function handleSyncMessage(
  message: Uint8Array,
  diff: (sv: Uint8Array) => Uint8Array,
  apply: (update: Uint8Array, origin: typeof ORIGIN_REMOTE | typeof ORIGIN_SYNC) => void,
  ownStep1?: () => Uint8Array,
): Uint8Array | null {
  let messages;
  try {
    messages = decodeSyncMessages(message);
  } catch (e) {
    if (e instanceof SyncMessageError) throw new CommandError(e.message);
    throw e;
  }
  const replies: Uint8Array[] = [];
  for (const m of messages) {
    if (m.kind === 'step1') {
      replies.push(encodeSyncStep2(diff(m.stateVector)));
      if (ownStep1) replies.push(encodeSyncStep1(ownStep1()));
    }
    else if (m.kind === 'step2') applyOrFail(() => apply(m.update, ORIGIN_SYNC));
    else if (m.kind === 'update') applyOrFail(() => apply(m.update, ORIGIN_REMOTE));
  }
  return replies.length ? concatBytes(replies) : null;
}

/**
 * SetCrdtFile's attachment refs, as the Rust plugin merges them: no refs
 * given keeps the existing ones; given refs stay as given, and one without a
 * hash takes hash, type, size, upload time and source (and the encrypted
 * blob's reference) from the existing ref of that path that has a hash.
 */
function mergeAttachmentRefs(existing: BinaryRef[], incoming: BinaryRef[]): BinaryRef[] {
  if (existing.length === 0) return incoming;
  if (incoming.length === 0) return existing.map((a) => ({ ...a }));
  return incoming.map((a) => {
    if (a.hash !== '') return a;
    const known = existing.find((r) => r.path === a.path && r.hash !== '');
    if (!known) return a;
    const filled: BinaryRef = { ...a, hash: known.hash, mime_type: known.mime_type, size: known.size, uploaded_at: known.uploaded_at, source: known.source };
    if (known.e2ee !== undefined) filled.e2ee = { ...known.e2ee };
    return filled;
  });
}

function bodyName(params: Params): string {
  const name = requireString(params, 'doc_name');
  const key = normalizeSyncKey(name);
  if (key.split('/').includes('..')) throw new CommandError(`Invalid sync path ${JSON.stringify(name)}: contains a '..' component`);
  return key;
}

function workspaceCommands(): CommandTable {
  return {
    GetSyncState: (rt) => dataResult(rt.state.workspace.stateVector()),
    GetFullState: (rt) => dataResult(rt.state.workspace.encodeState()),
    ApplyRemoteUpdate: (rt, p) => {
      const update = requireBytes(p, 'update');
      applyOrFail(() => rt.state.workspace.applyUpdate(update, ORIGIN_REMOTE));
      return { update_id: rt.state.history.latestId() };
    },
    GetMissingUpdates: (rt, p) => dataResult(rt.state.workspace.encodeDiff(stateVectorParam(p, 'remote_state_vector'))),
    SaveCrdtState: (rt) => {
      const errors = rt.save(true);
      if (errors.length) throw new CommandError(errors.join('; '));
      return null;
    },
    GetCrdtFile: (rt, p) => {
      const meta = rt.state.workspace.getFile(normalizeSyncKey(requireString(p, 'path')));
      return meta === null ? null : withoutSourceFrontmatter(meta);
    },
    SetCrdtFile: (rt, p) => {
      const path = requireString(p, 'path');
      const key = normalizeSyncKey(path);
      if (key.split('/').includes('..')) throw new CommandError(`Invalid sync path ${JSON.stringify(path)}: contains a '..' component`);
      const incoming = metadataFromJson(p.metadata);
      if (incoming === null) throw new CommandError('Invalid metadata');
      const existing = rt.state.workspace.getFile(key);
      const merged: FileMetadata = { ...incoming };
      if (existing) merged.attachments = mergeAttachmentRefs(existing.attachments, incoming.attachments);
      if (merged.filename === '') merged.filename = key.split('/').pop() ?? '';
      if (!merged.modified_at) merged.modified_at = rt.state.now();
      rt.state.workspace.setFile(key, merged);
      return null;
    },
    ListCrdtFiles: (rt, p) =>
      rt.state.workspace.listFiles({ includeDeleted: optionalBool(p, 'include_deleted') ?? false }).map(([k, m]) => [k, withoutSourceFrontmatter(m)]),
    CreateWorkspaceSyncStep1: (rt) => dataResult(encodeSyncStep1(rt.state.workspace.stateVector())),
    CreateWorkspaceUpdate: (rt, p) => {
      // Only what a peer at `since_state_vector` lacks, else the whole state.
      const since = p.since_state_vector === undefined || p.since_state_vector === null ? null : stateVectorParam(p, 'since_state_vector');
      const ws = rt.state.workspace;
      return dataResult(encodeSyncUpdate(since === null ? ws.encodeState() : ws.encodeDiff(since)));
    },
    TriggerWorkspaceSync: (rt) => {
      const state = rt.state.workspace.encodeState();
      if (state.length <= 2) return { emitted: false };
      const message = encodeSyncUpdate(state);
      const id = rt.state.workspaceId;
      const active = rt.session !== null && id !== null;
      if (active) rt.execute(rt.session!.localUpdate(workspaceDocId(id!), message));
      return { emitted: active, data: encodeBase64(message) };
    },
    HandleCrdtState: (rt, p) => {
      const state = requireBytes(p, 'state');
      applyOrFail(() => rt.docs.applyCrdtState(state, rt.state.writeToDisk));
      return null;
    },
    HandleWorkspaceSyncMessage: (rt, p) => {
      const message = requireBytes(p, 'message');
      const writeToDisk = writeToDiskParam(p);
      const changed: string[] = [];
      const response = handleSyncMessage(
        message,
        (sv) => rt.state.workspace.encodeDiff(sv),
        (u, origin) => changed.push(...rt.docs.applyWorkspaceUpdate(u, origin === ORIGIN_SYNC ? 'sync' : 'remote', writeToDisk)),
      );
      return { response: response ? encodeBase64(response) : null, changed_files: changed, sync_complete: rt.docs.ledger.workspaceSynced };
    },
    ApplyRemoteWorkspaceUpdateWithEffects: (rt, p) => {
      const update = requireBytes(p, 'update');
      const writeToDisk = writeToDiskParam(p);
      applyOrFail(() => rt.docs.applyWorkspaceUpdate(update, 'remote', writeToDisk));
      return { update_id: rt.state.history.latestId() };
    },
    IsSyncComplete: (rt) => ({ complete: rt.docs.ledger.workspaceSynced }),
    IsWorkspaceSynced: (rt) => ({ synced: rt.docs.ledger.workspaceSynced }),
    MarkSyncComplete: (rt) => {
      rt.docs.ledger.workspaceSynced = true;
      return null;
    },
    ResetSyncState: (rt) => {
      rt.docs.ledger.reset();
      return null;
    },
    GetActiveSyncs: (rt) => rt.docs.ledger.syncedBodies(),
  };
}

function bodyCommands(): CommandTable {
  const bodies = (rt: SyncRuntime) => rt.state.bodies;
  return {
    GetBodyContent: (rt, p) => ({ content: bodies(rt).getBody(bodyName(p)) }),
    SetBodyContent: (rt, p) => {
      bodies(rt).setBody(bodyName(p), requireString(p, 'content'));
      return null;
    },
    ResetBodyDoc: (rt, p) => {
      const key = bodyName(p);
      rt.state.forgetBody(key);
      bodies(rt).getOrCreate(key);
      return null;
    },
    GetBodySyncState: (rt, p) => dataResult(bodies(rt).stateVector(bodyName(p))),
    GetBodyFullState: (rt, p) => dataResult(bodies(rt).encodeState(bodyName(p))),
    ApplyBodyUpdate: (rt, p) => {
      const key = bodyName(p);
      const update = requireBytes(p, 'update');
      applyOrFail(() => bodies(rt).applyUpdate(key, update, ORIGIN_REMOTE));
      return { update_id: rt.state.history.latestId() };
    },
    GetBodyMissingUpdates: (rt, p) => dataResult(bodies(rt).encodeDiff(bodyName(p), stateVectorParam(p, 'remote_state_vector'))),
    SaveBodyDoc: (rt, p) => {
      rt.state.persistence.markBodyDirty(bodyName(p));
      const errors = rt.save();
      if (errors.length) throw new CommandError(errors.join('; '));
      return null;
    },
    SaveAllBodyDocs: (rt) => {
      const errors = rt.save(true);
      if (errors.length) throw new CommandError(errors.join('; '));
      return null;
    },
    ListLoadedBodyDocs: (rt) => bodies(rt).loadedKeys(),
    UnloadBodyDoc: (rt, p) => {
      const key = bodyName(p);
      if (bodies(rt).has(key)) {
        rt.state.persistence.markBodyDirty(key);
        rt.save();
        bodies(rt).remove(key);
      }
      return null;
    },
    InitBodySync: (rt, p) => {
      bodies(rt).getOrCreate(bodyName(p));
      return null;
    },
    CloseBodySync: (rt, p) => {
      rt.docs.ledger.clearBodySynced(bodyName(p));
      return null;
    },
    HandleBodySyncMessage: (rt, p) => {
      const key = bodyName(p);
      const message = requireBytes(p, 'message');
      const writeToDisk = writeToDiskParam(p);
      let content: string | null = null;
      let isEcho = false;
      const response = handleSyncMessage(
        message,
        (sv) => bodies(rt).encodeDiff(key, sv),
        (u) => {
          const r = applyRemoteBody(rt, key, u, writeToDisk);
          if (r.content !== null) {
            content = r.content;
            isEcho = r.isEcho;
          }
        },
      );
      rt.docs.ledger.markBodySynced(rt.docs, key);
      return { response: response ? encodeBase64(response) : null, content, is_echo: isEcho };
    },
    CreateBodySyncStep1: (rt, p) => dataResult(encodeSyncStep1(bodies(rt).stateVector(bodyName(p)))),
    CreateBodyUpdate: (rt, p) => {
      // As the Rust plugin: the body is set, tracked for echo detection, and the doc's whole state goes out.
      const key = bodyName(p);
      const content = requireString(p, 'content');
      bodies(rt).setBody(key, content);
      bodies(rt).trackContent(key, content);
      return dataResult(encodeSyncUpdate(bodies(rt).encodeState(key)));
    },
    IsBodySynced: (rt, p) => ({ synced: rt.docs.ledger.isBodySynced(bodyName(p)) }),
    TrackContent: (rt, p) => {
      bodies(rt).trackContent(requireString(p, 'path'), requireString(p, 'content'));
      return null;
    },
    IsEcho: (rt, p) => ({ is_echo: bodies(rt).isEcho(requireString(p, 'path'), requireString(p, 'content')) }),
    ClearTrackedContent: (rt, p) => {
      bodies(rt).clearTracked(requireString(p, 'path'));
      return null;
    },
    ApplyRemoteBodyUpdateWithEffects: (rt, p) => {
      const key = bodyName(p);
      const update = requireBytes(p, 'update');
      const writeToDisk = writeToDiskParam(p);
      applyOrFail(() => applyRemoteBody(rt, key, update, writeToDisk));
      return { update_id: rt.state.history.latestId() };
    },
  };
}

function syncHelperCommands(): CommandTable {
  return {
    CreateSyncStep1: (rt, p) => {
      const name = requireString(p, 'doc_name');
      const sv = isWorkspaceDocName(name) ? rt.state.workspace.stateVector() : rt.state.bodies.stateVector(normalizeSyncKey(name));
      return dataResult(encodeSyncStep1(sv));
    },
    HandleSyncMessage: (rt, p) => {
      const name = requireString(p, 'doc_name');
      const message = requireBytes(p, 'message');
      const writeToDisk = writeToDiskParam(p);
      const key = normalizeSyncKey(name);
      const response = isWorkspaceDocName(name)
        ? handleSyncMessage(
            message,
            (sv) => rt.state.workspace.encodeDiff(sv),
            (u, o) => rt.docs.applyWorkspaceUpdate(u, o === ORIGIN_SYNC ? 'sync' : 'remote', writeToDisk),
            () => rt.state.workspace.stateVector(),
          )
        : handleSyncMessage(
            message,
            (sv) => rt.state.bodies.encodeDiff(key, sv),
            (u) => applyRemoteBody(rt, key, u, writeToDisk),
            () => rt.state.bodies.stateVector(key),
          );
      // No reply: `null`, as the Rust plugin (not `{data: null}`).
      return response ? { data: encodeBase64(response) } : null;
    },
    CreateUpdateMessage: (_rt, p) => dataResult(encodeSyncUpdate(requireBytes(p, 'update'))),
    ConfigureSyncHandler: (rt, p) => {
      const root = p.workspace_root;
      if (typeof root === 'string') rt.state.workspaceRoot = root;
      return null;
    },
    GetStoragePath: (rt, p) => {
      const path = requireString(p, 'canonical_path');
      const key = normalizeSyncKey(path);
      if (key.split('/').includes('..')) throw new CommandError(`Invalid sync path ${JSON.stringify(path)}: contains a '..' component`);
      return { path: rt.disk.hostPath(key) };
    },
    GetCanonicalPath: (rt, p) => {
      const path = requireString(p, 'storage_path');
      try {
        return { path: rt.disk.keyOf(path) };
      } catch (e) {
        throw new CommandError((e as Error).message);
      }
    },
  };
}

export const CRDT_COMMANDS: CommandTable = {
  ...workspaceCommands(),
  ...bodyCommands(),
  ...syncHelperCommands(),
};
