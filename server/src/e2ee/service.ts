/**
 * E2eeService: what the rest of the server asks about encrypted workspaces:
 * whether a workspace is encrypted (then its `workspace:`/`body:` docs and
 * snapshot zips are refused, and only `e2e:` docs are served), its key record
 * (GET/PUT /api/workspaces/{id}/keys) and the protocol hub.
 *
 * A workspace becomes encrypted with its first key record, only while it has
 * no plain document (stored, or open on this process): the server cannot
 * encrypt what it already holds, and two kinds of docs in one workspace would
 * leave part of it in the clear.
 */
import { isE2eeDocId } from '../../../common/src/e2ee/frames';
import { bodyDocId, parseDocId, workspaceDocId } from '../../../common/src/wire/frame';
import { CloseCode, ValidationError, WorkspaceRefusedError } from '../errors';
import { KeyedMutex } from '../keyed-mutex';
import type { Logger } from '../log';
import type { StorageAdapter } from '../storage/adapter';
import type { EncryptedStore } from '../storage/e2ee';
import type { SyncCore } from '../sync-core';
import { E2eeHub } from './hub';
import { canonicalStoredRecord, serializeKeyRecord, validateKeyRecord } from './key-record';

export interface E2eeServiceOptions {
  store: EncryptedStore;
  /** Plain document storage (to see whether a workspace has plain docs). */
  storage: StorageAdapter;
  core: SyncCore;
  logger: Logger;
  maxDocBytes: number;
  compactAfterUpdates: number;
  compactAfterBytes: number;
}

/** An HTTP answer: status and JSON text. */
export interface JsonAnswer {
  status: number;
  body: string;
}

const error = (status: number, message: string): JsonAnswer => ({ status, body: JSON.stringify({ error: message }) });

export class E2eeService {
  readonly hub: E2eeHub;
  /** Workspaces known to be encrypted (for good, so never evicted). */
  private readonly encrypted = new Set<string>();
  private readonly putLock = new KeyedMutex();

  constructor(private readonly o: E2eeServiceOptions) {
    this.hub = new E2eeHub({
      store: o.store,
      logger: o.logger,
      maxDocBytes: o.maxDocBytes,
      compactAfterUpdates: o.compactAfterUpdates,
      compactAfterBytes: o.compactAfterBytes,
    });
  }

  async isEncrypted(workspaceId: string): Promise<boolean> {
    if (this.encrypted.has(workspaceId)) return true;
    if ((await this.o.store.getKeys(workspaceId)) === null) return false;
    this.encrypted.add(workspaceId);
    return true;
  }

  /** The key record (canonical JSON) or null. */
  async getKeys(workspaceId: string): Promise<string | null> {
    const row = await this.o.store.getKeys(workspaceId);
    return row ? canonicalStoredRecord(row.record) : null;
  }

  /** PUT: `body` is the raw request body; the caller checked ownership. */
  async putKeys(workspaceId: string, body: Uint8Array): Promise<JsonAnswer> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch {
      return error(400, 'Expected a JSON key record');
    }
    let record;
    try {
      record = validateKeyRecord(parsed);
    } catch (e) {
      if (e instanceof ValidationError) return error(400, e.message);
      throw e;
    }
    return this.putLock.run(workspaceId, async () => {
      const current = await this.o.store.getKeys(workspaceId);
      const conflict = (): JsonAnswer =>
        current ? { status: 409, body: canonicalStoredRecord(current.record) } : error(409, 'No key record yet: the first PUT carries gen 0');
      if (record.gen !== (current?.gen ?? 0)) return conflict();
      if (current) {
        const epoch = validateKeyRecord(JSON.parse(current.record)).epoch;
        if (record.epoch !== epoch && record.epoch !== epoch + 1) return error(400, `Invalid key record: epoch must stay ${epoch} or become ${epoch + 1}`);
      } else if (await this.hasPlainDocs(workspaceId)) {
        return error(409, `Workspace ${workspaceId} already has unencrypted documents; encryption is chosen before the first sync`);
      }
      const text = serializeKeyRecord(record, record.gen + 1);
      const out = await this.o.store.putKeys(workspaceId, record.gen, text);
      if (!out.ok) return out.current ? { status: 409, body: canonicalStoredRecord(out.current.record) } : conflict();
      this.encrypted.add(workspaceId);
      // Plain docs a client opened while this PUT ran take no further update on this node.
      if (!current) await this.o.core.evict((id) => this.isPlainDocOf(workspaceId, id), CloseCode.PolicyViolation, 'workspace is end-to-end encrypted');
      this.o.logger.info(current ? 'key record replaced' : 'workspace encrypted', { workspace: workspaceId, gen: out.gen, epoch: record.epoch });
      return { status: 200, body: text };
    });
  }

  /** Whether `docId` is a plain (`workspace:`, `body:` or bare legacy) doc of `workspaceId`. */
  private isPlainDocOf(workspaceId: string, docId: string): boolean {
    return docId === workspaceDocId(workspaceId) || docId === workspaceId || docId.startsWith(bodyDocId(workspaceId, ''));
  }

  private async hasPlainDocs(workspaceId: string): Promise<boolean> {
    const ws = workspaceDocId(workspaceId);
    const bodyPrefix = bodyDocId(workspaceId, '');
    if (this.o.core.loadedDocIds().some((id) => this.isPlainDocOf(workspaceId, id))) return true;
    if ((await this.o.storage.list(ws)).includes(ws)) return true;
    if ((await this.o.storage.list(bodyPrefix)).length > 0) return true;
    return (await this.o.storage.list(workspaceId)).includes(workspaceId);
  }

  /**
   * The check that keeps the two kinds of docs apart (an `onAuthenticate`
   * hook): `e2e:` docs only in encrypted workspaces, `workspace:`/`body:` docs
   * only in the others. It runs after the ownership check, so only the owner
   * learns which it is.
   */
  /**
   * The same check once a plain doc has loaded (an `afterLoadDocument` hook): a workspace encrypted
   * between a client's authentication and the load of its doc refuses the doc.
   */
  async checkLoadedDoc(docId: string): Promise<void> {
    if (isE2eeDocId(docId)) return;
    // A bare legacy id is its own workspace's doc.
    const workspaceId = parseDocId(docId)?.workspaceId ?? docId;
    if (await this.isEncrypted(workspaceId)) {
      throw new WorkspaceRefusedError(`Workspace ${workspaceId} is end-to-end encrypted: its documents sync only as e2e: envelopes`, workspaceId, '');
    }
  }

  async checkDocKind({ docId, workspaceId }: { docId: string; workspaceId: string }): Promise<void> {
    const encrypted = await this.isEncrypted(workspaceId);
    if (isE2eeDocId(docId) && !encrypted) {
      throw new WorkspaceRefusedError(`Workspace ${workspaceId} is not end-to-end encrypted; PUT its key record first`, workspaceId, '');
    }
    if (!isE2eeDocId(docId) && encrypted) {
      throw new WorkspaceRefusedError(`Workspace ${workspaceId} is end-to-end encrypted: its documents sync only as e2e: envelopes`, workspaceId, '');
    }
  }
}
