/**
 * Plugin sessions against the real server core in memory: each client is a
 * `SyncSession` over the in-memory `MemoryDocs`, performing its actions the
 * way the plugin's runtime does, linked to a `MemorySyncServer`
 * (server/src/testing/memory-server.ts: the server's `SyncCore` and
 * `Connection`). The server answers asynchronously, so delivery is a loop:
 * wait until the server handled what it received, deliver what it sent, until
 * nothing moves (`pump`). Frames reach a client only when the test delivers
 * them, so a test decides the order and replays exactly.
 */
import type { SessionAction } from '../../common/src/wire/envelope';
import type { SyncEvent } from '../../common/src/wire/events';
import { SyncSession } from '../../plugin/src/sync/session';
import { MemoryDocs } from '../../plugin/src/sync/testing/memory-docs';
import type { ServerSide } from '../../server/src/testing/memory-link';
import type { MemorySyncServer } from '../../server/src/testing/memory-server';

/** What the server sent to a client, in order; `closed` when the server closed the socket. */
type Inbound = { kind: 'binary'; data: Uint8Array } | { kind: 'text'; text: string } | { kind: 'closed'; code: number };

/** What a client sent to the server. */
export type Outbound = { kind: 'binary'; data: Uint8Array } | { kind: 'text'; text: string };

/** A plugin instance: MemoryDocs + SyncSession, executing actions like the runtime's dispatcher. */
export class RelayClient {
  readonly docs: MemoryDocs;
  readonly session: SyncSession;
  readonly inbox: Inbound[] = [];
  readonly events: SyncEvent[] = [];
  /** Every action dispatched, in order (first-level and follow-ups). */
  readonly dispatched: SessionAction[] = [];
  /** Every frame and text sent to the server, in order. */
  readonly sent: Outbound[] = [];
  private side: ServerSide | null = null;

  constructor(
    readonly name: string,
    readonly server: MemorySyncServer,
    readonly workspaceId: string,
    clientId?: number,
  ) {
    this.docs = new MemoryDocs(workspaceId, clientId);
    this.session = new SyncSession(this.docs, { workspaceId });
  }

  get online(): boolean {
    return this.side !== null;
  }

  /** Opens a link to the server and tells the session. */
  connect(): SessionAction[] {
    if (this.side) throw new Error(`${this.name} is already connected`);
    const side = this.server.accept({
      send: (_binary, data) => this.inbox.push(typeof data === 'string' ? { kind: 'text', text: data } : { kind: 'binary', data }),
      closed: (code) => this.inbox.push({ kind: 'closed', code }),
    });
    this.side = side;
    return this.run(this.session.connected(this.workspaceId, true));
  }

  /** The client's socket goes away: the server sees it drop, undelivered frames are lost. */
  disconnect(): SessionAction[] {
    this.side?.drop();
    this.side = null;
    this.inbox.length = 0;
    return this.run(this.session.disconnected());
  }

  /**
   * Performs actions, then feeds local updates until none are left; returns
   * the actions given. The snapshot a DownloadSnapshot asks for is the host's
   * to import (test/e2e covers it); here the host reports it imported at once.
   */
  run(actions: SessionAction[]): SessionAction[] {
    const queue = [...actions];
    for (;;) {
      while (queue.length > 0) {
        const a = queue.shift()!;
        this.dispatched.push(a);
        switch (a.type) {
          case 'SendBinary':
            this.send({ kind: 'binary', data: a.data });
            break;
          case 'SendText':
            this.send({ kind: 'text', text: a.text });
            break;
          case 'EmitEvent':
            this.events.push(a.event);
            break;
          case 'DownloadSnapshot':
            queue.push(...this.session.snapshotImported());
            break;
        }
      }
      const follow = this.session.flushLocalUpdates();
      if (follow.length === 0) return actions;
      queue.push(...follow);
    }
  }

  private send(message: Outbound): void {
    // The session sends only while connected; anything else is a bug in it.
    if (!this.side) throw new Error(`${this.name} sent a ${message.kind} message while not connected`);
    this.sent.push(message);
    if (message.kind === 'binary') this.side.receive(true, message.data);
    else this.side.receive(false, message.text);
  }

  /** Delivers one message from the server; false when the inbox is empty. */
  deliverOne(): boolean {
    const m = this.inbox.shift();
    if (!m) return false;
    if (m.kind === 'closed') {
      // The server closed the socket: the host tells the session, as on any close.
      this.side = null;
      this.inbox.length = 0;
      this.run(this.session.disconnected());
    } else {
      this.run(m.kind === 'binary' ? this.session.binaryMessage(m.data) : this.session.textMessage(m.text));
    }
    return true;
  }
}

/**
 * Until nothing moves: waits for the server to handle what it received, then
 * delivers one message to each client in turn. Throws when messages still
 * flow after `limit` rounds.
 */
export async function pump(server: MemorySyncServer, clients: readonly RelayClient[], limit = 10_000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    await server.idle();
    let any = false;
    for (const c of clients) any = c.deliverOne() || any;
    if (!any) return;
  }
  throw new Error(`pump: messages still flowing after ${limit} rounds`);
}
