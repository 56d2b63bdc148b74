/**
 * An in-memory SessionDocs over real Y.Docs, for tests and tools: a
 * workspace doc whose `files` map holds metadata JSON strings, one Y.Doc per
 * body (`Y.Text` "body"), and a map standing in for the files on disk.
 *
 * Local edits (origin other than `sync`/`remote`) are queued as y-sync Update
 * messages for `drainLocalUpdates`, the way the plugin's own docs queue them.
 */
import * as Y from 'yjs';
import { bodyDocId, workspaceDocId } from '../../../../common/src/wire/frame';
import { encodeSyncUpdate, hasPendingStructs } from '../../../../common/src/wire/sync';
import type {
  BodyApplyOptions,
  BodyApplyResult,
  LocalUpdate,
  RemoteOrigin,
  SessionDocs,
} from '../session-host';
import { BODY_TEXT_NAME, FILES_MAP_NAME } from '../../../../common/src/workspace/schema';

/** Metadata stored per file in the workspace doc. */
export interface MemoryFileMeta {
  title?: string | null;
  deleted?: boolean;
}

const REMOTE_ORIGINS = new Set<unknown>(['sync', 'remote']);

export class MemoryDocs implements SessionDocs {
  readonly workspace: Y.Doc;
  readonly bodies = new Map<string, Y.Doc>();
  /** Body text of each file "on disk", by key. */
  readonly disk = new Map<string, string>();
  private readonly lastKnown = new Map<string, string>();
  private queue: LocalUpdate[] = [];
  /** Every call made by the session, for assertions (`name:arg`). */
  readonly calls: string[] = [];
  /** Body SyncStep1s one input may send (claimBodyRequests); unlimited unless a test sets it. */
  bodyRequestsPerInput = Number.POSITIVE_INFINITY;

  constructor(
    readonly workspaceId: string,
    clientId?: number,
  ) {
    this.workspace = new Y.Doc();
    if (clientId !== undefined) this.workspace.clientID = clientId;
    this.workspace.on('update', (u: Uint8Array, origin: unknown) => {
      if (!REMOTE_ORIGINS.has(origin)) this.queue.push({ docId: workspaceDocId(workspaceId), data: encodeSyncUpdate(u) });
    });
  }

  get files(): Y.Map<string> {
    return this.workspace.getMap<string>(FILES_MAP_NAME);
  }

  // ---- test helpers (local edits) ----

  /** Sets a file's metadata locally and, if given, its body on disk. */
  addFile(key: string, meta: MemoryFileMeta = {}, diskBody?: string): void {
    this.files.set(key, JSON.stringify({ title: meta.title ?? null, deleted: meta.deleted ?? false }));
    if (diskBody !== undefined) this.disk.set(key, diskBody);
  }

  /** Soft-deletes a file locally. */
  deleteFile(key: string): void {
    this.files.set(key, JSON.stringify({ title: null, deleted: true }));
  }

  /** Replaces a body locally, as a file save would. */
  editBody(key: string, text: string): void {
    const t = this.body(key).getText(BODY_TEXT_NAME);
    this.body(key).transact(() => {
      t.delete(0, t.length);
      t.insert(0, text);
    }, 'local');
    this.lastKnown.set(key, text);
    this.disk.set(key, text);
  }

  /** Records text as this client's own for a file (echo suppression), like a file save does. */
  trackContent(key: string, text: string): void {
    this.lastKnown.set(key, text);
  }

  bodyText(key: string): string {
    return this.bodies.get(key)?.getText(BODY_TEXT_NAME).toString() ?? '';
  }

  meta(key: string): MemoryFileMeta | null {
    const raw = this.files.get(key);
    return raw === undefined ? null : (JSON.parse(raw) as MemoryFileMeta);
  }

  body(key: string): Y.Doc {
    let doc = this.bodies.get(key);
    if (!doc) {
      doc = new Y.Doc();
      doc.clientID = this.workspace.clientID;
      doc.on('update', (u: Uint8Array, origin: unknown) => {
        if (!REMOTE_ORIGINS.has(origin)) this.queue.push({ docId: bodyDocId(this.workspaceId, key), data: encodeSyncUpdate(u) });
      });
      this.bodies.set(key, doc);
    }
    return doc;
  }

