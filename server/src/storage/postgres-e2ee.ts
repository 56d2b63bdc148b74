/**
 * EncryptedStore on the shared Postgres database (the scale-out schema):
 * envelopes are rows of `updates` with their `client_key`, a doc is a `docs`
 * row (`snapshot` holds the client's snapshot envelope, `snap_id` its id), the
 * key record is `workspaces.e2ee`. An append locks the docs row first, then
 * the workspaces row (for `change_head`), so appenders of one doc queue and
 * sequence numbers become visible in order; it queues the same wake-up as a
 * plain append (`NOTIFY diaryx_doc '<doc> <seq>'`, delivered on commit), so
 * the other nodes relay it.
 */
import type pg from 'pg';
import { StorageError, describeError } from '../errors';
import { inTransaction } from './postgres-transaction';
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
import { NOTIFY_CHANNEL } from './postgres';

const buf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const u8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();

interface DocRow {
  head: string;
  snap_seq: string;
  snap_id: Buffer | null;
  snapshot_len: number | null;
  log_count: number;
  log_bytes: string;
}
const DOC_COLUMNS = 'head, snap_seq, snap_id, octet_length(snapshot) AS snapshot_len, log_count, log_bytes';

export class PgEncryptedStore implements EncryptedStore {
  constructor(private readonly pool: pg.Pool) {}

  async getKeys(workspaceId: string): Promise<KeyRecordRow | null> {
    const rows = await this.query<{ record: string | null }>(undefined, 'SELECT e2ee::text AS record FROM workspaces WHERE id = $1', [workspaceId]);
    const record = rows[0]?.record ?? null;
    return record === null ? null : { record, gen: genOf(record) };
  }

  async putKeys(workspaceId: string, expectGen: number, record: string): Promise<PutKeysResult> {
    return this.tx(undefined, async (c) => {
      const r = await c.query<{ record: string | null }>('SELECT e2ee::text AS record FROM workspaces WHERE id = $1 FOR UPDATE', [workspaceId]);
      if (r.rows.length === 0) throw new StorageError(`no workspace ${workspaceId}`);
      const current = r.rows[0].record;
      const gen = current === null ? 0 : genOf(current);
      if (gen !== expectGen) return { ok: false, current: current === null ? null : { record: current, gen } };
      await c.query('UPDATE workspaces SET e2ee = $2::jsonb WHERE id = $1', [workspaceId, record]);
      return { ok: true, gen: expectGen + 1 };
    });
  }

  async append(docId: string, workspaceId: string, clientKey: Uint8Array, envelope: Uint8Array, maxDocBytes: number): Promise<AppendOutcome> {
    return this.tx(docId, async (c) => {
      await c.query('INSERT INTO docs (doc_id, workspace_id) VALUES ($1, $2) ON CONFLICT (doc_id) DO NOTHING', [docId, workspaceId]);
      const doc = (await c.query<DocRow>(`SELECT ${DOC_COLUMNS} FROM docs WHERE doc_id = $1 FOR UPDATE`, [docId])).rows[0];
      const seen = (await c.query<{ seq: string; data: Buffer }>('SELECT seq, data FROM updates WHERE doc_id = $1 AND client_key = $2', [docId, buf(clientKey)])).rows[0];
      if (seen) {
        if (!sameBytes(u8(seen.data), envelope)) return { kind: 'conflict' };
        return { kind: 'stored', seq: Number(seen.seq), duplicate: true, logCount: doc.log_count, logBytes: Number(doc.log_bytes), head: Number(doc.head) };
      }
      if (Number(doc.log_bytes) + (doc.snapshot_len ?? 0) + envelope.length > maxDocBytes) return { kind: 'quota' };
      const ch = await c.query<{ change_head: string }>(
        'UPDATE workspaces SET change_head = change_head + 1 WHERE id = $1 AND e2ee IS NOT NULL RETURNING change_head',
        [workspaceId],
      );
      if (ch.rows.length === 0) throw new StorageError(`workspace ${workspaceId} is not encrypted`, docId);
      const row = (
        await c.query<{ head: string; log_count: number; log_bytes: string }>(
          `UPDATE docs SET head = head + 1, log_count = log_count + 1, log_bytes = log_bytes + $2, change_no = $3
           WHERE doc_id = $1 RETURNING head, log_count, log_bytes`,
          [docId, envelope.length, ch.rows[0].change_head],
        )
      ).rows[0];
      await c.query('INSERT INTO updates (doc_id, seq, data, client_key) VALUES ($1, $2, $3, $4)', [docId, row.head, buf(envelope), buf(clientKey)]);
      await c.query(`SELECT pg_notify('${NOTIFY_CHANNEL}', $1 || ' ' || $2::text)`, [docId, row.head]);
      const seq = Number(row.head);
      return { kind: 'stored', seq, duplicate: false, logCount: row.log_count, logBytes: Number(row.log_bytes), head: seq };
    });
  }

