/**
 * Text control messages on the sync WebSocket (JSON text frames).
 *
 * Server to client: file_manifest, crdt_state, sync_complete, session_joined,
 * peer_joined, peer_left, session_ended, sync_progress, focus_list_changed,
 * read_only_changed. Client to server: `{"type":"FilesReady"}` (the exact text
 * the plugin sends) or `files_ready`, focus, unfocus, and
 * `{"action":"leave"|"save","doc":id}`.
 *
 * Parsing follows the original's serde rules so a message is accepted or
 * ignored exactly as the Rust plugin would: required fields must be present
 * with the right JSON type, defaulted fields (`peer_count`, `files` and
 * `client_is_new` of a manifest) may be absent, unknown fields are ignored.
 * Encoders write keys in alphabetical order, as the original server's
 * `serde_json::json!` objects serialise.
 */

/** The exact text the plugin sends to finish the Files-Ready handshake (21 bytes). */
export const FILES_READY_TEXT = '{"type":"FilesReady"}';
/** The snake_case spelling other clients send; servers accept both. */
export const FILES_READY_SNAKE_TEXT = '{"type":"files_ready"}';

/** One entry of a `file_manifest`. */
export interface FileManifestEntry {
  doc_id: string;
  filename: string;
  title: string | null;
  part_of: string | null;
  deleted: boolean;
}

export type ControlMessage =
  | { type: 'file_manifest'; files: FileManifestEntry[]; client_is_new: boolean }
  | { type: 'crdt_state'; state: string }
  | { type: 'sync_complete'; files_synced: number }
  | { type: 'session_joined'; joinCode: string | null; workspaceId: string | null; readOnly: boolean | null }
  | { type: 'peer_joined'; guest_id: string | null; peer_count: number }
  | { type: 'peer_left'; guest_id: string | null; peer_count: number }
  | { type: 'session_ended' }
  | { type: 'sync_progress'; completed: number; total: number }
  | { type: 'focus_list_changed'; files: string[] }
  | { type: 'read_only_changed'; read_only: boolean }
  | { type: 'FilesReady' }
  | { type: 'files_ready' }
  | { type: 'focus'; files: string[] }
  | { type: 'unfocus'; files: string[] }
  | { type: 'doc_action'; action: 'leave' | 'save'; doc: string };

type Json = Record<string, unknown>;

/** Sentinel for "present with the wrong type": the whole message is rejected. */
const BAD = Symbol('bad');

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function count(o: Json, key: string, fallback?: number): number | typeof BAD {
  const v = o[key];
  if (v === undefined && fallback !== undefined) return fallback;
  return isCount(v) ? v : BAD;
}

function stringList(v: unknown): string[] | typeof BAD {
  if (!Array.isArray(v)) return BAD;
  for (const s of v) if (typeof s !== 'string') return BAD;
  return v as string[];
}

function optString(o: Json, key: string): string | null {
  const v = o[key];
  return typeof v === 'string' ? v : null;
}

/** Manifest entries are taken as loosely as the original (it keeps them as raw JSON values). */
function manifestEntry(v: unknown): FileManifestEntry {
  const o: Json = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
  return {
    doc_id: optString(o, 'doc_id') ?? '',
    filename: optString(o, 'filename') ?? '',
    title: optString(o, 'title'),
    part_of: optString(o, 'part_of'),
    deleted: o.deleted === true,
  };
}

function parseObject(o: Json): ControlMessage | null {
  const type = o.type;
  if (typeof type !== 'string') {
    if ((o.action === 'leave' || o.action === 'save') && typeof o.doc === 'string') {
      return { type: 'doc_action', action: o.action, doc: o.doc };
    }
    return null;
  }
  switch (type) {
    case 'file_manifest': {
      const files = o.files === undefined ? [] : o.files;
      if (!Array.isArray(files)) return null;
      const isNew = o.client_is_new === undefined ? false : o.client_is_new;
      if (typeof isNew !== 'boolean') return null;
      return { type, files: files.map(manifestEntry), client_is_new: isNew };
    }
    case 'crdt_state':
      return typeof o.state === 'string' ? { type, state: o.state } : null;
    case 'sync_complete': {
      const n = count(o, 'files_synced');
      return n === BAD ? null : { type, files_synced: n };
    }
    case 'session_joined':
      return {
        type,
        joinCode: optString(o, 'joinCode'),
        workspaceId: optString(o, 'workspaceId'),
        readOnly: typeof o.readOnly === 'boolean' ? o.readOnly : null,
      };
    case 'peer_joined':
    case 'peer_left': {
      const n = count(o, 'peer_count', 0);
      if (n === BAD) return null;
      return { type, guest_id: optString(o, 'guestId') ?? optString(o, 'guest_id'), peer_count: n };
    }
    case 'session_ended':
      return { type };
    case 'sync_progress': {
      const completed = count(o, 'completed');
      const total = count(o, 'total');
      return completed === BAD || total === BAD ? null : { type, completed, total };
    }
    case 'focus_list_changed': {
      const files = stringList(o.files);
      return files === BAD ? null : { type, files };
    }
    case 'focus':
    case 'unfocus':
      // The server accepts these with or without a usable file list.
      return { type, files: Array.isArray(o.files) ? o.files.filter((f): f is string => typeof f === 'string') : [] };
    case 'read_only_changed':
      return typeof o.read_only === 'boolean' ? { type, read_only: o.read_only } : null;
    case 'FilesReady':
    case 'files_ready':
      return { type };
    default:
      return null;
  }
}

