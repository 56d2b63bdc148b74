/**
 * `diaryx-sync migrate --from <sqlite dir> --to postgres://...` through the real
 * CLI: a SQLite server's users, tokens, workspaces and documents (compacted and
 * not) move to Postgres, a node on Postgres serves them to the same token, and
 * bad input changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { TestClient } from '../server/helpers/client';
import { spawnCli } from '../server/helpers/child';
import { startTestServer, tempDataDir } from '../server/helpers/server';
import { waitFor } from '../server/helpers/wait';
import { startPostgres, type PostgresInstance } from './postgres-instance';
import { sql, startNode, stopNode } from './nodes';

let pgi: PostgresInstance;
beforeAll(async () => {
  pgi = await startPostgres();
});
afterAll(async () => {
  await pgi?.stop();
});

async function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const cli = spawnCli(args);
  const { code } = await cli.exited;
  return { code, out: cli.stdout.join(''), err: cli.stderr.join('') };
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
    await ts.stop();

    const url = await pgi.createDatabase('migrate_ok');
    const r = await run(['migrate', '--from', ts.dataDir, '--to', url]);
    expect(r.err + r.out).toMatch(/migrated 1 users, 1 tokens, 2 workspaces and 2 documents; all documents checked equal/);
    expect(r.code).toBe(0);

    const node = await startNode(url);
    try {
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
});
