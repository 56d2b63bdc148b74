/**
 * The configured limits, each reached over real sockets: a clear error for the
 * client, nothing stored, and everybody else unaffected.
 */
import http from 'node:http';
import { strToU8, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import net from 'node:net';
import { TestClient } from './helpers/client';
import { startTestServer, type TestServer } from './helpers/server';
import { waitFor } from './helpers/wait';
import { useCleanup } from './helpers/cleanup';

const cleanup = useCleanup();

async function server(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const ts = await startTestServer({ dataDir: ':memory:', ...options });
  cleanup.push(() => ts.stop());
  return ts;
}

async function connect(ts: TestServer, token: string): Promise<TestClient> {
  const c = await TestClient.connect(ts.wsUrl, token);
  cleanup.push(() => c.close());
  return c;
}

async function joined(c: TestClient, docId: string): Promise<void> {
  c.sendStep1(docId);
  await waitFor(() => c.framesFor(docId).some((f) => f.subtype === 1), `joined ${docId}`);
}

/** The `error` texts the server sent a client. */
function errors(c: TestClient): { doc_id: string; message: string }[] {
  return c.textsOfType('error') as unknown as { doc_id: string; message: string }[];
}

describe('workspaces', () => {
  it('refuses a workspace over the per-user quota, with an explicit error', async () => {
    const ts = await server({ maxWorkspacesPerUser: 2 });
    const token = ts.server.createToken('alice');
    const c = await connect(ts, token);
    await joined(c, 'body:one/a.md');
    await joined(c, 'body:two/a.md');
    c.sendStep1('body:three/a.md');
    await waitFor(() => errors(c).length > 0, 'error text');
    expect(errors(c)[0]).toEqual({ type: 'error', doc_id: 'body:three/a.md', message: 'Workspace quota reached: user alice already owns 2 workspaces' });
    expect(c.framesFor('body:three/a.md')).toEqual([]);
    const res = await fetch(`${ts.server.url}/api/workspaces`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: 'Third' }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(/quota reached/);
    // Existing workspaces keep working.
    await c.roundTrip('body:one/a.md');
  });

  it('refuses ids that differ from an existing one only by case or surrounding spaces', async () => {
    const ts = await server();
    const alice = await connect(ts, ts.server.createToken('alice'));
    const bob = await connect(ts, ts.server.createToken('bob'));
    await joined(alice, 'workspace:Notes');
    for (const id of ['workspace:notes', 'workspace:NOTES']) bob.sendStep1(id);
    alice.sendStep1('workspace:Notes ');
    alice.sendStep1('workspace:nOtes');
    await waitFor(() => errors(bob).length === 2 && errors(alice).length === 2, 'error texts');
    for (const e of [...errors(bob), ...errors(alice)]) {
      expect(e.message).toMatch(/differs from an existing workspace id only by case or spaces|has surrounding spaces/);
    }
    expect(errors(alice).map((e) => e.message)).toContain('Workspace id "Notes " has surrounding spaces');
    expect(bob.frames).toEqual([]);
    // The original still opens for its owner.
    await alice.roundTrip('workspace:Notes');
  });
});

describe('documents', () => {
  it('refuses an update that would take a document over maxDocBytes; nothing relayed', async () => {
    const ts = await server({ maxDocBytes: 20_000 });
    const token = ts.server.createToken('alice');
    const a = await connect(ts, token);
    const b = await connect(ts, token);
    await joined(a, 'body:ws/a.md');
    await joined(b, 'body:ws/a.md');
    a.doc('body:ws/a.md').getText('body').insert(0, 'x'.repeat(30_000));
    await waitFor(() => errors(a).length > 0, 'error text');
    expect(errors(a)[0].message).toMatch(/would exceed the size limit of 20000 bytes/);
    a.doc('body:ws/a.md').getText('body').insert(0, 'small');
    await b.roundTrip('body:ws/a.md');
    expect(b.doc('body:ws/a.md').getText('body').toString()).not.toContain('xxxx');
  });

  it('counts only what is new: a full-state SyncStep2 of a doc near the limit is accepted', async () => {
    const ts = await server({ maxDocBytes: 20_000 });
    const token = ts.server.createToken('alice');
    const a = await connect(ts, token);
    await joined(a, 'body:ws/b.md');
    a.doc('body:ws/b.md').getText('body').insert(0, 'w'.repeat(12_000));
    await a.roundTrip('body:ws/b.md');
    // 12 KB stored + a 12 KB step2 is over 20 KB, but only its last edit is new.
    a.autoApply = false;
    const edit = new Y.Doc();
    Y.applyUpdate(edit, Y.encodeStateAsUpdate(a.doc('body:ws/b.md')));
    edit.getText('body').insert(0, 'new ');
    a.sendStep2('body:ws/b.md', Y.encodeStateAsUpdate(edit));
    const b = await connect(ts, token);
    b.sendStep1('body:ws/b.md');
    await b.waitForDoc('body:ws/b.md', (d) => d.getText('body').toString().startsWith('new w'));
    expect(errors(a)).toEqual([]);
  });

  it('limits the documents open per socket and per user', async () => {
    const ts = await server({ maxDocsPerConnection: 3, maxDocsPerUser: 4 });
    const token = ts.server.createToken('alice');
    const a = await connect(ts, token);
    for (const d of ['body:ws/1.md', 'body:ws/2.md', 'body:ws/3.md']) await joined(a, d);
    a.sendStep1('body:ws/4.md');
    await waitFor(() => errors(a).length > 0, 'per-socket error');
    expect(errors(a)[0].message).toBe('Too many documents open on this connection (limit 3)');
    // Leaving one frees its place.
    a.sendText(JSON.stringify({ action: 'leave', doc: 'body:ws/1.md' }));
    await joined(a, 'body:ws/4.md');
    const b = await connect(ts, token);
    await joined(b, 'body:ws/5.md');
    b.sendStep1('body:ws/6.md');
    await waitFor(() => errors(b).length > 0, 'per-user error');
    expect(errors(b)[0].message).toBe('Too many documents open by user alice (limit 4)');
    // Closing a socket gives its documents back.
    await a.close();
    await waitFor(async () => {
      b.sendStep1('body:ws/6.md');
      await new Promise((r) => setTimeout(r, 50));
      return b.framesFor('body:ws/6.md').some((f) => f.subtype === 1);
    }, 'documents released');
  });

  it('drops waiting updates over maxPendingBytesPerDoc and asks the client again', async () => {
    const ts = await server({ maxPendingBytesPerDoc: 2_000 });
    const c = await connect(ts, ts.server.createToken('alice'));
    await joined(c, 'body:ws/a.md');
    // Updates of a doc whose first update never arrives: none can be integrated.
    const source = new Y.Doc();
    const updates: Uint8Array[] = [];
    source.on('update', (u: Uint8Array) => updates.push(u));
    for (let i = 0; i < 20; i++) source.getText('body').insert(0, 'y'.repeat(300));
    const before = c.framesFor('body:ws/a.md').filter((f) => f.subtype === 0).length;
    for (const u of updates.slice(1)) c.sendUpdate('body:ws/a.md', u);
    await waitFor(() => ts.logs.some((l) => l.includes('dropped waiting updates over the limit')), 'dropped');
    await waitFor(() => c.framesFor('body:ws/a.md').filter((f) => f.subtype === 0).length > before, 'asked again (SyncStep1)');
    // Once the missing update comes, the client's full state integrates.
    c.autoApply = false;
    c.sendStep2('body:ws/a.md', Y.encodeStateAsUpdate(source));
    const check = await connect(ts, ts.server.createToken('alice'));
    check.sendStep1('body:ws/a.md');
    await check.waitForDoc('body:ws/a.md', (d) => d.getText('body').length === 6_000);
  });
});

/** A POST whose body is sent in parts; resolves with status and JSON once the server answered. */
function slowUpload(url: string, token: string, first: Uint8Array): { finish(rest: Uint8Array): void; response: Promise<{ status: number; body: string }> } {
  let req!: http.ClientRequest;
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req = http.request(url, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/zip' } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  req.write(first);
  return { finish: (rest) => req.end(rest), response };
}

describe('snapshot uploads', () => {
  async function workspace(ts: TestServer): Promise<{ token: string; url: string }> {
    const token = ts.server.createToken('alice');
    const res = await fetch(`${ts.server.url}/api/workspaces`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: '{"name":"J"}' });
    const { id } = (await res.json()) as { id: string };
    return { token, url: `${ts.server.url}/api/workspaces/${id}/snapshot?mode=merge` };
  }

  it('stops a zip bomb at maxSnapshotUnzippedBytes and refuses too many entries', async () => {
    const ts = await server({ maxSnapshotUnzippedBytes: 1024 * 1024, maxSnapshotEntries: 5, maxSnapshotFileBytes: 64 * 1024 * 1024 });
    const { token, url } = await workspace(ts);
    const bomb = zipSync({ 'bomb.md': new Uint8Array(16 * 1024 * 1024) }, { level: 9 });
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    const res = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: bomb });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('Markdown in the zip exceeds 1048576 bytes uncompressed');
    const many = zipSync(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`f${i}.md`, strToU8('x')])));
    const res2 = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: many });
    expect(res2.status).toBe(400);
    expect(((await res2.json()) as { error: string }).error).toMatch(/6 entries; the limit is 5/);
    const ok = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: zipSync({ 'a.md': strToU8('hello') }) });
    expect(await ok.json()).toEqual({ files_imported: 1 });
  });

  it('refuses a markdown file over maxSnapshotFileBytes', async () => {
    const ts = await server({ maxSnapshotFileBytes: 1000 });
    const { token, url } = await workspace(ts);
    const res = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: zipSync({ 'ok.md': strToU8('x'), 'big.md': new Uint8Array(2000).fill(65) }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('big.md is larger than 1000 bytes');
  });

  it('answers 503 beyond maxConcurrentUploads, and takes uploads again when one finished', async () => {
    const ts = await server({ maxConcurrentUploads: 1 });
    const { token, url } = await workspace(ts);
    const zip = zipSync({ 'a.md': strToU8('one') });
    const first = slowUpload(url, token, zip.subarray(0, 10));
    // The first upload holds the only slot while its body trickles in.
    await waitFor(async () => {
      const res = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: zip });
      if (res.status === 503) {
        expect(res.headers.get('retry-after')).toBe('5');
        expect(((await res.json()) as { error: string }).error).toMatch(/Too many snapshot uploads in progress \(limit 1\)/);
        return true;
      }
      return false;
    }, '503 while the first upload runs');
    first.finish(zip.subarray(10));
    expect(await first.response).toEqual({ status: 200, body: JSON.stringify({ files_imported: 1 }) });
    const after = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: zip });
    expect(after.status).toBe(200);
  });
});

