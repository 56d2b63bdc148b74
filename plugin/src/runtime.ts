/**
 * The running plugin: state, disk, sync session and transport, and how a
 * session's actions are carried out.
 *
 * Like the Rust plugin, an envelope-returning export both returns the
 * first-level actions (the envelope) and executes them itself through the host:
 * SendBinary/SendText -> host_ws_request, EmitEvent -> the event sink (events.ts),
 * DownloadSnapshot -> DownloadWorkspace then SnapshotImported. After the queue
 * empties it drains the local updates the docs produced and feeds them to the
 * session, until nothing is left.
 */
import { encodeBase64 } from '../../common/src/base64';
import { decodeFrame, parseDocId } from '../../common/src/wire/frame';
import type { SyncEvent } from '../../common/src/wire/events';
import type { SessionAction } from '../../common/src/wire/envelope';
import { WorkspaceDisk } from './disk';
import type { HostBridge } from './host/bridge';
import { loadConfig, resolveAuthToken, resolveServerUrl } from './config';
import { downloadWorkspace, type RemoteDeps } from './commands/remote';
import { automaticSnapshot } from './commands/snapshots';
import { CommandError } from './commands/params';
import { deviceRegistry } from './devices';
import { PluginSessionDocs } from './session-docs';
import { PluginState } from './state';
import { SessionState, SyncSession } from './sync/session';
import type { RuntimeSession } from './sync/runtime-session';
import { encryptedOrLockedSession } from './e2ee/session-choice';
import type { SyncStatusView } from './events';
import { deviceEncryption } from './e2ee/workspace-keys';

/** Milliseconds of host time between automatic saves during live sync (binary exports). */
const AUTOSAVE_INTERVAL_MS = 2000;

/**
 * The kinds of export call, for what the after-call step stores:
 * - `command`: the docs, when the command changed them (read-only commands, which the status bar polls, write nothing);
 * - `event`: the docs, always (a local file event);
 * - `session`: the docs, when remote changes were written to files (after a
 *   crash, a file newer than the stored docs would look like a local edit made
 *   while the plugin was not running).
 * The history is stored at most every autosave interval in every case (it is rewritten whole).
 */
export type CallKind = 'command' | 'event' | 'session';

/** What the after-call step compares with: the doc changes and file writes when the call started. */
export interface CallStart {
  changes: number;
  fileWrites: number;
}

export class SyncRuntime {
  readonly disk: WorkspaceDisk;
  readonly docs: PluginSessionDocs;
  session: RuntimeSession | null = null;
  private lastSave = 0;
  /**
   * Frames carrying changes that storage refused to keep (SyncStep2 and
   * Update of a doc with unstored changes), sent once they are stored; see
   * holdsUnstored. Dropped when the connection changes: the next handshake
   * covers what they carried.
   */
  private held: Uint8Array[] = [];

  constructor(
    readonly host: HostBridge,
    readonly state: PluginState,
  ) {
    this.disk = new WorkspaceDisk(state, host);
    this.docs = new PluginSessionDocs(state, this.disk, host, () => this.session?.state === SessionState.Active);
    state.persistence.onSaved(() => this.session?.docsSaved?.());
  }

  /** What the status bar shows, kept by the event sink from every event emitted. */
  get status(): SyncStatusView {
    return this.state.events.status;
  }

  /** (Re)creates the session for a workspace, keeping it when nothing changed. */
  ensureSession(workspaceId: string, writeToDisk: boolean): RuntimeSession {
    this.state.writeToDisk = writeToDisk;
    if (this.session && this.session.workspaceId === workspaceId && this.session.writeToDisk === writeToDisk) return this.session;
    this.state.workspaceId = workspaceId;
    // An encrypted workspace (keys or the locked marker stored) never syncs plain frames.
    this.session = encryptedOrLockedSession(this, workspaceId, writeToDisk);
    if (this.session) return this.session;
    this.session = new SyncSession(this.docs, {
      workspaceId,
      writeToDisk,
      log: (level, message) => this.host.log(level, message),
      ledger: this.docs.ledger,
    });
    return this.session;
  }

  /**
   * The workspace's encryption changed on this device (enabled, unlocked,
   * locked): the session is built anew at the next connect, for the protocol
   * the keys now call for.
   */
  encryptionChanged(): void {
    this.session = null;
  }

