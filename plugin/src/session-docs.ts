/**
 * SessionDocs over the plugin state: what the sync session needs from the
 * workspace doc, the body docs and the disk. Which bodies the server answered
 * is the session's ledger (sync/sync-ledger.ts), read here where a remote
 * change meets a local one.
 */
import * as Y from 'yjs';
import { parseDocId } from '../../common/src/wire/frame';
import { hasPendingStructs } from '../../common/src/wire/sync';
import { BODY_TEXT_NAME } from '../../common/src/workspace/schema';
import { findConcurrentInserts } from './core/concurrent-edits';
import { ORIGIN_REMOTE, ORIGIN_SYNC } from './core/origin';
import { reportConcurrentEdit } from './concurrent-edits-log';
import { normalizeSyncKey } from '../../common/src/workspace/paths';
import type { WorkspaceDisk } from './disk';
import type { HostBridge } from './host/bridge';
import type { BodyApplyOptions, BodyApplyResult, LocalUpdate, RemoteOrigin, SessionDocs } from './sync/session-host';
import type { PluginState } from './state';
import { SyncLedger } from './sync/sync-ledger';
import { afterDeletedTextRemoved, deferredSeedOutcome, planLocalBody, reusedPathEdit } from './reconcile';

/**
 * Host calls one body SyncStep1 may cost: reading the stored doc, checking
 * the file on disk, sending the frame.
 */
const BODY_REQUEST_COST = 3;
/** Host calls of an export call kept for what follows the requests (writes of answers, events, saves). */
const BODY_REQUEST_RESERVE = 2000;
/** Requests one input may always send, so a bootstrap keeps moving when a call's budget is spent. */
const MIN_BODY_REQUESTS = 32;

export class PluginSessionDocs implements SessionDocs {
  /** Bodies edited locally while no session was active (kept until the server has them). */
  readonly offlineEdits = new Set<string>();
  /**
   * Empty bodies whose file text waits for the server's first answer. Seeding
   * an empty body doc from disk before that would duplicate the text on a
   * device whose file came from the server (snapshot bootstrap) or from a copy
   * of the same workspace: independent inserts of the same text never merge.
   */
  private readonly deferredSeeds = new Set<string>();
  /**
   * Deferred seeds whose file text replaces the deleted file's text on the
   * server (a path reused after a delete), with what this device knew of
   * that text (a state vector; empty when it knew none of it) and whether
   * the doc here is still the deleted file's (not one moved onto the path).
   */
  private readonly replaceSeeds = new Map<string, { known: Map<number, number>; oldDocHere: boolean }>();
  /**
   * The session's sync bookkeeping, kept here across session objects. A body
   * the server answered no longer holds local edits back.
   */
  readonly ledger = new SyncLedger((key) => {
    this.offlineEdits.delete(key);
    this.state.outgoing.unlinkedBodyEdits.delete(key);
  });

  constructor(
    private readonly state: PluginState,
    private readonly disk: WorkspaceDisk,
    /** The host functions used here: the per-call budget and the log. */
    private readonly host: Pick<HostBridge, 'callBudget' | 'reserveCalls' | 'log' | 'storageGet' | 'storageSet'>,
    /** True while the session is active (local updates go out as they are drained). */
    private readonly online: () => boolean,
  ) {}

  // ---- workspace doc ----

  workspaceStateVector(): Uint8Array {
    return this.state.workspace.stateVector();
  }

  encodeWorkspaceDiff(remoteStateVector: Uint8Array): Uint8Array {
    return this.state.workspace.encodeDiff(remoteStateVector);
  }

