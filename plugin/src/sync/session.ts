/**
 * The sync session: the message-driven protocol state machine of one
 * workspace connection (handshake, frame routing, control texts, body
 * bootstrap). Each input returns the actions the host must perform, in order;
 * the session never calls the host itself and owns no document (see
 * SessionDocs).
 *
 * Behaviour follows the Rust `SyncSession` action for action, with these
 * deliberate differences:
 * - A doc id longer than 255 bytes is never truncated (the original silently
 *   makes long paths collide): the frame is dropped and an `error` event is
 *   emitted instead (frame-out.ts).
 * - After a frame is applied, a doc that still holds pending structs (an
 *   earlier update never arrived; yjs issues 550 and 405) gets a fresh
 *   SyncStep1, so the server sends what is missing. One request per doc until
 *   the gap closes or the connection restarts.
 * - The integrity audit re-requests a focused body whose file is missing on
 *   disk once per connection, not after every frame (body-tracker.ts).
 */
import { decodeBase64 } from '../../../common/src/base64';
import { FILES_READY_TEXT, parseControlMessage } from '../../../common/src/wire/control';
import type { SessionAction } from '../../../common/src/wire/envelope';
import type { SyncEvent } from '../../../common/src/wire/events';
import { decodeFrame, parseDocId, workspaceDocId } from '../../../common/src/wire/frame';
import { encodeSyncStep1 } from '../../../common/src/wire/sync';
import { BodyTracker } from './body-tracker';
import { controlEvent } from './control-events';
import { FrameOut } from './frame-out';
import { GapHeal } from './gap-heal';
import { applyBodyPayload, applyWorkspacePayload } from './session-apply';
import type { LocalUpdate, RuntimeSession, SessionDocs } from './session-host';
import { SyncLedger } from './sync-ledger';
import { LEGAL_MOVES, SessionState, SessionStateError } from './session-state';

export { LEGAL_MOVES, SessionState, SessionStateError } from './session-state';
export { PROGRESS_EVERY } from './body-tracker';

export type SessionLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface SessionConfig {
  /** Workspace id used in doc ids (`workspace:<id>`, `body:<id>/<key>`). */
  workspaceId: string;
  /** Let the docs write remote changes to disk (default true). */
  writeToDisk?: boolean;
  /** Diagnostics sink; the session is silent without one. */
  log?: (level: SessionLogLevel, message: string) => void;
  /** The sync bookkeeping, when it must outlive this session object (a fresh one otherwise). */
  ledger?: SyncLedger;
}

