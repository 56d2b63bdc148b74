/** Server nodes (`serve --database`) as child processes on one Postgres database, and helpers to inspect it. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import * as Y from 'yjs';
import { spawnCli, type ChildServer } from '../server/helpers/child';
import { waitFor } from '../server/helpers/wait';

export type Node = ChildServer;

/** The data folder the nodes of one database share (attachment blobs), made on first use. */
const dataDirs = new Map<string, string>();
function sharedDataDir(databaseUrl: string): string {
  let dir = dataDirs.get(databaseUrl);
  if (dir === undefined) dataDirs.set(databaseUrl, (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-nodes-'))));
  return dir;
}

/** Starts `serve --port 0 --database <url>` (nodes of one database share a data folder) and waits until it listens. */
export async function startNode(databaseUrl: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Node> {
  const child = spawnCli(['serve', '--port', '0', '--database', databaseUrl, '--data-dir', sharedDataDir(databaseUrl), '--log-level', 'warn', ...extraArgs], env);
  const line = await waitFor(
    () => {
      if (child.proc.exitCode !== null) throw new Error(`node exited: ${child.stderr.join('')}`);
      return /listening on (http:\/\/\S+)/.exec(child.stdout.join(''));
    },
    'node to listen',
    30_000,
  );
  const url = line[1];
  return { ...child, url, wsUrl: url.replace(/^http/, 'ws') + '/sync2' };
}

/** Stops a node with SIGTERM (graceful) and waits for it. */
export async function stopNode(node: Node): Promise<void> {
  if (node.proc.exitCode !== null || node.proc.signalCode !== null) return;
  node.proc.kill('SIGTERM');
  await node.exited;
}

/** The stored state of a document (snapshot + log merged), read straight from the database. */
export async function storedState(databaseUrl: string, docId: string): Promise<Uint8Array> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const doc = (await c.query<{ snapshot: Buffer | null; snap_seq: string }>('SELECT snapshot, snap_seq FROM docs WHERE doc_id = $1', [docId])).rows[0];
    const rows = (await c.query<{ data: Buffer }>('SELECT data FROM updates WHERE doc_id = $1 ORDER BY seq', [docId])).rows;
    await c.query('COMMIT');
    const parts = [...(doc?.snapshot ? [doc.snapshot] : []), ...rows.map((r) => r.data)].map((b) => new Uint8Array(b));
    const d = new Y.Doc();
    for (const p of parts) Y.applyUpdate(d, p);
    return Y.encodeStateAsUpdate(d);
  } finally {
    await c.end();
  }
}

/** Seq numbers of a document's log rows, with its snap_seq and head. */
export async function logShape(databaseUrl: string, docId: string): Promise<{ seqs: number[]; snapSeq: number; head: number }> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const doc = (await c.query<{ snap_seq: string; head: string }>('SELECT snap_seq, head FROM docs WHERE doc_id = $1', [docId])).rows[0];
    const rows = (await c.query<{ seq: string }>('SELECT seq FROM updates WHERE doc_id = $1 ORDER BY seq', [docId])).rows;
    await c.query('COMMIT');
    return { seqs: rows.map((r) => Number(r.seq)), snapSeq: Number(doc?.snap_seq ?? 0), head: Number(doc?.head ?? 0) };
  } finally {
    await c.end();
  }
}

/** Runs one SQL statement on the database. */
export async function sql(databaseUrl: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    return await c.query(text, values);
  } finally {
    await c.end();
  }
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One random edit of a Y.Text: insert a short word or delete a short range. */
export function randomEdit(text: Y.Text, rand: () => number, tag: string): void {
  const len = text.length;
  if (len > 20 && rand() < 0.3) {
    const at = Math.floor(rand() * (len - 5));
    text.delete(at, 1 + Math.floor(rand() * 4));
  } else {
    text.insert(Math.floor(rand() * (len + 1)), `${tag}${Math.floor(rand() * 1000)} `);
  }
}