/**
 * Parses a control message. Returns null for non-JSON text, a non-object,
 * an unknown type, or a known type with missing or mistyped required fields.
 * Never throws.
 */
export function parseControlMessage(text: string): ControlMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  return parseObject(value as Json);
}

/** True for the Files-Ready reply in either spelling. */
export function isFilesReady(msg: ControlMessage | null): boolean {
  return msg !== null && (msg.type === 'FilesReady' || msg.type === 'files_ready');
}

// ---- server to client ----

/** `file_manifest`; entry keys and message keys in alphabetical order. */
export function encodeFileManifest(files: readonly FileManifestEntry[], clientIsNew: boolean): string {
  return JSON.stringify({
    client_is_new: clientIsNew,
    files: files.map((f) => ({
      deleted: f.deleted,
      doc_id: f.doc_id,
      filename: f.filename,
      part_of: f.part_of,
      title: f.title,
    })),
    type: 'file_manifest',
  });
}

/** `{"state":<base64>,"type":"crdt_state"}` */
export function encodeCrdtState(stateBase64: string): string {
  return JSON.stringify({ state: stateBase64, type: 'crdt_state' });
}

/** `{"files_synced":n,"type":"sync_complete"}` */
export function encodeSyncComplete(filesSynced: number): string {
  return JSON.stringify({ files_synced: filesSynced, type: 'sync_complete' });
}

/** `session_joined`, sent to share-session guests before the manifest. */
export function encodeSessionJoined(joinCode: string, workspaceId: string, readOnly: boolean): string {
  return JSON.stringify({ joinCode, readOnly, type: 'session_joined', workspaceId });
}

/** `{"guestId":..,"peer_count":n,"type":"peer_joined"}` */
export function encodePeerJoined(guestId: string, peerCount: number): string {
  return JSON.stringify({ guestId, peer_count: peerCount, type: 'peer_joined' });
}

/** `{"guestId":..,"peer_count":n,"type":"peer_left"}` */
export function encodePeerLeft(guestId: string, peerCount: number): string {
  return JSON.stringify({ guestId, peer_count: peerCount, type: 'peer_left' });
}

/** `{"type":"session_ended"}` */
export function encodeSessionEnded(): string {
  return JSON.stringify({ type: 'session_ended' });
}

/** `{"completed":n,"total":n,"type":"sync_progress"}` */
export function encodeSyncProgress(completed: number, total: number): string {
  return JSON.stringify({ completed, total, type: 'sync_progress' });
}

/** `{"files":[..],"type":"focus_list_changed"}` */
export function encodeFocusListChanged(files: readonly string[]): string {
  return JSON.stringify({ files, type: 'focus_list_changed' });
}

/** `{"read_only":b,"type":"read_only_changed"}` */
export function encodeReadOnlyChanged(readOnly: boolean): string {
  return JSON.stringify({ read_only: readOnly, type: 'read_only_changed' });
}

// ---- client to server ----

/** `{"type":"focus","files":[..]}` */
export function encodeFocus(files: readonly string[]): string {
  return JSON.stringify({ type: 'focus', files });
}

/** `{"type":"unfocus","files":[..]}` */
export function encodeUnfocus(files: readonly string[]): string {
  return JSON.stringify({ type: 'unfocus', files });
}

/** `{"action":"leave"|"save","doc":id}` */
export function encodeDocAction(action: 'leave' | 'save', doc: string): string {
  return JSON.stringify({ action, doc });
}
