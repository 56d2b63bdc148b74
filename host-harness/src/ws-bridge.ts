/**
 * The host-owned WebSocket behind host_ws_request (host-harness/README.md,
 * "WebSocket bridge"). The guest asks for `connect`, `send_binary`, `send_text`
 * and `disconnect`; the bridge owns one socket (the `ws` package) and feeds what
 * happens back into the guest: `on_connected` on open, `handle_binary_message`
 * / `handle_text_message` per frame, `on_disconnected` on close, error or a
 * failed connect. Those calls go through the plugin's call queue, in order.
 *
 * - `connect` is idempotent: the key `server_url|workspace_id|token|session|
 *   write_to_disk(0/1)` equal to the current one is a no-op; a different key
 *   replaces the connection. It returns at once, without waiting for the open.
 * - URL: trailing `/`, `/sync2` and `/sync` are stripped from server_url,
 *   http -> ws and https -> wss, then
 *   `<base>/sync2?workspace_id=<id>[&token=<t>][&session=<code>]`.
 * - Sends while the socket is not open (connecting or waiting to reconnect)
 *   are queued and flushed, in order, when it opens. Sends with no connection
 *   at all are refused ("WebSocket bridge is not connected").
 * - Reconnect after a close: delay min(1000 * 1.5^(attempt-1), 30000) ms,
 *   the attempt count reset on open. `disconnect` stops reconnecting.
 * - A connection the guest ended itself (`disconnect`, or a connect with a
 *   different key) closes without an `on_disconnected` callback: the guest
 *   already knows, and may be shutting down.
 * - Pings every 30 s keep idle connections alive; pongs are automatic.
 */
import WebSocket from 'ws';
import { Base64Error, decodeBase64 } from '../../common/src/base64';
import { reconnectDelay } from '../../common/src/host/backoff';
import { syncSocketUrl } from '../../common/src/host/server-url';
import type { WsRequest, WsResponse } from './host-types';

/** What the bridge needs from a plugin: queued export calls. */
export interface PluginCaller {
  callRaw(name: string, input: string | Uint8Array): Promise<Uint8Array>;
}

export type WsBridgeState = 'idle' | 'connecting' | 'open' | 'backoff';

export interface WsBridgeStatus {
  state: WsBridgeState;
  url: string | null;
  key: string | null;
  /** Failed or closed connections since the last successful open. */
  attempt: number;
  /** Delay before the scheduled reconnect, while in backoff. */
  nextDelayMs: number | null;
  /** Sends waiting for the socket to open. */
  queued: number;
  /** Successful opens since the bridge was created. */
  opens: number;
  framesSent: number;
  framesReceived: number;
  /** Payload bytes sent and received (binary and text frames). */
  bytesSent: number;
  bytesReceived: number;
  /** Why the last connection failed or closed: the socket error, or the close code and reason the server sent. */
  lastError: string | null;
  /** Error code of the last socket error (`ECONNREFUSED`, `ENOTFOUND`, ...), when it had one. */
  lastErrorCode: string | null;
}

export interface WsBridgeOptions {
  /** Largest incoming message in bytes (default 64 MiB). */
  maxPayload?: number;
  /** First reconnect delay (default 1000 ms); grows by `backoffFactor` up to `maxDelayMs`. */
  baseDelayMs?: number;
  backoffFactor?: number;
  maxDelayMs?: number;
  /** Ping interval in ms (default 30 000; 0 disables). */
  pingIntervalMs?: number;
  /** Called on every status change. */
  onStatus?: (status: WsBridgeStatus) => void;
  /** Every message received, after the plugin handled it. */
  onMessage?: (data: Uint8Array, isBinary: boolean) => void;
  /** Called when a plugin callback fails (the bridge carries on). */
  onCallbackError?: (exportName: string, error: unknown) => void;
}

const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;

interface Connection {
  key: string;
  url: string;
  workspaceId: string;
  writeToDisk: boolean;
  socket: WebSocket | null;
  stopped: boolean;
  timer: NodeJS.Timeout | null;
  ping: NodeJS.Timeout | null;
}

