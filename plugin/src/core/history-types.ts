/** The shapes of the version history (history.ts) and of its stored form (history-codec.ts). */
import type { FileMetadata } from '../../../common/src/workspace/metadata';

export interface HistoryEntry {
  update_id: number;
  timestamp: number;
  origin: string;
  files_changed: string[];
  device_id: string | null;
  device_name: string | null;
}

export interface StoredUpdate extends HistoryEntry {
  doc_name: string;
  update: Uint8Array;
}

export type ChangeType = 'Added' | 'Modified' | 'Deleted' | 'Restored';

export interface FileDiff {
  path: string;
  change_type: ChangeType;
  old_metadata: FileMetadata | null;
  new_metadata: FileMetadata | null;
}

export interface HistoryOptions {
  /** Keep every entry newer than this many days (default 7). */
  keepAllDays?: number;
  /** Budget for the update bytes of all entries (default 4 MiB; bases not counted). */
  maxBytes?: number;
  /** Name of the workspace doc (default "workspace"). */
  workspaceDocName?: string;
  /** Storage key prefix (default "history"). */
  storagePrefix?: string;
  /** Chunk size for storage values (default and maximum 512 KiB). */
  chunkBytes?: number;
}

export interface RecordOptions {
  /** Files changed; default [docName] for body docs, [] for the workspace doc. */
  filesChanged?: string[];
  deviceId?: string | null;
  deviceName?: string | null;
}

/** The log of one doc: a base snapshot covering ids <= baseUpTo, then entries in id order. */
export interface DocLog {
  name: string;
  baseUpTo: number;
  base: Uint8Array | null;
  entries: StoredUpdate[];
  /** Entries [0, thinned) are already reduced to one per day. */
  thinned: number;
}
