/**
 * E2eeHub: the encrypted-workspace protocol (server/README.md) for the
 * clients of this process. It never opens an envelope: it checks headers,
 * stores, relays and answers cursor reads.
 *
 * Per doc it keeps the local clients and `cursor`, the highest seq relayed to
 * them. Everything of one doc (append, relay, pull, snapshot) runs under that
 * doc's lock, so Relay frames leave in seq order. An append is answered only
 * after it committed, and relayed to the doc's other clients before it is
 * acknowledged. An append by another process (Postgres: a wake-up from the
 * change feed, or a periodic sweep of heads, both passed on by NodeRelay) is
 * read from the store after the cursor and relayed the same way.
 */
import { encodeFrame } from '../../../common/src/wire/frame';
import {
  decodeE2eeMessage,
  encodeE2eeMessage,
  parseE2eeDocId,
  RefusedCode,
  salvageReq,
  SnapshotStatus,
  type E2eeMessage,
} from '../../../common/src/e2ee/frames';
import { parseEnvelope, type ParsedEnvelope } from '../../../common/src/e2ee/envelope-header';
import { CloseCode, describeError } from '../errors';
import type { DocumentClient } from '../hooks';
import { KeyedMutex } from '../keyed-mutex';
import type { Logger } from '../log';
import { NO_SNAP_ID, sameBytes, type EncryptedStore } from '../storage/e2ee';

/** Envelope bytes in one Batch (flag 2 past it: pull again). */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** A doc is hinted at most this often. */
export const HINT_INTERVAL_MS = 10 * 60 * 1000;

export interface E2eeHubOptions {
  store: EncryptedStore;
  logger: Logger;
  /** Stored bytes of one doc (snapshot + envelopes); appends past it get Refused 4. */
  maxDocBytes: number;
  compactAfterUpdates: number;
  compactAfterBytes: number;
  now?: () => number;
}

interface Member {
  /** Highest seq this client is known to hold without a gap (-1 until its first complete pull). */
  seen: number;
}

interface HubDoc {
  cursor: number;
  members: Map<DocumentClient, Member>;
}

/**
 * After a storage failure (answered Refused 5) the connection is closed, as a failed plain
 * append closes its doc's clients: a device resends its waiting appends and pulls again only
 * on its next connection, which the host opens with its reconnect backoff.
 */
function unavailable(client: DocumentClient): void {
  client.close(CloseCode.InternalError, 'storage failure');
}

export class E2eeHub {
  private readonly docs = new Map<string, HubDoc>();
  private readonly mutex = new KeyedMutex();
  /** Docs found behind by a sweep (a lost wake-up repaired). */
  repairs = 0;

  constructor(private readonly o: E2eeHubOptions) {}

  /** Registers a client for a doc's relays; its cursor starts at the stored head. */
  async join(docId: string, client: DocumentClient): Promise<void> {
    await this.mutex.run(docId, async () => {
      let doc = this.docs.get(docId);
      if (!doc) {
        const head = parseE2eeDocId(docId)?.tag ? ((await this.o.store.heads([docId])).get(docId) ?? 0) : 0;
        doc = { cursor: head, members: new Map() };
        this.docs.set(docId, doc);
      }
      if (!doc.members.has(client)) doc.members.set(client, { seen: -1 });
    });
  }

  async leave(docId: string, client: DocumentClient): Promise<void> {
    await this.mutex.run(docId, async () => {
      const doc = this.docs.get(docId);
      if (!doc) return;
      doc.members.delete(client);
      if (doc.members.size === 0) this.docs.delete(docId);
    });
  }

  /** Answers the first frame of a doc that could not be opened (the req number when it has one, else 0). */
  refuse(docId: string, client: DocumentClient, payload: Uint8Array, code: RefusedCode): void {
    send(client, docId, { type: 'refused', req: salvageReq(payload), code });
  }

  /** One frame of a joined client. */
  async receive(docId: string, client: DocumentClient, payload: Uint8Array): Promise<void> {
    const target = parseE2eeDocId(docId);
    if (!target) return;
    let msg: E2eeMessage;
    try {
      msg = decodeE2eeMessage(payload);
    } catch (e) {
      this.o.logger.debug('refused malformed encrypted frame', { conn: client.id, doc: docId, error: describeError(e) });
      send(client, docId, { type: 'refused', req: salvageReq(payload), code: RefusedCode.Malformed });
      return;
    }
    const malformed = (req: number) => send(client, docId, { type: 'refused', req, code: RefusedCode.Malformed });
    if (msg.type === 'changes') {
      if (target.tag !== null) return malformed(0);
      return this.changes(docId, target.workspaceId, client, msg.after);
    }
    if (target.tag === null) return malformed(msg.type === 'append' || msg.type === 'putSnapshot' ? msg.req : 0);
    switch (msg.type) {
      case 'append':
        return this.mutex.run(docId, () => this.append(docId, target.workspaceId, client, msg.req, msg.env));
      case 'pull':
        return this.mutex.run(docId, () => this.pull(docId, client, msg.after));
      case 'putSnapshot':
        return this.mutex.run(docId, () => this.putSnapshot(docId, client, msg.req, msg.env));
      default:
        // Server-to-client messages are not requests.
        return malformed(0);
    }
  }

