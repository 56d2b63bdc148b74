/**
 * host_ws_request in the page, over the browser's WebSocket, with the
 * behaviour of the Node harness's WsBridge (host-harness/src/ws-bridge.ts):
 *
 * - `connect {server_url, workspace_id, auth_token, session_code, write_to_disk}`
 *   opens `<base>/sync2?workspace_id=..&token=..` (http -> ws); the same
 *   connection key again is a no-op, another key replaces the connection.
 * - Sends while connecting or waiting to reconnect are queued and flushed on
 *   open; sends without any connection are refused.
 * - on_connected / handle_binary_message / handle_text_message /
 *   on_disconnected are called through the plugin's one call queue, in order.
 * - Reconnects after a close with backoff (common/src/host/backoff.ts); a
 *   connection the guest ended itself closes without on_disconnected.
 */
import { decodeBase64 } from '../../../common/src/base64';
import { reconnectDelay } from '../../../common/src/host/backoff';
import { syncSocketUrl } from '../../../common/src/host/server-url';

export interface WsRequest {
  type: string;
  server_url?: string;
  workspace_id?: string;
  auth_token?: string | null;
  session_code?: string | null;
  write_to_disk?: boolean;
  data?: string;
  text?: string;
}

export interface WsResponse {
  ok: boolean;
  error?: string;
}

export type WsState = 'idle' | 'connecting' | 'open' | 'backoff';

export interface WsCallbacks {
  /** Queues a plugin export call (the transport never calls the plugin directly). */
  call(name: string, input: string | Uint8Array): void;
  onState?(state: WsState, detail: string | null): void;
}

interface Connection {
  key: string;
  url: string;
  workspaceId: string;
  writeToDisk: boolean;
  socket: WebSocket | null;
  stopped: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  attempt: number;
}

const fail = (error: string): WsResponse => ({ ok: false, error: `host_ws_request: ${error}` });

export class WsTransport {
  private conn: Connection | null = null;
  private queue: (string | Uint8Array)[] = [];
  state: WsState = 'idle';

  constructor(private readonly cb: WsCallbacks) {}

  readonly handle = (req: WsRequest): WsResponse => {
    switch (req.type) {
      case 'connect':
        return this.connect(req);
      case 'send_binary':
        if (typeof req.data !== 'string') return fail('send_binary needs a base64 string "data"');
        try {
          return this.send(decodeBase64(req.data));
        } catch (e) {
          return fail(`invalid base64: ${(e as Error).message}`);
        }
      case 'send_text':
        if (typeof req.text !== 'string') return fail('send_text needs a string "text"');
        return this.send(req.text);
      case 'disconnect':
        this.stop();
        return { ok: true };
      default:
        return fail(`unknown request type: ${String(req.type)}`);
    }
  };

  private setState(state: WsState, detail: string | null = null): void {
    this.state = state;
    this.cb.onState?.(state, detail);
  }

  private connect(req: WsRequest): WsResponse {
    if (!req.server_url || !req.server_url.trim()) return fail('connect needs "server_url"');
    if (!req.workspace_id) return fail('connect needs "workspace_id"');
    const token = typeof req.auth_token === 'string' ? req.auth_token : '';
    const session = typeof req.session_code === 'string' ? req.session_code : '';
    const writeToDisk = req.write_to_disk !== false;
    const key = [req.server_url, req.workspace_id, token, session, writeToDisk ? '1' : '0'].join('|');
    if (this.conn && this.conn.key === key) return { ok: true };
    const url = syncSocketUrl(req.server_url, req.workspace_id, token, session);
    if (!/^wss?:\/\//.test(url)) return fail(`unsupported server_url: ${req.server_url}`);
    this.stop();
    this.conn = { key, url, workspaceId: req.workspace_id, writeToDisk, socket: null, stopped: false, timer: null, attempt: 0 };
    this.open(this.conn);
    return { ok: true };
  }

  private send(msg: string | Uint8Array): WsResponse {
    const conn = this.conn;
    if (!conn) return fail('WebSocket bridge is not connected');
    if (conn.socket && conn.socket.readyState === WebSocket.OPEN) conn.socket.send(msg as string | Uint8Array<ArrayBuffer>);
    else this.queue.push(msg);
    return { ok: true };
  }

  private open(conn: Connection): void {
    conn.timer = null;
    if (conn.stopped) return;
    this.setState('connecting');
    let socket: WebSocket;
    try {
      socket = new WebSocket(conn.url);
    } catch (e) {
      this.setState('idle', (e as Error).message);
      return;
    }
    socket.binaryType = 'arraybuffer';
    conn.socket = socket;
    socket.onopen = () => {
      if (conn.stopped) return socket.close(1000);
      conn.attempt = 0;
      const pending = this.queue;
      this.queue = [];
      for (const msg of pending) socket.send(msg as string | Uint8Array<ArrayBuffer>);
      this.setState('open');
      this.cb.call('on_connected', JSON.stringify({ workspace_id: conn.workspaceId, write_to_disk: conn.writeToDisk }));
    };
    socket.onmessage = (ev: MessageEvent) => {
      if (conn.stopped) return;
      if (typeof ev.data === 'string') this.cb.call('handle_text_message', ev.data);
      else this.cb.call('handle_binary_message', new Uint8Array(ev.data as ArrayBuffer));
    };
    socket.onclose = (ev: CloseEvent) => {
      conn.socket = null;
      if (conn.stopped) return;
      this.cb.call('on_disconnected', '');
      conn.attempt += 1;
      const delay = reconnectDelay(conn.attempt);
      conn.timer = setTimeout(() => this.open(conn), delay);
      this.setState('backoff', `closed (${ev.code}); retrying in ${Math.round(delay / 1000)} s`);
    };
  }

  private stop(): void {
    const conn = this.conn;
    this.queue = [];
    if (!conn) return;
    conn.stopped = true;
    if (conn.timer) clearTimeout(conn.timer);
    const socket = conn.socket;
    conn.socket = null;
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) socket.close(1000);
    this.conn = null;
    this.setState('idle');
  }
}
