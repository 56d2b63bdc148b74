/**
 * Body-doc bookkeeping of a sync session: which bodies wait for the server's
 * first answer (pending), which files the host focused, the SyncStep1
 * bootstrap with its progress events, and the integrity audit of focused
 * files.
 *
 * The audit re-requests a focused body whose file is missing on disk once per
 * connection (until the file appears); the original repeats that after every
 * frame and can ping-pong with the server forever when the answer does not
 * recreate the file.
 */
import type { SessionAction } from '../../../common/src/wire/envelope';
import { bodyDocId } from '../../../common/src/wire/frame';
import { encodeSyncStep1, encodeSyncUpdate } from '../../../common/src/wire/sync';
import type { FrameOut } from './frame-out';
import { answerBodyStep1 } from './session-apply';
import type { SessionDocs } from './session-host';
import type { SyncLedger } from './sync-ledger';

/** Files per `progress` event during the body bootstrap. */
export const PROGRESS_EVERY = 50;

/** A body SyncStep1 waiting to go out. */
interface DeferredRequest {
  key: string;
  /** Counts towards the bootstrap's progress events. */
  progress: boolean;
  /** Load the body from its file first. */
  load: boolean;
}

/** How queueStep1 sends its requests (all off by default). */
export interface Step1Options {
  /** Forget every pending key first (a new connection's bootstrap). */
  resetPending?: boolean;
  /** Report `progress` events while the requests go out. */
  withProgress?: boolean;
  /** Load each body from its file just before its request goes out. */
  loadFromDisk?: boolean;
}

export class BodyTracker {
  /** Body keys whose SyncStep1 is still unanswered. */
  readonly pending = new Set<string>();
  /** Paths the host asked to sync (SyncBodyFiles); kept across reconnects. */
  private focusedPaths: string[] = [];
  /** Focused keys re-requested because their file was missing on disk, this connection. */
  private readonly diskHealed = new Set<string>();
  /** Pending keys whose SyncStep1 has not gone out yet (see queueStep1). */
  private deferred: DeferredRequest[] = [];
  /** Requests of the current bootstrap sent so far, for its `progress` events. */
  private progress: { sent: number; total: number } | null = null;

  constructor(
    private readonly docs: SessionDocs,
    private readonly ledger: SyncLedger,
    private readonly out: FrameOut,
    private readonly workspaceId: () => string,
    private readonly warn: (message: string) => void,
  ) {}

  get focused(): readonly string[] {
    return this.focusedPaths;
  }

  /** Replaces the focus set (paths as the host gave them). */
  setFocus(paths: readonly string[]): void {
    this.focusedPaths = [...new Set(paths)];
  }

  /** True when a focused path is `key` or resolves to it. */
  isFocused(key: string): boolean {
    return this.focusedPaths.some((p) => p === key || this.docs.resolveFileKey(p) === key);
  }

  /**
   * SyncBodyFiles (the session is active): the paths become the focus set;
   * each resolves to a file key (a path without `/` and `.` is taken as a key
   * as is), is loaded from disk unless a SyncStep1 is already out, is
   * re-subscribed with a SyncStep1, and when its doc changed since the last
   * sync its full state follows as an Update.
   */
  syncFiles(paths: readonly string[]): SessionAction[] {
    this.setFocus(paths);
    const keys: string[] = [];
    for (const p of paths) {
      const key = !p.includes('/') && !p.includes('.') ? p : this.docs.resolveFileKey(p);
      if (key !== null) keys.push(key);
    }
    for (const key of keys) if (!this.pending.has(key)) this.docs.ensureBodyLoaded(key);
    for (const key of keys) this.ledger.clearBodySynced(key);
    const actions = this.queueStep1(keys);
    for (const key of keys) {
      if (!this.ledger.bodyChangedSinceSync(this.docs, key)) continue;
      const full = this.ledger.encodeBodyFullUpdate(this.docs, key);
      if (full === null) continue;
      // The original's "skip when <= 2 bytes" guard looks at the wrapped message,
      // which is never that short, so an empty doc's update is sent as well.
      this.out.send(actions, bodyDocId(this.workspaceId(), key), encodeSyncUpdate(full));
    }
    return actions;
  }

  /** Asks for these bodies again (a SyncStep1 each, even when answered on this connection). */
  request(keys: readonly string[]): SessionAction[] {
    for (const key of keys) this.ledger.clearBodySynced(key);
    return this.queueStep1(keys);
  }

  /**
   * A body frame of a file neither active nor focused: nothing is applied.
   * What was dropped must be asked for again if the file comes back; and as
   * the server asks for our side only when we join, its SyncStep1 is answered
   * anyway, so what this device holds is not missing there then.
   */
  answerInactive(docId: string, key: string, payload: Uint8Array): SessionAction[] {
    this.ledger.clearBodySynced(key);
    this.answered(key);
    const actions: SessionAction[] = [];
    if (this.docs.hasBody(key)) {
      let reply: Uint8Array | null = null;
      try {
        reply = answerBodyStep1(this.docs, key, payload);
      } catch {
        reply = null;
      }
      if (reply !== null) this.out.send(actions, docId, reply);
    }
    return actions;
  }

  /** The server answered for `key`. */
  answered(key: string): void {
    this.pending.delete(key);
  }

