/**
 * The simulated network between the devices and the in-process server.
 *
 * Each device owns at most one connection (what its guest asked for through
 * `host_ws_request`, with the WsBridge's rules: `connect` with the same key
 * is a no-op, another key replaces it, sends before the open are queued and
 * flushed on open, a close the guest did not ask for calls `on_disconnected`
 * and schedules a reconnect with backoff). An open connection is a `Link`
 * with one queue per direction; every message gets a delivery time (now plus
 * a random delay, FIFO per direction).
 *
 * `deliverOne` hands one ready message to its receiver, choosing the link and
 * direction at random (so links interleave arbitrarily) and applying the
 * configured faults: drop, duplicate, and reorder within a direction.
 * `dropLink` cuts a connection (both sides see it close, in-flight messages
 * are lost). Everything is counted in `stats`.
 */
import type { WsRequest, WsResponse } from '../host-harness/src/host-types';
import type { Prng } from './prng';
import type { ServerSide } from '../server/src/testing/memory-link';
import type { SimBackend } from './sim-server';
import { SERVER_URL } from './sim-server';
import { decodeBase64 } from '../common/src/base64';
import { reconnectDelay } from '../common/src/host/backoff';

export interface NetConfig {
  /** Largest delivery delay in simulated ms. */
  maxDelayMs: number;
  /** Per delivered message: probability that it is lost instead. */
  pDrop: number;
  /** Per delivered message: probability that it arrives twice. */
  pDuplicate: number;
  /** Per delivery: probability that the second message of a direction overtakes the first. */
  pReorder: number;
}

export const PERFECT_NET: NetConfig = { maxDelayMs: 0, pDrop: 0, pDuplicate: 0, pReorder: 0 };

export interface Msg {
  kind: 'frame' | 'close';
  binary: boolean;
  data: Uint8Array | string;
  at: number;
}

/** What the network needs from a device. */
export interface NetDevice {
  readonly index: number;
  /** Calls a plugin export (ignored when the plugin is not running). */
  call(name: string, input: string | Uint8Array): Promise<void>;
}

export class Link {
  static nextId = 1;
  readonly id = Link.nextId++;
  readonly toServer: Msg[] = [];
  readonly toDevice: Msg[] = [];
  /** Frames handled so far (device side), to spot links still in their handshake. */
  deviceFrames = 0;
  handshakeDone = false;
  constructor(
    readonly deviceIndex: number,
    readonly side: ServerSide,
  ) {}
}

/** The connection a guest asked for. */
interface GuestConn {
  key: string;
  workspaceId: string;
  writeToDisk: boolean;
  link: Link | null;
  /** Sends made while not open, flushed on open. */
  pending: Msg[];
  /** When the next open attempt happens (null while open). */
  openAt: number | null;
  attempt: number;
}

export interface NetStats {
  delivered: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  linkDrops: number;
  handshakeDrops: number;
  serverCloses: number;
  failedOpens: number;
}

export class Network {
  config: NetConfig;
  readonly stats: NetStats = { delivered: 0, dropped: 0, duplicated: 0, reordered: 0, linkDrops: 0, handshakeDrops: 0, serverCloses: 0, failedOpens: 0 };
  private readonly conns = new Map<number, GuestConn>();
  /** Called after the server handled a frame from a device (doc id known to the caller). */
  onServerReceived: (frame: Uint8Array, side: ServerSide) => void | Promise<void> = () => {};
  /** Observes every frame a device's guest sends (encrypted runs keep them for the plaintext scan). */
  onDeviceSend: ((device: number, data: Uint8Array | string) => void) | null = null;
  /** Observes every delivered message (traces). */
  onDeliver: ((device: number, toServer: boolean, msg: Msg) => void) | null = null;

  constructor(
    private readonly server: SimBackend,
    private readonly devices: readonly NetDevice[],
    private readonly now: () => number,
    private readonly rng: () => Prng,
    config: NetConfig,
  ) {
    this.config = config;
  }

  private delay(queue: Msg[]): number {
    const base = this.now() + (this.config.maxDelayMs > 0 ? this.rng().int(this.config.maxDelayMs + 1) : 0);
    const last = queue.length > 0 ? queue[queue.length - 1].at : 0;
    return Math.max(base, last);
  }

  private push(queue: Msg[], msg: Omit<Msg, 'at'>): void {
    queue.push({ ...msg, at: this.delay(queue) });
  }

