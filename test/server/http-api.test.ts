/**
 * The HTTP API: status routes, workspaces, snapshot zip download and upload
 * (applied as document changes that are stored and relayed to live clients).
 */
import http from 'node:http';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseMetadata } from '../../common/src/workspace/metadata';
import { TestClient, fileMeta } from './helpers/client';
import { startTestServer, type TestServer } from './helpers/server';
import { waitFor } from './helpers/wait';

let ts: TestServer;
let token: string;
let workspaceId: string;
const clients: TestClient[] = [];

function api(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const t = init.token === undefined ? token : init.token;
  const headers = new Headers(init.headers);
  if (t) headers.set('Authorization', `Bearer ${t}`);
  return fetch(`${ts.server.url}${path}`, { ...init, headers });
}

async function client(): Promise<TestClient> {
  const c = await TestClient.connect(ts.wsUrl, token);
  clients.push(c);
  return c;
}

beforeEach(async () => {
  ts = await startTestServer();
  token = ts.server.createToken('alice');
  const res = await api('/api/workspaces', { method: 'POST', body: JSON.stringify({ name: 'Journal' }) });
  workspaceId = ((await res.json()) as { id: string }).id;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await ts.dispose();
});

describe('status routes', () => {
  it('answers /, /health and /api/status', async () => {
    expect(await (await api('/', { token: null })).text()).toBe('Diaryx Sync Server');
    expect(await (await api('/health', { token: null })).text()).toBe('OK');
    const c = await client();
    c.sendStep1('body:x/a.md');
    await waitFor(() => c.frames.length > 0, 'joined');
    // A stranger learns only that the server is up.
    expect(await (await api('/api/status', { token: null })).json()).toEqual({ status: 'ok' });
    expect(await (await api('/api/status', { token: 'dxs_wrong' })).json()).toEqual({ status: 'ok' });
    const status = (await (await api('/api/status')).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ status: 'ok', active_connections: 1, active_rooms: 1 });
    expect(typeof status.version).toBe('string');
    expect((await api('/nope')).status).toBe(404);
  });
});

