/**
 * A small in-memory stand-in for the sync server and the host around a
 * SyncSession, for tests: per-doc lazy join, the Files-Ready handshake on the
 * workspace doc (the triggering frame is dropped, as the real server does),
 * SyncStep1 on join, SyncStep2 replies, and relaying of updates to the other
 * clients of a doc. Delivery is explicit (`pump`), so tests are deterministic.
 */
import * as Y from 'yjs';
import { encodeBase64 } from '../../../../common/src/base64';
import {
  encodeCrdtState,
  encodeFileManifest,
  encodeSyncComplete,
  isFilesReady,
  parseControlMessage,
  type FileManifestEntry,
} from '../../../../common/src/wire/control';
import type { SessionAction } from '../../../../common/src/wire/envelope';
import type { SyncEvent } from '../../../../common/src/wire/events';
import { decodeFrame, encodeFrame, parseDocId } from '../../../../common/src/wire/frame';
import { decodeSyncMessages, encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate } from '../../../../common/src/wire/sync';
import { MemoryDocs } from './memory-docs';
import { SyncSession } from '../session';
import { FILES_MAP_NAME } from '../../../../common/src/workspace/schema';

type Inbound = { kind: 'binary'; data: Uint8Array } | { kind: 'text'; text: string };

interface Connection {
  client: TestClient;
  joined: Set<string>;
  pendingHandshake: Set<string>;
}

export class FakeServer {
  readonly docs = new Map<string, Y.Doc>();
  private readonly connections: Connection[] = [];
  /** Every frame and text the server received, in order. */
  readonly received: Array<{ from: string; frame?: Uint8Array; text?: string }> = [];
  /** Answer `client_is_new: true` in manifests. */
  clientIsNew = false;

  doc(docId: string): Y.Doc {
    let d = this.docs.get(docId);
    if (!d) {
      d = new Y.Doc();
      this.docs.set(docId, d);
    }
    return d;
  }

  private activeFiles(workspaceDocId: string): string[] {
    const files: string[] = [];
    this.doc(workspaceDocId)
      .getMap<string>(FILES_MAP_NAME)
      .forEach((v, k) => {
        if (!(JSON.parse(v) as { deleted?: boolean }).deleted) files.push(k);
      });
    return files.sort();
  }

  attach(client: TestClient): void {
    this.connections.push({ client, joined: new Set(), pendingHandshake: new Set() });
  }

  detach(client: TestClient): void {
    const i = this.connections.findIndex((c) => c.client === client);
    if (i >= 0) this.connections.splice(i, 1);
  }

  private conn(client: TestClient): Connection {
    const c = this.connections.find((x) => x.client === client);
    if (!c) throw new Error(`${client.name} is not connected`);
    return c;
  }

  receiveBinary(client: TestClient, frame: Uint8Array): void {
    this.received.push({ from: client.name, frame });
    const c = this.conn(client);
    const { docId, payload } = decodeFrame(frame);
    const parsed = parseDocId(docId);
    if (!c.joined.has(docId)) {
      if (parsed?.kind === 'workspace' && this.activeFiles(docId).length > 0) {
        // Files-Ready handshake: manifest, doc held pending, this frame dropped.
        const ws = parsed.workspaceId;
        const files: FileManifestEntry[] = this.activeFiles(docId).map((f) => ({
          doc_id: `body:${ws}/${f}`,
          filename: f,
          title: null,
          part_of: null,
          deleted: false,
        }));
        c.pendingHandshake.add(docId);
        client.inbox.push({ kind: 'text', text: encodeFileManifest(files, this.clientIsNew) });
        return;
      }
      this.join(c, docId);
    }
    this.handle(c, docId, frame, payload);
  }

  receiveText(client: TestClient, text: string): void {
    this.received.push({ from: client.name, text });
    const c = this.conn(client);
    if (!isFilesReady(parseControlMessage(text))) return;
    for (const docId of [...c.pendingHandshake]) {
      c.pendingHandshake.delete(docId);
      const state = Y.encodeStateAsUpdate(this.doc(docId));
      client.inbox.push({ kind: 'text', text: encodeCrdtState(encodeBase64(state)) });
      client.inbox.push({ kind: 'text', text: encodeSyncComplete(this.activeFiles(docId).length) });
      this.join(c, docId);
    }
  }