  // ---- the guest's host_ws_request ---------------------------------------

  /** host_ws_request for device `index` (runs inside a plugin call: never calls the plugin). */
  wsRequest(index: number, req: WsRequest): WsResponse {
    switch (req.type) {
      case 'connect': {
        const token = typeof req.auth_token === 'string' ? req.auth_token : '';
        const writeToDisk = req.write_to_disk !== false;
        const key = [req.server_url, req.workspace_id, token, req.session_code ?? '', writeToDisk ? '1' : '0'].join('|');
        const current = this.conns.get(index);
        if (current && current.key === key) return { ok: true };
        if (!req.server_url.startsWith(SERVER_URL)) return { ok: false, error: `host_ws_request: unknown server ${req.server_url}` };
        this.stop(index);
        this.conns.set(index, { key, workspaceId: req.workspace_id, writeToDisk, link: null, pending: [], openAt: this.now(), attempt: 0 });
        return { ok: true };
      }
      case 'send_binary':
      case 'send_text': {
        const conn = this.conns.get(index);
        if (!conn) return { ok: false, error: 'host_ws_request: WebSocket bridge is not connected' };
        const msg: Omit<Msg, 'at'> =
          req.type === 'send_binary' ? { kind: 'frame', binary: true, data: decodeBase64(req.data) } : { kind: 'frame', binary: false, data: req.text };
        this.onDeviceSend?.(index, msg.data);
        if (conn.link) this.push(conn.link.toServer, msg);
        else conn.pending.push({ ...msg, at: 0 });
        return { ok: true };
      }
      case 'disconnect':
        this.stop(index);
        return { ok: true };
      default:
        return { ok: false, error: 'host_ws_request: unknown request type' };
    }
  }

  /** Ends a device's connection without telling its guest (the guest asked, or the process died). */
  stop(index: number): void {
    const conn = this.conns.get(index);
    if (!conn) return;
    this.conns.delete(index);
    if (conn.link) conn.link.side.drop();
  }

  // ---- state --------------------------------------------------------------

  links(): Link[] {
    return [...this.conns.values()].flatMap((c) => (c.link ? [c.link] : []));
  }

  linkOf(index: number): Link | null {
    return this.conns.get(index)?.link ?? null;
  }

  /** True while some message is queued or some open is scheduled. */
  busy(): boolean {
    for (const c of this.conns.values()) {
      if (c.openAt !== null) return true;
      if (c.link && (c.link.toServer.length > 0 || c.link.toDevice.length > 0)) return true;
    }
    return false;
  }

  queuedMessages(): number {
    return this.links().reduce((n, l) => n + l.toServer.length + l.toDevice.length, 0);
  }

  /** Makes every scheduled open due now (healing). */
  openNow(): void {
    for (const c of this.conns.values()) if (c.openAt !== null) c.openAt = this.now();
  }

  /** Makes every queued message deliverable now (healing). */
  deliverableNow(): void {
    for (const l of this.links()) for (const m of [...l.toServer, ...l.toDevice]) m.at = Math.min(m.at, this.now());
  }

  // ---- events -------------------------------------------------------------

  /** Opens the connections whose time has come (in device order). */
  async processOpens(): Promise<void> {
    for (const [index, conn] of [...this.conns.entries()].sort((a, b) => a[0] - b[0])) {
      if (conn.openAt === null || conn.openAt > this.now()) continue;
      if (this.conns.get(index) !== conn) continue;
      await this.open(index, conn);
    }
  }

  private async open(index: number, conn: GuestConn): Promise<void> {
    conn.openAt = null;
    let link: Link | null = null;
    const side = this.server.accept({
      send: (binary, data) => {
        if (link) this.push(link.toDevice, { kind: 'frame', binary, data });
      },
      closed: () => {
        if (link) this.push(link.toDevice, { kind: 'close', binary: false, data: '' });
      },
    }, index);
    const device = this.devices[index];
    if (!side) {
      this.stats.failedOpens++;
      conn.attempt++;
      conn.openAt = this.now() + reconnectDelay(conn.attempt);
      await device.call('on_disconnected', '');
      return;
    }
    link = new Link(index, side);
    conn.link = link;
    conn.attempt = 0;
    for (const m of conn.pending) this.push(link.toServer, m);
    conn.pending = [];
    await device.call('on_connected', JSON.stringify({ workspace_id: conn.workspaceId, write_to_disk: conn.writeToDisk }));
  }

