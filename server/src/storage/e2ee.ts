/**
 * Storage of end-to-end encrypted workspaces (server/README.md): opaque envelopes per
 * doc with gap-free per-doc sequence numbers, the doc's client-made snapshot,
 * the workspace key record and the workspace change numbers. The server never
 * opens an envelope; it stores the bytes it was given.
 *
 * Per doc: rows `snapSeq+1 .. head`, no hole, no duplicate. A doc's appends
 * are serialised (in the appending transaction), and each bumps the
 * workspace's `changeHead` into the doc's `changeNo` (Changes filters on it).
 *
 * Every implementation must pass `runEncryptedStoreTests` (e2ee-store-tests.ts).
 */

/** The stored key record of a workspace: JSON text as the server normalised it, and its generation. */
export interface KeyRecordRow {
  record: string;
  gen: number;
}

export type PutKeysResult =
  | { ok: true; gen: number }
  /** `gen` did not match: the record stays as it is (null: none yet). */
  | { ok: false; current: KeyRecordRow | null };

export type AppendOutcome =
  /** Stored at `seq` (`duplicate`: the same key and bytes were stored before, at `seq`; nothing changed). */
  | { kind: 'stored'; seq: number; duplicate: boolean; logCount: number; logBytes: number; head: number }
  /** The key was stored with other bytes. */
  | { kind: 'conflict' }
  /** The doc would exceed `maxDocBytes`. */
  | { kind: 'quota' };

/** What a cursor read returns, read in one snapshot of the database. */
export interface EnvelopeRead {
  head: number;
  snapSeq: number;
  /** The current snapshot's id; 16 zero bytes when none. */
  snapId: Uint8Array;
  /** The snapshot envelope when the read started before `snapSeq` (else null). */
  snapshot: Uint8Array | null;
  /** Envelopes after max(after, snapSeq), oldest first, cut at the byte limit. */
  envelopes: { seq: number; data: Uint8Array }[];
  /** Envelopes after the last one returned exist (the byte limit cut the read). */
  more: boolean;
  /** Rows and bytes after snapSeq (the compaction thresholds compare these). */
  logCount: number;
  logBytes: number;
}

export interface SnapshotRequest {
  envelope: Uint8Array;
  snapId: Uint8Array;
  /** The snapshot this one replaces (16 zero bytes for the first). */
  prevSnapId: Uint8Array;
  coversSeq: number;
}

export interface SnapshotOutcome {
  stored: boolean;
  /** The doc's snapshot id and seq after the call (the new ones when stored, else the current ones). */
  snapId: Uint8Array;
  snapSeq: number;
}

export interface ChangedDocs {
  changeHead: number;
  /** Doc ids (`e2e:<ws>/<tag>`) whose change number is above the one asked for, with their heads. */
  docs: { docId: string; head: number }[];
}

export interface EncryptedStore {
  /** The key record, or null while the workspace is not encrypted. */
  getKeys(workspaceId: string): Promise<KeyRecordRow | null>;
  /**
   * Stores `record` (JSON text whose gen the caller set to `expectGen + 1`)
   * when the stored generation is `expectGen` (0 when there is none); the
   * first one marks the workspace encrypted for good.
   */
  putKeys(workspaceId: string, expectGen: number, record: string): Promise<PutKeysResult>;
  /**
   * Appends an envelope to an encrypted workspace's doc, idempotent by
   * `clientKey`. Rejects with StorageError when the workspace has no key record.
   */
  append(docId: string, workspaceId: string, clientKey: Uint8Array, envelope: Uint8Array, maxDocBytes: number): Promise<AppendOutcome>;
  /** Snapshot (when after < snapSeq) and envelopes after the cursor, at most `maxBytes` unless a single item is larger. */
  read(docId: string, after: number, maxBytes: number): Promise<EnvelopeRead>;
  /** Compare-and-set of the doc's snapshot: prev = current snap id and snapSeq < coversSeq <= head; envelopes <= coversSeq go. */
  putSnapshot(docId: string, request: SnapshotRequest): Promise<SnapshotOutcome>;
  /** Docs of the workspace changed after change number `after`. */
  changes(workspaceId: string, after: number): Promise<ChangedDocs>;
  /** Head sequence numbers of the given docs (unknown ones are 0). */
  heads(docIds: string[]): Promise<Map<string, number>>;
  /** Sets the doc's hint time to `now` unless it was set less than `intervalMs` before; whether it did. */
  markHinted(docId: string, now: number, intervalMs: number): Promise<boolean>;
}

/** 16 zero bytes: "no snapshot yet". */
export const NO_SNAP_ID = new Uint8Array(16);

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Workspace id of `e2e:<ws>/<tag>`. */
export function workspaceOfEncryptedDoc(docId: string): string {
  const rest = docId.slice('e2e:'.length);
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(0, slash);
}
