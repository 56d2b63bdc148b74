/**
 * The server end of a WebSocket without a socket: the server's own
 * `Connection` (per-doc auth, Files-Ready handshake, ordered handling) over a
 * `FakeSocket` that hands every frame the server sends to the caller. Tests
 * and the fuzz simulation drive a real `SyncCore` through it in one process.
 */
import { EventEmitter } from 'node:events';
import { Connection, type ConnectionContext } from '../connection';

/** What the caller does with the server side of one connection. */
export interface ServerLinkHandlers {
  /** The server sent a frame. */
  send(binary: boolean, data: Uint8Array | string): void;
  /** The server closed the socket (code as sent). */
  closed(code: number): void;
}

/** The `ws` WebSocket surface that `Connection` uses. */
export class FakeSocket extends EventEmitter {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;

  constructor(private readonly handlers: ServerLinkHandlers) {
    super();
  }

  send(data: Uint8Array | string): void {
    if (this.readyState !== this.OPEN) return;
    if (typeof data === 'string') this.handlers.send(false, data);
    else this.handlers.send(true, new Uint8Array(data));
  }

  close(code = 1000): void {
    if (this.readyState === this.CLOSED) return;
    this.readyState = this.CLOSED;
    this.handlers.closed(code);
    this.emit('close', code);
  }

  terminate(): void {
    this.close(1006);
  }

  ping(): void {}

  /** The peer went away (network failure or client close): no notice to the handlers. */
  dropFromPeer(): void {
    if (this.readyState === this.CLOSED) return;
    this.readyState = this.CLOSED;
    this.emit('close', 1006);
  }
}

/** The server end of one in-memory WebSocket. */
export class ServerSide {
  constructor(
    private readonly socket: FakeSocket,
    readonly connection: Connection,
    /** Runs once the connection is idle (several nodes: until the other nodes relayed what this one stored). */
    private readonly afterIdle?: () => Promise<void>,
  ) {}

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  /** A frame from the client arrives. */
  receive(binary: boolean, data: Uint8Array | string): void {
    if (!this.open) return;
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    this.socket.emit('message', buf, binary);
  }

  /** The client side vanished. */
  drop(): void {
    this.socket.dropFromPeer();
  }

  /** The server closes the socket (the handlers hear of it): 1006 when the server vanished, 1001 when it shuts down. */
  close(code: number): void {
    this.socket.close(code);
  }

  /** Runs `listener` once the socket is closed, by either side. */
  onClose(listener: () => void): void {
    this.socket.once('close', listener);
  }

  /** Resolves when the connection has handled everything it received. */
  async idle(): Promise<void> {
    const c = this.connection as unknown as { queue: Promise<void> };
    for (;;) {
      const q = c.queue;
      await q;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (c.queue === q) break;
    }
    if (this.afterIdle) await this.afterIdle();
  }
}

/** Opens the server end of a link: a `Connection` with `context` over a fresh FakeSocket. */
export function openServerSide(context: ConnectionContext, handlers: ServerLinkHandlers, afterIdle?: () => Promise<void>): ServerSide {
  const socket = new FakeSocket(handlers);
  const connection = new Connection(socket as never, context);
  return new ServerSide(socket, connection, afterIdle);
}