  /** The connection of `index` is gone (not asked by the guest): tell the guest and schedule a reconnect. */
  private async lost(index: number, link: Link): Promise<void> {
    const conn = this.conns.get(index);
    if (!conn || conn.link !== link) return;
    conn.link = null;
    conn.attempt++;
    conn.openAt = this.now() + reconnectDelay(conn.attempt);
    await this.devices[index].call('on_disconnected', '');
  }

  /** Cuts the connection of `index` (both sides see it close; in-flight messages are lost). */
  async dropLink(index: number, isFault = true): Promise<boolean> {
    const link = this.linkOf(index);
    if (!link) return false;
    if (isFault) {
      this.stats.linkDrops++;
      if (!link.handshakeDone) this.stats.handshakeDrops++;
    }
    link.side.drop();
    link.toServer.length = 0;
    link.toDevice.length = 0;
    await this.lost(index, link);
    return true;
  }

  /** Queues a frame from the server to a device's open connection, deliverable now; null without one. */
  injectToDevice(index: number, data: Uint8Array): { link: Link; msg: Msg } | null {
    const link = this.linkOf(index);
    if (!link) return null;
    const msg: Msg = { kind: 'frame', binary: true, data, at: this.now() };
    link.toDevice.push(msg);
    return { link, msg };
  }

  /**
   * Delivers what is queued for these devices' connections until each mark
   * was delivered (or lost: dropped, or its connection closed), with the
   * run's faults; nothing else moves meanwhile.
   */
  async deliverToDevicesThrough(marks: readonly { link: Link; msg: Msg }[], rng: Prng): Promise<void> {
    for (const { link } of marks) for (const m of link.toDevice) m.at = Math.min(m.at, this.now());
    for (;;) {
      const open = new Set(this.links());
      const waiting = marks.filter(({ link, msg }) => open.has(link) && link.toDevice.includes(msg));
      if (waiting.length === 0) return;
      const heads = new Set(waiting.flatMap(({ link }) => link.toDevice.slice(0, 2)));
      if (!(await this.deliverOne(rng, (m) => heads.has(m)))) return;
    }
  }

  /** Delivers one ready message (random link and direction; only heads accepted by `only`); false when none is ready. */
  async deliverOne(rng: Prng, only?: (m: Msg) => boolean): Promise<boolean> {
    const now = this.now();
    const ready: { link: Link; toServer: boolean }[] = [];
    const ok = (q: Msg[]) => q.length > 0 && q[0].at <= now && (!only || only(q[0]));
    for (const link of this.links()) {
      if (ok(link.toServer)) ready.push({ link, toServer: true });
      if (ok(link.toDevice)) ready.push({ link, toServer: false });
    }
    if (ready.length === 0) return false;
    const { link, toServer } = rng.pick(ready);
    const queue = toServer ? link.toServer : link.toDevice;
    let idx = 0;
    if (queue.length > 1 && queue[1].at <= now && queue[0].kind === 'frame' && queue[1].kind === 'frame' && rng.chance(this.config.pReorder)) {
      idx = 1;
      this.stats.reordered++;
    }
    const [msg] = queue.splice(idx, 1);
    if (msg.kind === 'frame' && rng.chance(this.config.pDrop)) {
      this.stats.dropped++;
      return true;
    }
    if (msg.kind === 'frame' && rng.chance(this.config.pDuplicate)) {
      this.stats.duplicated++;
      queue.splice(rng.int(Math.min(queue.length, 3) + 1), 0, { ...msg });
    }
    this.stats.delivered++;
    this.onDeliver?.(link.deviceIndex, toServer, msg);
    if (toServer) {
      link.side.receive(msg.binary, msg.data);
      await link.side.idle();
      if (msg.binary) {
        // Awaited only when asynchronous (encrypted runs), so plain runs keep their exact interleaving.
        const observed = this.onServerReceived(msg.data as Uint8Array, link.side);
        if (observed) await observed;
      }
      return true;
    }
    if (msg.kind === 'close') {
      this.stats.serverCloses++;
      await this.lost(link.deviceIndex, link);
      return true;
    }
    link.deviceFrames++;
    if (msg.binary || (typeof msg.data === 'string' && msg.data.includes('sync_complete'))) link.handshakeDone = true;
    await this.devices[link.deviceIndex].call(msg.binary ? 'handle_binary_message' : 'handle_text_message', msg.data);
    return true;
  }
}