  applyWorkspaceUpdate(update: Uint8Array, origin: RemoteOrigin, writeToDisk: boolean): string[] {
    const result = this.state.workspace.applyUpdate(update, origin === 'sync' ? ORIGIN_SYNC : ORIGIN_REMOTE);
    this.ledger.workspaceSynced = true;
    // A tombstone written without seeing this device's entry deleted an
    // earlier file at the path (this one was created or renamed here
    // meanwhile): the file here is kept like an unsynced edit.
    const unseen = new Set(result.deletedUnseen);
    const unsynced = (key: string) => this.offlineEdits.has(key) || this.state.outgoing.unlinkedBodyEdits.has(key) || unseen.has(key);
    // A rename seen here is a guess (deleted and created entries paired by
    // title, parent or time), so the old file's body doc and text are not
    // carried over: merged into an unrelated file they would mix both texts.
    // The old file goes like a delete, the new one comes from the server (the
    // renaming device sent its body there). Only text of the old file this
    // device had not sent yet moves along, as a deferred seed (kept as a
    // conflict copy when it differs).
    // An entry deleted without being seen is not the file that moved: it stays (restoreKeptFile).
    const carried = result.renames.filter(([oldKey]) => unsynced(oldKey) && !unseen.has(oldKey));
    for (const [, newKey] of carried) this.deferredSeeds.add(newKey);
    for (const [, newKey] of result.renames) this.ledger.clearBodySynced(newKey);
    // A file that (re)appears is never an echo: its body must be asked for even
    // when the metadata equals what this device last had for the path.
    const changed = result.changed.filter((key) => {
      const meta = this.state.workspace.getFile(key);
      return !(meta && this.disk.isMetadataEcho(key, meta) && !result.appeared.includes(key));
    });
    if (writeToDisk && (changed.length > 0 || carried.length > 0)) {
      const kept = this.disk.applyRemoteChanges(changed, carried, unsynced);
      for (const key of kept) this.restoreKeptFile(key);
    }
    if (writeToDisk) {
      // Entries whose content this file already has but whose `updated` time
      // moved (a save elsewhere that only touched the body): the line follows.
      const echoed = result.changed.filter((key) => !changed.includes(key));
      for (const key of [...result.retimed, ...echoed]) {
        const meta = this.state.workspace.getFile(key);
        if (meta && this.disk.exists(key) && !this.disk.isMetadataEcho(key, meta, true)) this.disk.writeSafely(key);
      }
    }
    return changed;
  }

  /** A remote delete met an unsynced local edit: bring the entry back with the local text. */
  private restoreKeptFile(key: string): void {
    const meta = this.state.workspace.getFile(key);
    const text = this.disk.read(key);
    if (!meta || text === null) return;
    const parsed = this.disk.parseLocal(key, text);
    this.state.workspace.setFile(key, { ...parsed.metadata, deleted: false, modified_at: this.state.now() });
    if (this.bodyIsEmpty(key) && !this.ledger.isBodySynced(key)) {
      // The body doc here has nothing yet (dropped when the workspace was linked by upload, or
      // never loaded) and the server has not answered for it: the file's text goes on top of the
      // server's text once that is in (see deferredSeeds), never as a second copy of it.
      this.deferredSeeds.add(key);
      this.offlineEdits.add(key);
    } else {
      this.state.bodies.setBody(key, parsed.body);
    }
    // The entry's `updated` time moved: the file's front matter follows.
    this.disk.writeSafely(key);
    this.host.log('info', `[sync] kept ${key}: it was deleted on another device but has local changes that device had not seen`);
  }

  applyCrdtState(update: Uint8Array, writeToDisk: boolean): void {
    const changed = this.applyWorkspaceUpdate(update, 'sync', writeToDisk);
    if (!writeToDisk) return;
    const written = new Set(changed);
    for (const key of this.state.workspace.activeKeys()) {
      if (!written.has(key) && !this.disk.exists(key)) this.disk.writeSafely(key);
    }
  }

  workspaceHasPendingStructs(): boolean {
    return hasPendingStructs(this.state.workspace.doc);
  }

  // ---- file set ----

  activeFileKeys(): string[] {
    return this.state.workspace.activeKeys();
  }

