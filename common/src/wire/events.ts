/**
 * Sync events: the `SyncEvent` values a session emits, their JSON inside an
 * action envelope, and the different JSON the guest passes to
 * `host_emit_event`.
 *
 * Envelope JSON follows the original's serde layout: `type` first (camelCase
 * tag), then the fields in declared order, field names in snake_case, compact.
 * The host event JSON comes from untyped JSON objects in the original, which
 * serialise with keys in alphabetical order; `hostEventFor` builds its objects
 * in that order so `JSON.stringify` reproduces it.
 */

/** Connection states carried by `statusChanged`. */
export type SyncState = 'connecting' | 'connected' | 'syncing' | 'synced' | 'reconnecting' | 'disconnected';

/** `status` of a `statusChanged` event; `attempt` only for `reconnecting`. */
export type SyncStatus =
  | { state: 'connecting' | 'connected' | 'syncing' | 'synced' | 'disconnected' }
  | { state: 'reconnecting'; attempt: number };

export type SyncEvent =
  | { type: 'statusChanged'; status: SyncStatus }
  | { type: 'progress'; completed: number; total: number }
  | { type: 'filesChanged'; files: string[] }
  | { type: 'bodyChanged'; file_path: string; body: string }
  | { type: 'error'; message: string }
  | { type: 'peerJoined'; peer_count: number }
  | { type: 'peerLeft'; peer_count: number }
  | { type: 'syncComplete'; files_synced: number }
  | { type: 'focusListChanged'; files: string[] };

/** Rebuilds the status object with its fields in declared order. */
function orderedStatus(status: SyncStatus): SyncStatus {
  return status.state === 'reconnecting' ? { state: 'reconnecting', attempt: status.attempt } : { state: status.state };
}

/** Compact JSON of an event, `type` first, then fields in declared order. */
export function serializeSyncEvent(e: SyncEvent): string {
  switch (e.type) {
    case 'statusChanged':
      return JSON.stringify({ type: e.type, status: orderedStatus(e.status) });
    case 'progress':
      return JSON.stringify({ type: e.type, completed: e.completed, total: e.total });
    case 'filesChanged':
      return JSON.stringify({ type: e.type, files: e.files });
    case 'bodyChanged':
      return JSON.stringify({ type: e.type, file_path: e.file_path, body: e.body });
    case 'error':
      return JSON.stringify({ type: e.type, message: e.message });
    case 'peerJoined':
      return JSON.stringify({ type: e.type, peer_count: e.peer_count });
    case 'peerLeft':
      return JSON.stringify({ type: e.type, peer_count: e.peer_count });
    case 'syncComplete':
      return JSON.stringify({ type: e.type, files_synced: e.files_synced });
    case 'focusListChanged':
      return JSON.stringify({ type: e.type, files: e.files });
  }
}

/**
 * The object the guest passes to `host_emit_event` for an event, keys in
 * alphabetical order. `reconnecting` loses its attempt count, `filesChanged`
 * becomes a `SyncCompleted` with the number of files, `error` a
 * `SyncStatusChanged` with status `error`, as in the original.
 */
export function hostEventFor(e: SyncEvent): Record<string, unknown> {
  switch (e.type) {
    case 'statusChanged':
      return { status: e.status.state, type: 'SyncStatusChanged' };
    case 'progress':
      return { completed: e.completed, total: e.total, type: 'SyncProgress' };
    case 'filesChanged':
      return { doc_name: '', files_synced: e.files.length, type: 'SyncCompleted' };
    case 'bodyChanged':
      return { body: e.body, path: e.file_path, type: 'ContentsChanged' };
    case 'error':
      return { error: e.message, status: 'error', type: 'SyncStatusChanged' };
    case 'peerJoined':
      return { peer_count: e.peer_count, type: 'PeerJoined' };
    case 'peerLeft':
      return { peer_count: e.peer_count, type: 'PeerLeft' };
    case 'syncComplete':
      return { doc_name: '', files_synced: e.files_synced, type: 'SyncCompleted' };
    case 'focusListChanged':
      return { files: e.files, type: 'FocusListChanged' };
  }
}
