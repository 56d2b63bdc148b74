/**
 * PostgresStorage: the StorageAdapter several server processes share.
 *
 * - `docs` holds one row per document: `head` (last sequence number handed
 *   out), `snap_seq` (log folded into `snapshot` up to there) and the log's size.
 * - `updates` holds the log rows `snap_seq+1 .. head`, no hole, no duplicate.
 * - An append is one statement (one transaction): it bumps `head` under the
 *   docs row lock, so a document's appenders queue and sequence numbers become
 *   visible in increasing order; a reader at cursor c never later finds a new
 *   seq <= c. The same statement queues `NOTIFY diaryx_doc '<doc> <seq>'`,
 *   which Postgres delivers only on commit: other nodes are woken, and read the
 *   rows from the table (the notification is never the data).
 * - Compaction takes a transaction-scoped advisory lock (gone with the
 *   transaction or the connection, never leaked) and only moves the base
 *   forward (`snap_seq <= throughSeq`), so two nodes never fold at once and an
 *   older state never replaces a newer one.
 */
import pg from 'pg';
import { StorageError, describeError } from '../errors';
import { inTransaction } from './postgres-transaction';
import type { ChangeFeed, LogRead, SharedLogStorage, StoredDocument } from './adapter';
import { PgAttachmentMeta } from './postgres-attachments';
import { migratePostgres, type PgConnectionOptions, pgClientConfig } from './postgres-schema';

/** Channel of the wake-ups. */
export const NOTIFY_CHANNEL = 'diaryx_doc';
/** Advisory lock class reserved for compaction (first key of the two-key form). */
export const COMPACTION_LOCK_CLASS = 0x44585331;
/** Wake-up for a doc id too long for a notification payload: "read every document". */
export const WAKE_ALL = '*';
const MAX_NOTIFY_DOC_BYTES = 7_000;

/** The workspace a doc id belongs to (`workspace:<ws>`, `body:<ws>/<path>`, or a bare legacy id). */
export function workspaceOfDoc(docId: string): string {
  if (docId.startsWith('workspace:')) return docId.slice('workspace:'.length);
  if (docId.startsWith('body:')) {
    const rest = docId.slice('body:'.length);
    const slash = rest.indexOf('/');
    return slash < 0 ? rest : rest.slice(0, slash);
  }
  return docId;
}

const APPEND = `
WITH h AS (
  UPDATE docs SET head = head + 1, log_count = log_count + 1, log_bytes = log_bytes + octet_length($2::bytea)
  WHERE doc_id = $1 RETURNING head
), ins AS (
  INSERT INTO updates (doc_id, seq, data) SELECT $1, head, $2::bytea FROM h
)
SELECT head, pg_notify('${NOTIFY_CHANNEL}', $3 || ' ' || head) FROM h`;
const ENSURE_DOC = 'INSERT INTO docs (doc_id, workspace_id) VALUES ($1, $2) ON CONFLICT (doc_id) DO NOTHING';
/** The docs row (kind 0: head, and the base when reading from 0 or when it covers rows after the cursor), then the rows after the cursor and the base (kind 1). */
const READ_SINCE = `
SELECT 0 AS kind, head AS n, CASE WHEN $2::bigint = 0 OR snap_seq > $2::bigint THEN snapshot END AS data FROM docs WHERE doc_id = $1
UNION ALL
SELECT 1, u.seq, u.data FROM updates u JOIN docs d ON d.doc_id = u.doc_id
WHERE u.doc_id = $1 AND u.seq > greatest($2::bigint, d.snap_seq)
ORDER BY kind, n`;
const COMPACT = `
WITH del AS (DELETE FROM updates WHERE doc_id = $1 AND seq <= $2 RETURNING octet_length(data) AS n)
UPDATE docs SET snapshot = $3, snap_seq = $2, compacted_at = now(),
  log_count = log_count - (SELECT count(*) FROM del), log_bytes = log_bytes - (SELECT coalesce(sum(n), 0) FROM del)
WHERE doc_id = $1 AND snap_seq <= $2 AND head >= $2 RETURNING 1`;

