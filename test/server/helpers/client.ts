/**
 * A raw sync client for tests, built from ws, yjs and y-protocols: one
 * socket, any number of docs, each a Y.Doc kept in sync with y-protocols'
 * own message handlers. It records every frame and text it receives.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { decodeFrame, encodeFrame } from '../../../common/src/wire/frame';
import { waitFor } from './wait';

/** One received binary frame, decoded. */
export interface ReceivedFrame {
  docId: string;
  /** Top-level message type of the first message (0 sync, 1 awareness). */
  type: number;
  /** Sync subtype for type 0 (0 step1, 1 step2, 2 update). */
  subtype: number | null;
  raw: Uint8Array;
}

const REMOTE = Symbol('remote');
/** y-protocols' outer message type for sync messages (y-websocket's `messageSync`). */
const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;

export class TestClient {
  readonly docs = new Map<string, Y.Doc>();
  readonly frames: ReceivedFrame[] = [];
  readonly texts: string[] = [];
  readonly awareness = new Map<string, Uint8Array[]>();
  /** Docs whose incoming sync messages are applied to the local Y.Doc (all by default). */
  autoApply = true;
  closeCode: number | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) {
        this.texts.push(data.toString('utf8'));
        return;
      }
      this.onFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
    });
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('error', () => undefined);
  }

  /** Opens a socket to `url` with `?token=` (or a Bearer header when `header` is set). */
  static async connect(url: string, token: string | null, opts: { header?: boolean } = {}): Promise<TestClient> {
    const u = new URL(url);
    if (token !== null && !opts.header) u.searchParams.set('token', token);
    const headers: Record<string, string> = token !== null && opts.header ? { Authorization: `Bearer ${token}` } : {};
    const ws = new WebSocket(u.toString(), { headers });
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return client;
  }

  /** The local Y.Doc of a doc id; local changes are sent to the server as Update frames. */
  doc(docId: string): Y.Doc {
    let doc = this.docs.get(docId);
    if (!doc) {
      doc = new Y.Doc();
      doc.on('update', (update: Uint8Array, origin: unknown) => {
        if (origin !== REMOTE) this.sendUpdate(docId, update);
      });
      this.docs.set(docId, doc);
    }
    return doc;
  }

  /** Sends our SyncStep1 for a doc (creating the local doc). */
  sendStep1(docId: string): void {
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, MESSAGE_SYNC);
    syncProtocol.writeSyncStep1(enc, this.doc(docId));
    this.sendPayload(docId, encoding.toUint8Array(enc));
  }

  /** Sends our full state as SyncStep2. */
  sendStep2(docId: string, update: Uint8Array = Y.encodeStateAsUpdate(this.doc(docId))): void {
    this.sendPayload(docId, step2Payload(update));
  }

  /** Sends a y-sync Update message. */
  sendUpdate(docId: string, update: Uint8Array): void {
    this.sendPayload(docId, updatePayload(update));
  }

  /** Sends an awareness message. */
  sendAwareness(docId: string, update: Uint8Array): void {
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, MESSAGE_AWARENESS);
    encoding.writeVarUint8Array(enc, update);
    this.sendPayload(docId, encoding.toUint8Array(enc));
  }

  sendPayload(docId: string, payload: Uint8Array): void {
    this.ws.send(encodeFrame(docId, payload));
  }

  sendRaw(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }

  sendText(text: string): void {
    this.ws.send(text);
  }

  /** Parsed JSON texts of a given `type`. */
  textsOfType(type: string): Record<string, unknown>[] {
    return this.texts.map((t) => JSON.parse(t) as Record<string, unknown>).filter((m) => m.type === type);
  }

  framesFor(docId: string): ReceivedFrame[] {
    return this.frames.filter((f) => f.docId === docId);
  }

  /** Waits until a text message of `type` has arrived; returns the first one. */
  waitForText(type: string, timeout?: number): Promise<Record<string, unknown>> {
    return waitFor(() => this.textsOfType(type)[0], `text ${type}`, timeout);
  }

  /** Waits until the local doc's content equals `expected(doc)`. */
  async waitForDoc(docId: string, check: (doc: Y.Doc) => boolean, message = `doc ${docId}`): Promise<void> {
    await waitFor(() => check(this.doc(docId)), message);
  }

  /**
   * Round trip through the server for `docId`: sends SyncStep1 and waits for the
   * SyncStep2 answer. Messages of one connection are handled in order, so when
   * it arrives every earlier frame of this client for the doc was handled (and
   * stored).
   */
  async roundTrip(docId: string): Promise<void> {
    const before = this.framesFor(docId).filter((f) => f.subtype === 1).length;
    this.sendStep1(docId);
    await waitFor(() => this.framesFor(docId).filter((f) => f.subtype === 1).length > before, `SyncStep2 for ${docId}`);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }

  private onFrame(bytes: Uint8Array): void {
    const { docId, payload } = decodeFrame(bytes);
    const decoder = decoding.createDecoder(payload);
    const type = decoding.readVarUint(decoder);
    let subtype: number | null = null;
    if (type === 0) subtype = decoding.peekVarUint(decoder);
    this.frames.push({ docId, type, subtype, raw: bytes });
    if (type === 1) {
      const list = this.awareness.get(docId) ?? [];
      list.push(decoding.readVarUint8Array(decoder));
      this.awareness.set(docId, list);
      return;
    }
    if (type !== 0 || !this.autoApply) return;
    // A payload may hold several sync messages; answer each like y-protocols does.
    const doc = this.doc(docId);
    const dec = decoding.createDecoder(payload);
    while (decoding.hasContent(dec)) {
      const t = decoding.readVarUint(dec);
      if (t !== 0) break;
      const enc = encoding.createEncoder();
      encoding.writeVarUint(enc, MESSAGE_SYNC);
      syncProtocol.readSyncMessage(dec, enc, doc, REMOTE);
      if (encoding.length(enc) > 1) this.sendPayload(docId, encoding.toUint8Array(enc));
    }
  }
}

/** `[0, 1, len, update]` built with lib0, independent of the wire module. */
export function step2Payload(update: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 0);
  encoding.writeVarUint(enc, 1);
  encoding.writeVarUint8Array(enc, update);
  return encoding.toUint8Array(enc);
}

/** `[0, 2, len, update]` built with y-protocols. */
export function updatePayload(update: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, MESSAGE_SYNC);
  syncProtocol.writeUpdate(enc, update);
  return encoding.toUint8Array(enc);
}

/** An awareness update announcing `state` for a fresh awareness of `doc`. */
export function awarenessUpdate(doc: Y.Doc, state: Record<string, unknown>): { update: Uint8Array; awareness: awarenessProtocol.Awareness } {
  const awareness = new awarenessProtocol.Awareness(doc);
  awareness.setLocalState(state);
  return { update: awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]), awareness };
}

/** Workspace files-map entry JSON (FileMetadata with serde defaults). */
export function fileMeta(filename: string, extra: Partial<{ title: string | null; part_of: string | null; deleted: boolean; modified_at: number }> = {}): string {
  return JSON.stringify({
    filename,
    title: extra.title ?? null,
    part_of: extra.part_of ?? null,
    contents: null,
    attachments: [],
    deleted: extra.deleted ?? false,
    audience: null,
    description: null,
    extra: {},
    modified_at: extra.modified_at ?? 1773489600000,
  });
}