/** One raw HTTP exchange (node:http sets any Origin header as given). */
function rawRequest(url: string, method: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('CORS', () => {
  const APP = 'https://app.diaryx.example';

  it('answers only the same origin by default, with credentials and Vary: Origin', async () => {
    const url = `${ts.server.url}/api/workspaces`;
    const auth = { Authorization: `Bearer ${token}` };
    const foreign = await rawRequest(url, 'GET', { ...auth, Origin: APP });
    expect(foreign.status).toBe(200);
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    expect(foreign.headers.vary).toBe('Origin');

    const self = new URL(ts.server.url).origin;
    const same = await rawRequest(url, 'GET', { ...auth, Origin: self });
    expect(same.headers['access-control-allow-origin']).toBe(self);
    expect(same.headers['access-control-allow-credentials']).toBe('true');
    expect(same.headers.vary).toBe('Origin');
  });

  it('echoes a configured origin with credentials, also for preflights', async () => {
    const server = await startTestServer({ dataDir: ':memory:', corsOrigins: [APP, 'http://localhost:5173'] });
    try {
      const t = server.server.createToken('alice');
      const url = `${server.server.url}/api/workspaces`;
      const pre = await rawRequest(url, 'OPTIONS', {
        Origin: APP,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, content-type',
      });
      expect(pre.status).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe(APP);
      expect(pre.headers['access-control-allow-credentials']).toBe('true');
      expect(pre.headers['access-control-allow-headers']).toMatch(/Authorization/);
      expect(pre.headers['access-control-allow-methods']).toMatch(/POST/);
      expect(pre.headers.vary).toBe('Origin');
      // PUT too: a page stores an encrypted workspace's key record with it.
      const put = await rawRequest(`${url}/some-id/keys`, 'OPTIONS', { Origin: APP, 'Access-Control-Request-Method': 'PUT' });
      expect(put.status).toBe(204);
      expect(put.headers['access-control-allow-methods']?.split(', ')).toEqual(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']);

      const get = await rawRequest(url, 'GET', { Authorization: `Bearer ${t}`, Origin: 'http://localhost:5173' });
      expect(get.status).toBe(200);
      expect(get.headers['access-control-allow-origin']).toBe('http://localhost:5173');
      expect(get.headers['access-control-allow-credentials']).toBe('true');
      // A 401 carries the CORS headers too, so the page can read why it failed.
      const denied = await rawRequest(url, 'GET', { Origin: APP });
      expect(denied.status).toBe(401);
      expect(denied.headers['access-control-allow-origin']).toBe(APP);

      const other = await rawRequest(url, 'GET', { Authorization: `Bearer ${t}`, Origin: 'https://evil.example' });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      expect(other.headers['access-control-allow-credentials']).toBeUndefined();
    } finally {
      await server.stop();
    }
  });
});

describe('workspaces', () => {
  it('creates and lists the caller’s workspaces only', async () => {
    expect(workspaceId).toMatch(/^[0-9a-f-]{36}$/);
    const dup = await api('/api/workspaces', { method: 'POST', body: JSON.stringify({ name: 'Journal' }) });
    expect(dup.status).toBe(409);
    expect(await dup.json()).toHaveProperty('error');
    expect((await api('/api/workspaces', { method: 'POST', body: '{"nom":1}' })).status).toBe(400);
    expect(await (await api('/api/workspaces')).json()).toEqual([{ id: workspaceId, name: 'Journal' }]);

    const bob = ts.server.createToken('bob');
    expect(await (await api('/api/workspaces', { token: bob })).json()).toEqual([]);
    expect((await api('/api/workspaces', { token: null })).status).toBe(401);
    expect((await api('/api/workspaces', { token: 'dxs_wrong' })).status).toBe(401);
  });

  it('answers 404 for another user’s workspace, for reads and writes', async () => {
    const bob = ts.server.createToken('bob');
    expect((await api(`/api/workspaces/${workspaceId}/snapshot`, { token: bob })).status).toBe(404);
    const zip = zipSync({ 'evil.md': strToU8('evil') });
    const res = await api(`/api/workspaces/${workspaceId}/snapshot?mode=replace`, { method: 'POST', body: zip, token: bob });
    expect(res.status).toBe(404);
    expect((await api(`/api/workspaces/${workspaceId}/snapshot`, { token: null })).status).toBe(401);
    expect(unzipSync(new Uint8Array(await (await api(`/api/workspaces/${workspaceId}/snapshot`)).arrayBuffer()))).toEqual({});
  });
});

describe('snapshot zips', () => {
  it('downloads the materialised markdown of the active files', async () => {
    const a = await client();
    const ws = `workspace:${workspaceId}`;
    a.sendStep1(ws);
    await waitFor(() => a.framesFor(ws).some((f) => f.subtype === 1), 'joined');
    a.doc(ws).transact(() => {
      const files = a.doc(ws).getMap('files');
      files.set('README.md', fileMeta('README.md', { title: 'My Journal' }));
      files.set('notes/a.md', fileMeta('a.md', { title: 'Day one', part_of: 'README.md' }));
      files.set('gone.md', fileMeta('gone.md', { deleted: true }));
    });
    const body = `body:${workspaceId}/notes/a.md`;
    a.sendStep1(body);
    await waitFor(() => a.framesFor(body).some((f) => f.subtype === 1), 'body joined');
    a.doc(body).getText('body').insert(0, 'Hello world\n');
    await a.roundTrip(ws);
    await a.roundTrip(body);

    const res = await api(`/api/workspaces/${workspaceId}/snapshot?include_attachments=true`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    const entries = unzipSync(new Uint8Array(await res.arrayBuffer()));
    expect(Object.keys(entries)).toEqual(['README.md', 'notes/a.md']);
    expect(strFromU8(entries['notes/a.md'])).toBe(
      '---\ntitle: Day one\npart_of: "[README](/README.md)"\nupdated: "2026-03-14T12:00:00.000+00:00"\n---\nHello world\n',
    );
    expect(strFromU8(entries['README.md'])).toBe('---\ntitle: My Journal\nupdated: "2026-03-14T12:00:00.000+00:00"\n---\n');
  });

  it('streams a large download as it is built; a client that leaves mid-way leaves the server serving', async () => {
    // 40 files of 1 MiB each (incompressible-ish text): the zip is sent in chunks, not as one body.
    const a = await client();
    const ws = `workspace:${workspaceId}`;
    a.sendStep1(ws);
    await waitFor(() => a.framesFor(ws).some((f) => f.subtype === 1), 'joined');
    const texts = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      const key = `big/${String(i).padStart(2, '0')}.md`;
      const body = `body:${workspaceId}/${key}`;
      let text = '';
      let x = i + 1;
      while (text.length < 1 << 20) {
        x = (x * 1103515245 + 12345) % 2147483648;
        text += x.toString(36);
      }
      texts.set(key, text);
      a.doc(ws).getMap('files').set(key, fileMeta(key.split('/')[1], {}));
      a.sendStep1(body);
      await waitFor(() => a.framesFor(body).some((f) => f.subtype === 1), 'body joined');
      a.doc(body).getText('body').insert(0, text);
      await a.roundTrip(body);
    }
    await a.roundTrip(ws);

    const res = await api(`/api/workspaces/${workspaceId}/snapshot`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    const entries = unzipSync(new Uint8Array(await res.arrayBuffer()));
    expect(Object.keys(entries).length).toBe(40);
    for (const [key, text] of texts) expect(strFromU8(entries[key]).endsWith(`---\n${text}`), key).toBe(true);

    // A client that reads a little and goes away.
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${ts.server.url}/api/workspaces/${workspaceId}/snapshot`, { headers: { Authorization: `Bearer ${token}` } }, (r) => {
        r.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => resolve());
      setTimeout(() => reject(new Error('no data')), 20_000).unref();
    });
    expect(await (await api('/health', { token: null })).text()).toBe('OK');
    const again = await api(`/api/workspaces/${workspaceId}/snapshot`);
    expect(Object.keys(unzipSync(new Uint8Array(await again.arrayBuffer()))).length).toBe(40);
  }, 60_000);

  it('imports a zip as changes that are stored and relayed to connected clients (merge, then replace)', async () => {
    const ws = `workspace:${workspaceId}`;
    const body = `body:${workspaceId}/notes/a.md`;
    const a = await client();
    a.sendStep1(ws);
    a.sendStep1(body);
    await waitFor(() => a.framesFor(body).some((f) => f.subtype === 1), 'joined');
    a.doc(ws).getMap('files').set('keep.md', fileMeta('keep.md'));
    await a.roundTrip(ws);

    const zip = zipSync({
      'README.md': strToU8('---\ntitle: Imported\ncontents:\n  - "[A](/notes/a.md)"\nupdated: "2026-03-14T12:00:00.000+00:00"\n---\n# Root\n'),
      'notes/a.md': strToU8('---\ntitle: Day one\npart_of: "[README](/README.md)"\n---\nHello from the zip\n'),
      'notes/photo.png': new Uint8Array([1, 2, 3]),
      '.hidden/x.md': strToU8('hidden'),
      '__MACOSX/._a.md': strToU8('junk'),
      'Thumbs.db': strToU8('junk'),
    });
    const res = await api(`/api/workspaces/${workspaceId}/snapshot?mode=merge`, { method: 'POST', body: zip, headers: { 'Content-Type': 'application/zip' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ files_imported: 2 });

    await a.waitForDoc(body, (d) => d.getText('body').toString() === 'Hello from the zip\n', 'body relayed');
    await a.waitForDoc(ws, (d) => d.getMap('files').has('README.md'), 'metadata relayed');
    const files = a.doc(ws).getMap<string>('files');
    const readme = parseMetadata(files.get('README.md')!)!;
    expect(readme).toMatchObject({ filename: 'README.md', title: 'Imported', contents: ['notes/a.md'], deleted: false, modified_at: 1773489600000 });
    expect(parseMetadata(files.get('notes/a.md')!)).toMatchObject({ title: 'Day one', part_of: 'README.md' });
    expect(parseMetadata(files.get('keep.md')!)!.deleted).toBe(false);
    expect([...files.keys()].sort()).toEqual(['README.md', 'keep.md', 'notes/a.md']);

    const replace = zipSync({ 'README.md': strToU8('---\ntitle: Only\n---\nroot\n') });
    const res2 = await api(`/api/workspaces/${workspaceId}/snapshot?mode=replace`, { method: 'POST', body: replace });
    expect(await res2.json()).toEqual({ files_imported: 1 });
    await a.waitForDoc(ws, (d) => parseMetadata(d.getMap<string>('files').get('keep.md')!)!.deleted, 'soft delete relayed');
    expect(parseMetadata(files.get('notes/a.md')!)!.deleted).toBe(true);
    expect(parseMetadata(files.get('README.md')!)!.title).toBe('Only');

    // Round trip: the download holds exactly the active file, as it was uploaded (no `updated` line added).
    const entries = unzipSync(new Uint8Array(await (await api(`/api/workspaces/${workspaceId}/snapshot`)).arrayBuffer()));
    expect(Object.keys(entries)).toEqual(['README.md']);
    expect(strFromU8(entries['README.md'])).toBe('---\ntitle: Only\n---\nroot\n');
  });

  it.each([
    ['../escape.md', 'Unsafe path'],
    ['/abs.md', 'Unsafe path'],
    ['a/../../b.md', 'Unsafe path'],
  ])('rejects an upload with the entry %s and applies nothing', async (name, message) => {
    const zip = zipSync({ 'ok.md': strToU8('fine'), [name]: strToU8('bad') });
    const res = await api(`/api/workspaces/${workspaceId}/snapshot?mode=merge`, { method: 'POST', body: zip });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain(message);
    const entries = unzipSync(new Uint8Array(await (await api(`/api/workspaces/${workspaceId}/snapshot`)).arrayBuffer()));
    expect(entries).toEqual({});
  });

  it('rejects a bad mode, a non-zip body, bad front matter and an oversized upload', async () => {
    const path = `/api/workspaces/${workspaceId}/snapshot`;
    expect((await api(`${path}?mode=wipe`, { method: 'POST', body: zipSync({}) })).status).toBe(400);
    expect((await api(`${path}?mode=merge`, { method: 'POST', body: 'not a zip' })).status).toBe(400);
    const badYaml = zipSync({ 'a.md': strToU8('---\ntitle: [unclosed\n---\nbody') });
    expect((await api(`${path}?mode=merge`, { method: 'POST', body: badYaml })).status).toBe(400);
    await ts.dispose();
    ts = await startTestServer({ snapshotUploadMaxBytes: 1024 });
    token = ts.server.createToken('alice');
    const res = await api('/api/workspaces', { method: 'POST', body: JSON.stringify({ name: 'J' }) });
    const id = ((await res.json()) as { id: string }).id;
    const big = new Uint8Array(4096).fill(7);
    expect((await api(`/api/workspaces/${id}/snapshot?mode=merge`, { method: 'POST', body: big })).status).toBe(413);
  });
});
