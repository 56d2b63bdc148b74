/**
 * SyncServer: the network edge. Owns the HTTP server, the WebSocket upgrade
 * (routes `/sync2`, `/namespaces/{id}/sync`, `/ns/{id}/sync`, each also under
 * `/api`), per-user connection limits, heartbeats and signal handling. It hands
 * each socket to a Connection and each request to the HTTP API; documents
 * live in the SyncCore.
 *
 * The token of a WebSocket comes from `?token=` or `Authorization: Bearer`.
 * Request URLs are never logged with their query string.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { AttachmentService } from './attachments/service';
import type { AccessStore } from './auth';
import { Connection } from './connection';
import type { E2eeService } from './e2ee/service';
import { AccessDeniedError, CloseCode, describeError } from './errors';
import { handleHttpRequest, requestToken, UploadSlots } from './http-api';
import type { Logger } from './log';
import type { ServerOptions } from './options';
import { OutputBudget, UserDocCounts } from './quotas';
import { RateLimitedLog } from './rate-limited-log';
import { parseRequestTarget } from './request-target';
import type { SyncCore } from './sync-core';

/** Interval between pings; a socket that missed one pong is dropped at the next tick. */
export const HEARTBEAT_INTERVAL_MS = 30_000;
/** How long shutdown waits for clients to complete the close handshake. */
const CLOSE_GRACE_MS = 2_000;
/** How often the server-wide output budget is checked besides on sends. */
const OUTPUT_BUDGET_CHECK_MS = 1_000;
const WS_ROUTE = /^(?:\/api)?(?:\/sync2|\/namespaces\/[^/]+\/sync|\/ns\/[^/]+\/sync)\/?$/;

/** What the network edge needs. */
export interface SyncServerContext {
  core: SyncCore;
  auth: AccessStore;
  logger: Logger;
  options: ServerOptions;
  attachments: AttachmentService;
  /** Present on Postgres: the node's id and whether the database and LISTEN are up. */
  database?: DatabaseStatus;
  /** End-to-end encrypted workspaces. */
  e2ee?: E2eeService;
}

/** Health of a node's database link (Postgres). */
export interface DatabaseStatus {
  nodeId: string;
  status(): Promise<{ database: 'ok' | 'down'; listen: 'up' | 'down' }>;
}

/** Ends an upgrade request with a plain HTTP answer. */
function refuseUpgrade(socket: Socket, status: string): void {
  if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  else socket.destroy();
}

export class SyncServer {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  /** Established WebSockets per user (`user:x`) or per address for sockets without a valid token. */
  private readonly perKey = new Map<string, number>();
  private readonly noisyLog: RateLimitedLog;
  private readonly userDocs: UserDocCounts;
  private readonly outputBudget: OutputBudget;
  private readonly uploads: UploadSlots;
  private timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | null = null;