  private async append(docId: string, workspaceId: string, client: DocumentClient, req: number, env: Uint8Array): Promise<void> {
    const refused = (code: RefusedCode) => send(client, docId, { type: 'refused', req, code });
    let parsed: ParsedEnvelope;
    try {
      parsed = parseEnvelope(env);
    } catch (e) {
      this.o.logger.debug('refused malformed envelope', { conn: client.id, doc: docId, error: describeError(e) });
      return refused(RefusedCode.Malformed);
    }
    if (parsed.header.kind !== 'update') return refused(RefusedCode.Malformed);
    // device id || run || ctr, exactly header bytes 6..29.
    const clientKey = env.slice(6, 30);
    let out;
    try {
      out = await this.o.store.append(docId, workspaceId, clientKey, env, this.o.maxDocBytes);
    } catch (e) {
      // Unknown outcome: the device resends the same bytes, which the client key makes safe.
      this.o.logger.error('storing an envelope failed', { conn: client.id, doc: docId, error: describeError(e) });
      refused(RefusedCode.Unavailable);
      return unavailable(client);
    }
    if (out.kind === 'conflict') return refused(RefusedCode.CounterConflict);
    if (out.kind === 'quota') {
      this.o.logger.warn('refused envelope: document size limit', { conn: client.id, doc: docId, limit: this.o.maxDocBytes });
      return refused(RefusedCode.Quota);
    }
    const doc = this.docs.get(docId);
    if (!out.duplicate && doc) await this.deliver(docId, doc, out.seq, client, env);
    send(client, docId, { type: 'appended', req, seq: out.seq });
    const me = doc?.members.get(client);
    if (me && me.seen === out.seq - 1) me.seen = out.seq;
    if (doc && !out.duplicate) await this.maybeHint(docId, doc, out.logCount, out.logBytes, out.head);
  }

  /** Relays a just committed envelope to the doc's other local clients, in seq order. */
  private async deliver(docId: string, doc: HubDoc, seq: number, from: DocumentClient, env: Uint8Array): Promise<void> {
    if (seq === doc.cursor + 1) {
      this.relay(docId, doc, seq, env, from);
      doc.cursor = seq;
    } else if (seq > doc.cursor) {
      // Other processes appended in between: relay theirs first, in order (ours is skipped for its sender).
      await this.catchUp(docId, doc, { client: from, seq });
    }
  }

  private relay(docId: string, doc: HubDoc, seq: number, env: Uint8Array, except: DocumentClient | null): void {
    const frame = encodeFrame(docId, encodeE2eeMessage({ type: 'relay', seq, env }));
    for (const [client, m] of doc.members) {
      if (client === except) continue;
      client.sendBinary(frame);
      if (m.seen === seq - 1) m.seen = seq;
    }
  }

  /** Under the doc lock: relays what is stored after the cursor. */
  private async catchUp(docId: string, doc: HubDoc, own?: { client: DocumentClient; seq: number }): Promise<void> {
    for (;;) {
      let r;
      try {
        r = await this.o.store.read(docId, doc.cursor, MAX_BATCH_BYTES);
      } catch (e) {
        this.o.logger.warn('reading envelopes of other nodes failed', { doc: docId, error: describeError(e) });
        return;
      }
      // Folded into a snapshot meanwhile: devices see the gap and pull.
      if (r.snapSeq > doc.cursor) doc.cursor = r.snapSeq;
      for (const e of r.envelopes) {
        this.relay(docId, doc, e.seq, e.data, own && own.seq === e.seq ? own.client : null);
        doc.cursor = e.seq;
      }
      if (!r.more) return;
    }
  }

  private async pull(docId: string, client: DocumentClient, after: number): Promise<void> {
    let r;
    try {
      r = await this.o.store.read(docId, after, MAX_BATCH_BYTES);
    } catch (e) {
      this.o.logger.error('reading envelopes failed', { conn: client.id, doc: docId, error: describeError(e) });
      send(client, docId, { type: 'refused', req: 0, code: RefusedCode.Unavailable });
      unavailable(client);
      return;
    }
    send(client, docId, {
      type: 'batch',
      head: r.head,
      more: r.more,
      snapshot: r.snapshot ? { snapSeq: r.snapSeq, env: r.snapshot } : null,
      envelopes: r.envelopes.map((e) => ({ seq: e.seq, env: e.data })),
    });
    const doc = this.docs.get(docId);
    const me = doc?.members.get(client);
    if (!doc || !me || r.more) return;
    me.seen = Math.max(me.seen, r.head);
    await this.maybeHint(docId, doc, r.logCount, r.logBytes, r.head);
  }