  // ---- SessionDocs ----

  workspaceStateVector(): Uint8Array {
    return Y.encodeStateVector(this.workspace);
  }
  encodeWorkspaceDiff(remoteStateVector: Uint8Array): Uint8Array {
    return Y.encodeStateAsUpdate(this.workspace, remoteStateVector);
  }
  applyWorkspaceUpdate(update: Uint8Array, origin: RemoteOrigin, writeToDisk: boolean): string[] {
    this.calls.push(`applyWorkspaceUpdate:${origin}`);
    const changed: string[] = [];
    const observer = (e: Y.YMapEvent<string>): void => {
      for (const k of e.keysChanged) changed.push(k);
    };
    this.files.observe(observer);
    try {
      Y.applyUpdate(this.workspace, update, origin);
    } finally {
      this.files.unobserve(observer);
    }
    if (writeToDisk) for (const k of changed) if (this.isActiveFile(k) && !this.disk.has(k)) this.disk.set(k, '');
    return changed;
  }
  applyCrdtState(state: Uint8Array, writeToDisk: boolean): void {
    this.calls.push('applyCrdtState');
    const hadFiles = this.disk.size > 0;
    Y.applyUpdate(this.workspace, state, 'sync');
    if (writeToDisk && !hadFiles) for (const k of this.activeFileKeys()) this.disk.set(k, this.bodyText(k));
  }
  workspaceHasPendingStructs(): boolean {
    return hasPendingStructs(this.workspace);
  }
  activeFileKeys(): string[] {
    const keys: string[] = [];
    this.files.forEach((_v, k) => {
      if (this.isActiveFile(k)) keys.push(k);
    });
    return keys.sort();
  }
  isActiveFile(key: string): boolean {
    const m = this.meta(key);
    return m !== null && !m.deleted;
  }
  resolveFileKey(path: string): string | null {
    const key = path.replace(/^(\.\/|\/)+/, '');
    return this.isActiveFile(key) ? key : null;
  }
  fileExistsOnDisk(key: string): boolean {
    return this.disk.has(key);
  }
  ensureBodyLoaded(key: string): void {
    this.calls.push(`ensureBodyLoaded:${key}`);
    const text = this.body(key).getText(BODY_TEXT_NAME);
    const content = this.disk.get(key);
    if (text.length > 0 || !content) return;
    this.body(key).transact(() => text.insert(0, content), 'local');
    this.lastKnown.set(key, content);
  }
  hasBody(key: string): boolean {
    return this.bodies.has(key);
  }
  bodyDocGuid(key: string): string | null {
    return this.bodies.get(key)?.guid ?? null;
  }
  bodyStateVector(key: string): Uint8Array {
    return Y.encodeStateVector(this.body(key));
  }
  encodeBodyDiff(key: string, remoteStateVector: Uint8Array): Uint8Array {
    return Y.encodeStateAsUpdate(this.body(key), remoteStateVector);
  }
  claimBodyRequests(wanted: number): number {
    return Math.min(wanted, this.bodyRequestsPerInput);
  }
  applyBodyUpdates(key: string, updates: readonly Uint8Array[], options: BodyApplyOptions): BodyApplyResult {
    this.calls.push(`applyBodyUpdates:${key}:${updates.length}`);
    const doc = this.body(key);
    const before = doc.getText(BODY_TEXT_NAME).toString();
    for (const u of updates) Y.applyUpdate(doc, u, 'remote');
    const after = doc.getText(BODY_TEXT_NAME).toString();
    if (after === before) return { content: null, isEcho: false };
    const isEcho = this.lastKnown.get(key) === after;
    if (options.writeToDisk && !isEcho) this.disk.set(key, after);
    return { content: after, isEcho };
  }
  bodyHasPendingStructs(key: string): boolean {
    const doc = this.bodies.get(key);
    return doc !== undefined && hasPendingStructs(doc);
  }
  drainLocalUpdates(): LocalUpdate[] {
    const out = this.queue;
    this.queue = [];
    return out;
  }
  queuedLocalDocIds(): string[] {
    return [...new Set(this.queue.map((u) => u.docId))];
  }
}
