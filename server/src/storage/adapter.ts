/**
 * The storage adapter interface: what the sync core needs to persist Yjs
 * documents, reduced to bytes keyed by doc id (`workspace:<ws>`,
 * `body:<ws>/<path>`, or a legacy bare workspace id).
 *
 * A document is stored as a base snapshot (a merged Yjs update, written by
 * compaction) plus an append-only log of updates written after it. Loading
 * applies the snapshot and then every logged update in order.
 *
 * Every implementation must pass `runStorageAdapterTests` (storage-adapter-tests.ts).
 */

/** One document as stored. */
export interface StoredDocument {
  /** The base state written by the last compaction; null if the document was never compacted. */
  snapshot: Uint8Array | null;
  /** Updates appended after the base, oldest first. */
  updates: Uint8Array[];
  /**
   * Sequence number of the newest update in `updates`, 0 when the log is empty.
   * Pass it to `compact` to fold exactly these updates into a new base.
   */
  lastSeq: number;
  /** Sum of the byte lengths of `updates`. */
  updateBytes: number;
}

/** Persistence of Yjs documents as bytes. Values are copied in and out: callers may reuse their buffers. */
export interface StorageAdapter {
  /** Loads a document; one never written loads as `{snapshot: null, updates: [], lastSeq: 0, updateBytes: 0}`. */
  load(docId: string): Promise<StoredDocument>;

  /**
   * Appends one update to the document's log. When the promise resolves the
   * update is durable (it survives a crash of the process). Resolves to the
   * update's sequence number, strictly greater than every earlier one of the
   * same document (SQLite numbers all documents together, Postgres each
   * document 1, 2, 3, ... without gaps).
   */
  appendUpdate(docId: string, update: Uint8Array): Promise<number>;

  /**
   * Atomically replaces the base snapshot with `snapshot` and deletes the logged
   * updates with a sequence number <= `throughSeq`. Sharp edge: updates appended
   * after `throughSeq` are kept, so `snapshot` must contain everything up to
   * `throughSeq` and nothing is lost by a concurrent append.
   */
  compact(docId: string, snapshot: Uint8Array, throughSeq: number): Promise<void>;

  /**
   * Ids of stored documents whose id starts with `prefix`, sorted by code unit.
   * Sharp edge: a plain string prefix, so `workspace:a` also matches `workspace:ab`;
   * end the prefix with a separator (`body:ws/`) to list one workspace.
   */
  list(prefix: string): Promise<string[]>;

  /** Deletes a document's snapshot and log; removing an unknown id is a no-op. */
  remove(docId: string): Promise<void>;

  /** Releases the adapter; every later call rejects with a StorageError. Calling it twice is a no-op. */
  close(): Promise<void>;

  /**
   * Attachment metadata (which workspace holds which blob, uploads in
   * progress). Optional: an adapter without it gets the server's SQLite
   * database (the one auth uses) for this. The blob bytes are never here;
   * they are files under the data folder (attachments/blob-store.ts).
   */
  readonly attachments?: AttachmentMetaStore;
}

/**
 * A blob held by a workspace under one path: counted once per hash in its owner's quota, readable
 * through that workspace. Equal bytes uploaded under two paths are two records of one blob, so the
 * listing answers for either path.
 */
export interface AttachmentRecord {
  workspaceId: string;
  /** sha256 hex of the bytes (lowercase). */
  hash: string;
  size: number;
  mimeType: string;
  /** The workspace-relative path it was uploaded as (references without a hash match by path). */
  path: string;
  /** When it was last uploaded (or announced as already held) under `path`, ms since the epoch. */
  createdAt: number;
  /** Since when no entry of the workspace references it (ms), null while referenced. */
  unreferencedSince: number | null;
}

/** A resumable upload in progress (its parts are files under the data folder). */
export interface UploadRecord {
  uploadId: string;
  workspaceId: string;
  hash: string;
  size: number;
  mimeType: string;
  partSize: number;
  totalParts: number;
  attachmentPath: string;
  entryPath: string;
  createdAt: number;
}

/**
 * Attachment metadata store. An adapter that has one is held to the
 * attachment tests of `runStorageAdapterTests` (storage-adapter-tests.ts).
 * Records are copied in and out; `put*` replaces the record with the same key.
 */
export interface AttachmentMetaStore {
  /** Inserts or replaces the record of (workspaceId, hash, path). */
  putAttachment(record: AttachmentRecord): Promise<void>;
  /** A record of the blob in the workspace (the first by path), null when the workspace holds none. */
  getAttachment(workspaceId: string, hash: string): Promise<AttachmentRecord | null>;
  /** The records of one workspace, or of every workspace when `workspaceId` is null; sorted by workspace, hash, then path. */
  listAttachments(workspaceId: string | null): Promise<AttachmentRecord[]>;
  /** Removes the record of (workspaceId, hash, path); removing an unknown record is a no-op. */
  removeAttachment(workspaceId: string, hash: string, path: string): Promise<void>;
  putUpload(record: UploadRecord): Promise<void>;
  getUpload(uploadId: string): Promise<UploadRecord | null>;
  /** Every upload in progress, oldest first. */
  listUploads(): Promise<UploadRecord[]>;
  removeUpload(uploadId: string): Promise<void>;
}

/** What `readSince` returns: everything of a document after a cursor, read in one snapshot of the database. */
export interface LogRead {
  /** The base state when reading from 0, or when compaction folded updates after the cursor into it (else null). */
  snapshot: Uint8Array | null;
  /** Updates after the cursor and after the base, oldest first. */
  updates: { seq: number; data: Uint8Array }[];
  /** Last sequence number handed out for the document (0 = none). */
  head: number;
}

/** Wake-ups from other nodes: `onWake(docId, seq)` after another writer committed seq; `onReconnect` after missed ones may be lost. */
export interface ChangeFeed {
  start(onWake: (docId: string, seq: number) => void, onReconnect: () => void): Promise<void>;
  /** Whether wake-ups are being received now. */
  readonly up: boolean;
  close(): Promise<void>;
}

/**
 * A store several server processes share (Postgres): per-document gap-free
 * sequence numbers, so a node that applied seq 1..c reads exactly what it
 * lacks with `readSince(doc, c)`, and a feed that says when to read.
 */
export interface SharedLogStorage extends StorageAdapter {
  readonly shared: true;
  readSince(docId: string, afterSeq: number): Promise<LogRead>;
  /** Head sequence numbers of the given documents (missing ones are 0). */
  heads(docIds: string[]): Promise<Map<string, number>>;
  /**
   * `compact` under a per-document lock across processes: 'busy' when another
   * process is compacting this document, 'nothing' when a newer base is already
   * stored (nothing changed), else 'done'.
   */
  tryCompact(docId: string, snapshot: Uint8Array, throughSeq: number): Promise<'done' | 'busy' | 'nothing'>;
  openFeed(): ChangeFeed;
  /** Whether the database answers (health checks). */
  ping(): Promise<boolean>;
}

/** Whether a storage adapter is shared between processes. */
export function isSharedLog(storage: StorageAdapter): storage is SharedLogStorage {
  return (storage as Partial<SharedLogStorage>).shared === true;
}

/** An empty stored document. */
export function emptyStoredDocument(): StoredDocument {
  return { snapshot: null, updates: [], lastSeq: 0, updateBytes: 0 };
}
