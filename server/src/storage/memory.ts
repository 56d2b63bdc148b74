/**
 * In-memory StorageAdapter: the test double of SqliteStorage, held to the same
 * acceptance suite. Nothing survives the process.
 */
import { StorageError } from '../errors';
import { emptyStoredDocument, type StorageAdapter, type StoredDocument } from './adapter';
import { MemoryAttachmentMeta } from './memory-attachments';

interface MemoryDoc {
  snapshot: Uint8Array | null;
  log: { seq: number; data: Uint8Array }[];
}

/** A StorageAdapter keeping everything in a Map. */
export class MemoryStorage implements StorageAdapter {
  private readonly docs = new Map<string, MemoryDoc>();
  private seq = 0;
  private closed = false;
  readonly attachments = new MemoryAttachmentMeta(() => this.check());

  async load(docId: string): Promise<StoredDocument> {
    this.check();
    const doc = this.docs.get(docId);
    if (!doc) return emptyStoredDocument();
    const updates = doc.log.map((u) => u.data.slice());
    return {
      snapshot: doc.snapshot ? doc.snapshot.slice() : null,
      updates,
      lastSeq: doc.log.length > 0 ? doc.log[doc.log.length - 1].seq : 0,
      updateBytes: updates.reduce((n, u) => n + u.byteLength, 0),
    };
  }

  async appendUpdate(docId: string, update: Uint8Array): Promise<number> {
    this.check();
    const seq = ++this.seq;
    this.entry(docId).log.push({ seq, data: update.slice() });
    return seq;
  }

  async compact(docId: string, snapshot: Uint8Array, throughSeq: number): Promise<void> {
    this.check();
    const doc = this.entry(docId);
    doc.snapshot = snapshot.slice();
    doc.log = doc.log.filter((u) => u.seq > throughSeq);
  }

  async list(prefix: string): Promise<string[]> {
    this.check();
    return [...this.docs.keys()].filter((id) => id.startsWith(prefix)).sort();
  }

  async remove(docId: string): Promise<void> {
    this.check();
    this.docs.delete(docId);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private entry(docId: string): MemoryDoc {
    let doc = this.docs.get(docId);
    if (!doc) {
      doc = { snapshot: null, log: [] };
      this.docs.set(docId, doc);
    }
    return doc;
  }

  private check(): void {
    if (this.closed) throw new StorageError('MemoryStorage is closed');
  }
}