const emit = (event: SyncEvent): SessionAction => ({ type: 'EmitEvent', event });
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class SyncSession implements RuntimeSession {
  private current: SessionState = SessionState.AwaitingConnect;
  private wsId: string;
  private toDisk: boolean;
  private readonly log: (level: SessionLogLevel, message: string) => void;
  private readonly out: FrameOut;
  /** Workspace metadata is in (crdt_state, sync_complete or activation). */
  private metadataReady = false;
  /** `statusChanged synced` already emitted on this connection. */
  private syncedEmitted = false;
  private readonly bodies: BodyTracker;
  /** Local updates received while waiting for the handshake. */
  private handshakeBuffer: LocalUpdate[] = [];
  /** Docs waiting for missing updates, asked for once per gap. */
  private readonly gaps: GapHeal;
  /** Which bodies the server answered and their baselines; reset with the connection. */
  readonly ledger: SyncLedger;

  constructor(
    private readonly docs: SessionDocs,
    config: SessionConfig,
  ) {
    this.wsId = config.workspaceId;
    this.toDisk = config.writeToDisk ?? true;
    this.log = config.log ?? (() => {});
    this.out = new FrameOut((m) => this.log('warn', m));
    this.ledger = config.ledger ?? new SyncLedger();
    this.bodies = new BodyTracker(docs, this.ledger, this.out, () => this.wsId, (m) => this.log('warn', m));
    this.gaps = new GapHeal(this.out, (m) => this.log('info', m));
  }

  get state(): SessionState {
    return this.current;
  }
  get workspaceId(): string {
    return this.wsId;
  }
  get writeToDisk(): boolean {
    return this.toDisk;
  }
  /** Paths currently focused (from the last SyncBodyFiles). */
  get focusedFiles(): readonly string[] {
    return this.bodies.focused;
  }
  /** Body keys still waiting for their first answer. */
  get pendingBodyKeys(): ReadonlySet<string> {
    return this.bodies.pending;
  }

  /** The only way the state changes; throws SessionStateError on an illegal move. */
  transition(to: SessionState): void {
    if (!LEGAL_MOVES[this.current].includes(to)) throw new SessionStateError(this.current, to);
    this.log('debug', `[SyncSession] ${this.current} -> ${to}`);
    this.current = to;
  }

  // ---- inputs ----

  /**
   * The socket opened. With a workspace id the session starts afresh for that
   * workspace (buffered updates dropped, `writeToDisk` defaulting to true), as
   * the original recreates its session; focus is kept either way.
   */
  connected(workspaceId?: string, writeToDisk?: boolean): SessionAction[] {
    if (workspaceId !== undefined) {
      this.wsId = workspaceId;
      this.toDisk = writeToDisk ?? true;
      this.handshakeBuffer = [];
    }
    this.transition(SessionState.WaitingForHandshake);
    this.resetConnectionFlags();
    const actions: SessionAction[] = [];
    this.out.send(actions, workspaceDocId(this.wsId), encodeSyncStep1(this.docs.workspaceStateVector()));
    actions.push(emit({ type: 'statusChanged', status: { state: 'connected' } }));
    return actions;
  }

  /** One binary WebSocket frame arrived. */
  binaryMessage(bytes: Uint8Array): SessionAction[] {
    switch (this.current) {
      case SessionState.AwaitingConnect:
        this.log('warn', '[SyncSession] Binary message received before connect');
        return [];
      case SessionState.WaitingForHandshake: {
        // The server skipped the Files-Ready handshake: go active, then handle the frame.
        const actions = this.transitionToActive();
        actions.push(...this.route(bytes));
        actions.push(...this.bodies.audit(this.toDisk));
        this.maybeSynced(actions);
        return actions;
      }
      case SessionState.Active: {
        const actions = this.route(bytes);
        actions.push(...this.bodies.sendDeferred());
        return actions;
      }
    }
  }

  /** One text WebSocket frame arrived. */
  textMessage(text: string): SessionAction[] {
    switch (this.current) {
      case SessionState.AwaitingConnect:
        this.log('warn', '[SyncSession] Text message received before connect');
        return [];
      case SessionState.WaitingForHandshake:
        return this.handshakeText(text);
      case SessionState.Active: {
        const actions = this.controlText(text);
        actions.push(...this.bodies.sendDeferred());
        return actions;
      }
    }
  }

  /** The host imported the snapshot a DownloadSnapshot asked for. */
  snapshotImported(): SessionAction[] {
    return [{ type: 'SendText', text: FILES_READY_TEXT }];
  }

  /** The socket closed. */
  disconnected(): SessionAction[] {
    if (this.current !== SessionState.AwaitingConnect) this.transition(SessionState.AwaitingConnect);
    this.resetConnectionFlags();
    this.handshakeBuffer = [];
    this.ledger.reset();
    return [emit({ type: 'statusChanged', status: { state: 'disconnected' } })];
  }

  /**
   * A local change to send. `data` must already be a y-sync message; it is
   * framed verbatim with `docId`. Sent when active, buffered during the
   * handshake, dropped when not connected.
   */
  localUpdate(docId: string, data: Uint8Array): SessionAction[] {
    switch (this.current) {
      case SessionState.Active: {
        const actions: SessionAction[] = [];
        this.out.send(actions, docId, data);
        return actions;
      }
      case SessionState.WaitingForHandshake:
        this.handshakeBuffer.push({ docId, data });
        return [];
      case SessionState.AwaitingConnect:
        this.log('debug', '[SyncSession] Dropping local update (awaiting connect)');
        return [];
    }
  }

  /**
   * Drains the docs' local updates and feeds each to localUpdate. The caller
   * runs this after performing an input's actions and repeats until it
   * returns nothing; these actions are dispatched, not part of the input's
   * envelope.
   */
  flushLocalUpdates(): SessionAction[] {
    const actions: SessionAction[] = [];
    for (const u of this.docs.drainLocalUpdates()) actions.push(...this.localUpdate(u.docId, u.data));
    return actions;
  }

  /** The host wants these files' bodies synced now (file opened); only when active (BodyTracker.syncFiles). */
  syncBodyFiles(paths: readonly string[]): SessionAction[] {
    if (this.current !== SessionState.Active) {
      this.log('debug', '[SyncSession] Dropping SyncBodyFiles (not active)');
      return [];
    }
    return this.bodies.syncFiles(paths);
  }

  /**
   * Asks the server for these bodies now (a SyncStep1 each, even when they
   * were answered before on this connection). Only when active; otherwise the
   * next activation asks for every file anyway.
   */
  requestBodies(keys: readonly string[]): SessionAction[] {
    return this.current === SessionState.Active ? this.bodies.request(keys) : [];
  }

  // ---- handshake and control texts ----

  private handshakeText(text: string): SessionAction[] {
    const msg = parseControlMessage(text);
    if (msg === null) {
      this.log('debug', `[SyncSession] Unrecognized text during handshake: ${text}`);
      return [];
    }
    const actions: SessionAction[] = [];
    switch (msg.type) {
      case 'file_manifest':
        actions.push(
          msg.client_is_new
            ? { type: 'DownloadSnapshot', workspaceId: this.wsId }
            : { type: 'SendText', text: FILES_READY_TEXT },
        );
        break;
      case 'crdt_state':
        this.applyCrdtState(msg.state, actions);
        actions.push(...this.transitionToActive());
        actions.push(...this.bodies.audit(this.toDisk));
        this.maybeSynced(actions);
        break;
      case 'session_joined':
        this.log('info', '[SyncSession] Session joined during handshake');
        break;
      case 'sync_complete':
        this.metadataReady = true;
        break;
      default:
        this.log('debug', `[SyncSession] Ignoring ${msg.type} during handshake`);
    }
    return actions;
  }

  private applyCrdtState(state: string, actions: SessionAction[]): void {
    let bytes: Uint8Array;
    try {
      bytes = decodeBase64(state);
    } catch (e) {
      actions.push(emit({ type: 'error', message: `Failed to decode CRDT state: ${errorText(e)}` }));
      return;
    }
    try {
      this.docs.applyCrdtState(bytes, this.toDisk);
    } catch (e) {
      actions.push(emit({ type: 'error', message: `Failed to apply CRDT state: ${errorText(e)}` }));
      return;
    }
    actions.push(emit({ type: 'filesChanged', files: [] }));
    this.metadataReady = true;
  }

  private controlText(text: string): SessionAction[] {
    const msg = parseControlMessage(text);
    if (msg === null) return [];
    if (msg.type !== 'sync_complete') {
      const event = controlEvent(msg);
      return event === null ? [] : [emit(event)];
    }
    this.metadataReady = true;
    const actions = this.bodies.audit(this.toDisk);
    actions.push(emit({ type: 'syncComplete', files_synced: msg.files_synced }));
    this.maybeSynced(actions);
    return actions;
  }

  // ---- activation and body bootstrap ----

  /** Goes active: `syncing`, body SyncStep1 for every unsynced file, then the buffered local updates. */
  private transitionToActive(): SessionAction[] {
    this.transition(SessionState.Active);
    const actions: SessionAction[] = [emit({ type: 'statusChanged', status: { state: 'syncing' } })];
    // Servers that never send sync_complete still count as having delivered metadata.
    this.metadataReady = true;
    const keys = this.docs.activeFileKeys();
    actions.push(...this.bodies.queueStep1(keys, { resetPending: true, withProgress: keys.length > 0, loadFromDisk: true }));
    const buffered = this.handshakeBuffer;
    this.handshakeBuffer = [];
    for (const u of buffered) this.out.send(actions, u.docId, u.data);
    return actions;
  }

  /** Emits `statusChanged synced` once, when metadata is in and no body is pending. */
  private maybeSynced(actions: SessionAction[]): void {
    if (this.metadataReady && this.bodies.pending.size === 0 && !this.syncedEmitted) {
      this.syncedEmitted = true;
      actions.push(...this.bodies.finishProgress());
      actions.push(emit({ type: 'statusChanged', status: { state: 'synced' } }));
    }
  }

  // ---- frame routing ----

  private route(bytes: Uint8Array): SessionAction[] {
    let docId: string;
    let payload: Uint8Array;
    try {
      ({ docId, payload } = decodeFrame(bytes));
    } catch (e) {
      this.log('debug', `[SyncSession] Failed to unframe binary message: ${errorText(e)}`);
      return [];
    }
    const parsed = parseDocId(docId);
    if (parsed === null) {
      this.log('debug', `[SyncSession] Unknown doc_id: ${docId}`);
      return [];
    }
    return parsed.kind === 'workspace' ? this.routeWorkspace(docId, payload) : this.routeBody(docId, parsed.key, payload);
  }

  private routeWorkspace(docId: string, payload: Uint8Array): SessionAction[] {
    let outcome;
    try {
      outcome = applyWorkspacePayload(this.docs, payload, this.toDisk);
    } catch (e) {
      this.log('error', `[SyncSession] Error handling workspace message: ${errorText(e)}`);
      return [emit({ type: 'error', message: `CRDT error: ${errorText(e)}` })];
    }
    const actions: SessionAction[] = [];
    if (outcome.reply !== null) this.out.send(actions, docId, outcome.reply);
    this.gaps.check(actions, docId, this.docs.workspaceHasPendingStructs(), () => this.docs.workspaceStateVector());
    this.metadataReady = true;
    if (outcome.changedFiles.length > 0) actions.push(emit({ type: 'filesChanged', files: outcome.changedFiles }));
    // Files created (or renamed, restored) elsewhere: the server relays a body's
    // updates only to sockets that opened that body doc, so open it now.
    actions.push(...this.bodies.queueStep1(outcome.changedFiles.filter((key) => this.docs.isActiveFile(key))));
    actions.push(...this.bodies.audit(this.toDisk));
    this.maybeSynced(actions);
    return actions;
  }

  private routeBody(docId: string, key: string, payload: Uint8Array): SessionAction[] {
    const focused = this.bodies.isFocused(key);
    if (!focused && !this.docs.isActiveFile(key)) {
      this.log('debug', `[SyncSession] Ignoring stale body message for inactive doc_id=${docId}`);
      return this.bodies.answerInactive(docId, key, payload);
    }
    let outcome;
    try {
      outcome = applyBodyPayload(this.docs, key, payload, { writeToDisk: this.toDisk, focused }, () => this.ledger.recordBaseline(this.docs, key));
    } catch (e) {
      this.log('error', `[SyncSession] Error handling body message for ${key}: ${errorText(e)}`);
      return [];
    }
    this.ledger.markBodySynced(this.docs, key);
    this.bodies.answered(key);
    const actions: SessionAction[] = [];
    if (outcome.reply !== null) this.out.send(actions, docId, outcome.reply);
    this.gaps.check(actions, docId, this.docs.bodyHasPendingStructs(key), () => this.docs.bodyStateVector(key));
    const change = outcome.change;
    if (change !== null && change.content !== null && !change.isEcho) actions.push(emit({ type: 'bodyChanged', file_path: key, body: change.content }));
    actions.push(...this.bodies.audit(this.toDisk));
    this.maybeSynced(actions);
    return actions;
  }

  // ---- per-connection flags ----

  private resetConnectionFlags(): void {
    this.metadataReady = false;
    this.syncedEmitted = false;
    this.bodies.resetConnection();
    this.gaps.reset();
    this.out.reset();
  }
}