  private join(c: Connection, docId: string): void {
    c.joined.add(docId);
    c.client.inbox.push({ kind: 'binary', data: encodeFrame(docId, encodeSyncStep1(Y.encodeStateVector(this.doc(docId)))) });
  }

  private handle(c: Connection, docId: string, frame: Uint8Array, payload: Uint8Array): void {
    const doc = this.doc(docId);
    for (const msg of decodeSyncMessages(payload)) {
      if (msg.kind === 'step1') {
        c.client.inbox.push({ kind: 'binary', data: encodeFrame(docId, encodeSyncStep2(Y.encodeStateAsUpdate(doc, msg.stateVector))) });
      } else if (msg.kind === 'step2' || msg.kind === 'update') {
        const before = Y.encodeStateVector(doc);
        Y.applyUpdate(doc, msg.update, 'client');
        const after = Y.encodeStateVector(doc);
        const changed = before.length !== after.length || before.some((b, i) => b !== after[i]);
        if (msg.kind === 'update') this.relay(c, docId, frame);
        else if (changed) this.relay(c, docId, encodeFrame(docId, encodeSyncUpdate(msg.update)));
      }
    }
  }

  private relay(from: Connection, docId: string, frame: Uint8Array): void {
    for (const other of this.connections) {
      if (other !== from && other.joined.has(docId)) other.client.inbox.push({ kind: 'binary', data: frame });
    }
  }
}

/** A plugin instance: MemoryDocs + SyncSession, executing actions like the guest's dispatcher. */
export class TestClient {
  readonly docs: MemoryDocs;
  readonly session: SyncSession;
  readonly inbox: Inbound[] = [];
  readonly events: SyncEvent[] = [];
  /** Every action dispatched, in order (first-level and follow-ups). */
  readonly dispatched: SessionAction[] = [];

  constructor(
    readonly name: string,
    readonly server: FakeServer,
    readonly workspaceId: string,
    clientId?: number,
  ) {
    this.docs = new MemoryDocs(workspaceId, clientId);
    this.session = new SyncSession(this.docs, { workspaceId });
  }

  connect(): SessionAction[] {
    this.server.attach(this);
    return this.run(this.session.connected(this.workspaceId, true));
  }

  disconnect(): SessionAction[] {
    this.server.detach(this);
    this.inbox.length = 0;
    return this.run(this.session.disconnected());
  }

  /** Performs actions, then feeds local updates until none are left; returns the actions given. */
  run(actions: SessionAction[]): SessionAction[] {
    const queue = [...actions];
    for (;;) {
      while (queue.length > 0) {
        const a = queue.shift()!;
        this.dispatched.push(a);
        if (a.type === 'SendBinary') this.server.receiveBinary(this, a.data);
        else if (a.type === 'SendText') this.server.receiveText(this, a.text);
        else if (a.type === 'EmitEvent') this.events.push(a.event);
        else queue.push(...this.session.snapshotImported());
      }
      const follow = this.session.flushLocalUpdates();
      if (follow.length === 0) return actions;
      queue.push(...follow);
    }
  }

  /** Delivers one inbound message; false when the inbox is empty. */
  deliverOne(): boolean {
    const m = this.inbox.shift();
    if (!m) return false;
    this.run(m.kind === 'binary' ? this.session.binaryMessage(m.data) : this.session.textMessage(m.text));
    return true;
  }
}

/** Delivers messages round-robin until every inbox is empty. */
export function pump(clients: readonly TestClient[], limit = 10_000): void {
  for (let i = 0; i < limit; i++) {
    let any = false;
    for (const c of clients) any = c.deliverOne() || any;
    if (!any) return;
  }
  throw new Error('pump: messages still flowing after the limit');
}
