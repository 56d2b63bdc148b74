/**
 * Connection: one WebSocket, possibly carrying several documents (v2 frames
 * name their doc). Frames and texts are handled strictly in arrival order.
 *
 * Per doc id, the first binary frame authenticates (token + workspace
 * ownership). For a socket whose token is valid, a refusal drops the frame,
 * keeps the socket and answers `{"type":"error","doc_id","message"}` once per
 * doc; the next frame for that doc tries again. A socket without a valid token
 * can never open a doc: it is closed (1008) at its first binary frame.
 *
 * Input is paced so that one socket cannot hold the event loop: the socket
 * stops reading while its backlog is large, gives other work a turn every
 * `yieldEveryMessages` messages, and handles at most `maxFramesPerSecond`.
 * Lines a client can cause at will are logged through a RateLimitedLog.
 * Workspace docs go through the Files-Ready handshake (handshake.ts) before
 * they are joined.
 */
import type { WebSocket } from 'ws';
import {
  encodeFileManifest,
  encodeSyncComplete,
  isFilesReady,
  parseControlMessage,
} from '../../common/src/wire/control';
import { decodeFrame } from '../../common/src/wire/frame';
import { isE2eeDocId, parseE2eeDocId, RefusedCode } from '../../common/src/e2ee/frames';
import type { E2eeHub } from './e2ee/hub';
import { CloseCode, WorkspaceRefusedError, describeError } from './errors';
import { handshakeReplies, isFreshClient, manifestEntries, resolveDocTarget } from './handshake';
import type { DocumentClient } from './hooks';
import type { Logger } from './log';
import { DEFAULT_OPTIONS } from './options';
import { UserDocCounts, type BufferingClient, type OutputBudget } from './quotas';
import { RateLimitedLog } from './rate-limited-log';
import type { SyncCore } from './sync-core';
import { activeWorkspaceFiles } from './workspace-files';

/** Close a socket whose received, not yet handled messages exceed this. */
export const MAX_QUEUED_BYTES = 128 * 1024 * 1024;
/** Stop reading a socket while its unhandled input is above this (bytes or messages)... */
const PAUSE_ABOVE_BYTES = 4 * 1024 * 1024;
const PAUSE_ABOVE_MESSAGES = 512;
/** Text messages a socket without a valid token may send before it is closed. */
const MAX_UNAUTHENTICATED_TEXTS = 8;
/** How long a closed socket may take to complete the close handshake before it is dropped. */
const CLOSE_TIMEOUT_MS = 1_000;

/** Doc ids per connection whose refusal was already reported (then only logged at debug). */
const MAX_DENIED_REPORTED = 1_000;

/** Where one doc of this connection stands. */
const DocState = {
  /** `file_manifest` was sent; frames are dropped until FilesReady. */
  AwaitingFilesReady: 'awaiting-files-ready',
  /** Joined: frames go to the sync core. */
  Joined: 'joined',
  /** An `e2e:` doc of an encrypted workspace: frames go to the E2eeHub. */
  Encrypted: 'encrypted',
} as const;
type DocState = (typeof DocState)[keyof typeof DocState];

/** Per-socket limits (ServerOptions). */
export interface ConnectionLimits {
  maxFramesPerSecond: number;
  yieldEveryMessages: number;
  maxDocsPerConnection: number;
  maxBufferedBytesPerConnection: number;
  /** A socket without a valid token that sends nothing is closed after this long. */
  unauthenticatedTimeoutMs: number;
}

/** What a connection needs from the server. */
export interface ConnectionContext {
  core: SyncCore;
  logger: Logger;
  /** Bearer token of the upgrade request, or null. Never logged. */
  token: string | null;
  /** The token's user when it was valid at upgrade time; null: the socket can open nothing. */
  user: string | null;
  /** For lines a client can cause at will (default: one for this connection). */
  noisyLog?: RateLimitedLog;
  /** Default: DEFAULT_OPTIONS. */
  limits?: ConnectionLimits;
  /** Shared with the user's other sockets (default: this connection's own). */
  userDocs?: UserDocCounts;
  /** Shared by all sockets of the server (default: none). */
  outputBudget?: OutputBudget;
  /** Serves `e2e:` docs (default: none; such ids are then dropped as invalid). */
  e2ee?: E2eeHub;
}

