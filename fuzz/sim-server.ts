/**
 * The real sync server core, driven in-process for the simulation: the
 * server's own `Connection` (per-doc auth, Files-Ready handshake, ordered
 * handling) over an in-memory link (server/src/testing/memory-link.ts),
 * `SyncCore` and `SqliteStorage` on a data directory, `AuthStore` for the
 * token. Nothing listens on a port; every frame the server sends is handed to
 * the simulated network.
 *
 * - `crash()` is a kill -9: sockets vanish, documents are dropped without
 *   compaction, the database handle is closed; `start()` reopens the same
 *   data directory. `stop()` is a graceful shutdown (compaction first).
 * - `failAppends` makes the storage refuse appends (the core then drops the
 *   document and closes its clients with 1011).
 * - `httpRequest` answers the plugin's synchronous snapshot download from the
 *   current documents, like `GET /api/workspaces/{id}/snapshot`, and takes a
 *   snapshot upload (`POST`, LinkWorkspace): the import runs through the core
 *   as on the real server and completes before anything else happens in the
 *   simulation (`settle`), as the real route answers only once it is applied.
 * - Inspection (`docIds`, `doc`, `loadedPending`) reads the documents as the
 *   server holds them (in memory when loaded, else from the database).
 * - Encrypted runs (`encryption`): the core also runs the e2ee gate and
 *   `E2eeService` on a `SqliteEncryptedStore` in the same database (as
 *   `serve` does); `doc` then reads what the encrypted store holds, decrypted
 *   with the workspace keys (sim-e2ee.ts), and every frame the server sends
 *   and every line it logs is kept for the plaintext scan.
 */
import * as Y from 'yjs';
import { hasPendingStructs } from '../common/src/wire/sync';
import type { HttpRequest, HttpResponse } from '../host-harness/src/host-types';
import { AuthStore, authExtension } from '../server/src/auth';
import { openDatabase, type SqliteDatabase } from '../server/src/db';
import type { ServerDocument } from '../server/src/document';
import { StorageError } from '../server/src/errors';
import { silentLogger, type Logger, type LogFields } from '../server/src/log';
import { importPostedSnapshot, snapshotZipResponse } from './sim-snapshot-route';
import type { StorageAdapter, StoredDocument } from '../server/src/storage/adapter';
import { SqliteStorage } from '../server/src/storage/sqlite';
import { SyncCore } from '../server/src/sync-core';
import { openServerSide, type ServerLinkHandlers, type ServerSide } from '../server/src/testing/memory-link';
import { BODY_TEXT_NAME } from '../common/src/workspace/schema';
import { E2eeService } from '../server/src/e2ee/service';
import type { Extension } from '../server/src/hooks';
import { SqliteEncryptedStore } from '../server/src/storage/sqlite-e2ee';
import { DecryptingView, FlakyEncryptedStore, type SimEncryption } from './sim-e2ee';

