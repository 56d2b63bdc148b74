/**
 * Several server nodes on one real Postgres database, in process, for the
 * simulation's two-node mode (`--nodes 2`). Each node is what `serve --database`
 * runs: its own `SyncCore` on its own `PostgresStorage` pool, the real
 * `NodeRelay` with its LISTEN connection and sweep, `PgAuthStore` for per-doc
 * authorisation, and the server's `Connection` over in-memory links.
 *
 * - A device's connection goes to its home node (device index modulo the node
 *   count), sometimes to another one (a load balancer without sticky routing);
 *   to a live node when its choice is down.
 * - `crashNode(i)` is a kill -9: the database terminates the node's backends
 *   (pool and LISTEN connection, found by their application name), its sockets
 *   vanish, its documents are dropped without compaction, and nothing it still
 *   had queued reaches the database. `startNode(i)` starts a fresh node.
 *   `stopNode(i)` is a graceful shutdown (compaction first).
 * - `stopDatabase()` / `startDatabase()` stop and start the test Postgres
 *   (fast shutdown: every connection of every node drops).
 * - After a node handled a frame, `ServerSide.idle` also waits until every live
 *   node has read what is stored for the documents it holds (its cursor at the
 *   stored head) and relayed it: through the wake-ups of the change feed or,
 *   when those were lost, the relay's reconnect and sweep. So the simulation's
 *   steps see the cross-node relay as settled, as in the single-node run.
 * - The snapshot download (`GET`) is answered from the database with `psql`
 *   (the plugin's HTTP call is synchronous); the upload runs through a live
 *   node's core, like the real route.
 * - Inspection: `doc` reads the stored state (snapshot and log rows merged);
 *   `checkNodes` requires every live node's loaded documents to equal it.
 */
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import * as Y from 'yjs';
import { workspaceDocId } from '../common/src/wire/frame';
import { hasPendingStructs } from '../common/src/wire/sync';
import { BODY_TEXT_NAME } from '../common/src/workspace/schema';
import type { HttpRequest, HttpResponse } from '../host-harness/src/host-types';
import { authExtension } from '../server/src/auth';
import { PgAuthStore } from '../server/src/auth-postgres';
import type { ServerDocument } from '../server/src/document';
import { StorageError, describeError } from '../server/src/errors';
import type { KeyedMutex } from '../server/src/keyed-mutex';
import { silentLogger } from '../server/src/log';
import { NodeRelay } from '../server/src/node-relay';
import { importPostedSnapshot, snapshotZipResponse } from './sim-snapshot-route';
import type { ChangeFeed, LogRead, SharedLogStorage, StoredDocument } from '../server/src/storage/adapter';
import { PostgresStorage } from '../server/src/storage/postgres';
import { SyncCore } from '../server/src/sync-core';
import { postgresBinary, type PostgresInstance } from '../server/src/testing/postgres-instance';
import { Prng } from './prng';
import { openServerSide, type ServerLinkHandlers, type ServerSide } from '../server/src/testing/memory-link';
import type { SimBackend } from './sim-server';

/** How long a node may take to read what another stored before the run fails. */
const CATCH_UP_TIMEOUT_MS = 30_000;
/** The relay's sweep (heads against cursors), short so lost wake-ups are repaired within a settle. */
const SWEEP_INTERVAL_MS = 500;

const AUTH_OPTIONS = { allowUsers: [], createWorkspaces: true, maxWorkspacesPerUser: Number.MAX_SAFE_INTEGER };

/** The database server the nodes share; the cluster stops and starts it. */
export interface ClusterDatabase {
  /** URL of the (empty) database of this run. */
  url: string;
  /** Stops the server, keeping its data. */
  pause(): Promise<void>;
  /** Starts it again on the same port and data. */
  resume(): Promise<void>;
}

/** Where an armed kill strikes: before the next append reaches the database, or right after it committed. */
export type AppendKill = 'before' | 'after';

