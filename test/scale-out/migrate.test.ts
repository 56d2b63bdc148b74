/**
 * `diaryx-sync migrate --from <sqlite dir> --to postgres://...` through the real
 * CLI: a SQLite server's users, tokens, workspaces, documents (compacted and
 * not), attachment records and uploads in progress move to Postgres, a node on
 * Postgres serves them to the same token, and bad input changes nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { TestClient } from '../server/helpers/client';
import { keyRecord } from '../server/helpers/e2ee-client';
import { spawnCli } from '../server/helpers/child';
import { startTestServer, tempDataDir } from '../server/helpers/server';
import { waitFor } from '../server/helpers/wait';
import { useTestPostgres } from '../../server/src/testing/use-postgres';
import { sql, startNode, stopNode } from './nodes';

const pgi = useTestPostgres();

async function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const cli = spawnCli(args);
  const { code } = await cli.exited;
  return { code, out: cli.stdout.join(''), err: cli.stderr.join('') };
}

const PART = 4096;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Announces an upload of `bytes` in parts of PART bytes. */
async function announce(base: string, token: string, ws: string, bytes: Uint8Array, name: string): Promise<{ upload_id: string | null; status: string; uploaded_parts?: number[] }> {
  const body = {
    entry_path: 'days/monday.md',
    attachment_path: `_attachments/${name}`,
    hash: sha(bytes),
    size_bytes: bytes.length,
    mime_type: 'image/png',
    part_size: PART,
    total_parts: Math.ceil(bytes.length / PART),
  };
  const res = await fetch(`${base}/api/workspaces/${ws}/attachments/uploads`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return (await res.json()) as { upload_id: string | null; status: string; uploaded_parts?: number[] };
}

async function putPart(base: string, token: string, ws: string, uploadId: string, bytes: Uint8Array, n: number): Promise<void> {
  const res = await fetch(`${base}/api/workspaces/${ws}/attachments/uploads/${uploadId}/parts/${n}`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' },
    body: new Uint8Array(bytes.subarray((n - 1) * PART, n * PART)) as Uint8Array<ArrayBuffer>,
  });
  expect(res.status).toBe(200);
}

async function complete(base: string, token: string, ws: string, uploadId: string, bytes: Uint8Array): Promise<unknown> {
  const res = await fetch(`${base}/api/workspaces/${ws}/attachments/uploads/${uploadId}/complete`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify({ hash: sha(bytes) }) });
  return res.json();
}

async function joined(c: TestClient, doc: string): Promise<void> {
  c.sendStep1(doc);
  await waitFor(() => c.framesFor(doc).some((f) => f.subtype === 1), `join ${doc}`);
}

