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
import type { AuthStore } from './auth';
import { Connection } from './connection';
import { CloseCode, describeError } from './errors';
import { handleHttpRequest, requestToken } from './http-api';
import type { Logger } from './log';
import type { SyncCore } from './sync-core';

/** Interval between pings; a socket that missed one pong is dropped at the next tick. */
export const HEARTBEAT_INTERVAL_MS = 30_000;
/** How long shutdown waits for clients to complete the close handshake. */
const CLOSE_GRACE_MS = 2_000;
const WS_ROUTE = /^(?:\/api)?(?:\/sync2|\/namespaces\/[^/]+\/sync|\/ns\/[^/]+\/sync)\/?$/;

/** What the network edge needs. */
export interface SyncServerContext {
  core: SyncCore;
  auth: AuthStore;
  logger: Logger;
  host: string;
  port: number;
  maxMessageBytes: number;
  maxConnectionsPerUser: number;
  snapshotUploadMaxBytes: number;
}

export class SyncServer {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly perKey = new Map<string, number>();
  private heartbeat: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;

  constructor(private readonly ctx: SyncServerContext) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: ctx.maxMessageBytes });
    this.http = http.createServer((req, res) => {
      void handleHttpRequest(
        {
          core: ctx.core,
          auth: ctx.auth,
          logger: ctx.logger,
          snapshotUploadMaxBytes: ctx.snapshotUploadMaxBytes,
          activeConnections: () => this.connections.size,
        },
        req,
        res,
      );
    });
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket as Socket, head));
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
      this.http.listen(this.ctx.port, this.ctx.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.heartbeat = setInterval(() => {
      for (const c of this.connections) c.heartbeat();
    }, HEARTBEAT_INTERVAL_MS);
    this.heartbeat.unref();
    return (this.http.address() as AddressInfo).port;
  }

  private upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (this.closing || !WS_ROUTE.test(url.pathname)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const token = requestToken(req, url);
    let user: string | null = null;
    try {
      user = this.ctx.auth.authenticate(token);
    } catch {
      // Auth is decided per doc; a socket without a valid token stays open but reaches nothing.
    }
    const key = user !== null ? `user:${user}` : `addr:${socket.remoteAddress ?? '?'}`;
    const count = this.perKey.get(key) ?? 0;
    if (count >= this.ctx.maxConnectionsPerUser) {
      this.ctx.logger.warn('connection limit reached', { user, path: url.pathname, limit: this.ctx.maxConnectionsPerUser });
      socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.perKey.set(key, count + 1);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new Connection(ws, { core: this.ctx.core, logger: this.ctx.logger, token, user });
      this.connections.add(conn);
      this.ctx.logger.debug('connection opened', { conn: conn.id, user, path: url.pathname });
      ws.on('close', () => {
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
    if (this.heartbeat) clearInterval(this.heartbeat);
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
