/**
 * What a SyncSession needs from the documents it syncs.
 *
 * The session speaks the wire protocol (frames, y-sync messages, control
 * texts, handshake, replies); it owns no Y.Doc and touches no disk. Everything
 * about the workspace doc, the body docs, echo suppression and disk writes
 * sits behind `SessionDocs`, implemented over the workspace CRDT and the body
 * doc manager. Which bodies the server answered, and their state at that
 * answer, is the session's own bookkeeping (sync-ledger.ts).
 *
 * Keys: a file key is the workspace CRDT key of a file (its normalized,
 * workspace-relative path such as `notes/a.md`). Keys taken from incoming
 * `body:` doc ids are passed exactly as received; implementations normalise
 * them when they need to. All update bytes are Yjs update format v1; state
 * vectors are `Y.encodeStateVector` output.
 */

export type { RuntimeSession } from './runtime-session';

/** How a remote workspace update arrived: in a SyncStep2 (`sync`) or as an Update (`remote`). */
export type RemoteOrigin = 'sync' | 'remote';

/** A local Y update waiting to be sent: its full doc id and a complete y-sync message (usually `[0,2,len,update]`). */
export interface LocalUpdate {
  docId: string;
  data: Uint8Array;
}

/** Result of applying remote updates to one body doc. */
export interface BodyApplyResult {
  /** The body text after applying when it differs from the text before, else null. */
  content: string | null;
  /** True when `content` equals the text this client last wrote or loaded for the file (no event, no disk write). */
  isEcho: boolean;
}

/** Options for applying remote body updates. */
export interface BodyApplyOptions {
  /** Write the file (front matter from workspace metadata + body) when the body changed and is not an echo. */
  writeToDisk: boolean;
  /** The file is focused; a doc that is not focused may be unloaded after applying. */
  focused: boolean;
}

export interface SessionDocs {
  // ---- workspace doc ----

  /** State vector of the workspace doc. */
  workspaceStateVector(): Uint8Array;
  /** Update holding everything the workspace doc has beyond `remoteStateVector`; throws on a malformed vector. */
  encodeWorkspaceDiff(remoteStateVector: Uint8Array): Uint8Array;
  /** Applies one remote update; returns changed file keys without metadata echoes, writes them to disk when `writeToDisk`; throws when Yjs rejects it. */
  applyWorkspaceUpdate(update: Uint8Array, origin: RemoteOrigin, writeToDisk: boolean): string[];
  /** Applies the full state of a `crdt_state` message (origin `sync`), and, when `writeToDisk` and the workspace has no files on disk yet, materialises every file; throws on failure. */
  applyCrdtState(state: Uint8Array, writeToDisk: boolean): void;
  /** True while the workspace doc holds structs or deletes waiting for missing earlier updates. */
  workspaceHasPendingStructs(): boolean;

  // ---- file set ----

  /** Keys of all non-deleted files, in a stable order. */
  activeFileKeys(): string[];
  /** True when `key` names a non-deleted file of the workspace doc. */
  isActiveFile(key: string): boolean;
  /** Key of the active file a host path (absolute or workspace-relative, any alias) names, or null. */
  resolveFileKey(path: string): string | null;
  /** True when the file of `key` exists on disk. */
  fileExistsOnDisk(key: string): boolean;

  // ---- body docs ----

  /**
   * How many of `wanted` body SyncStep1s this input may send (each costs the
   * host a few calls: loading the body, sending the frame); at least a few
   * when any are wanted, so the bootstrap always moves on. The rest wait for
   * the next input.
   */
  claimBodyRequests(wanted: number): number;
  /**
   * An empty body doc of `key` gets the text of the file on disk (queued as a
   * local update): right away, or after the server's first answer for the
   * body is applied, when the server's text must come first.
   */
  ensureBodyLoaded(key: string): void;
  /** True when a body doc of `key` exists (loaded or stored); never creates one. */
  hasBody(key: string): boolean;
  /** The guid of the body doc of `key` now (another one once the doc is made again), or null when there is none. */
  bodyDocGuid(key: string): string | null;
  /** State vector of the body doc of `key` (creating an empty doc when there is none). */
  bodyStateVector(key: string): Uint8Array;
  /** Update holding everything the body doc has beyond `remoteStateVector`; throws on a malformed vector. */
  encodeBodyDiff(key: string, remoteStateVector: Uint8Array): Uint8Array;
  /** Applies remote updates (origin remote) in order, writes the file when asked; throws when Yjs rejects one. */
  applyBodyUpdates(key: string, updates: readonly Uint8Array[], options: BodyApplyOptions): BodyApplyResult;
  /** True while the body doc holds structs or deletes waiting for missing earlier updates. */
  bodyHasPendingStructs(key: string): boolean;

  // ---- local changes ----

  /** Takes the local updates produced since the last call, oldest first. */
  drainLocalUpdates(): LocalUpdate[];
  /** The doc ids of local updates waiting to be taken (drainLocalUpdates), each once. */
  queuedLocalDocIds(): string[];
}
