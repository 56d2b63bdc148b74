/**
 * Encrypted workspaces in the simulation (`--encrypted`):
 *
 * - the key record, made in Node as the tests make it (the plugin's KDF
 *   takes seconds; it is not what the simulation exercises): one record per
 *   process, from a fixed random stream, so a seed replays the same ciphertext
 *   sizes and doc tags in any process;
 * - each device's unlocked keys written into its plugin storage before its
 *   first start (`e2ee:<workspace id>`, as an unlock leaves them), with a
 *   device id drawn from the seed;
 * - the encrypted store with refusable writes (`server-storage-fail`);
 * - a decrypting view of what the server stores, for the checker only: the
 *   stored doc of a plain doc id (snapshot and envelopes opened with the
 *   keys), and what each stored append made of a doc (acknowledged text).
 */
import * as Y from 'yjs';
import { toHex } from '../common/src/e2ee/bytes';
import { openEnvelope } from '../common/src/e2ee/envelope';
import { e2eeDocId, parseE2eeDocId } from '../common/src/e2ee/frames';
import { createKeyRecord, type KeyRecord, type WorkspaceKeys } from '../common/src/e2ee/key-record';
import { SCRYPT_DEFAULT } from '../common/src/e2ee/kdf';
import { bodyDocId, workspaceDocId } from '../common/src/wire/frame';
import { FILES_MAP_NAME } from '../common/src/workspace/schema';
import { PluginStorage } from '../host-harness/src/plugin-storage';
import { bodyKeyOf, nameOfDocId, WORKSPACE_DOC_NAME } from '../plugin/src/e2ee/doc-names';
import { DeviceKeys, saveDeviceKeys } from '../plugin/src/e2ee/key-store';
import { decodeSnapshotPayload } from '../plugin/src/e2ee/snapshot-payload';
import { StorageError } from '../server/src/errors';
import type { AppendOutcome, ChangedDocs, EncryptedStore, EnvelopeRead, KeyRecordRow, PutKeysResult, SnapshotOutcome, SnapshotRequest } from '../server/src/storage/e2ee';
import { Prng } from './prng';
import { withRandomSource } from './seeded-crypto';

export interface SimEncryption {
  record: KeyRecord;
  keys: WorkspaceKeys;
}

const PASSPHRASE = 'fuzz passphrase of the simulated workspace';
const cached = new Map<string, SimEncryption>();

/** The workspace's key record and keys (made once per process and workspace id, from a fixed stream). */
export async function simEncryption(workspaceId: string): Promise<SimEncryption> {
  let enc = cached.get(workspaceId);
  if (!enc) {
    const rng = new Prng(0x6b657973);
    enc = await withRandomSource(
      (bytes) => rng.fill(bytes),
      async () => createKeyRecord(workspaceId, PASSPHRASE, { kdf: SCRYPT_DEFAULT }),
    );
    cached.set(workspaceId, enc);
  }
  return enc;
}

/** Writes a device's unlocked keys into its plugin storage folder (before it starts). */
export function provisionKeys(storageDir: string, keys: WorkspaceKeys, rng: Prng): void {
  const storage = new PluginStorage({ dir: storageDir });
  const deviceId = new Uint8Array(16);
  rng.fill(deviceId);
  saveDeviceKeys({ storageGet: (k) => storage.get(k), storageSet: (k, v) => storage.set(k, v) }, new DeviceKeys(keys.workspaceId, keys.epoch, keys.rootKeys, deviceId, 0));
}