/** A node's storage: appends can be made to fail; once the node is dead every call fails. */
class NodeStorage implements SharedLogStorage {
  readonly shared = true as const;
  failing = false;
  failures = 0;
  dead = false;
  /** Set by `armKill`: the next append kills the node (`die` runs, the append rejects). */
  armed: { at: AppendKill; die: () => void } | null = null;
  constructor(readonly inner: PostgresStorage) {}
  private alive(docId?: string): void {
    if (this.dead) throw new StorageError('the node is dead', docId);
  }
  async load(docId: string): Promise<StoredDocument> {
    this.alive(docId);
    return this.inner.load(docId);
  }
  async appendUpdate(docId: string, update: Uint8Array): Promise<number> {
    this.alive(docId);
    if (this.failing) {
      this.failures++;
      throw new StorageError('simulated storage failure (disk full)', docId);
    }
    const armed = this.armed;
    if (!armed) return this.inner.appendUpdate(docId, update);
    this.armed = null;
    // The process dies here: before the statement went out, or after COMMIT answered and before anything else ran.
    if (armed.at === 'after') await this.inner.appendUpdate(docId, update);
    armed.die();
    throw new StorageError(`the node died ${armed.at} this append`, docId);
  }
  async compact(docId: string, snapshot: Uint8Array, throughSeq: number): Promise<void> {
    await this.tryCompact(docId, snapshot, throughSeq);
  }
  async tryCompact(docId: string, snapshot: Uint8Array, throughSeq: number): Promise<'done' | 'busy' | 'nothing'> {
    this.alive(docId);
    if (this.failing) throw new StorageError('simulated storage failure (disk full)', docId);
    return this.inner.tryCompact(docId, snapshot, throughSeq);
  }
  async readSince(docId: string, afterSeq: number): Promise<LogRead> {
    this.alive(docId);
    return this.inner.readSince(docId, afterSeq);
  }
  async heads(docIds: string[]): Promise<Map<string, number>> {
    this.alive();
    return this.inner.heads(docIds);
  }
  async list(prefix: string): Promise<string[]> {
    this.alive();
    return this.inner.list(prefix);
  }
  async remove(docId: string): Promise<void> {
    this.alive(docId);
    return this.inner.remove(docId);
  }
  openFeed(): ChangeFeed {
    return this.inner.openFeed();
  }
  ping(): Promise<boolean> {
    return this.dead ? Promise.resolve(false) : this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

interface SimNode {
  index: number;
  /** Application name of its connections (the kill terminates these backends). */
  appName: string;
  storage: NodeStorage;
  core: SyncCore;
  relay: NodeRelay;
  sides: Set<ServerSide>;
}

export interface SimClusterOptions {
  nodes: number;
  compactAfterUpdates?: number;
  now: () => number;
  /** Seeds the choice of node for each connection. */
  seed: number;
}

function docsOf(core: SyncCore): Map<string, ServerDocument> {
  return (core as unknown as { docs: Map<string, ServerDocument> }).docs;
}

function mutexOf(core: SyncCore): KeyedMutex {
  return (core as unknown as { mutex: KeyedMutex }).mutex;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SimCluster implements SimBackend {
  private readonly nodes: (SimNode | null)[];
  private admin: PostgresStorage | null = null;
  private generation = 0;
  private readonly pick: Prng;
  private imports: Promise<void>[] = [];
  /** The node behind each server-side connection. */
  private readonly nodeOfSide = new WeakMap<ServerSide, number>();
  importFailure: Error | null = null;
  failAppends = false;
  /** Failures injected on nodes that are gone (the live ones count their own). */
  private pastFailures = 0;
  databaseUp = true;
  token = '';
  private database: ClusterDatabase | null = null;

  constructor(private readonly options: SimClusterOptions) {
    this.nodes = Array.from({ length: options.nodes }, () => null);
    this.pick = new Prng(options.seed ^ 0x2e0de);
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Some node is up (the database may still be down). */
  get up(): boolean {
    return this.nodes.some((n) => n !== null);
  }

  nodeUp(i: number): boolean {
    return this.nodes[i] !== null;
  }

  private get db(): ClusterDatabase {
    if (!this.database) throw new Error('the cluster was not started');
    return this.database;
  }

  /** Opens the inspection connection on `database`, issues the token and starts every node. */
  async start(database: ClusterDatabase): Promise<void> {
    this.database = database;
    this.admin = await PostgresStorage.open({ url: database.url, poolSize: 2 });
    this.token = await new PgAuthStore(this.admin.pool, AUTH_OPTIONS).createToken('fuzz');
    for (let i = 0; i < this.nodes.length; i++) await this.startNode(i);
  }

  /** Starts node `i` (no-op when it runs). Rejects when the database is down. */
  async startNode(i: number): Promise<void> {
    if (this.nodes[i]) return;
    const appName = `diaryx-fuzz-node${i}-${++this.generation}`;
    const url = new URL(this.db.url);
    url.searchParams.set('application_name', appName);
    const pgStorage = await PostgresStorage.open({ url: url.toString(), poolSize: 4 });
    const storage = new NodeStorage(pgStorage);
    storage.failing = this.failAppends;
    const core = new SyncCore({
      storage,
      logger: silentLogger,
      extensions: [authExtension(new PgAuthStore(pgStorage.pool, AUTH_OPTIONS))],
      unloadDelayMs: 2 ** 30,
      compactAfterUpdates: this.options.compactAfterUpdates ?? 25,
      compactAfterBytes: 4 * 1024 * 1024,
    });
    const relay = new NodeRelay({ core, storage, logger: silentLogger, sweepIntervalMs: SWEEP_INTERVAL_MS });
    try {
      await relay.start();
    } catch (e) {
      await relay.close().catch(() => undefined);
      await pgStorage.close().catch(() => undefined);
      throw e;
    }
    this.nodes[i] = { index: i, appName, storage, core, relay, sides: new Set() };
  }

  /** Kills in the middle of an append, finishing in the background (awaited by `settle`). */
  private dying: Promise<void>[] = [];

  /**
   * Arms node `i` to die at its next append (`before` it reaches the database
   * or `after` it committed); `killed` runs at that moment. False when the node
   * is down. Snapshot uploads go to an unarmed node.
   */
  armKill(i: number, at: AppendKill, killed: () => void): boolean {
    const n = this.nodes[i];
    if (!n) return false;
    n.storage.armed = {
      at,
      die: () => {
        killed();
        this.dying.push(this.crashNode(i, false));
      },
    };
    return true;
  }

  /** Disarms every node (healing). */
  disarm(): void {
    for (const n of this.nodes) if (n) n.storage.armed = null;
  }

  /**
   * kill -9 of node `i`: its backends are terminated, its sockets vanish, its
   * documents are dropped uncompacted. `idle`: first let its connections finish
   * what they handle (a kill between steps); false for a kill inside an append.
   */
  async crashNode(i: number, idle = true): Promise<void> {
    const n = this.nodes[i];
    if (!n) return;
    this.nodes[i] = null;
    this.pastFailures += n.storage.failures;
    n.storage.dead = true;
    if (idle) await Promise.all([...n.sides].map((s) => s.idle()));
    // Nothing of the dead process may reach a client any more.
    for (const side of [...n.sides]) side.close(1006);
    const docs = docsOf(n.core);
    for (const doc of docs.values()) doc.destroy();
    docs.clear();
    if (this.databaseUp) {
      await this.admin!.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [n.appName]).catch(() => undefined);
    }
    // The process is gone: its timers with it (the LISTEN client is already dead).
    await n.relay.close().catch(() => undefined);
    await n.storage.inner.close().catch(() => undefined);
  }

  /** Graceful shutdown of node `i`: sockets closed (1001), documents compacted, connections closed. */
  async stopNode(i: number): Promise<void> {
    const n = this.nodes[i];
    if (!n) return;
    this.nodes[i] = null;
    this.pastFailures += n.storage.failures;
    for (const side of [...n.sides]) side.close(1001);
    for (const side of [...n.sides]) await side.connection.finished;
    await n.relay.close();
    await n.core.close();
    await n.storage.close();
  }

  /** Stops the database server (every node's connections drop; nodes stay up). */
  async stopDatabase(): Promise<void> {
    if (!this.databaseUp) return;
    await this.settle();
    this.databaseUp = false;
    await this.db.pause();
  }

  async startDatabase(): Promise<void> {
    if (this.databaseUp) return;
    await this.db.resume();
    this.databaseUp = true;
  }

  setFailAppends(on: boolean): void {
    this.failAppends = on;
    for (const n of this.nodes) if (n) n.storage.failing = on;
  }

  get storageFailures(): number {
    return this.pastFailures + this.nodes.reduce((sum, n) => sum + (n?.storage.failures ?? 0), 0);
  }

  accept(handlers: ServerLinkHandlers, device: number): ServerSide | null {
    const live = this.nodes.filter((n): n is SimNode => n !== null);
    if (live.length === 0) return null;
    const choice = this.pick.chance(0.25) ? this.pick.int(this.nodes.length) : device % this.nodes.length;
    const node = this.nodes[choice] ?? live[0];
    const side = openServerSide({ core: node.core, logger: silentLogger, token: this.token, user: 'fuzz' }, handlers, () => this.caughtUp());
    node.sides.add(side);
    side.onClose(() => node.sides.delete(side));
    this.nodeOfSide.set(side, node.index);
    return side;
  }

  /** A doc as loaded by the node behind `side` (the first live node when absent); null when that node is gone or lacks it. */
  private loadedDoc(docId: string, side: ServerSide | undefined): ServerDocument | null {
    const index = side === undefined ? this.nodes.findIndex((n) => n !== null) : this.nodeOfSide.get(side);
    const node = index === undefined || index < 0 ? null : this.nodes[index];
    return node ? (docsOf(node.core).get(docId) ?? null) : null;
  }

  loadedStateVector(docId: string, side?: ServerSide): Map<number, number> | null {
    const doc = this.loadedDoc(docId, side);
    return doc ? Y.decodeStateVector(Y.encodeStateVector(doc.ydoc)) : null;
  }

  loadedBodyText(docId: string, side?: ServerSide): string | null {
    const doc = this.loadedDoc(docId, side);
    return doc ? doc.ydoc.getText(BODY_TEXT_NAME).toString() : null;
  }

  loadedPending(): string[] {
    const ids = new Set<string>();
    for (const n of this.nodes) if (n) for (const [id, d] of docsOf(n.core)) if (hasPendingStructs(d.ydoc)) ids.add(id);
    return [...ids].sort();
  }

  /** Uploads applied, and every live node caught up with what is stored. */
  async settle(): Promise<void> {
    while (this.imports.length > 0 || this.dying.length > 0) await Promise.all([...this.imports.splice(0), ...this.dying.splice(0)]);
    await this.caughtUp();
  }

  /**
   * Waits until no live node has work queued and each one's cursor of every
   * loaded document reached the stored head (so what it read is relayed).
   * Without the database only the queued work is waited for.
   */
  private async caughtUp(): Promise<void> {
    const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
    let lastProblem = '';
    for (;;) {
      const live = this.nodes.filter((n): n is SimNode => n !== null);
      for (const n of live) await mutexOf(n.core).idle();
      if (!this.databaseUp || live.length === 0) return;
      const loaded = [...new Set(live.flatMap((n) => [...docsOf(n.core).keys()]))];
      let behind: string | null = null;
      try {
        const heads = await this.admin!.heads(loaded);
        for (const n of live) {
          for (const [id, doc] of docsOf(n.core)) {
            const head = heads.get(id) ?? 0;
            if (doc.lastSeq < head) behind = `node ${n.index} holds ${id} up to seq ${doc.lastSeq}, stored head ${head}`;
          }
        }
      } catch (e) {
        behind = `reading the heads failed: ${describeError(e)}`;
      }
      if (behind === null && live.every((n) => !hasQueued(n.core))) return;
      lastProblem = behind ?? lastProblem;
      if (Date.now() > deadline) throw new Error(`nodes did not catch up within ${CATCH_UP_TIMEOUT_MS} ms: ${lastProblem}`);
      await sleep(2);
    }
  }

  /** The stored state of a doc (snapshot and log merged), read from the database. */
  async doc(docId: string): Promise<Y.Doc> {
    const read = await this.admin!.readSince(docId, 0);
    const parts = [...(read.snapshot ? [read.snapshot] : []), ...read.updates.map((u) => u.data)];
    const copy = new Y.Doc();
    if (parts.length > 0) Y.applyUpdate(copy, Y.mergeUpdates(parts));
    return copy;
  }

  /** Every live node's loaded documents equal what is stored: nothing held that is not stored, nothing stored missed. */
  async checkNodes(): Promise<{ kind: string; message: string }[]> {
    const lines: string[] = [];
    for (const n of this.nodes) {
      if (!n) continue;
      for (const [id, doc] of docsOf(n.core)) {
        const stored = await this.doc(id);
        const a = Buffer.from(Y.encodeStateVector(doc.ydoc)).toString('hex');
        const b = Buffer.from(Y.encodeStateVector(stored)).toString('hex');
        stored.destroy();
        if (a !== b) lines.push(`node ${n.index} ${id}: state vector ${a} vs stored ${b}`);
      }
    }
    return lines.length > 0 ? [{ kind: 'node-differs-from-store', message: lines.slice(0, 8).join('\n') }] : [];
  }

  /**
   * The snapshot routes. GET reads the stored documents with `psql` (this call
   * must answer synchronously); only the run's token is accepted. POST imports
   * through a live node's core (applied by `settle`, before anything else runs).
   */
  httpRequest(req: HttpRequest): HttpResponse {
    const live = this.nodes.find((n): n is SimNode => n !== null && n.storage.armed === null);
    if (!live) return { status: 0, headers: {}, body: 'connection refused', error: 'connection refused' };
    const url = new URL(req.url);
    const m = /^\/api\/workspaces\/([^/]+)\/snapshot$/.exec(url.pathname);
    if ((req.method !== 'GET' && req.method !== 'POST') || !m) return { status: 404, headers: {}, body: '{"error":"Not found"}' };
    const auth = req.headers?.Authorization ?? req.headers?.authorization ?? '';
    if (/^Bearer\s+(\S+)$/i.exec(auth)?.[1] !== this.token) return { status: 401, headers: {}, body: '{"error":"Unauthorized"}' };
    const workspaceId = decodeURIComponent(m[1]);
    if (!this.databaseUp) return { status: 503, headers: {}, body: '{"error":"database unavailable"}' };
    if (req.method === 'POST') {
      if (this.failAppends) return { status: 500, headers: {}, body: '{"error":"Could not store the change"}' };
      this.imports.push(
        importPostedSnapshot(live.core, workspaceId, url, req, this.options.now).then((failure) => {
          if (failure) this.importFailure = failure;
        }),
      );
      return { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
    }
    const docs = this.readWorkspaceSync(workspaceId);
    return snapshotZipResponse(workspaceId, (id) => docs.get(id) ?? new Y.Doc());
  }

  /** The stored docs of a workspace, read synchronously (psql): doc id -> state. */
  private readWorkspaceSync(workspaceId: string): Map<string, Y.Doc> {
    const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
    const match = `(d.doc_id = ${lit(workspaceDocId(workspaceId))} OR starts_with(d.doc_id, ${lit(`body:${workspaceId}/`)}))`;
    const sql = `SELECT encode(convert_to(d.doc_id, 'UTF8'), 'hex'), 0, encode(d.snapshot, 'hex') FROM docs d WHERE ${match} AND d.snapshot IS NOT NULL
UNION ALL SELECT encode(convert_to(d.doc_id, 'UTF8'), 'hex'), u.seq, encode(u.data, 'hex') FROM updates u JOIN docs d ON d.doc_id = u.doc_id WHERE ${match} AND u.seq > d.snap_seq
ORDER BY 1, 2`;
    const r = spawnSync(postgresBinary('psql'), ['-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-d', this.db.url, '-c', sql], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    if (r.error || r.status !== 0) throw new Error(`psql failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}`);
    const parts = new Map<string, Uint8Array[]>();
    for (const line of r.stdout.split('\n')) {
      if (line === '') continue;
      const [idHex, , dataHex] = line.split('\t');
      const id = Buffer.from(idHex, 'hex').toString('utf8');
      parts.set(id, [...(parts.get(id) ?? []), new Uint8Array(Buffer.from(dataHex, 'hex'))]);
    }
    const out = new Map<string, Y.Doc>();
    for (const [id, list] of parts) {
      const doc = new Y.Doc();
      Y.applyUpdate(doc, Y.mergeUpdates(list));
      out.set(id, doc);
    }
    return out;
  }

  /** The database started again if it was stopped (the next run uses it), every node stopped, the inspection connection closed. */
  async close(): Promise<void> {
    await Promise.all(this.dying.splice(0)).catch(() => undefined);
    await this.startDatabase().catch(() => undefined);
    for (let i = 0; i < this.nodes.length; i++) {
      if (this.databaseUp) await this.stopNode(i).catch(() => undefined);
      else await this.crashNode(i).catch(() => undefined);
    }
    await this.admin?.close().catch(() => undefined);
    this.admin = null;
  }
}

/** Whether some document operation of `core` is running or queued. */
function hasQueued(core: SyncCore): boolean {
  return (mutexOf(core) as unknown as { tails: Map<string, unknown> }).tails.size > 0;
}

let databaseCounter = 0;

/** Fresh databases on a test Postgres, one per run; `drop` removes it (connections still open are ended). */
export function runDatabases(server: PostgresInstance): () => Promise<ClusterDatabase & { drop(): Promise<void> }> {
  return async () => {
    const name = `fuzz_${process.pid}_${++databaseCounter}`;
    const url = await server.createDatabase(name);
    return {
      url,
      pause: () => server.pause(),
      resume: () => server.resume(),
      async drop() {
        const c = new pg.Client({ connectionString: server.url() });
        await c.connect();
        try {
          await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        } finally {
          await c.end();
        }
      },
    };
  };
}