  private async putSnapshot(docId: string, client: DocumentClient, req: number, env: Uint8Array): Promise<void> {
    const invalid = () => send(client, docId, { type: 'snapshotResult', req, status: SnapshotStatus.Invalid, snapId: NO_SNAP_ID, snapSeq: 0 });
    let parsed: ParsedEnvelope;
    try {
      parsed = parseEnvelope(env);
    } catch (e) {
      this.o.logger.debug('refused malformed snapshot', { conn: client.id, doc: docId, error: describeError(e) });
      return invalid();
    }
    const s = parsed.header.snapshot;
    // A zero snap id would read as "no snapshot"; a snapshot over the size limit could never be stored whole.
    if (!s || sameBytes(s.snapId, NO_SNAP_ID) || env.length > this.o.maxDocBytes) return invalid();
    let out;
    try {
      out = await this.o.store.putSnapshot(docId, { envelope: env, snapId: s.snapId, prevSnapId: s.prevSnapId, coversSeq: s.coversSeq });
    } catch (e) {
      this.o.logger.error('storing a snapshot failed', { conn: client.id, doc: docId, error: describeError(e) });
      send(client, docId, { type: 'refused', req, code: RefusedCode.Unavailable });
      unavailable(client);
      return;
    }
    send(client, docId, { type: 'snapshotResult', req, status: out.stored ? SnapshotStatus.Stored : SnapshotStatus.Conflict, snapId: out.snapId, snapSeq: out.snapSeq });
  }

  private async changes(docId: string, workspaceId: string, client: DocumentClient, after: number): Promise<void> {
    let r;
    try {
      r = await this.o.store.changes(workspaceId, after);
    } catch (e) {
      this.o.logger.error('reading changed docs failed', { conn: client.id, workspace: workspaceId, error: describeError(e) });
      send(client, docId, { type: 'refused', req: 0, code: RefusedCode.Unavailable });
      unavailable(client);
      return;
    }
    const docs = r.docs.flatMap((d) => {
      const tag = parseE2eeDocId(d.docId)?.tag;
      return tag ? [{ tag, head: d.head }] : [];
    });
    send(client, docId, { type: 'changesReply', changeHead: r.changeHead, docs });
  }

  /** Past a compaction threshold: asks one client that holds the doc up to head to compact (once per interval per doc). */
  private async maybeHint(docId: string, doc: HubDoc, logCount: number, logBytes: number, head: number): Promise<void> {
    if (logCount < this.o.compactAfterUpdates && logBytes < this.o.compactAfterBytes) return;
    const target = [...doc.members].find(([, m]) => m.seen >= head)?.[0];
    if (!target) return;
    try {
      if (!(await this.o.store.markHinted(docId, (this.o.now ?? Date.now)(), HINT_INTERVAL_MS))) return;
    } catch (e) {
      this.o.logger.warn('recording a compaction hint failed', { doc: docId, error: describeError(e) });
      return;
    }
    send(target, docId, { type: 'compactHint', logCount, logBytes });
  }

  /** Another process committed `seq` of `docId` (a wake-up of the shared store's feed, node-relay.ts). */
  wake(docId: string, seq: number): void {
    const doc = this.docs.get(docId);
    if (!doc || seq <= doc.cursor) return;
    void this.mutex.run(docId, async () => {
      // A burst of wake-ups queues one run each: the first reads everything, the rest read nothing.
      const current = this.docs.get(docId);
      if (current && seq > current.cursor) await this.catchUp(docId, current);
    });
  }

  /** Compares stored heads with the cursors and relays wherever this process is behind. */
  async sweep(): Promise<void> {
    const ids = [...this.docs.keys()].filter((id) => parseE2eeDocId(id)?.tag);
    if (ids.length === 0) return;
    let heads: Map<string, number>;
    try {
      heads = await this.o.store.heads(ids);
    } catch (e) {
      this.o.logger.warn('sweep of encrypted docs failed', { error: describeError(e) });
      return;
    }
    await Promise.all(
      ids.map(async (id) => {
        const doc = this.docs.get(id);
        if (!doc || (heads.get(id) ?? 0) <= doc.cursor) return;
        this.repairs++;
        await this.mutex.run(id, async () => {
          const current = this.docs.get(id);
          if (current && (heads.get(id) ?? 0) > current.cursor) await this.catchUp(id, current);
        });
      }),
    );
  }
}

function send(client: DocumentClient, docId: string, msg: E2eeMessage): void {
  client.sendBinary(encodeFrame(docId, encodeE2eeMessage(msg)));
}