/** An encrypted store whose writes (appends, snapshots) can be made to fail, like a full disk. */
export class FlakyEncryptedStore implements EncryptedStore {
  failing = false;
  failures = 0;
  constructor(private readonly inner: EncryptedStore) {}
  private refuse(docId: string): Promise<never> {
    this.failures++;
    return Promise.reject(new StorageError('simulated storage failure (disk full)', docId));
  }
  getKeys(workspaceId: string): Promise<KeyRecordRow | null> {
    return this.inner.getKeys(workspaceId);
  }
  putKeys(workspaceId: string, expectGen: number, record: string): Promise<PutKeysResult> {
    return this.inner.putKeys(workspaceId, expectGen, record);
  }
  append(docId: string, workspaceId: string, clientKey: Uint8Array, envelope: Uint8Array, maxDocBytes: number): Promise<AppendOutcome> {
    if (this.failing) return this.refuse(docId);
    return this.inner.append(docId, workspaceId, clientKey, envelope, maxDocBytes);
  }
  read(docId: string, after: number, maxBytes: number): Promise<EnvelopeRead> {
    return this.inner.read(docId, after, maxBytes);
  }
  putSnapshot(docId: string, request: SnapshotRequest): Promise<SnapshotOutcome> {
    if (this.failing) return this.refuse(docId);
    return this.inner.putSnapshot(docId, request);
  }
  changes(workspaceId: string, after: number): Promise<ChangedDocs> {
    return this.inner.changes(workspaceId, after);
  }
  heads(docIds: string[]): Promise<Map<string, number>> {
    return this.inner.heads(docIds);
  }
  markHinted(docId: string, now: number, intervalMs: number): Promise<boolean> {
    return this.inner.markHinted(docId, now, intervalMs);
  }
}

const READ_BYTES = 64 * 1024 * 1024;

/** What the server stores of one doc so far, decrypted (acknowledgements during the run). */
interface Shadow {
  doc: Y.Doc;
  cursor: number;
}

/** Reads the encrypted store with the workspace keys (the checker's view; the server has none of this). */
export class DecryptingView {
  private readonly keys: DeviceKeys;
  /** Doc tag -> doc name, for the names met so far. */
  private readonly names = new Map<string, string>();
  private readonly shadows = new Map<string, Shadow>();

  constructor(
    readonly workspaceId: string,
    keys: WorkspaceKeys,
  ) {
    this.keys = new DeviceKeys(workspaceId, keys.epoch, keys.rootKeys, new Uint8Array(16), 0);
    this.learn(WORKSPACE_DOC_NAME);
  }

  private learn(name: string): string {
    const tag = this.keys.tagOf(name);
    this.names.set(tag, name);
    return tag;
  }

  /** The doc name of a tag met so far (traces). */
  nameOfTag(tag: string): string | undefined {
    return this.names.get(tag);
  }

  /** What an envelope of doc `tag` holds, for traces: writer, counter and the update's structs and deletions. */
  describeEnvelope(tag: string, env: Uint8Array): string {
    try {
      const opened = openEnvelope(env, { workspaceId: this.workspaceId, docTag: tag }, (epoch) => this.keys.docKey(epoch, tag));
      const h = opened.header;
      const update = h.kind === 'snapshot' ? decodeSnapshotPayload(opened.payload).update : opened.payload;
      const { structs, ds } = Y.decodeUpdate(update);
      const ranges = new Map<number, [number, number]>();
      for (const s of structs) {
        const r = ranges.get(s.id.client);
        const end = s.id.clock + s.length;
        ranges.set(s.id.client, r ? [Math.min(r[0], s.id.clock), Math.max(r[1], end)] : [s.id.clock, end]);
      }
      const who = h.kind === 'snapshot' ? 'snapshot' : `${toHex(h.deviceId).slice(0, 6)} run ${h.run} ctr ${h.ctr}`;
      const deletes = [...ds.clients].flatMap(([client, list]) => list.map((d) => `${client}:${d.clock}+${d.len}`));
      return `{${who}: ${[...ranges].map(([c, [a, b]]) => `${c}:${a}-${b}`).join(' ')}${deletes.length > 0 ? ` del ${deletes.join(' ')}` : ''}}`;
    } catch (e) {
      return `{unopened: ${(e as Error).message}}`;
    }
  }

