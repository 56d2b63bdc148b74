/** In-memory EncryptedStore: the test double, held to the same acceptance suite as SQLite and Postgres. */
import { StorageError } from '../errors';
import {
  NO_SNAP_ID,
  sameBytes,
  type AppendOutcome,
  type ChangedDocs,
  type EncryptedStore,
  type EnvelopeRead,
  type KeyRecordRow,
  type PutKeysResult,
  type SnapshotOutcome,
  type SnapshotRequest,
} from './e2ee';

interface Doc {
  workspaceId: string;
  head: number;
  snapSeq: number;
  snapId: Uint8Array;
  snapshot: Uint8Array | null;
  log: { seq: number; data: Uint8Array; key: string }[];
  changeNo: number;
  hintedAt: number | null;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class MemoryEncryptedStore implements EncryptedStore {
  private readonly workspaces = new Map<string, { keys: KeyRecordRow; changeHead: number }>();
  private readonly docs = new Map<string, Doc>();

  async getKeys(workspaceId: string): Promise<KeyRecordRow | null> {
    const w = this.workspaces.get(workspaceId);
    return w ? { ...w.keys } : null;
  }

  async putKeys(workspaceId: string, expectGen: number, record: string): Promise<PutKeysResult> {
    const w = this.workspaces.get(workspaceId);
    if ((w?.keys.gen ?? 0) !== expectGen) return { ok: false, current: w ? { ...w.keys } : null };
    const keys = { record, gen: expectGen + 1 };
    if (w) w.keys = keys;
    else this.workspaces.set(workspaceId, { keys, changeHead: 0 });
    return { ok: true, gen: keys.gen };
  }

  async append(docId: string, workspaceId: string, clientKey: Uint8Array, envelope: Uint8Array, maxDocBytes: number): Promise<AppendOutcome> {
    const w = this.workspaces.get(workspaceId);
    if (!w) throw new StorageError(`workspace ${workspaceId} is not encrypted`, docId);
    const doc = this.docs.get(docId) ?? { workspaceId, head: 0, snapSeq: 0, snapId: NO_SNAP_ID, snapshot: null, log: [], changeNo: 0, hintedAt: null };
    const key = hex(clientKey);
    const seen = doc.log.find((e) => e.key === key);
    const logBytes = () => doc.log.reduce((n, e) => n + e.data.length, 0);
    if (seen) {
      if (!sameBytes(seen.data, envelope)) return { kind: 'conflict' };
      return { kind: 'stored', seq: seen.seq, duplicate: true, logCount: doc.log.length, logBytes: logBytes(), head: doc.head };
    }
    if (logBytes() + (doc.snapshot?.length ?? 0) + envelope.length > maxDocBytes) return { kind: 'quota' };
    this.docs.set(docId, doc);
    doc.head++;
    doc.changeNo = ++w.changeHead;
    doc.log.push({ seq: doc.head, data: envelope.slice(), key });
    return { kind: 'stored', seq: doc.head, duplicate: false, logCount: doc.log.length, logBytes: logBytes(), head: doc.head };
  }

  async read(docId: string, after: number, maxBytes: number): Promise<EnvelopeRead> {
    const doc = this.docs.get(docId);
    if (!doc) return { head: 0, snapSeq: 0, snapId: NO_SNAP_ID.slice(), snapshot: null, envelopes: [], more: false, logCount: 0, logBytes: 0 };
    const snapshot = after < doc.snapSeq && doc.snapshot ? doc.snapshot.slice() : null;
    let used = snapshot?.length ?? 0;
    const envelopes: EnvelopeRead['envelopes'] = [];
    let more = false;
    for (const e of doc.log) {
      if (e.seq <= after) continue;
      if ((snapshot || envelopes.length > 0) && used + e.data.length > maxBytes) {
        more = true;
        break;
      }
      used += e.data.length;
      envelopes.push({ seq: e.seq, data: e.data.slice() });
    }
    return {
      head: doc.head,
      snapSeq: doc.snapSeq,
      snapId: doc.snapId.slice(),
      snapshot,
      envelopes,
      more,
      logCount: doc.log.length,
      logBytes: doc.log.reduce((n, e) => n + e.data.length, 0),
    };
  }

  async putSnapshot(docId: string, r: SnapshotRequest): Promise<SnapshotOutcome> {
    const doc = this.docs.get(docId);
    if (!doc) return { stored: false, snapId: NO_SNAP_ID.slice(), snapSeq: 0 };
    if (!sameBytes(r.prevSnapId, doc.snapId) || r.coversSeq <= doc.snapSeq || r.coversSeq > doc.head) {
      return { stored: false, snapId: doc.snapId.slice(), snapSeq: doc.snapSeq };
    }
    doc.snapshot = r.envelope.slice();
    doc.snapId = r.snapId.slice();
    doc.snapSeq = r.coversSeq;
    doc.log = doc.log.filter((e) => e.seq > r.coversSeq);
    return { stored: true, snapId: doc.snapId.slice(), snapSeq: doc.snapSeq };
  }

  async changes(workspaceId: string, after: number): Promise<ChangedDocs> {
    const docs = [...this.docs]
      .filter(([, d]) => d.workspaceId === workspaceId && d.changeNo > after)
      .map(([docId, d]) => ({ docId, head: d.head }))
      .sort((a, b) => (a.docId < b.docId ? -1 : a.docId > b.docId ? 1 : 0));
    return { changeHead: this.workspaces.get(workspaceId)?.changeHead ?? 0, docs };
  }

  async heads(docIds: string[]): Promise<Map<string, number>> {
    return new Map(docIds.map((id) => [id, this.docs.get(id)?.head ?? 0]));
  }

  async markHinted(docId: string, now: number, intervalMs: number): Promise<boolean> {
    const doc = this.docs.get(docId);
    if (!doc || (doc.hintedAt !== null && doc.hintedAt > now - intervalMs)) return false;
    doc.hintedAt = now;
    return true;
  }
}