  constructor(private readonly ctx: SyncServerContext) {
    const o = ctx.options;
    this.noisyLog = new RateLimitedLog(ctx.logger);
    this.userDocs = new UserDocCounts(o.maxDocsPerUser);
    this.outputBudget = new OutputBudget(o.maxBufferedOutputBytes, () => this.connections);
    this.uploads = new UploadSlots(o.maxConcurrentUploads);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: o.maxMessageBytes });
    this.http = http.createServer((req, res) => {
      handleHttpRequest(
        {
          core: ctx.core,
          auth: ctx.auth,
          logger: ctx.logger,
          options: o,
          database: ctx.database,
          uploads: this.uploads,
          attachments: ctx.attachments,
          activeConnections: () => this.connections.size,
          e2ee: ctx.e2ee,
        },
        req,
        res,
      ).catch((e: unknown) => {
        // handleHttpRequest answers every failure itself; this is the last line.
        ctx.logger.error('request handler failed', { error: describeError(e) });
        res.destroy();
      });
    });
    this.http.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      // Until ws owns it, nobody else listens for errors of this socket (a reset would be uncaught).
      socket.on('error', () => socket.destroy());
      this.upgrade(req, socket, head).catch((e: unknown) => {
        this.noisyLog.log('warn', 'upgrade failed', { error: describeError(e) });
        socket.destroy();
      });
    });
    this.http.on('clientError', (_e, socket) => socket.destroy());
  }

  /** Open WebSocket connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Starts listening; resolves to the bound port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.ctx.options.port, this.ctx.options.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(() => {
        try {
          fn();
        } catch (e) {
          this.ctx.logger.error('periodic check failed', { error: describeError(e) });
        }
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(HEARTBEAT_INTERVAL_MS, () => {
      for (const c of this.connections) c.heartbeat();
    });
    every(OUTPUT_BUDGET_CHECK_MS, () => this.outputBudget.enforce());
    every(this.ctx.options.tokenCheckIntervalMs, () => {
      this.closeRevoked().catch((e: unknown) => this.noisyLog.log('warn', 'token check failed', { error: describeError(e) }));
    });
    return (this.http.address() as AddressInfo).port;
  }

  /**
   * Closes the sockets whose token no longer authenticates (revoked with
   * `token revoke`, possibly by another process, or its user taken off the
   * allow list). One lookup per distinct token.
   */
  async closeRevoked(): Promise<number> {
    const verdict = new Map<string, boolean>();
    let closed = 0;
    for (const c of this.connections) {
      if (c.user === null || c.token === null) continue;
      let valid = verdict.get(c.token);
      if (valid === undefined) {
        try {
          valid = (await this.ctx.auth.authenticate(c.token)) === c.user;
        } catch (e) {
          if (!(e instanceof AccessDeniedError)) throw e;
          valid = false;
        }
        verdict.set(c.token, valid);
      }
      if (!valid) {
        this.ctx.logger.info('closing connection: token revoked', { conn: c.id, user: c.user });
        c.close(CloseCode.TokenRevoked, 'token revoked');
        closed++;
      }
    }
    return closed;
  }

  private async upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const url = parseRequestTarget(req.url);
    if (url === null) {
      refuseUpgrade(socket, '400 Bad Request');
      return;
    }
    if (this.closing || !WS_ROUTE.test(url.pathname)) {
      refuseUpgrade(socket, '404 Not Found');
      return;
    }
    const token = requestToken(req, url);
    let user: string | null = null;
    try {
      user = await this.ctx.auth.authenticate(token);
    } catch (e) {
      // A socket without a valid token is accepted and closed at its first frame (connection.ts).
      if (!(e instanceof AccessDeniedError)) throw e;
    }
    const key = user !== null ? `user:${user}` : `addr:${socket.remoteAddress ?? '?'}`;
    const limit = this.ctx.options.maxConnectionsPerUser;
    if ((this.perKey.get(key) ?? 0) >= limit) {
      this.noisyLog.log('warn', 'connection limit reached', { user, path: url.pathname, limit });
      refuseUpgrade(socket, '429 Too Many Requests');
      return;
    }
    // The slot is taken only once the WebSocket is established (ws calls back
    // only then; a failed handshake is answered by ws and never counted) and
    // given back when it closes.
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const count = this.perKey.get(key) ?? 0;
      if (count >= limit) {
        ws.close(CloseCode.TryAgainLater, 'connection limit reached');
        return;
      }
      this.perKey.set(key, count + 1);
      const o = this.ctx.options;
      const conn = new Connection(ws, {
        core: this.ctx.core,
        logger: this.ctx.logger,
        noisyLog: this.noisyLog,
        token,
        user,
        limits: {
          maxFramesPerSecond: o.maxFramesPerSecond,
          yieldEveryMessages: o.yieldEveryMessages,
          maxDocsPerConnection: o.maxDocsPerConnection,
          maxBufferedBytesPerConnection: o.maxBufferedBytesPerConnection,
          unauthenticatedTimeoutMs: o.unauthenticatedTimeoutMs,
        },
        userDocs: this.userDocs,
        outputBudget: this.outputBudget,
        e2ee: this.ctx.e2ee?.hub,
      });
      this.connections.add(conn);
      this.ctx.logger.debug('connection opened', { conn: conn.id, user, path: url.pathname });
      ws.once('close', () => {
        this.connections.delete(conn);
        const n = (this.perKey.get(key) ?? 1) - 1;
        if (n <= 0) this.perKey.delete(key);
        else this.perKey.set(key, n);
      });
    });
  }

  /**
   * Stops accepting, closes every socket (1001), waits until each connection
   * has left its documents, then closes the HTTP server. Idempotent. The core
   * and storage are closed by the caller afterwards.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    const serverClosed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    const conns = [...this.connections];
    for (const c of conns) c.close(CloseCode.GoingAway, 'server shutting down');
    await Promise.all(conns.map((c) => c.finished));
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(conns.map((c) => c.socketClosed)),
      new Promise((resolve) => (grace = setTimeout(resolve, CLOSE_GRACE_MS))),
    ]);
    clearTimeout(grace);
    for (const c of conns) c.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await serverClosed;
  }
}

/**
 * Last resort: an exception that escaped every handler is logged and the
 * server keeps serving (every network input is parsed inside a handler, so
 * this is for bugs, not for input). Returns a function that removes it.
 */
export function installCrashGuard(logger: Logger): () => void {
  const onError = (e: unknown) => logger.error('uncaught exception; still serving', { error: describeError(e) });
  const onRejection = (e: unknown) => logger.error('unhandled rejection; still serving', { error: describeError(e) });
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onRejection);
  };
}

/**
 * Closes gracefully on SIGINT/SIGTERM (a second signal exits at once).
 * Returns a function that removes the handlers.
 */
export function installSignalHandlers(close: () => Promise<void>, logger: Logger): () => void {
  let received = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) {
      logger.warn('second signal: exiting without a clean shutdown', { signal });
      process.exit(1);
    }
    received = true;
    logger.info('shutting down', { signal });
    close().then(
      () => {
        process.exitCode = 0;
      },
      (e: unknown) => {
        logger.error('shutdown failed', { error: describeError(e) });
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