  /** The `e2e:` doc id of a plain doc id of the workspace, or null. */
  encryptedIdOf(plainDocId: string): string | null {
    const name = nameOfDocId(plainDocId, this.workspaceId);
    return name === null ? null : e2eeDocId(this.workspaceId, this.learn(name));
  }

  private plainIdOfName(name: string): string {
    const key = bodyKeyOf(name);
    return key === null ? workspaceDocId(this.workspaceId) : bodyDocId(this.workspaceId, key);
  }

  /** Updates stored after `after` (the snapshot first when the read starts before it); throws when one does not open. */
  private async updatesAfter(store: EncryptedStore, docId: string, after: number): Promise<{ updates: Uint8Array[]; cursor: number }> {
    const tag = parseE2eeDocId(docId)?.tag;
    if (!tag) throw new Error(`not an encrypted doc id: ${docId}`);
    const open = (env: Uint8Array) => openEnvelope(env, { workspaceId: this.workspaceId, docTag: tag }, (epoch) => this.keys.docKey(epoch, tag));
    const updates: Uint8Array[] = [];
    let cursor = after;
    for (;;) {
      const r = await store.read(docId, cursor, READ_BYTES);
      if (r.snapshot) {
        const opened = open(r.snapshot);
        if (opened.header.kind !== 'snapshot') throw new Error(`${docId}: the stored snapshot is a ${opened.header.kind} envelope`);
        updates.push(decodeSnapshotPayload(opened.payload).update);
      }
      cursor = Math.max(cursor, r.snapSeq);
      for (const e of r.envelopes) {
        const opened = open(e.data);
        if (opened.header.kind !== 'update') throw new Error(`${docId}: envelope ${e.seq} is a ${opened.header.kind} envelope`);
        updates.push(opened.payload);
        cursor = e.seq;
      }
      if (!r.more) return { updates, cursor };
    }
  }

  /** The doc as stored now (current snapshot and the envelopes after it), decrypted. */
  async storedDoc(store: EncryptedStore, plainDocId: string): Promise<Y.Doc> {
    const doc = new Y.Doc();
    const id = this.encryptedIdOf(plainDocId);
    if (id === null) return doc;
    const { updates } = await this.updatesAfter(store, id, 0);
    if (updates.length > 0) Y.applyUpdate(doc, Y.mergeUpdates(updates));
    return doc;
  }

  /**
   * After the server handled a frame of `docId`: everything stored of that
   * doc so far, decrypted; null for another doc id or a doc whose name is not
   * known yet (a body whose workspace entry is not stored yet).
   */
  async acknowledged(store: EncryptedStore, docId: string): Promise<{ plainDocId: string; doc: Y.Doc } | null> {
    const tag = parseE2eeDocId(docId)?.tag;
    if (!tag) return null;
    if (!this.names.has(tag)) await this.advance(store, e2eeDocId(this.workspaceId, this.keys.tagOf(WORKSPACE_DOC_NAME)));
    const name = this.names.get(tag);
    if (name === undefined) return null;
    return { plainDocId: this.plainIdOfName(name), doc: await this.advance(store, docId) };
  }

  private async advance(store: EncryptedStore, docId: string): Promise<Y.Doc> {
    let shadow = this.shadows.get(docId);
    if (!shadow) this.shadows.set(docId, (shadow = { doc: new Y.Doc(), cursor: 0 }));
    const { updates, cursor } = await this.updatesAfter(store, docId, shadow.cursor);
    shadow.cursor = cursor;
    for (const u of updates) Y.applyUpdate(shadow.doc, u);
    if (docId === e2eeDocId(this.workspaceId, this.keys.tagOf(WORKSPACE_DOC_NAME))) {
      for (const key of shadow.doc.getMap(FILES_MAP_NAME).keys()) this.learn(`body/${key}`);
    }
    return shadow.doc;
  }

  destroy(): void {
    for (const s of this.shadows.values()) s.doc.destroy();
    this.shadows.clear();
  }
}
