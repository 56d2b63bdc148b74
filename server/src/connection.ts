/**
 * Connection: one WebSocket, possibly carrying several documents (v2 frames
 * name their doc). Frames and texts are handled strictly in arrival order.
 *
 * Per doc id, the first binary frame authenticates (token + workspace
 * ownership). A refusal is silent, as in the original: the frame is dropped,
 * the socket stays open, the next frame for that doc tries again; the refusal
 * is logged (never the token). Workspace docs go through the Files-Ready
 * handshake (handshake.ts) before they are joined.
 */
import type { WebSocket } from 'ws';
import {
  encodeFileManifest,
  encodeSyncComplete,
  isFilesReady,
  parseControlMessage,
} from '../../common/src/wire/control';
import { decodeFrame } from '../../common/src/wire/frame';
import { CloseCode, describeError } from './errors';
import { handshakeReplies, isFreshClient, manifestEntries, resolveDocTarget } from './handshake';
import type { DocumentClient } from './hooks';
import type { Logger } from './log';
import type { SyncCore } from './sync-core';
import { activeWorkspaceFiles } from './workspace-files';

/** Close a socket whose unsent output exceeds this (a client that does not read). */
export const MAX_BUFFERED_BYTES = 128 * 1024 * 1024;
/** Close a socket whose received, not yet handled messages exceed this. */
export const MAX_QUEUED_BYTES = 128 * 1024 * 1024;

/** Doc ids per connection whose refusal was already logged at warn level (then debug). */
const MAX_DENIED_LOGGED = 1_000;

/** Where one doc of this connection stands. */
const DocState = {
  /** `file_manifest` was sent; frames are dropped until FilesReady. */
  AwaitingFilesReady: 'awaiting-files-ready',
  /** Joined: frames go to the sync core. */
  Joined: 'joined',
} as const;
type DocState = (typeof DocState)[keyof typeof DocState];

/** What a connection needs from the server. */
export interface ConnectionContext {
  core: SyncCore;
  logger: Logger;
  /** Bearer token of the upgrade request, or null. Never logged. */
  token: string | null;
  /** The token's user when it was valid at upgrade time (logs only; auth is per doc). */
  user: string | null;
}

let nextConnectionId = 1;

export class Connection implements DocumentClient {
  readonly id = `c${nextConnectionId++}`;
  private readonly docs = new Map<string, DocState>();
  private readonly deniedLogged = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private queuedBytes = 0;
  private closed = false;
  private alive = true;
  /** Resolves when input handling stopped and every doc was left. */
  readonly finished: Promise<void>;
  private finish!: () => void;
  /** Resolves when the socket is closed. */
  readonly socketClosed: Promise<void>;

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: ConnectionContext,
  ) {
    this.finished = new Promise((resolve) => (this.finish = resolve));
    this.socketClosed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data, isBinary) => {
      const bytes = toBytes(data);
      this.queuedBytes += bytes.byteLength;
      if (this.queuedBytes > MAX_QUEUED_BYTES) {
        this.ctx.logger.warn('closing connection: too much unhandled input', { conn: this.id, user: ctx.user });
        this.close(CloseCode.SlowConsumer, 'too much unhandled input');
        return;
      }
      this.enqueue(async () => {
        this.queuedBytes -= bytes.byteLength;
        if (isBinary) await this.handleBinary(bytes);
        else await this.handleText(new TextDecoder().decode(bytes));
      });
    });
    ws.on('pong', () => (this.alive = true));
    ws.on('error', (e: Error & { code?: string }) => {
      // ws closes the socket itself (1009) when a message exceeds maxPayload.
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') ctx.logger.warn('closed connection: message too big', { conn: this.id, user: ctx.user });
      else ctx.logger.warn('websocket error', { conn: this.id, error: describeError(e) });
    });
    ws.on('close', (code) => {
      ctx.logger.debug('connection closed', { conn: this.id, code });
      this.shutdown();
    });
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
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
    this.shutdown();
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
      for (const [docId, state] of docs) {
        if (state === DocState.Joined) await this.ctx.core.leave(docId, this).catch(() => undefined);
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

  private checkBackpressure(): void {
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.ctx.logger.warn('closing connection: client does not read', { conn: this.id, user: this.ctx.user });
      this.close(CloseCode.SlowConsumer, 'send buffer full');
    }
  }

  private async handleBinary(bytes: Uint8Array): Promise<void> {
    let docId: string;
    let payload: Uint8Array;
    try {
      ({ docId, payload } = decodeFrame(bytes));
    } catch (e) {
      this.ctx.logger.warn('dropped malformed frame', { conn: this.id, error: describeError(e) });
      return;
    }
    if (this.docs.get(docId) === DocState.Joined) {
      await this.ctx.core.receive(docId, this, bytes, payload);
      return;
    }
    await this.openDoc(docId, bytes, payload);
  }

  /** First frame for a doc (or a frame while it awaits FilesReady): authenticate, then handshake or join. */
  private async openDoc(docId: string, frame: Uint8Array, payload: Uint8Array): Promise<void> {
    const { core, logger } = this.ctx;
    const target = resolveDocTarget(docId);
    if (!target) {
      logger.warn('dropped frame for an invalid doc id', { conn: this.id, doc: docId });
      return;
    }
    try {
      await core.authenticate({ docId, workspaceId: target.workspaceId, token: this.ctx.token, client: this });
    } catch (e) {
      const fields = { conn: this.id, doc: docId, user: this.ctx.user, error: describeError(e) };
      if (this.deniedLogged.has(docId)) logger.debug('access denied', fields);
      else logger.warn('access denied', fields);
      if (this.deniedLogged.size >= MAX_DENIED_LOGGED) this.deniedLogged.clear();
      this.deniedLogged.add(docId);
      return;
    }
    if (target.kind === 'workspace') {
      let files;
      try {
        files = await core.read(docId, activeWorkspaceFiles);
      } catch (e) {
        logger.error('could not open document', { conn: this.id, doc: docId, error: describeError(e) });
        return;
      }
      if (files.length > 0) {
        // The frame that triggers the handshake is dropped, as in the original.
        this.sendText(encodeFileManifest(manifestEntries(target.workspaceId, files), isFreshClient(payload)));
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
      return false;
    }
    this.docs.set(docId, DocState.Joined);
    this.ctx.logger.debug('joined', { conn: this.id, doc: docId, user: this.ctx.user });
    return true;
  }

  private async handleText(text: string): Promise<void> {
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
        this.docs.delete(msg.doc);
        if (state === DocState.Joined) await this.ctx.core.leave(msg.doc, this);
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