  /**
   * Connects the host WebSocket when server, workspace id and token resolve; else disconnects.
   * `anew`: a connection that is open already is ended first (hosts keep one asked for again with
   * the same details, and a new session needs its own on_connected).
   */
  reconcileTransport(writeToDisk?: boolean, anew = false): void {
    const config = loadConfig(this.host);
    const server = resolveServerUrl(this.host, {}, config);
    const workspaceId = config.workspace_id;
    const token = resolveAuthToken(this.host, {}, config);
    const toDisk = writeToDisk ?? this.state.writeToDisk;
    // Until a session exists, local changes are keyed by the configured workspace.
    if (!this.session && workspaceId !== null && workspaceId.trim() !== '') this.state.workspaceId = workspaceId;
    // A locked encrypted workspace does not connect at all: it must never sync in plain, and has no keys to sync encrypted.
    const locked = deviceEncryption(this.host, workspaceId) === 'locked';
    const connect = !locked && server !== null && workspaceId !== null && workspaceId.trim() !== '' && token !== null && token.trim() !== '';
    if (connect && anew) this.host.wsRequest({ type: 'disconnect' });
    const res = connect
      ? this.host.wsRequest({ type: 'connect', server_url: server, workspace_id: workspaceId, auth_token: token, session_code: null, write_to_disk: toDisk })
      : this.host.wsRequest({ type: 'disconnect' });
    if (!res.ok) this.host.log('warn', `[sync_transport] ${res.error ?? 'host_ws_request failed'}`);
  }

  remoteDeps(): RemoteDeps {
    return {
      host: this.host,
      events: this.state.events,
      workspaceRoot: () => this.state.workspaceRoot ?? '',
      reconcileTransport: (w) => this.reconcileTransport(w),
      ensureSession: (id, w) => {
        this.ensureSession(id, w);
      },
      beforeLinkUpload: (paths) => this.dropBodiesBeforeLink(paths),
      linkUploadFailed: (paths) => this.reseedBodies(paths),
      transferStatus: (status) => {
        this.status.transfer = status;
      },
      writeImportedFile: (path, data, folder) => {
        const hostPath = folder === null ? this.disk.hostPath(path) : folder === '' ? path : `${folder}/${path}`;
        if (path.toLowerCase().endsWith('.md')) this.host.writeFile(hostPath, new TextDecoder().decode(data));
        else this.host.writeBinary(hostPath, data);
      },
    };
  }

  /**
   * A link by upload is about to send these files: the server builds its
   * body docs from their text, as its own new edits. The body docs here hold
   * the same text as other, independent edits (made while not linked, or
   * never sent), and two independent inserts of a text never merge: kept,
   * every body would hold its text twice, on every device. They are dropped
   * and the drop is stored before anything is sent (a doc coming back from
   * storage after a crash would bring the copy back); on connect each body
   * comes from the server and the file's text goes on top only where it
   * differs (a later edit). A drop that cannot be stored stops the link.
   */
  dropBodiesBeforeLink(paths: string[]): void {
    const dropped: string[] = [];
    for (const key of this.uploadedKeys(paths)) {
      this.state.outgoing.unlinkedBodyEdits.delete(key);
      this.docs.offlineEdits.delete(key);
      if (!this.state.bodies.has(key)) continue;
      this.state.forgetBody(key);
      // What the dropped doc knew is not the server's text: nothing of it may be taken out there.
      this.state.droppedBodyClocks.delete(key);
      dropped.push(key);
    }
    const errors = this.state.persistence.save(false, false);
    if (errors.length > 0) {
      this.reseedBodies(dropped);
      throw new CommandError(`Could not link: the local copies of the files could not be stored: ${errors.join('; ')}`);
    }
  }

  /** The link's upload failed: the bodies come back from the files (the workspace is still not linked). */
  reseedBodies(keys: string[]): void {
    for (const key of this.uploadedKeys(keys)) {
      const body = this.disk.readBody(key);
      if (body !== null && !this.state.bodies.has(key)) this.state.bodies.setBody(key, body);
    }
  }

  /** Workspace keys of the Markdown files among uploaded paths. */
  private uploadedKeys(paths: string[]): string[] {
    const keys: string[] = [];
    for (const path of paths) {
      if (!path.toLowerCase().endsWith('.md')) continue;
      try {
        keys.push(this.disk.keyOf(path));
      } catch {
        // not a workspace path: nothing here to drop
      }
    }
    return keys;
  }

  /** An event the session returned (or met carrying out its actions), to the host through the event sink. */
  private emit(event: SyncEvent): void {
    if (event.type === 'statusChanged' && (event.status.state === 'connected' || event.status.state === 'disconnected')) this.held = [];
    this.state.events.sync(event);
  }

  /** Local changes not yet handed to the server (bodies edited offline or before linking). */
  pendingChangeCount(): number {
    return new Set([...this.docs.offlineEdits, ...this.state.outgoing.unlinkedBodyEdits]).size;
  }

  /** Where an export call starts (see finishCall). */
  startCall(): CallStart {
    return { changes: this.state.persistence.changeCount, fileWrites: this.host.fileWrites };
  }

  /**
   * The step after every export call that may change state: the device entry
   * noted meanwhile (before the actions, unless the call ran a session input,
   * whose actions go first), the actions and the local updates they cause,
   * the docs stored as `kind` says, then the autosave.
   */
  finishCall(kind: CallKind, start: CallStart | null, actions: SessionAction[]): void {
    if (kind !== 'session') deviceRegistry(this.state).flush();
    this.execute(actions);
    const persistence = this.state.persistence;
    const storeDocs =
      kind === 'event' ||
      (kind === 'command' && (start === null || persistence.changeCount !== start.changes) && persistence.docsDirty) ||
      (kind === 'session' && start !== null && this.host.fileWrites !== start.fileWrites);
    if (storeDocs) persistence.save(false, false);
    this.autosave();
  }