  isActiveFile(key: string): boolean {
    return this.state.workspace.isActive(key);
  }

  resolveFileKey(path: string): string | null {
    let key: string;
    try {
      key = this.disk.keyOf(path);
    } catch {
      key = normalizeSyncKey(path);
    }
    return this.isActiveFile(key) ? key : null;
  }

  fileExistsOnDisk(key: string): boolean {
    return this.disk.exists(key);
  }

  // ---- body docs ----

  claimBodyRequests(wanted: number): number {
    const host = this.host;
    const affordable = Math.floor((host.callBudget() - BODY_REQUEST_RESERVE) / BODY_REQUEST_COST);
    const granted = Math.min(wanted, Math.max(affordable, MIN_BODY_REQUESTS));
    // The frames are sent after the session returns: count them now, so a
    // second claim in the same call sees them.
    host.reserveCalls(granted);
    return granted;
  }

  ensureBodyLoaded(key: string): void {
    if (this.bodyIsEmpty(key) && this.disk.exists(key)) this.deferredSeeds.add(key);
  }

  private bodyIsEmpty(key: string): boolean {
    return !this.state.bodies.has(key) || this.state.bodies.getBody(key) === '';
  }

  /**
   * The entry point for a body read from a local file (file events, the
   * folder scan, write-backs); commands that edit a doc directly use
   * BodyDocManager.setBody. A local file's body goes into its body doc; an empty doc of a linked
   * workspace is seeded only once the server has answered for it (see
   * deferredSeeds), unless the session is active right now.
   *
   * A file written at the path of a deleted entry is different: the server's
   * body doc for that path may still hold the deleted file's text, which this
   * device's doc does not know. Its text replaces the server's once the
   * server has answered (see replaceSeeds). Returns true when the body waits
   * for that answer.
   */
  setLocalBody(key: string, body: string): boolean {
    const meta = this.state.workspace.getFile(key);
    const plan = planLocalBody({
      linked: this.state.workspaceId !== null,
      entryDeleted: meta !== null && meta.deleted,
      online: this.online,
      docEmpty: () => this.bodyIsEmpty(key),
    });
    if (plan === 'replace-deleted') {
      let seed = this.replaceSeeds.get(key);
      if (seed === undefined) {
        const bodies = this.state.bodies;
        const dropped = this.state.droppedBodyClocks.get(key);
        this.state.droppedBodyClocks.delete(key);
        const here = dropped === undefined ? bodies.knownClocks(key) : null;
        seed = { known: dropped ?? here ?? new Map(), oldDocHere: here !== null };
        this.replaceSeeds.set(key, seed);
      }
      this.deferredSeeds.add(key);
      // Text the server has not seen: a remote delete meanwhile must keep the file.
      this.offlineEdits.add(key);
      const edit = reusedPathEdit({ oldDocHere: seed.oldDocHere, docEmpty: () => this.bodyIsEmpty(key) });
      if (edit === 'replace-whole') this.state.bodies.replaceBody(key, body);
      else if (edit === 'minimal-edit') this.state.bodies.setBody(key, body);
      return true;
    }
    if (plan === 'wait-for-server') {
      this.deferredSeeds.add(key);
      this.offlineEdits.add(key);
      return true;
    }
    this.deferredSeeds.delete(key);
    this.replaceSeeds.delete(key);
    this.state.bodies.setBody(key, body);
    return false;
  }

  hasBody(key: string): boolean {
    return this.state.bodies.has(key);
  }

  bodyDocGuid(key: string): string | null {
    return this.state.bodies.get(key)?.guid ?? null;
  }

  bodyStateVector(key: string): Uint8Array {
    return this.state.bodies.stateVector(key);
  }

  encodeBodyDiff(key: string, remoteStateVector: Uint8Array): Uint8Array {
    return this.state.bodies.encodeDiff(key, remoteStateVector);
  }