type Outgoing = { binary: true; data: Uint8Array } | { binary: false; text: string };

const fail = (error: string): WsResponse => ({ ok: false, error: `host_ws_request: ${error}` });

export class WsBridge {
  private caller: PluginCaller | null = null;
  private conn: Connection | null = null;
  private queue: Outgoing[] = [];
  private callbacks: Promise<void> = Promise.resolve();
  private readonly s: WsBridgeStatus = {
    state: 'idle',
    url: null,
    key: null,
    attempt: 0,
    nextDelayMs: null,
    queued: 0,
    opens: 0,
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    lastError: null,
    lastErrorCode: null,
  };

  constructor(private readonly options: WsBridgeOptions = {}) {}

  /** Sets the plugin the bridge calls back into. */
  attach(caller: PluginCaller): void {
    this.caller = caller;
  }

  /** A copy of the current status. */
  status(): WsBridgeStatus {
    return { ...this.s, queued: this.queue.length };
  }

  /** Resolves when every plugin callback scheduled so far has finished. */
  async idle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.callbacks;
      await seen;
    } while (seen !== this.callbacks);
  }

  /** The host_ws_request handler (synchronous, as host functions are). */
  readonly handle = (req: WsRequest): WsResponse => {
    switch (req.type) {
      case 'connect':
        return this.connect(req);
      case 'send_binary': {
        if (typeof req.data !== 'string') return fail('send_binary needs a base64 string "data"');
        let data: Uint8Array;
        try {
          data = decodeBase64(req.data);
        } catch (e) {
          return fail(`invalid base64: ${e instanceof Base64Error ? e.message : String(e)}`);
        }
        return this.send({ binary: true, data });
      }
      case 'send_text':
        if (typeof req.text !== 'string') return fail('send_text needs a string "text"');
        return this.send({ binary: false, text: req.text });
      case 'disconnect':
        this.stop();
        return { ok: true };
      default:
        return fail(`unknown request type: ${String((req as { type?: unknown }).type)}`);
    }
  };

  private connect(req: Extract<WsRequest, { type: 'connect' }>): WsResponse {
    if (typeof req.server_url !== 'string' || req.server_url.trim() === '') return fail('connect needs "server_url"');
    if (typeof req.workspace_id !== 'string' || req.workspace_id === '') return fail('connect needs "workspace_id"');
    const token = typeof req.auth_token === 'string' ? req.auth_token : '';
    const session = typeof req.session_code === 'string' ? req.session_code : '';
    const writeToDisk = req.write_to_disk !== false;
    const key = [req.server_url, req.workspace_id, token, session, writeToDisk ? '1' : '0'].join('|');
    if (this.conn && this.conn.key === key) return { ok: true };
    let url: string;
    try {
      url = syncSocketUrl(req.server_url, req.workspace_id, token, session);
      const protocol = new URL(url).protocol;
      if (protocol !== 'ws:' && protocol !== 'wss:') return fail(`unsupported server_url scheme: ${protocol}`);
    } catch {
      return fail(`invalid server_url: ${req.server_url}`);
    }
    this.stop();
    const conn: Connection = { key, url, workspaceId: req.workspace_id, writeToDisk, socket: null, stopped: false, timer: null, ping: null };
    this.conn = conn;
    this.s.key = key;
    this.s.url = url;
    this.s.attempt = 0;
    this.open(conn);
    return { ok: true };
  }

  private send(msg: Outgoing): WsResponse {
    const conn = this.conn;
    if (!conn) return fail('WebSocket bridge is not connected');
    const socket = conn.socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      this.transmit(socket, msg);
    } else {
      this.queue.push(msg);
      this.changed();
    }
    return { ok: true };
  }

  private transmit(socket: WebSocket, msg: Outgoing): void {
    if (msg.binary) socket.send(msg.data, { binary: true });
    else socket.send(msg.text, { binary: false });
    this.s.bytesSent += msg.binary ? msg.data.length : Buffer.byteLength(msg.text);
    this.s.framesSent += 1;
  }

  private changed(): void {
    this.options.onStatus?.(this.status());
  }

  private setState(state: WsBridgeState): void {
    this.s.state = state;
    if (state !== 'backoff') this.s.nextDelayMs = null;
    this.changed();
  }

  /** Schedules a plugin export call after every earlier one. */
  private callback(name: string, input: string | Uint8Array): void {
    this.callbacks = this.callbacks.then(async () => {
      if (!this.caller) return;
      try {
        await this.caller.callRaw(name, input);
      } catch (e) {
        this.s.lastError = `${name}: ${(e as Error).message ?? String(e)}`;
        this.options.onCallbackError?.(name, e);
        this.changed();
      }
    });
  }

  private open(conn: Connection): void {
    conn.timer = null;
    if (conn.stopped) return;
    this.setState('connecting');
    const socket = new WebSocket(conn.url, { maxPayload: this.options.maxPayload ?? DEFAULT_MAX_PAYLOAD });
    conn.socket = socket;
    socket.on('open', () => {
      if (conn.stopped) {
        socket.close(1000);
        return;
      }
      this.s.attempt = 0;
      this.s.opens += 1;
      this.s.lastError = null;
      this.s.lastErrorCode = null;
      const pending = this.queue;
      this.queue = [];
      for (const msg of pending) this.transmit(socket, msg);
      const pingMs = this.options.pingIntervalMs ?? 30_000;
      if (pingMs > 0) {
        conn.ping = setInterval(() => {
          if (socket.readyState === WebSocket.OPEN) socket.ping();
        }, pingMs);
        conn.ping.unref();
      }
      this.setState('open');
      this.callback('on_connected', JSON.stringify({ workspace_id: conn.workspaceId, write_to_disk: conn.writeToDisk }));
    });
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (conn.stopped) return;
      this.s.framesReceived += 1;
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      this.s.bytesReceived += bytes.length;
      if (isBinary) this.callback('handle_binary_message', new Uint8Array(bytes));
      else this.callback('handle_text_message', bytes.toString('utf8'));
      this.options.onMessage?.(bytes, isBinary);
    });
    let failed = false;
    socket.on('error', (err: Error) => {
      failed = true;
      this.s.lastError = err.message;
      this.s.lastErrorCode = (err as NodeJS.ErrnoException).code ?? null;
    });
    socket.on('close', (code: number, reason: Buffer) => {
      if (!failed && !conn.stopped) {
        const text = reason.toString('utf8');
        this.s.lastError = `closed by the server (code ${code}${text ? `: ${text}` : ''})`;
        this.s.lastErrorCode = null;
      }
      if (conn.ping) clearInterval(conn.ping);
      conn.ping = null;
      conn.socket = null;
      if (conn.stopped) return;
      this.callback('on_disconnected', '');
      this.s.attempt += 1;
      const delay = reconnectDelay(this.s.attempt, { baseMs: this.options.baseDelayMs, factor: this.options.backoffFactor, maxMs: this.options.maxDelayMs });
      this.s.nextDelayMs = delay;
      conn.timer = setTimeout(() => this.open(conn), delay);
      this.setState('backoff');
    });
  }

  /** Ends the current connection (no reconnect, no on_disconnected) and drops queued sends. */
  private stop(): void {
    const conn = this.conn;
    this.queue = [];
    if (!conn) return;
    conn.stopped = true;
    if (conn.timer) clearTimeout(conn.timer);
    if (conn.ping) clearInterval(conn.ping);
    conn.timer = null;
    conn.ping = null;
    const socket = conn.socket;
    conn.socket = null;
    if (socket) {
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else if (socket.readyState === WebSocket.OPEN) socket.close(1000);
    }
    this.conn = null;
    this.s.key = null;
    this.s.url = null;
    this.s.attempt = 0;
    this.setState('idle');
  }

  /** Disconnects and waits for the callbacks already scheduled. */
  async close(): Promise<void> {
    this.stop();
    await this.idle();
  }
}