  /** Runs a session input: returns its first-level actions and executes everything that follows. */
  run(label: string, input: (session: RuntimeSession) => SessionAction[]): SessionAction[] {
    let actions: SessionAction[] = [];
    const start = this.startCall();
    if (this.session) {
      try {
        actions = input(this.session);
      } catch (e) {
        this.host.log('warn', `[${label}] ${(e as Error).message}`);
      }
    } else {
      this.host.log('warn', `[${label}] no sync session`);
    }
    this.finishCall('session', start, actions);
    return actions;
  }

  /** Executes actions, then the local updates they cause, until nothing is left; then what storage held back. */
  execute(actions: SessionAction[]): void {
    this.executeActions(actions);
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    for (const data of held) this.sendBinary(data);
  }

  /**
   * Whether a frame carries changes of a doc that storage has not kept yet
   * (after one more try to store them). Such a frame waits: a device that
   * crashed after sending what storage had refused would come back without
   * it and read its file as a new edit, and the text would be there twice on
   * every device. Frames without content (SyncStep1, awareness) always go.
   */
  private holdsUnstored(frame: Uint8Array): boolean {
    if (!this.state.persistence.docsDirty) return false;
    let docId: string;
    let payload: Uint8Array;
    try {
      ({ docId, payload } = decodeFrame(frame));
    } catch {
      return false;
    }
    // y-sync: message type 0 (sync), then 1 (SyncStep2) or 2 (Update).
    if (payload[0] !== 0 || (payload[1] !== 1 && payload[1] !== 2)) return false;
    const doc = parseDocId(docId);
    if (doc === null || !this.state.persistence.isDocUnstored(doc)) return false;
    this.state.persistence.save(false, false);
    return this.state.persistence.isDocUnstored(doc);
  }

  private sendBinary(data: Uint8Array): void {
    if (this.holdsUnstored(data)) {
      this.held.push(data);
      return;
    }
    const res = this.host.wsRequest({ type: 'send_binary', data: encodeBase64(data) });
    if (!res.ok) this.host.log('warn', `[sync_transport:send_binary] ${res.error ?? 'failed'}`);
  }

  private executeActions(actions: SessionAction[]): void {
    const queue = [...actions];
    for (;;) {
      while (queue.length > 0) {
        const action = queue.shift()!;
        switch (action.type) {
          case 'SendBinary':
            this.sendBinary(action.data);
            break;
          case 'SendText': {
            const res = this.host.wsRequest({ type: 'send_text', text: action.text });
            if (!res.ok) this.host.log('warn', `[sync_transport:send_text] ${res.error ?? 'failed'}`);
            break;
          }
          case 'EmitEvent':
            this.emit(action.event);
            break;
          case 'DownloadSnapshot': {
            try {
              // As for the DownloadWorkspace command: the files here go into an automatic snapshot before the import overwrites them.
              const beforeImport = () => void automaticSnapshot(this, 'Before downloading the workspace', true);
              downloadWorkspace({ ...this.remoteDeps(), beforeImport }, { remote_id: action.workspaceId, include_attachments: true, link: false });
              if (this.session) queue.push(...this.session.snapshotImported());
            } catch (e) {
              this.host.log('warn', `[snapshot_download] ${(e as Error).message}`);
              this.emit({ type: 'error', message: `Snapshot download failed: ${(e as Error).message}` });
            }
            break;
          }
        }
      }
      if (!this.session) {
        this.state.outgoing.drain();
        return;
      }
      // A device entry noted during these actions goes out with them, not at the next command.
      deviceRegistry(this.state).flush();
      // Local changes go out once they are stored: a device that crashed after
      // sending what storage had refused would come back without it (under a
      // new client id), and its peers would wait forever for any part the
      // network lost. While storage refuses writes they wait in the queue (only
      // while connected: offline, the next sync covers them as before).
      if (this.state.outgoing.hasUpdates && this.state.persistence.docsDirty && this.session.state === SessionState.Active) {
        this.state.persistence.save(false, false);
        if (this.state.persistence.docsDirty) return;
      }
      const next = this.session.flushLocalUpdates();
      if (next.length === 0) return;
      queue.push(...next);
    }
  }

  /** Saves changed state at most every AUTOSAVE_INTERVAL_MS of host time. */
  autosave(): void {
    if (!this.state.persistence.dirty) return;
    const now = this.state.now();
    if (now - this.lastSave < AUTOSAVE_INTERVAL_MS) return;
    this.save();
  }

  save(all = false): string[] {
    this.lastSave = this.state.now();
    return this.state.persistence.save(all);
  }
}