/** StorageAdapter on a Postgres database (a pool of connections; the feed has its own). */
export class PostgresStorage implements SharedLogStorage {
  readonly shared = true as const;
  private closed = false;
  private readonly feeds = new Set<PostgresFeed>();
  /** Attachment metadata in the same database, shared by every node. */
  readonly attachments: PgAttachmentMeta;

  private constructor(
    readonly pool: pg.Pool,
    private readonly connection: PgConnectionOptions,
  ) {
    this.attachments = new PgAttachmentMeta(pool, () => {
      if (this.closed) throw new StorageError('PostgresStorage is closed');
    });
  }

  /** Connects, migrates the schema (under an advisory lock, so starting nodes do not race) and returns the adapter. */
  static async open(connection: PgConnectionOptions): Promise<PostgresStorage> {
    const pool = new pg.Pool({ ...pgClientConfig(connection), max: connection.poolSize ?? 10 });
    // An idle client that loses its connection (database restart) must not crash the process.
    pool.on('error', () => undefined);
    try {
      await migratePostgres(pool);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw new StorageError(`Could not open the Postgres database: ${describeError(e)}`, undefined, e);
    }
    return new PostgresStorage(pool, connection);
  }

  async load(docId: string): Promise<StoredDocument> {
    const r = await this.readSince(docId, 0);
    const updates = r.updates.map((u) => u.data);
    return {
      snapshot: r.snapshot,
      updates,
      lastSeq: r.updates.length > 0 ? r.updates[r.updates.length - 1].seq : 0,
      updateBytes: updates.reduce((n, u) => n + u.byteLength, 0),
    };
  }

  async readSince(docId: string, afterSeq: number): Promise<LogRead> {
    // One statement sees one snapshot of the database: the docs row and the log rows agree.
    const rows = await this.query<{ kind: number; n: string; data: Buffer | null }>(docId, READ_SINCE, [docId, afterSeq]);
    const doc = rows[0];
    if (!doc || doc.kind !== 0) return { snapshot: null, updates: [], head: 0 };
    return {
      snapshot: doc.data ? new Uint8Array(doc.data) : null,
      updates: rows.slice(1).map((r) => ({ seq: Number(r.n), data: new Uint8Array(r.data!) })),
      head: Number(doc.n),
    };
  }

  async heads(docIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>(docIds.map((d) => [d, 0]));
    if (docIds.length === 0) return out;
    const rows = await this.query<{ doc_id: string; head: string }>(undefined, 'SELECT doc_id, head FROM docs WHERE doc_id = ANY($1)', [docIds]);
    for (const r of rows) out.set(r.doc_id, Number(r.head));
    return out;
  }

  async appendUpdate(docId: string, update: Uint8Array): Promise<number> {
    const notifyId = Buffer.byteLength(docId) > MAX_NOTIFY_DOC_BYTES ? WAKE_ALL : docId;
    const args = [docId, Buffer.from(update.buffer, update.byteOffset, update.byteLength), notifyId];
    let rows = await this.query<{ head: string }>(docId, APPEND, args);
    if (rows.length === 0) {
      await this.query(docId, ENSURE_DOC, [docId, workspaceOfDoc(docId)]);
      rows = await this.query<{ head: string }>(docId, APPEND, args);
    }
    if (rows.length !== 1) throw new StorageError('append found no document row', docId);
    return Number(rows[0].head);
  }

  async compact(docId: string, snapshot: Uint8Array, throughSeq: number): Promise<void> {
    await this.tryCompact(docId, snapshot, throughSeq);
  }