  async read(docId: string, after: number, maxBytes: number): Promise<EnvelopeRead> {
    return this.tx(
      docId,
      async (c) => {
        const doc = (await c.query<DocRow & { snapshot: Buffer | null }>(`SELECT ${DOC_COLUMNS}, CASE WHEN snap_seq > $2 THEN snapshot END AS snapshot FROM docs WHERE doc_id = $1`, [docId, after])).rows[0];
        if (!doc) return { head: 0, snapSeq: 0, snapId: NO_SNAP_ID.slice(), snapshot: null, envelopes: [], more: false, logCount: 0, logBytes: 0 };
        const snapSeq = Number(doc.snap_seq);
        const snapshot = doc.snapshot ? u8(doc.snapshot) : null;
        const start = Math.max(after, snapSeq);
        const sizes = await c.query<{ seq: string; n: number }>('SELECT seq, octet_length(data) AS n FROM updates WHERE doc_id = $1 AND seq > $2 ORDER BY seq', [docId, start]);
        let used = snapshot?.length ?? 0;
        let taken = snapshot ? 1 : 0;
        let last = start;
        let more = false;
        for (const r of sizes.rows) {
          if (taken > 0 && used + r.n > maxBytes) {
            more = true;
            break;
          }
          used += r.n;
          last = Number(r.seq);
          taken++;
        }
        const envelopes =
          last > start
            ? (await c.query<{ seq: string; data: Buffer }>('SELECT seq, data FROM updates WHERE doc_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq', [docId, start, last])).rows.map(
                (r) => ({ seq: Number(r.seq), data: u8(r.data) }),
              )
            : [];
        return {
          head: Number(doc.head),
          snapSeq,
          snapId: doc.snap_id ? u8(doc.snap_id) : NO_SNAP_ID.slice(),
          snapshot,
          envelopes,
          more,
          logCount: doc.log_count,
          logBytes: Number(doc.log_bytes),
        };
      },
      'REPEATABLE READ READ ONLY',
    );
  }

  async putSnapshot(docId: string, r: SnapshotRequest): Promise<SnapshotOutcome> {
    return this.tx(docId, async (c) => {
      const doc = (await c.query<DocRow>(`SELECT ${DOC_COLUMNS} FROM docs WHERE doc_id = $1 FOR UPDATE`, [docId])).rows[0];
      if (!doc) return { stored: false, snapId: NO_SNAP_ID.slice(), snapSeq: 0 };
      const current = doc.snap_id ? u8(doc.snap_id) : NO_SNAP_ID.slice();
      const snapSeq = Number(doc.snap_seq);
      if (!sameBytes(r.prevSnapId, current) || r.coversSeq <= snapSeq || r.coversSeq > Number(doc.head)) return { stored: false, snapId: current, snapSeq };
      await c.query(
        `WITH del AS (DELETE FROM updates WHERE doc_id = $1 AND seq <= $2 RETURNING octet_length(data) AS n)
         UPDATE docs SET snapshot = $3, snap_id = $4, snap_seq = $2, compacted_at = now(),
           log_count = log_count - (SELECT count(*) FROM del), log_bytes = log_bytes - (SELECT coalesce(sum(n), 0) FROM del)
         WHERE doc_id = $1`,
        [docId, r.coversSeq, buf(r.envelope), buf(r.snapId)],
      );
      return { stored: true, snapId: r.snapId.slice(), snapSeq: r.coversSeq };
    });
  }

  async changes(workspaceId: string, after: number): Promise<ChangedDocs> {
    return this.tx(
      undefined,
      async (c) => {
        const head = (await c.query<{ change_head: string }>('SELECT change_head FROM workspaces WHERE id = $1', [workspaceId])).rows[0];
        const docs = await c.query<{ doc_id: string; head: string }>(
          'SELECT doc_id, head FROM docs WHERE workspace_id = $1 AND change_no > $2 AND change_no > 0 ORDER BY doc_id COLLATE "C"',
          [workspaceId, after],
        );
        return { changeHead: Number(head?.change_head ?? 0), docs: docs.rows.map((d) => ({ docId: d.doc_id, head: Number(d.head) })) };
      },
      'REPEATABLE READ READ ONLY',
    );
  }

  async heads(docIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>(docIds.map((d) => [d, 0]));
    if (docIds.length === 0) return out;
    for (const r of await this.query<{ doc_id: string; head: string }>(undefined, 'SELECT doc_id, head FROM docs WHERE doc_id = ANY($1)', [docIds])) out.set(r.doc_id, Number(r.head));
    return out;
  }

  async markHinted(docId: string, now: number, intervalMs: number): Promise<boolean> {
    const rows = await this.query(docId, 'UPDATE docs SET hinted_at = $2 WHERE doc_id = $1 AND (hinted_at IS NULL OR hinted_at <= $3) RETURNING 1', [docId, now, now - intervalMs]);
    return rows.length === 1;
  }

  private async query<R extends pg.QueryResultRow>(docId: string | undefined, text: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.pool.query<R>(text, values)).rows;
    } catch (e) {
      throw new StorageError(`Postgres operation failed: ${describeError(e)}`, docId, e);
    }
  }

  private tx<T>(docId: string | undefined, fn: (c: pg.PoolClient) => Promise<T>, mode = 'READ COMMITTED'): Promise<T> {
    return inTransaction(this.pool, docId, mode, fn);
  }
}

function genOf(record: string): number {
  const gen = (JSON.parse(record) as { gen?: unknown }).gen;
  if (typeof gen !== 'number' || !Number.isSafeInteger(gen)) throw new StorageError('stored key record has no gen');
  return gen;
}