describe('migrate', () => {
  it('moves a SQLite server to Postgres; a node serves the same documents to the same token', async () => {
    // A SQLite server with two documents: one compacted into a snapshot plus a log, one only logged.
    const ts = await startTestServer({ compactAfterUpdates: 5 });
    const token = ts.server.createToken('alice');
    const ws = await (await fetch(`${ts.server.url}/api/workspaces`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify({ name: 'Journal' }) })).json() as { id: string };
    const c = await TestClient.connect(ts.wsUrl, token);
    await joined(c, 'body:mig/a.md');
    await joined(c, 'body:mig/b.md');
    for (let i = 0; i < 12; i++) c.doc('body:mig/a.md').getText('t').insert(0, `a${i} `);
    c.doc('body:mig/b.md').getText('t').insert(0, 'only logged');
    c.doc('body:mig/a.md').getText('t').delete(0, 3);
    await c.roundTrip('body:mig/a.md');
    await c.roundTrip('body:mig/b.md');
    const expectedA = c.doc('body:mig/a.md').getText('t').toString();
    await c.close();
    // One attachment stored whole, and one upload left half done (part 1 of 2).
    const held = randomBytes(6000);
    const heldUp = await announce(ts.server.url, token, ws.id, held, 'held.png');
    for (const n of [1, 2]) await putPart(ts.server.url, token, ws.id, heldUp.upload_id!, held, n);
    expect(await complete(ts.server.url, token, ws.id, heldUp.upload_id!, held)).toEqual({ ok: true });
    const half = randomBytes(7000);
    const halfUp = await announce(ts.server.url, token, ws.id, half, 'half.png');
    await putPart(ts.server.url, token, ws.id, halfUp.upload_id!, half, 1);
    await ts.stop();

    const url = await pgi.createDatabase('migrate_ok');
    const r = await run(['migrate', '--from', ts.dataDir, '--to', url]);
    expect(r.err + r.out).toMatch(
      /migrated 1 users, 1 tokens, 2 workspaces, 2 documents, 1 attachment records and 1 uploads in progress; all documents and attachment records checked equal/,
    );
    expect(r.code).toBe(0);
    expect(r.err).toContain(`attachment bytes are files under ${ts.dataDir}/attachments`);
    const rows = (await sql(url, 'SELECT workspace_id, hash, size, mime_type, path, unreferenced_since FROM attachment_blobs', [])).rows;
    expect(rows).toEqual([{ workspace_id: ws.id, hash: sha(held), size: '6000', mime_type: 'image/png', path: '_attachments/held.png', unreferenced_since: null }]);

    // The node gets the old server's attachment folder as its own (what a shared folder gives every node).
    const node = await startNode(url, ['--data-dir', ts.dataDir]);
    try {
      const auth = { Authorization: `Bearer ${token}` };
      const got = await fetch(`${node.url}/api/workspaces/${ws.id}/attachments/${sha(held)}`, { headers: auth });
      expect(got.status).toBe(200);
      expect(Buffer.from(await got.arrayBuffer()).equals(held)).toBe(true);
      expect(((await (await fetch(`${node.url}/api/user/storage`, { headers: auth })).json()) as { used_bytes: number }).used_bytes).toBe(6000);
      // The half-done upload resumes on the node from the part the old server received.
      const resumed = await announce(node.url, token, ws.id, half, 'half.png');
      expect(resumed).toEqual({ upload_id: halfUp.upload_id, status: 'uploading', uploaded_parts: [1] });
      await putPart(node.url, token, ws.id, halfUp.upload_id!, half, 2);
      expect(await complete(node.url, token, ws.id, halfUp.upload_id!, half)).toEqual({ ok: true });
      const both = await fetch(`${node.url}/api/workspaces/${ws.id}/attachments/${sha(half)}`, { headers: auth });
      expect(Buffer.from(await both.arrayBuffer()).equals(half)).toBe(true);
      // A second node that does not share the folder knows the record but not the file: a clear 503, and it keeps serving.
      const lonelyDir = tempDataDir();
      const lonely = await startNode(url, ['--data-dir', lonelyDir]);
      try {
        const miss = await fetch(`${lonely.url}/api/workspaces/${ws.id}/attachments/${sha(held)}`, { headers: auth });
        expect(miss.status).toBe(503);
        expect(((await miss.json()) as { error: string }).error).toMatch(/recorded but its file is missing on this server.*share the same attachment folder/);
        const unknown = await fetch(`${lonely.url}/api/workspaces/${ws.id}/attachments/${'0'.repeat(64)}`, { headers: auth });
        expect(unknown.status).toBe(404);
        expect(((await (await fetch(`${lonely.url}/api/user/storage`, { headers: auth })).json()) as { used_bytes: number }).used_bytes).toBe(13000);
        expect(lonely.proc.exitCode).toBeNull();
      } finally {
        await stopNode(lonely);
        fs.rmSync(lonelyDir, { recursive: true, force: true });
      }

      const listed = (await (await fetch(`${node.url}/api/workspaces`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { id: string }[];
      expect(listed.map((w) => w.id).sort()).toEqual([ws.id, 'mig'].sort());
      const d = await TestClient.connect(node.wsUrl, token);
      await joined(d, 'body:mig/a.md');
      await joined(d, 'body:mig/b.md');
      expect(d.doc('body:mig/a.md').getText('t').toString()).toBe(expectedA);
      expect(d.doc('body:mig/b.md').getText('t').toString()).toBe('only logged');
      // And it keeps working: an edit is stored after the migrated snapshot.
      d.doc('body:mig/b.md').getText('t').insert(0, 'new ');
      await d.roundTrip('body:mig/b.md');
      const e = await TestClient.connect(node.wsUrl, token);
      await joined(e, 'body:mig/b.md');
      expect(e.doc('body:mig/b.md').getText('t').toString()).toBe('new only logged');
      await d.close();
      await e.close();
    } finally {
      await stopNode(node);
    }

    // A second run into the same database is refused, and changes nothing.
    const before = (await sql(url, 'SELECT head FROM docs WHERE doc_id = $1', ['body:mig/b.md'])).rows[0];
    const again = await run(['migrate', '--from', ts.dataDir, '--to', url]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already holds data; pass --replace/);
    expect((await sql(url, 'SELECT head FROM docs WHERE doc_id = $1', ['body:mig/b.md'])).rows[0]).toEqual(before);
    // --replace starts over from the SQLite data.
    const replaced = await run(['migrate', '--from', ts.dataDir, '--to', url, '--replace']);
    expect(replaced.code).toBe(0);
    const state = (await sql(url, 'SELECT snapshot FROM docs WHERE doc_id = $1', ['body:mig/b.md'])).rows[0] as { snapshot: Buffer };
    const doc = new Y.Doc();
    Y.applyUpdate(doc, new Uint8Array(state.snapshot));
    expect(doc.getText('t').toString()).toBe('only logged');
    fs.rmSync(ts.dataDir, { recursive: true, force: true });
  });

  it('refuses a folder without a server database and a URL that is not postgres://', async () => {
    const empty = tempDataDir();
    const url = await pgi.createDatabase('migrate_bad');
    const r = await run(['migrate', '--from', empty, '--to', url]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`holds no server database (${path.join(empty, 'diaryx-sync.db')} not found)`);
    expect(fs.readdirSync(empty)).toEqual([]);
    const bad = await run(['migrate', '--from', empty, '--to', 'mysql://x/y']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--to: expected postgres://');
    fs.rmSync(empty, { recursive: true, force: true });
  });

  it('refuses a server holding an encrypted workspace, writing nothing to Postgres', async () => {
    const dir = tempDataDir();
    const ts = await startTestServer({ dataDir: dir });
    const token = ts.server.createToken('alice');
    const headers = { Authorization: `Bearer ${token}` };
    const ws = ((await (await fetch(`${ts.server.url}/api/workspaces`, { method: 'POST', headers, body: JSON.stringify({ name: 'Sealed' }) })).json()) as { id: string }).id;
    expect((await fetch(`${ts.server.url}/api/workspaces/${ws}/keys`, { method: 'PUT', headers, body: JSON.stringify(keyRecord(0)) })).status).toBe(200);
    await ts.stop();
    const url = await pgi.createDatabase('migrate_e2ee');
    const r = await run(['migrate', '--from', dir, '--to', url]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('holds 1 end-to-end encrypted workspace(s), which migrate cannot copy yet; nothing was written');
    expect((await sql(url, "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'users'")).rows).toEqual([{ n: 0 }]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