/** The context with every default filled in. */
type ResolvedContext = Required<Omit<ConnectionContext, 'outputBudget' | 'e2ee'>> & Pick<ConnectionContext, 'outputBudget' | 'e2ee'>;

let nextConnectionId = 1;

/** Resolves after the event loop had a turn (I/O and timers of others run). */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Connection implements DocumentClient, BufferingClient {
  readonly id = `c${nextConnectionId++}`;
  private readonly docs = new Map<string, DocState>();
  private readonly deniedReported = new Set<string>();
  /** Doc ids counted by reserveDoc that are not in `docs` yet (being opened). */
  private readonly pendingReserved = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private queuedBytes = 0;
  private queuedMessages = 0;
  private handled = 0;
  private windowStart = 0;
  private windowFrames = 0;
  private texts = 0;
  private docLimitReported = false;
  private closed = false;
  private alive = true;
  /** Resolves when input handling stopped and every doc was left. */
  readonly finished: Promise<void>;
  private finish!: () => void;
  /** Resolves when the socket is closed. */
  readonly socketClosed: Promise<void>;

  private readonly ctx: ResolvedContext;

  constructor(
    private readonly ws: WebSocket,
    context: ConnectionContext,
  ) {
    const ctx: ResolvedContext = {
      ...context,
      noisyLog: context.noisyLog ?? new RateLimitedLog(context.logger),
      limits: context.limits ?? {
        maxFramesPerSecond: DEFAULT_OPTIONS.maxFramesPerSecond,
        yieldEveryMessages: DEFAULT_OPTIONS.yieldEveryMessages,
        maxDocsPerConnection: DEFAULT_OPTIONS.maxDocsPerConnection,
        maxBufferedBytesPerConnection: DEFAULT_OPTIONS.maxBufferedBytesPerConnection,
        unauthenticatedTimeoutMs: DEFAULT_OPTIONS.unauthenticatedTimeoutMs,
      },
      userDocs: context.userDocs ?? new UserDocCounts(DEFAULT_OPTIONS.maxDocsPerUser),
    };
    this.ctx = ctx;
    this.finished = new Promise((resolve) => (this.finish = resolve));
    this.socketClosed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data, isBinary) => {
      if (this.closed) return;
      const bytes = toBytes(data);
      this.queuedBytes += bytes.byteLength;
      this.queuedMessages++;
      if (this.queuedBytes > MAX_QUEUED_BYTES) {
        this.ctx.noisyLog.log('warn', 'closing connection: too much unhandled input', { conn: this.id, user: ctx.user });
        this.close(CloseCode.SlowConsumer, 'too much unhandled input');
        this.setReading(false);
        return;
      }
      if (this.queuedBytes > PAUSE_ABOVE_BYTES || this.queuedMessages > PAUSE_ABOVE_MESSAGES) this.setReading(false);
      this.enqueue(async () => {
        this.queuedBytes -= bytes.byteLength;
        this.queuedMessages--;
        if (this.queuedBytes <= PAUSE_ABOVE_BYTES / 2 && this.queuedMessages <= PAUSE_ABOVE_MESSAGES / 2) this.setReading(true);
        await this.pace();
        if (this.closed) return;
        if (isBinary) await this.handleBinary(bytes);
        else await this.handleText(new TextDecoder().decode(bytes));
      });
    });
    ws.on('pong', () => (this.alive = true));
    ws.on('error', (e: Error & { code?: string }) => {
      // ws closes the socket itself (1009) when a message exceeds maxPayload.
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') ctx.noisyLog.log('warn', 'closed connection: message too big', { conn: this.id, user: ctx.user });
      else ctx.noisyLog.log('warn', 'websocket error', { conn: this.id, error: describeError(e) });
    });
    ws.on('close', (code) => {
      ctx.logger.debug('connection closed', { conn: this.id, code });
      if (silentTimer !== null) clearTimeout(silentTimer);
      this.shutdown();
    });
    // A socket without a valid token is closed at its first frame; one that sends nothing
    // would otherwise hold its slot (and a file descriptor) for as long as it likes.
    const silentTimer =
      ctx.user === null ? setTimeout(() => this.closeUnauthenticated('staying silent'), ctx.limits.unauthenticatedTimeoutMs) : null;
    silentTimer?.unref();
  }

  sendBinary(frame: Uint8Array): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(frame);
    this.checkBackpressure();
  }

  sendText(text: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(text);
    this.checkBackpressure();
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      this.ws.close(code, reason);
      // A peer that never completes the close handshake is dropped (ws would wait 30 s).
      setTimeout(() => this.ws.terminate(), CLOSE_TIMEOUT_MS).unref();
    }
    this.shutdown();
  }

  /** Unsent output of this socket. */
  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  /** The user of the token this socket was opened with (null: none or invalid). */
  get user(): string | null {
    return this.ctx.user;
  }

  /** The token this socket was opened with. Never log it. */
  get token(): string | null {
    return this.ctx.token;
  }

  dropForOutputBudget(): void {
    this.ctx.logger.warn('closing connection: server-wide output budget exhausted', { conn: this.id, user: this.ctx.user, buffered: this.bufferedBytes });
    this.close(CloseCode.SlowConsumer, 'server output budget exhausted');
  }

  /** Immediately drops the socket (after `close` when the peer does not complete the close handshake). */
  terminate(): void {
    this.ws.terminate();
    this.shutdown();
  }

  /** Called periodically: terminates a socket that did not answer the last ping, then pings again. */
  heartbeat(): void {
    if (!this.alive) {
      this.ctx.logger.info('closing unresponsive connection', { conn: this.id });
      this.terminate();
      return;
    }
    this.alive = false;
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }

  /** Stops handling input and leaves every doc, after the message being handled. Idempotent. */
  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = this.queue.then(async () => {
      const docs = [...this.docs];
      this.docs.clear();
      const counted = docs.length + this.pendingReserved.size;
      this.pendingReserved.clear();
      if (this.ctx.user !== null && counted > 0) this.ctx.userDocs.release(this.ctx.user, counted);
      for (const [docId, state] of docs) {
        if (state === DocState.Joined) await this.ctx.core.leave(docId, this).catch(() => undefined);
        if (state === DocState.Encrypted) await this.ctx.e2ee?.leave(docId, this).catch(() => undefined);
      }
      this.finish();
    });
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.closed) return;
      try {
        await task();
      } catch (e) {
        this.ctx.logger.error('message handling failed', { conn: this.id, error: describeError(e) });
      }
    });
  }

  /** Stops or resumes reading the socket (backpressure on a client that sends faster than it is served). */
  private setReading(on: boolean): void {
    const ws = this.ws as Partial<Pick<WebSocket, 'pause' | 'resume' | 'isPaused'>>;
    if (!ws.pause || !ws.resume) return; // a transport without flow control (the fuzz simulation's)
    if (on && this.closed) return;
    if (on && ws.isPaused) ws.resume();
    else if (!on && !ws.isPaused) ws.pause();
  }

  /**
   * Before each message: a turn for the event loop every `yieldEveryMessages`
   * messages, and a wait when this socket used up its frames for this second.
   */
  private async pace(): Promise<void> {
    const { maxFramesPerSecond, yieldEveryMessages } = this.ctx.limits;
    this.handled++;
    if (this.handled % yieldEveryMessages === 0) await yieldToEventLoop();
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowFrames = 0;
    }
    if (++this.windowFrames > maxFramesPerSecond) {
      await new Promise((resolve) => setTimeout(resolve, this.windowStart + 1000 - now));
      this.windowStart = Date.now();
      this.windowFrames = 1;
    }
  }

  private checkBackpressure(): void {
    if (this.ws.bufferedAmount > this.ctx.limits.maxBufferedBytesPerConnection) {
      this.ctx.logger.warn('closing connection: client does not read', { conn: this.id, user: this.ctx.user });
      this.close(CloseCode.SlowConsumer, 'send buffer full');
      return;
    }
    this.ctx.outputBudget?.afterSend(this);
  }

  /** A socket without a valid token can reach nothing: it is closed instead of being answered. */
  private closeUnauthenticated(what: string): void {
    this.ctx.noisyLog.log('info', 'closing a socket without a valid token', { conn: this.id, after: what });
    this.close(CloseCode.PolicyViolation, 'a valid token is required');
    // Nothing it sends matters any more: stop reading, so a flood is not even parsed
    // (the socket is dropped when the close handshake times out).
    this.setReading(false);
  }

  /** Tells an authenticated client why a doc was refused (once per doc). */
  private reportRefusal(docId: string, message: string): void {
    if (this.deniedReported.has(docId)) return;
    if (this.deniedReported.size >= MAX_DENIED_REPORTED) this.deniedReported.clear();
    this.deniedReported.add(docId);
    this.sendText(JSON.stringify({ type: 'error', doc_id: docId, message }));
  }

  private async handleBinary(bytes: Uint8Array): Promise<void> {
    if (this.ctx.user === null) {
      this.closeUnauthenticated('binary frame');
      return;
    }
    let docId: string;
    let payload: Uint8Array;
    try {
      ({ docId, payload } = decodeFrame(bytes));
    } catch (e) {
      this.ctx.noisyLog.log('warn', 'dropped malformed frame', { conn: this.id, error: describeError(e) });
      return;
    }
    const state = this.docs.get(docId);
    if (state === DocState.Joined) {
      await this.ctx.core.receive(docId, this, bytes, payload);
      return;
    }
    if (state === DocState.Encrypted) {
      await this.ctx.e2ee!.receive(docId, this, payload);
      return;
    }
    if (state === undefined && !this.reserveDoc(docId)) return;
    if (this.ctx.e2ee && isE2eeDocId(docId)) await this.openEncrypted(this.ctx.e2ee, docId, payload);
    else await this.openDoc(docId, bytes, payload);
  }

  /** First frame for an `e2e:` doc: the same per-doc authentication, then the hub serves it. */
  private async openEncrypted(hub: E2eeHub, docId: string, payload: Uint8Array): Promise<void> {
    this.pendingReserved.add(docId);
    const target = parseE2eeDocId(docId);
    if (!target) {
      this.ctx.noisyLog.log('warn', 'refused frame for an invalid doc id', { conn: this.id, doc: docId });
      this.forgetDoc(docId);
      hub.refuse(docId, this, payload, RefusedCode.Malformed);
      return;
    }
    try {
      await this.ctx.core.authenticate({ docId, workspaceId: target.workspaceId, token: this.ctx.token, client: this });
    } catch (e) {
      this.forgetDoc(docId);
      this.ctx.noisyLog.log('warn', 'access denied', { conn: this.id, doc: docId, user: this.ctx.user, error: describeError(e) });
      this.reportRefusal(docId, e instanceof WorkspaceRefusedError ? e.message : `Access denied to workspace ${target.workspaceId}`);
      hub.refuse(docId, this, payload, RefusedCode.NotAllowed);
      return;
    }
    try {
      await hub.join(docId, this);
    } catch (e) {
      this.forgetDoc(docId);
      this.ctx.logger.error('could not open document', { conn: this.id, doc: docId, error: describeError(e) });
      hub.refuse(docId, this, payload, RefusedCode.Unavailable);
      return;
    }
    this.pendingReserved.delete(docId);
    this.docs.set(docId, DocState.Encrypted);
    await hub.receive(docId, this, payload);
  }

  /** Counts a doc this socket starts to open against the per-socket and per-user limits. */
  private reserveDoc(docId: string): boolean {
    const user = this.ctx.user!;
    const { maxDocsPerConnection } = this.ctx.limits;
    let message: string | null = null;
    if (this.docs.size >= maxDocsPerConnection) message = `Too many documents open on this connection (limit ${maxDocsPerConnection})`;
    else if (!this.ctx.userDocs.tryAdd(user)) message = `Too many documents open by user ${user} (limit ${this.ctx.userDocs.limit})`;
    if (message === null) return true;
    this.ctx.noisyLog.log('warn', 'document limit reached', { conn: this.id, user, doc: docId });
    if (!this.docLimitReported) this.sendText(JSON.stringify({ type: 'error', doc_id: docId, message }));
    this.docLimitReported = true;
    return false;
  }

  /** Forgets a doc of this socket (left or refused) and releases its count. */
  private forgetDoc(docId: string): void {
    if (this.docs.delete(docId) || this.pendingReserved.delete(docId)) {
      this.ctx.userDocs.release(this.ctx.user!);
      this.docLimitReported = false;
    }
  }

  /** First frame for a doc (or a frame while it awaits FilesReady): authenticate, then handshake or join. */
  private async openDoc(docId: string, frame: Uint8Array, payload: Uint8Array): Promise<void> {
    const { core, logger } = this.ctx;
    if (!this.docs.has(docId)) this.pendingReserved.add(docId);
    const target = resolveDocTarget(docId);
    if (!target) {
      this.ctx.noisyLog.log('warn', 'dropped frame for an invalid doc id', { conn: this.id, doc: docId });
      this.forgetDoc(docId);
      return;
    }
    try {
      await core.authenticate({ docId, workspaceId: target.workspaceId, token: this.ctx.token, client: this });
    } catch (e) {
      this.forgetDoc(docId);
      const fields = { conn: this.id, doc: docId, user: this.ctx.user, error: describeError(e) };
      if (this.deniedReported.has(docId)) logger.debug('access denied', fields);
      else this.ctx.noisyLog.log('warn', 'access denied', fields);
      this.reportRefusal(docId, e instanceof WorkspaceRefusedError ? e.message : `Access denied to workspace ${target.workspaceId}`);
      return;
    }
    if (target.kind === 'workspace') {
      let files;
      try {
        files = await core.read(docId, activeWorkspaceFiles);
      } catch (e) {
        logger.error('could not open document', { conn: this.id, doc: docId, error: describeError(e) });
        this.forgetDoc(docId);
        return;
      }
      if (files.length > 0) {
        // The frame that triggers the handshake is dropped, as in the original.
        this.sendText(encodeFileManifest(manifestEntries(target.workspaceId, files), isFreshClient(payload)));
        this.pendingReserved.delete(docId);
        this.docs.set(docId, DocState.AwaitingFilesReady);
        return;
      }
    }
    if (!(await this.join(docId))) return;
    await core.receive(docId, this, frame, payload);
  }

  private async join(docId: string, beforeJoin?: Parameters<SyncCore['join']>[2]): Promise<boolean> {
    try {
      await this.ctx.core.join(docId, this, beforeJoin);
    } catch (e) {
      this.ctx.logger.error('could not join document', { conn: this.id, doc: docId, error: describeError(e) });
      this.forgetDoc(docId);
      return false;
    }
    this.pendingReserved.delete(docId);
    this.docs.set(docId, DocState.Joined);
    this.ctx.logger.debug('joined', { conn: this.id, doc: docId, user: this.ctx.user });
    return true;
  }

  private async handleText(text: string): Promise<void> {
    if (this.ctx.user === null && ++this.texts > MAX_UNAUTHENTICATED_TEXTS) {
      this.closeUnauthenticated('text messages');
      return;
    }
    const msg = parseControlMessage(text);
    if (!msg) {
      this.ctx.logger.debug('ignored text message', { conn: this.id, bytes: text.length });
      return;
    }
    if (isFilesReady(msg)) {
      await this.filesReady();
      return;
    }
    if (msg.type === 'doc_action') {
      const state = this.docs.get(msg.doc);
      if (msg.action === 'leave') {
        if (state !== undefined) this.forgetDoc(msg.doc);
        if (state === DocState.Joined) await this.ctx.core.leave(msg.doc, this);
        if (state === DocState.Encrypted) await this.ctx.e2ee?.leave(msg.doc, this);
      } else if (state === DocState.Joined) {
        await this.ctx.core.flush(msg.doc);
      }
      return;
    }
    // focus / unfocus and the rest are accepted and not relayed.
    this.ctx.logger.debug('accepted control message', { conn: this.id, type: msg.type });
  }

  /** FilesReady: finish every pending workspace handshake; without one, answer like the original. */
  private async filesReady(): Promise<void> {
    const pending = [...this.docs].filter(([, s]) => s === DocState.AwaitingFilesReady).map(([id]) => id);
    for (const docId of pending) {
      await this.join(docId, (doc) => {
        for (const text of handshakeReplies(doc.ydoc)) this.sendText(text);
      });
    }
    if (pending.length > 0) return;
    const joinedWorkspace = [...this.docs].find(([id, s]) => s === DocState.Joined && resolveDocTarget(id)?.kind === 'workspace');
    if (!joinedWorkspace) {
      this.sendText(encodeSyncComplete(0));
      return;
    }
    const replies = await this.ctx.core.read(joinedWorkspace[0], handshakeReplies);
    for (const text of replies) this.sendText(text);
  }
}

function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