  async tryCompact(docId: string, snapshot: Uint8Array, throughSeq: number): Promise<'done' | 'busy' | 'nothing'> {
    return this.tx(docId, 'READ COMMITTED', async (c) => {
      const lock = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok', [COMPACTION_LOCK_CLASS, docId]);
      if (!lock.rows[0].ok) return 'busy';
      await c.query(ENSURE_DOC, [docId, workspaceOfDoc(docId)]);
      const r = await c.query(COMPACT, [docId, throughSeq, Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength)]);
      if (r.rowCount === 0) {
        // A newer base is stored (another node compacted further): keep it, and roll back the delete.
        await c.query('ROLLBACK');
        return 'nothing';
      }
      return 'done';
    });
  }

  async list(prefix: string): Promise<string[]> {
    const rows = await this.query<{ doc_id: string }>(
      undefined,
      'SELECT doc_id FROM docs WHERE starts_with(doc_id, $1) AND (snapshot IS NOT NULL OR head > snap_seq)',
      [prefix],
    );
    return rows.map((r) => r.doc_id).sort();
  }

  async remove(docId: string): Promise<void> {
    // The row stays (head keeps growing), so a node's cursor is never ahead of a new seq.
    await this.tx(docId, 'READ COMMITTED', async (c) => {
      await c.query('DELETE FROM updates WHERE doc_id = $1', [docId]);
      await c.query('UPDATE docs SET snapshot = NULL, snapshot_sv = NULL, snap_seq = head, log_count = 0, log_bytes = 0 WHERE doc_id = $1', [docId]);
    });
  }

  async ping(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.query(undefined, 'SELECT 1', [], 1_000);
      return true;
    } catch {
      return false;
    }
  }

  openFeed(): ChangeFeed {
    const feed = new PostgresFeed(this.connection, () => this.feeds.delete(feed));
    this.feeds.add(feed);
    return feed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const f of [...this.feeds]) await f.close();
    await this.pool.end();
  }

  private async query<R extends pg.QueryResultRow>(docId: string | undefined, text: string, values: unknown[], timeoutMs?: number): Promise<R[]> {
    if (this.closed) throw new StorageError('PostgresStorage is closed', docId);
    try {
      const q = this.pool.query<R>(text, values);
      const r = timeoutMs === undefined ? await q : await withTimeout(q, timeoutMs);
      return r.rows;
    } catch (e) {
      throw new StorageError(`Postgres operation failed: ${describeError(e)}`, docId, e);
    }
  }

  /** Runs `fn` in a transaction; `fn` may ROLLBACK itself. */
  private async tx<T>(docId: string, isolation: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new StorageError('PostgresStorage is closed', docId);
    return inTransaction(this.pool, docId, isolation, fn);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * One dedicated connection running `LISTEN diaryx_doc` (never from the pool).
 * When it drops it reconnects (0.5 s doubling to 10 s) and then calls
 * `onReconnect`, because wake-ups sent meanwhile are lost.
 */
export class PostgresFeed implements ChangeFeed {
  private client: pg.Client | null = null;
  private closed = false;
  private delay = 500;
  private timer: NodeJS.Timeout | null = null;
  private onWake: (docId: string, seq: number) => void = () => {};
  private onReconnect: () => void = () => {};
  up = false;
  /** Times the connection was re-established after a loss. */
  reconnects = 0;
  /** Called with a message when the connection is lost (logging). */
  onLost: (reason: string) => void = () => {};

  constructor(
    private readonly connection: PgConnectionOptions,
    private readonly onClosed: () => void,
  ) {}

  async start(onWake: (docId: string, seq: number) => void, onReconnect: () => void): Promise<void> {
    this.onWake = onWake;
    this.onReconnect = onReconnect;
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ ...pgClientConfig(this.connection), keepAlive: true });
    client.on('notification', (msg) => {
      if (msg.channel !== NOTIFY_CHANNEL || !msg.payload) return;
      const space = msg.payload.lastIndexOf(' ');
      if (space < 0) return;
      const seq = Number(msg.payload.slice(space + 1));
      if (Number.isSafeInteger(seq)) this.onWake(msg.payload.slice(0, space), seq);
    });
    const lost = (reason: string) => {
      if (this.client !== client) return;
      this.client = null;
      this.up = false;
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.onLost(reason);
      this.schedule();
    };
    client.on('error', (e) => lost(describeError(e)));
    client.on('end', () => lost('connection ended'));
    this.client = client;
    await client.connect();
    await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    if (this.client !== client) throw new Error('LISTEN connection lost while starting');
    this.up = true;
    this.delay = 500;
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect().then(
        () => {
          this.reconnects++;
          this.onReconnect();
        },
        () => {
          if (this.client) {
            const c = this.client;
            this.client = null;
            c.end().catch(() => undefined);
          }
          this.delay = Math.min(this.delay * 2, 10_000);
          this.schedule();
        },
      );
    }, this.delay);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.up = false;
    if (this.timer) clearTimeout(this.timer);
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => undefined);
    this.onClosed();
  }
}