  applyBodyUpdates(key: string, updates: readonly Uint8Array[], options: BodyApplyOptions): BodyApplyResult {
    const bodies = this.state.bodies;
    const before = bodies.has(key) ? bodies.getBody(key) : '';
    // Read before the remote text may be written to the file below.
    const seed = this.deferredSeeds.has(key) ? this.disk.readBody(key) : null;
    // What this device had for a file written at a deleted path, before the server's text came in.
    const mine = this.replaceSeeds.has(key) ? (bodies.knownClocks(key) ?? undefined) : undefined;
    for (const update of updates) {
      // Typed at the same place as text here, without knowing it: merged by the CRDT, and told.
      const doc = bodies.get(key);
      const concurrent = doc ? findConcurrentInserts(doc, BODY_TEXT_NAME, update) : null;
      const beforeId = concurrent ? this.state.history.latestId() : 0;
      bodies.applyUpdate(key, update, ORIGIN_REMOTE);
      if (concurrent) reportConcurrentEdit(this.state, this.host, key, concurrent, beforeId, this.state.history.latestId());
    }
    this.applyDeferredSeed(key, seed, mine);
    const after = bodies.getBody(key);
    if (after === before) return { content: null, isEcho: false };
    const isEcho = bodies.isEcho(key, after);
    if (!isEcho) {
      bodies.trackContent(key, after);
      if (options.writeToDisk) this.disk.writeSafely(key);
    }
    return { content: after, isEcho };
  }

  bodyHasPendingStructs(key: string): boolean {
    const doc: Y.Doc | undefined = this.state.bodies.get(key);
    return doc !== undefined && hasPendingStructs(doc);
  }

  /**
   * The server's state for a deferred body is in. A file that only this
   * device had is seeded from disk. When the server already had other text
   * for it, the server's text stays and this device's differing text is kept
   * beside it as a conflict copy, so nothing is lost.
   */
  private applyDeferredSeed(key: string, diskBody: string | null, mine?: Map<number, number>): void {
    if (!this.deferredSeeds.delete(key)) return;
    const replaced = this.replaceSeeds.get(key);
    if (replaced !== undefined) {
      this.replaceSeeds.delete(key);
      this.replaceDeletedText(key, diskBody, replaced.known, mine);
      return;
    }
    const outcome = deferredSeedOutcome(diskBody, () => this.state.bodies.getBody(key));
    if (outcome === 'seed') this.state.bodies.setBody(key, diskBody!);
    else if (outcome === 'conflict-copy') this.disk.writeConflictCopy(key, diskBody!);
  }

  /**
   * A file written at a deleted path: the deleted file's text goes. Text that
   * another device wrote there since (a file it also wrote at that path) is
   * not the deleted file's: it stays, and this device's differing text is
   * kept beside it as a conflict copy. What this device knew of the deleted
   * file tells the two apart; text it cannot place is kept (a deleted
   * file's text coming back is better than another device's new text lost).
   */
  private replaceDeletedText(key: string, diskBody: string | null, known: Map<number, number>, mine?: Map<number, number>): void {
    if (diskBody === null) return;
    const bodies = this.state.bodies;
    const foreign = bodies.deleteKnownText(key, known, mine);
    const outcome = afterDeletedTextRemoved(diskBody, foreign, bodies.getBody(key));
    if (outcome === 'set') bodies.setBody(key, diskBody);
    else if (outcome === 'conflict-copy') this.disk.writeConflictCopy(key, diskBody);
  }

  // ---- local changes ----

  queuedLocalDocIds(): string[] {
    return this.state.outgoing.docIds();
  }

  drainLocalUpdates(): LocalUpdate[] {
    const updates = this.state.outgoing.drain();
    if (!this.online()) {
      // Not sent now: remember the bodies until the server has answered for them.
      for (const u of updates) {
        const parsed = parseDocId(u.docId);
        if (parsed?.kind === 'body') this.offlineEdits.add(parsed.key);
      }
    }
    return updates;
  }
}