/** SqliteStorage whose appends (and compactions) can be made to fail. */
class FlakyStorage implements StorageAdapter {
  failing = false;
  failures = 0;
  constructor(private readonly inner: StorageAdapter) {}
  load(docId: string): Promise<StoredDocument> {
    return this.inner.load(docId);
  }
  appendUpdate(docId: string, update: Uint8Array): Promise<number> {
    if (this.failing) {
      this.failures++;
      return Promise.reject(new StorageError('simulated storage failure (disk full)', docId));
    }
    return this.inner.appendUpdate(docId, update);
  }
  compact(docId: string, snapshot: Uint8Array, throughSeq: number): Promise<void> {
    if (this.failing) return Promise.reject(new StorageError('simulated storage failure (disk full)', docId));
    return this.inner.compact(docId, snapshot, throughSeq);
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
  remove(docId: string): Promise<void> {
    return this.inner.remove(docId);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

interface Running {
  db: SqliteDatabase;
  auth: AuthStore;
  storage: FlakyStorage;
  core: SyncCore;
  sides: Set<ServerSide>;
  /** Encrypted runs: the service (key record, the `e2e:` hub) on the same SQLite database. */
  e2ee: { service: E2eeService; store: FlakyEncryptedStore } | null;
}

export interface SimServerOptions {
  dataDir: string;
  /** Compact a document's log after this many updates (small values exercise compaction). */
  compactAfterUpdates?: number;
  /** The simulation's clock (import times of files without `updated`), so a seed replays exactly. */
  now: () => number;
  /**
   * An encrypted workspace: the server runs E2eeService on an encrypted store in its SQLite
   * database, as `serve` does, and the key record is stored at the first start.
   */
  encryption?: { workspaceId: string; enc: SimEncryption; compactAfterUpdates: number; compactAfterBytes: number };
}

/** A logger that keeps each line as text, with its fields (bytes as Latin-1, errors as their message). */
function capturingLogger(lines: string[]): Logger {
  const line = (level: string) => (message: string, fields?: LogFields) => {
    const text = fields
      ? JSON.stringify(fields, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v instanceof Error ? `${v.name}: ${v.message}` : v))
      : '';
    lines.push(`${level} ${message} ${text}`);
  };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

export const SERVER_URL = 'http://sim-server.invalid';

/**
 * What the network, the devices, the checker and the simulation need from the
 * server side: one node on SQLite (`SimServer`) or several on one Postgres
 * database (`SimCluster`, sim-cluster.ts).
 */
export interface SimBackend {
  readonly token: string;
  /** Some node accepts connections. */
  readonly up: boolean;
  /** An upload whose import failed (the run reports it). */
  readonly importFailure: Error | null;
  /** Opens a server-side connection for device `device`, or null when no node is up. */
  accept(handlers: ServerLinkHandlers, device: number): ServerSide | null;
  httpRequest(req: HttpRequest): HttpResponse;
  /** Waits until uploads are applied (and, with several nodes, every node relayed what is stored). */
  settle(): Promise<void>;
  setFailAppends(on: boolean): void;
  readonly storageFailures: number;
  /** The state vector of a doc as loaded by the node behind `side` (any node when absent). */
  loadedStateVector(docId: string, side?: ServerSide): Map<number, number> | null;
  loadedBodyText(docId: string, side?: ServerSide): string | null;
  /** The document as stored (a copy). */
  doc(docId: string): Y.Doc | Promise<Y.Doc>;
  /** Loaded docs (on any node) that hold structs waiting for missing updates. */
  loadedPending(): string[];
  /** Encrypted runs: what the server stored of an `e2e:` doc so far, decrypted (null: not known yet, or a plain run). */
  acknowledged?(docId: string): Promise<{ plainDocId: string; doc: Y.Doc } | null>;
  /** Further end-of-run checks of the server side (several nodes: every node holds what is stored). */
  checkNodes?(): Promise<{ kind: string; message: string }[]>;
}

export class SimServer implements SimBackend {
  private running: Running | null = null;
  /** Storage refuses appends while set (kept across restarts). */
  failAppends = false;
  token = '';
  /** Encrypted runs: every frame the server sent (the plaintext scan reads them). */
  readonly sentFrames: (Uint8Array | string)[] = [];
  /** Encrypted runs: every line the server logged, at every level (the plaintext scan reads them). */
  readonly logLines: string[] = [];
  /** Plain runs log nothing; encrypted runs keep every line. */
  private readonly logger: Logger;
  /** Encrypted runs: the checker's decrypting view of the encrypted store. */
  readonly view: DecryptingView | null;
  /** Encrypted runs: refused writes of the encrypted store on earlier cores. */
  private e2eeFailuresBefore = 0;

  constructor(private readonly options: SimServerOptions) {
    const e = options.encryption;
    this.view = e ? new DecryptingView(e.workspaceId, e.enc.keys) : null;
    this.logger = e ? capturingLogger(this.logLines) : silentLogger;
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  /** The open SQLite database (null while the server is down). */
  get database(): SqliteDatabase | null {
    return this.running?.db ?? null;
  }

  get up(): boolean {
    return this.running !== null;
  }

  /** Opens the database and the core (the first start also issues the token). */
  start(): void {
    if (this.running) return;
    const db = openDatabase(this.options.dataDir);
    const auth = new AuthStore(db, { allowUsers: [], createWorkspaces: true });
    if (this.token === '') this.token = auth.createToken('fuzz');
    const storage = new FlakyStorage(new SqliteStorage({ database: db }));
    storage.failing = this.failAppends;
    // As server/src/index.ts wires it: the gate keeps plain and `e2e:` docs apart once the service exists.
    let service: E2eeService | null = null;
    const gate: Extension = { onAuthenticate: (p) => service!.checkDocKind(p), afterLoadDocument: (p) => service!.checkLoadedDoc(p.docId) };
    const core = new SyncCore({
      storage,
      logger: this.logger,
      extensions: this.options.encryption ? [authExtension(auth), gate] : [authExtension(auth)],
      unloadDelayMs: 2 ** 30,
      compactAfterUpdates: this.options.compactAfterUpdates ?? 25,
      compactAfterBytes: 4 * 1024 * 1024,
    });
    let e2ee: Running['e2ee'] = null;
    const e = this.options.encryption;
    if (e) {
      const store = new FlakyEncryptedStore(new SqliteEncryptedStore(db));
      store.failing = this.failAppends;
      service = new E2eeService({ store, storage, core, logger: this.logger, maxDocBytes: 64 * 1024 * 1024, compactAfterUpdates: e.compactAfterUpdates, compactAfterBytes: e.compactAfterBytes });
      e2ee = { service, store };
    }
    this.running = { db, auth, storage, core, sides: new Set(), e2ee };
  }

  /** Encrypted runs, first start: the workspace is the token's and its key record is stored (gen 0), before any doc. */
  async storeKeyRecord(): Promise<void> {
    const r = this.running;
    const e = this.options.encryption;
    if (!r || !r.e2ee || !e) throw new Error('storeKeyRecord: not an encrypted server, or not running');
    r.auth.authorizeWorkspace(r.auth.authenticate(this.token), e.workspaceId);
    const answer = await r.e2ee.service.putKeys(e.workspaceId, new TextEncoder().encode(JSON.stringify(e.enc.record)));
    if (answer.status !== 200) throw new Error(`storing the key record failed: ${answer.status} ${answer.body}`);
  }

  /** Encrypted runs: the encrypted store of the running core (null while down or in plain runs). */
  get encryptedStore(): FlakyEncryptedStore | null {
    return this.running?.e2ee?.store ?? null;
  }

  async acknowledged(docId: string): Promise<{ plainDocId: string; doc: Y.Doc } | null> {
    const store = this.encryptedStore;
    if (!store || !this.view) return null;
    return this.view.acknowledged(store, docId);
  }

  setFailAppends(on: boolean): void {
    this.failAppends = on;
    if (this.running) this.running.storage.failing = on;
    if (this.running?.e2ee) this.running.e2ee.store.failing = on;
  }

  /** Opens a server-side connection, or null when the server is down. */
  accept(handlers: ServerLinkHandlers, _device?: number): ServerSide | null {
    const r = this.running;
    if (!r) return null;
    const user = r.auth.authenticate(this.token);
    const capture: ServerLinkHandlers = this.view
      ? {
          send: (binary, data) => {
            this.sentFrames.push(data);
            handlers.send(binary, data);
          },
          closed: (code) => handlers.closed(code),
        }
      : handlers;
    const side = openServerSide({ core: r.core, logger: this.logger, token: this.token, user, e2ee: r.e2ee?.service.hub }, capture);
    r.sides.add(side);
    side.onClose(() => r.sides.delete(side));
    return side;
  }

  /** Resolves when every connection has handled its input. */
  async idle(): Promise<void> {
    const r = this.running;
    if (!r) return;
    for (const side of [...r.sides]) await side.idle();
  }

  private get loadedDocs(): Map<string, ServerDocument> {
    const r = this.running;
    if (!r) return new Map();
    return (r.core as unknown as { docs: Map<string, ServerDocument> }).docs;
  }

  /** kill -9: sockets vanish, nothing is compacted, the database handle closes. */
  async crash(): Promise<void> {
    const r = this.running;
    if (!r) return;
    this.running = null;
    this.e2eeFailuresBefore += r.e2ee?.store.failures ?? 0;
    await Promise.all([...r.sides].map((s) => s.idle()));
    for (const side of [...r.sides]) side.close(1006);
    const docs = (r.core as unknown as { docs: Map<string, ServerDocument> }).docs;
    for (const doc of docs.values()) doc.destroy();
    docs.clear();
    r.db.close();
  }

  /** Graceful shutdown: sockets closed (1001), documents compacted, database closed. */
  async stop(): Promise<void> {
    const r = this.running;
    if (!r) return;
    this.running = null;
    this.e2eeFailuresBefore += r.e2ee?.store.failures ?? 0;
    for (const side of [...r.sides]) side.close(1001);
    for (const side of [...r.sides]) await side.connection.finished;
    await r.core.close();
    await r.storage.close();
    r.db.close();
  }

  /** Storage failures injected so far on the current core. */
  get storageFailures(): number {
    return this.running?.storage.failures ?? 0;
  }

  /** Encrypted runs: refused writes of the encrypted store, every core so far. */
  get encryptedStorageFailures(): number {
    return this.e2eeFailuresBefore + (this.running?.e2ee?.store.failures ?? 0);
  }

  // ---- inspection -------------------------------------------------------

  /** Every doc id the server has (loaded or stored). */
  docIds(): string[] {
    const r = this.running;
    if (!r) return [];
    const ids = new Set<string>(this.loadedDocs.keys());
    const rows = r.db.prepare('SELECT doc_id FROM doc_snapshots UNION SELECT doc_id FROM doc_updates').all() as { doc_id: string }[];
    for (const row of rows) ids.add(row.doc_id);
    return [...ids].sort();
  }

  /** The document as the server holds it (a copy); encrypted runs: as stored, decrypted with the workspace keys. */
  doc(docId: string): Y.Doc | Promise<Y.Doc> {
    const store = this.encryptedStore;
    if (this.view && store) return this.view.storedDoc(store, docId);
    return this.plainDoc(docId);
  }

  private plainDoc(docId: string): Y.Doc {
    const copy = new Y.Doc();
    const loaded = this.loadedDocs.get(docId);
    if (loaded) {
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(loaded.ydoc));
      return copy;
    }
    const r = this.running;
    if (!r) return copy;
    const snap = r.db.prepare('SELECT state FROM doc_snapshots WHERE doc_id = ?').get(docId) as { state: Buffer } | undefined;
    const rows = r.db.prepare('SELECT data FROM doc_updates WHERE doc_id = ? ORDER BY seq').all(docId) as { data: Buffer }[];
    const parts = [...(snap ? [new Uint8Array(snap.state)] : []), ...rows.map((row) => new Uint8Array(row.data))];
    if (parts.length > 0) Y.applyUpdate(copy, Y.mergeUpdates(parts));
    return copy;
  }

  /** The body text of a loaded body doc, or null when it is not in memory. */
  loadedBodyText(docId: string, _side?: ServerSide): string | null {
    const loaded = this.loadedDocs.get(docId);
    return loaded ? loaded.ydoc.getText(BODY_TEXT_NAME).toString() : null;
  }

  /** The state vector of a loaded doc, or null when it is not in memory. */
  loadedStateVector(docId: string, _side?: ServerSide): Map<number, number> | null {
    const loaded = this.loadedDocs.get(docId);
    return loaded ? Y.decodeStateVector(Y.encodeStateVector(loaded.ydoc)) : null;
  }

  /** Loaded docs that hold structs waiting for missing updates. */
  loadedPending(): string[] {
    return [...this.loadedDocs.entries()].filter(([, d]) => hasPendingStructs(d.ydoc)).map(([id]) => id);
  }

  // ---- HTTP -------------------------------------------------------------

  /** Snapshot imports started by uploads, not yet applied. */
  private imports: Promise<void>[] = [];
  /** An upload whose import failed (the run reports it). */
  importFailure: Error | null = null;

  /** Waits until every snapshot upload is applied. */
  async settle(): Promise<void> {
    while (this.imports.length > 0) await Promise.all(this.imports.splice(0));
  }

  /** `GET` and `POST /api/workspaces/{id}/snapshot`, answered synchronously (host_http_request blocks the guest). */
  httpRequest(req: HttpRequest): HttpResponse {
    const r = this.running;
    if (!r) return { status: 0, headers: {}, body: 'connection refused', error: 'connection refused' };
    const url = new URL(req.url);
    const m = /^\/api\/workspaces\/([^/]+)\/snapshot$/.exec(url.pathname);
    if ((req.method !== 'GET' && req.method !== 'POST') || !m) return { status: 404, headers: {}, body: '{"error":"Not found"}' };
    const auth = req.headers?.Authorization ?? req.headers?.authorization ?? '';
    let user: string;
    try {
      user = r.auth.authenticate(/^Bearer\s+(\S+)$/i.exec(auth)?.[1] ?? null);
    } catch {
      return { status: 401, headers: {}, body: '{"error":"Unauthorized"}' };
    }
    const workspaceId = decodeURIComponent(m[1]);
    if (!r.auth.ownsWorkspace(user, workspaceId)) return { status: 404, headers: {}, body: '{"error":"Workspace not found"}' };
    // The real route refuses snapshot zips of an encrypted workspace (http-api.ts).
    if (this.options.encryption?.workspaceId === workspaceId) return { status: 409, headers: {}, body: '{"error":"workspace is end-to-end encrypted"}' };
    if (req.method === 'POST') {
      // The real route applies the import before it answers: with appends refused it answers 500.
      if (r.storage.failing) return { status: 500, headers: {}, body: '{"error":"Could not store the change"}' };
      this.imports.push(
        importPostedSnapshot(r.core, workspaceId, url, req, this.options.now).then((failure) => {
          if (failure) this.importFailure = failure;
        }),
      );
      return { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
    }
    return snapshotZipResponse(workspaceId, (id) => this.plainDoc(id));
  }
}