describe('buffered output', () => {
  it('closes the socket that does not read when the server-wide budget is exhausted', async () => {
    const ts = await server({ maxBufferedOutputBytes: 2 * 1024 * 1024 });
    const token = ts.server.createToken('alice');
    const writer = await connect(ts, token);
    await joined(writer, 'body:ws/big.md');
    writer.doc('body:ws/big.md').getText('body').insert(0, 'z'.repeat(1024 * 1024));
    await writer.roundTrip('body:ws/big.md');
    // A raw socket that completes the handshake and then never reads.
    const lazy = net.connect(ts.server.port, '127.0.0.1');
    cleanup.push(() => void lazy.destroy());
    await new Promise((r) => lazy.once('connect', r));
    lazy.write(
      `GET /sync2?token=${token} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise((r) => lazy.once('data', r));
    lazy.pause();
    // Masked client frames asking for the whole doc, again and again: each answer is 1 MiB.
    const { encodeFrame } = await import('../../common/src/wire/frame');
    const { encodeSyncStep1 } = await import('../../common/src/wire/sync');
    const payload = Buffer.from(encodeFrame('body:ws/big.md', encodeSyncStep1(new Uint8Array([0]))));
    const frame = Buffer.concat([Buffer.from([0x82, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
    for (let i = 0; i < 200; i++) lazy.write(frame);
    await waitFor(() => ts.logs.some((l) => l.includes('server-wide output budget exhausted') || l.includes('client does not read')), 'lazy socket closed', 20_000);
    expect(ts.logs.some((l) => l.includes('server-wide output budget exhausted'))).toBe(true);
    // The writer, which reads, is still served.
    await writer.roundTrip('body:ws/big.md');
    expect(writer.closeCode).toBeNull();
  });
});