  /** Forgets pending bodies and disk re-requests (new connection). */
  resetConnection(): void {
    this.pending.clear();
    this.deferred = [];
    this.progress = null;
    this.diskHealed.clear();
  }

  /**
   * Sends a body SyncStep1 for each key not already pending or synced and
   * marks it pending. With `withProgress`: `progress {0, N}` first and
   * `progress {i, N}` after every 50th file, N counting only the keys sent.
   * With `loadFromDisk`, each body is loaded from its file just before its
   * request goes out (the activation bootstrap).
   *
   * Only as many requests go out as the docs allow in this input (a host
   * limits what one plugin call may do); the rest wait in `deferred`, stay
   * pending, and go out with the next inputs (each answer that comes back is
   * one). Requests for a few files (a focused file, files created elsewhere)
   * go before a waiting bootstrap.
   */
  queueStep1(keys: readonly string[], options: Step1Options = {}): SessionAction[] {
    const { resetPending = false, withProgress = false, loadFromDisk = false } = options;
    const actions: SessionAction[] = [];
    if (resetPending) {
      this.pending.clear();
      this.deferred = [];
    }
    const toSend: DeferredRequest[] = [];
    if (!withProgress && this.deferred.length > 0) {
      // Asked for again while its bootstrap request still waits: it goes first.
      const asked = new Set(keys);
      toSend.push(...this.deferred.filter((r) => asked.has(r.key)));
      this.deferred = this.deferred.filter((r) => !asked.has(r.key));
    }
    for (const key of keys) {
      if (key === '' || this.pending.has(key) || this.ledger.isBodySynced(key)) continue;
      if (!this.out.fits(actions, bodyDocId(this.workspaceId(), key))) continue;
      this.pending.add(key);
      toSend.push({ key, progress: withProgress, load: loadFromDisk });
    }
    if (toSend.length === 0) return actions;
    if (withProgress) {
      this.progress = { sent: 0, total: toSend.length };
      actions.push({ type: 'EmitEvent', event: { type: 'progress', completed: 0, total: toSend.length } });
      this.deferred.push(...toSend);
    } else {
      this.deferred.unshift(...toSend);
    }
    actions.push(...this.sendDeferred());
    return actions;
  }

  /**
   * The bootstrap is over (every body answered): `progress {N, N}` when its
   * last event said less, so a host showing the count sees it reach the end.
   */
  finishProgress(): SessionAction[] {
    const p = this.progress;
    this.progress = null;
    if (p === null || (p.sent === p.total && p.total % PROGRESS_EVERY === 0)) return [];
    return [{ type: 'EmitEvent', event: { type: 'progress', completed: p.total, total: p.total } }];
  }

  /** Sends waiting SyncStep1s, as many as the docs allow in this input. */
  sendDeferred(): SessionAction[] {
    const actions: SessionAction[] = [];
    // Keys answered, deleted or re-requested meanwhile need no request of their own.
    this.deferred = this.deferred.filter((r) => this.pending.has(r.key) && !this.ledger.isBodySynced(r.key));
    if (this.deferred.length === 0) return actions;
    const batch = this.deferred.splice(0, this.docs.claimBodyRequests(this.deferred.length));
    for (const request of batch) {
      if (request.load) {
        try {
          this.docs.ensureBodyLoaded(request.key);
        } catch (e) {
          this.warn(`[SyncSession] Failed to load body content for ${request.key}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      this.out.send(actions, bodyDocId(this.workspaceId(), request.key), encodeSyncStep1(this.docs.bodyStateVector(request.key)));
      if (request.progress && this.progress !== null) {
        this.progress.sent++;
        if (this.progress.sent % PROGRESS_EVERY === 0) {
          actions.push({ type: 'EmitEvent', event: { type: 'progress', completed: this.progress.sent, total: this.progress.total } });
        }
      }
    }
    return actions;
  }

  /**
   * Self-heal for focused files: drops pending keys of files that are gone,
   * re-sends SyncStep1 for focused files that are unsynced or (when writing
   * to disk) missing on disk.
   */
  audit(writeToDisk: boolean): SessionAction[] {
    if (this.focusedPaths.length === 0) return [];
    const focusedKeys = new Set<string>();
    for (const p of this.focusedPaths) {
      const key = this.docs.resolveFileKey(p);
      if (key !== null && this.docs.isActiveFile(key)) focusedKeys.add(key);
    }
    for (const key of [...this.pending]) if (!this.docs.isActiveFile(key)) this.pending.delete(key);
    const unsynced = [...focusedKeys].filter((k) => !this.ledger.isBodySynced(k));
    const missing: string[] = [];
    if (writeToDisk) {
      for (const k of focusedKeys) {
        if (this.docs.fileExistsOnDisk(k)) this.diskHealed.delete(k);
        else if (!this.diskHealed.has(k)) missing.push(k);
      }
    }
    const actions: SessionAction[] = [];
    if (missing.length > 0) {
      this.warn(`[SyncSession] Integrity audit: ${missing.length} focused file(s) missing on disk`);
      for (const key of missing) {
        this.diskHealed.add(key);
        this.ledger.clearBodySynced(key);
      }
      actions.push(...this.queueStep1(missing));
    }
    if (unsynced.length > 0) actions.push(...this.queueStep1(unsynced));
    return actions;
  }
}
