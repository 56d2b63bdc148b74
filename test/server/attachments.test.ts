/**
 * The attachment API against a real server process (`serve` in a child):
 * uploads in parts, resume, de-duplication, downloads with Range, quota, and
 * every refused input leaving nothing stored.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptAttachment } from '../../common/src/e2ee/attachment-blob';
import { createToken } from '../../server/src/index';
import { keyRecord } from './helpers/e2ee-client';
import { startChildServer, type ChildServer } from './helpers/child';
import { tempDataDir } from './helpers/server';

const QUOTA_MB = 2;
const PART = 4096;

let dataDir: string;
let child: ChildServer;
let alice: string;
let bob: string;
let ws: string;
let bobWs: string;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function api(p: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const t = init.token === undefined ? alice : init.token;
  const headers = new Headers(init.headers);
  if (t) headers.set('Authorization', `Bearer ${t}`);
  return fetch(`${child.url}${p}`, { ...init, headers });
}

async function createWorkspace(token: string, name: string): Promise<string> {
  const res = await api('/api/workspaces', { method: 'POST', body: JSON.stringify({ name }), token });
  return ((await res.json()) as { id: string }).id;
}

interface Init {
  upload_id: string | null;
  status: string;
  uploaded_parts?: number[];
}

function announce(bytes: Uint8Array, extra: Record<string, unknown> = {}) {
  return {
    entry_path: 'days/monday.md',
    attachment_path: '_attachments/photo.jpg',
    hash: sha(bytes),
    size_bytes: bytes.length,
    mime_type: 'image/jpeg',
    part_size: PART,
    total_parts: Math.max(1, Math.ceil(bytes.length / PART)),
    ...extra,
  };
}

async function init(workspace: string, body: Record<string, unknown>, token = alice): Promise<Response> {
  return api(`/api/workspaces/${workspace}/attachments/uploads`, { method: 'POST', body: JSON.stringify(body), token });
}

function putPart(workspace: string, uploadId: string, n: number, bytes: Uint8Array, token = alice): Promise<Response> {
  return api(`/api/workspaces/${workspace}/attachments/uploads/${uploadId}/parts/${n}`, {
    method: 'PUT',
    body: new Uint8Array(bytes) as Uint8Array<ArrayBuffer>,
    headers: { 'Content-Type': 'application/octet-stream' },
    token,
  });
}

function complete(workspace: string, uploadId: string, body: Record<string, unknown> = {}, token = alice): Promise<Response> {
  return api(`/api/workspaces/${workspace}/attachments/uploads/${uploadId}/complete`, { method: 'POST', body: JSON.stringify(body), token });
}

const part = (bytes: Uint8Array, n: number) => bytes.subarray((n - 1) * PART, n * PART);

/** Uploads `bytes` whole; resolves to the completion response. */
async function upload(workspace: string, bytes: Uint8Array, token = alice): Promise<Response> {
  const res = await init(workspace, announce(bytes), token);
  const started = (await res.json()) as Init;
  if (started.status === 'already_exists') return res;
  const total = Math.max(1, Math.ceil(bytes.length / PART));
  for (let n = 1; n <= total; n++) expect((await putPart(workspace, started.upload_id!, n, part(bytes, n), token)).status).toBe(200);
  return complete(workspace, started.upload_id!, { hash: sha(bytes) }, token);
}

function blobFiles(): string[] {
  const root = path.join(dataDir, 'attachments', 'blobs');
  return fs.existsSync(root) ? fs.readdirSync(root).flatMap((d) => fs.readdirSync(path.join(root, d))) : [];
}

beforeAll(async () => {
  dataDir = tempDataDir();
  child = await startChildServer(dataDir, ['--attachment-quota-mb', String(QUOTA_MB)]);
  alice = createToken(dataDir, 'alice');
  bob = createToken(dataDir, 'bob');
  ws = await createWorkspace(alice, 'Journal');
  bobWs = await createWorkspace(bob, 'Bob');
}, 60_000);

afterAll(async () => {
  child?.proc.kill('SIGKILL');
  await child?.exited;
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('attachment uploads', () => {
  it('uploads in parts, de-duplicates, and serves the bytes whole and by range', async () => {
    const bytes = randomBytes(10_000);
    const started = (await (await init(ws, announce(bytes))).json()) as Init;
    expect(started).toEqual({ upload_id: expect.any(String), status: 'uploading', uploaded_parts: [] });
    for (const n of [3, 1, 2]) expect(await (await putPart(ws, started.upload_id!, n, part(bytes, n))).json()).toEqual({ ok: true, part: n });
    expect(await (await complete(ws, started.upload_id!, announce(bytes))).json()).toEqual({ ok: true });
    expect(blobFiles()).toContain(sha(bytes));

    expect(await (await init(ws, announce(bytes))).json()).toEqual({ upload_id: null, status: 'already_exists' });

    const whole = await api(`/api/workspaces/${ws}/attachments/${sha(bytes)}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
    // ?token= for clients that cannot set a header (an <img src>).
    const byQuery = await fetch(`${child.url}/api/workspaces/${ws}/attachments/${sha(bytes)}?token=${alice}`);
    expect(Buffer.from(await byQuery.arrayBuffer()).equals(bytes)).toBe(true);
    const range = await api(`/api/workspaces/${ws}/attachments/${sha(bytes)}`, { headers: { Range: 'bytes=100-199' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe('bytes 100-199/10000');
    expect(Buffer.from(await range.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
    const tail = await api(`/api/workspaces/${ws}/attachments/${sha(bytes)}`, { headers: { Range: 'bytes=-10' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(9990))).toBe(true);
    expect((await api(`/api/workspaces/${ws}/attachments/${sha(bytes)}`, { headers: { Range: 'bytes=10000-' } })).status).toBe(416);
    expect((await api(`/api/workspaces/${ws}/attachments/${sha(bytes)}`, { token: null })).status).toBe(401);

    const storage = (await (await api('/api/user/storage')).json()) as { used_bytes: number; limit_bytes: number };
    expect(storage.limit_bytes).toBe(QUOTA_MB * 1024 * 1024);
    expect(storage.used_bytes).toBeGreaterThanOrEqual(10_000);
  });

  it('lists equal bytes under every path they were uploaded as, whichever upload finishes last', async () => {
    const bytes = randomBytes(3_000);
    const paths = ['_attachments/dot.png', '_attachments/linked.png'];
    // Both announced before either completes: two uploads of one blob.
    const started = await Promise.all(paths.map(async (p) => (await (await init(ws, announce(bytes, { attachment_path: p }))).json()) as Init));
    for (const s of started) expect((await putPart(ws, s.upload_id!, 1, bytes)).status).toBe(200);
    for (const s of [...started].reverse()) expect(await (await complete(ws, s.upload_id!, announce(bytes))).json()).toEqual({ ok: true });
    // A third path announced afterwards is held at once.
    expect(await (await init(ws, announce(bytes, { attachment_path: 'notes/copy.png' }))).json()).toEqual({ upload_id: null, status: 'already_exists' });
    const listed = (await (await api(`/api/workspaces/${ws}/attachments`)).json()) as { path: string; hash: string }[];
    for (const p of [...paths, 'notes/copy.png']) expect(listed.filter((x) => x.path === p).map((x) => x.hash)).toEqual([sha(bytes)]);
    expect(blobFiles().filter((f) => f === sha(bytes))).toHaveLength(1);
  });

  it('resumes from the parts already received and names the missing ones', async () => {
    const bytes = randomBytes(3 * PART - 5);
    const first = (await (await init(ws, announce(bytes))).json()) as Init;
    await putPart(ws, first.upload_id!, 2, part(bytes, 2));
    const again = (await (await init(ws, announce(bytes))).json()) as Init;
    expect(again).toEqual({ upload_id: first.upload_id, status: 'uploading', uploaded_parts: [2] });
    const missing = await complete(ws, first.upload_id!);
    expect(missing.status).toBe(409);
    expect(await missing.json()).toEqual({ ok: false, missing_parts: [1, 3] });
    await putPart(ws, first.upload_id!, 1, part(bytes, 1));
    await putPart(ws, first.upload_id!, 3, part(bytes, 3));
    expect((await complete(ws, first.upload_id!)).status).toBe(200);
  });
});

describe('attachment bad input', () => {
  it('refuses a part past total_parts, part 0, a part larger than part_size and a short part; none is kept', async () => {
    const bytes = randomBytes(2 * PART);
    const { upload_id } = (await (await init(ws, announce(bytes))).json()) as Init;
    const past = await putPart(ws, upload_id!, 3, part(bytes, 1));
    expect(past.status).toBe(400);
    expect(((await past.json()) as { error: string }).error).toMatch(/Part 3 is out of range: this upload has parts 1 to 2/);
    expect((await putPart(ws, upload_id!, 0, part(bytes, 1))).status).toBe(400);
    const large = await putPart(ws, upload_id!, 1, randomBytes(PART + 1));
    expect(large.status).toBe(413);
    expect((await putPart(ws, upload_id!, 2, randomBytes(PART - 1))).status).toBe(400);
    const resumed = (await (await init(ws, announce(bytes))).json()) as Init;
    expect(resumed.uploaded_parts).toEqual([]);
    expect(fs.readdirSync(path.join(dataDir, 'attachments', 'tmp'))).toEqual([]);
  });

  it('refuses bytes that do not hash to the announced SHA-256 and stores nothing', async () => {
    const claimed = randomBytes(PART);
    const sent = randomBytes(PART);
    const { upload_id } = (await (await init(ws, announce(claimed))).json()) as Init;
    expect((await putPart(ws, upload_id!, 1, sent)).status).toBe(200);
    const res = await complete(ws, upload_id!);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ ok: false, error: expect.stringMatching(/do not hash to/) });
    expect(blobFiles()).not.toContain(sha(claimed));
    expect(blobFiles()).not.toContain(sha(sent));
    expect((await api(`/api/workspaces/${ws}/attachments/${sha(claimed)}`)).status).toBe(404);
    // The refused upload is gone: the next init starts afresh.
    expect((await putPart(ws, upload_id!, 1, sent)).status).toBe(404);
  });

  it('refuses an attachment path that escapes the workspace, and malformed announcements', async () => {
    const bytes = randomBytes(10);
    for (const p of ['../../etc/passwd', '_attachments/../../x', 'a\\..\\b', 'C:/x', '']) {
      const res = await init(ws, announce(bytes, { attachment_path: p }));
      expect(res.status, p).toBe(400);
    }
    expect((await init(ws, announce(bytes, { entry_path: '../outside.md' }))).status).toBe(400);
    expect((await init(ws, announce(bytes, { hash: 'abc' }))).status).toBe(400);
    expect((await init(ws, announce(bytes, { total_parts: 2 }))).status).toBe(400);
    expect((await init(ws, announce(bytes, { part_size: 0 }))).status).toBe(400);
    expect((await init(ws, announce(bytes, { size_bytes: -1 }))).status).toBe(400);
    expect((await api(`/api/workspaces/${ws}/attachments/uploads`, { method: 'POST', body: 'not json' })).status).toBe(400);
    expect((await api(`/api/workspaces/${ws}/attachments/..%2f..%2fdiaryx-sync.db`)).status).toBe(400);
    // A path from the workspace root is fine.
    expect((await init(ws, announce(bytes, { attachment_path: '/_attachments/a.png' }))).status).toBe(200);
  });

  it("refuses another user's workspace and never grants a blob by its hash alone", async () => {
    const bytes = randomBytes(100);
    expect((await upload(ws, bytes)).status).toBe(200);
    expect((await init(ws, announce(bytes), bob)).status).toBe(404);
    expect((await api(`/api/workspaces/${ws}/attachments/${sha(bytes)}`, { token: bob })).status).toBe(404);
    expect((await api(`/api/workspaces/${bobWs}/attachments/${sha(bytes)}`, { token: bob })).status).toBe(404);
    // Bob has to send the bytes himself, even though the server holds them.
    expect(((await (await init(bobWs, announce(bytes), bob)).json()) as Init).status).toBe('uploading');
    const { upload_id } = (await (await init(ws, announce(randomBytes(10)))).json()) as Init;
    expect((await putPart(bobWs, upload_id!, 1, randomBytes(10), bob)).status).toBe(404);
  });

  it('refuses an unknown upload id', async () => {
    const id = randomUUID();
    expect((await putPart(ws, id, 1, randomBytes(10))).status).toBe(404);
    expect((await complete(ws, id)).status).toBe(404);
    expect((await putPart(ws, 'not-an-id', 1, randomBytes(10))).status).toBe(404);
  });

  it('refuses an upload past the quota with 413 and stores nothing', async () => {
    const used = ((await (await api('/api/user/storage')).json()) as { used_bytes: number }).used_bytes;
    const big = randomBytes(QUOTA_MB * 1024 * 1024 - used + 1);
    const res = await init(ws, announce(big, { part_size: 1024 * 1024, total_parts: Math.ceil(big.length / (1024 * 1024)) }));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toMatch(/Storage limit exceeded/);
    expect(((await (await api('/api/user/storage')).json()) as { used_bytes: number }).used_bytes).toBe(used);
  });
});

describe('attachments of an end-to-end encrypted workspace', () => {
  let encWs: string;
  const kAtt = new Uint8Array(32).fill(9);
  const sealed = (n: number) => encryptAttachment(kAtt, 1, randomBytes(n)).blob;
  const sealedAnnounce = (blob: Uint8Array, extra: Record<string, unknown> = {}) => ({
    hash: sha(blob),
    size_bytes: blob.length,
    part_size: PART,
    total_parts: Math.max(1, Math.ceil(blob.length / PART)),
    ...extra,
  });
  async function uploadSealed(blob: Uint8Array, extra: Record<string, unknown> = {}): Promise<Response> {
    const started = (await (await init(encWs, sealedAnnounce(blob, extra))).json()) as Init;
    if (started.status === 'already_exists') return new Response('{"ok":true}');
    for (let n = 1; n <= Math.max(1, Math.ceil(blob.length / PART)); n++) expect((await putPart(encWs, started.upload_id!, n, part(blob, n))).status).toBe(200);
    return complete(encWs, started.upload_id!, { hash: sha(blob) });
  }

  beforeAll(async () => {
    encWs = await createWorkspace(alice, 'Sealed');
    expect((await api(`/api/workspaces/${encWs}/keys`, { method: 'PUT', body: JSON.stringify(keyRecord(0)) })).status).toBe(200);
  });

  it('stores a sealed blob announced without any path or type, held and listed under its address', async () => {
    const blob = sealed(9_000);
    const done = await uploadSealed(blob);
    expect(await done.json()).toEqual({ ok: true });
    const got = await api(`/api/workspaces/${encWs}/attachments/${sha(blob)}`);
    expect(got.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await got.arrayBuffer()).equals(blob)).toBe(true);
    const listed = (await (await api(`/api/workspaces/${encWs}/attachments`)).json()) as { path: string; hash: string; mime_type: string }[];
    expect(listed).toEqual([expect.objectContaining({ path: sha(blob), hash: sha(blob), mime_type: 'application/octet-stream' })]);
    // The hash as attachment_path is accepted (and equal to none).
    expect(await (await init(encWs, sealedAnnounce(blob, { attachment_path: sha(blob), mime_type: 'application/octet-stream' }))).json()).toEqual({
      upload_id: null,
      status: 'already_exists',
    });
  });

  it('refuses paths, media types and anything that is not a sealed blob, and stores nothing', async () => {
    const blob = sealed(500);
    const before = blobFiles().length;
    for (const [extra, message] of [
      [{ attachment_path: '_attachments/photo.jpg' }, /uploads carry no attachment_path/],
      [{ entry_path: 'days/monday.md' }, /uploads carry no entry_path/],
      [{ mime_type: 'image/jpeg' }, /uploads carry no media type/],
      [{ size_bytes: blob.length + 1, total_parts: Math.ceil((blob.length + 1) / PART) }, /not the size of a sealed \(DXA1\) attachment blob/],
    ] as const) {
      const res = await init(encWs, sealedAnnounce(blob, extra));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    }
    // A plain file announced as usual is refused by its path before any byte is sent.
    const plain = randomBytes(700);
    expect((await init(encWs, announce(plain))).status).toBe(400);
    // Bytes of a blob's size that are not a blob: refused on complete, nothing kept.
    const fake = randomBytes(blob.length);
    const started = (await (await init(encWs, sealedAnnounce(fake))).json()) as Init;
    expect((await putPart(encWs, started.upload_id!, 1, fake)).status).toBe(200);
    const refused = await complete(encWs, started.upload_id!, { hash: sha(fake) });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toMatch(/not a sealed attachment blob: it does not start with DXA1; nothing was stored/);
    expect(blobFiles().length).toBe(before);
    expect((await api(`/api/workspaces/${encWs}/attachments/${sha(fake)}`)).status).toBe(404);
    // A plain workspace still takes any bytes with their paths.
    expect((await upload(ws, randomBytes(600))).status).toBe(200);
  });
});

describe('snapshot zips with attachments', () => {
  it('exports the attachments with include_attachments=true and stores those of an imported zip', async () => {
    const photo = randomBytes(300_000);
    const ws2 = await createWorkspace(bob, 'Snap');
    const md = strToU8('---\ntitle: Day\nattachments: ["_attachments/photo.jpg"]\n---\n![](/_attachments/photo.jpg)\n');
    const imported = await api(`/api/workspaces/${ws2}/snapshot?mode=merge&include_attachments=true`, {
      method: 'POST',
      body: new Uint8Array(zipSync({ 'day.md': md, '_attachments/photo.jpg': [photo, { level: 0 }], '.hidden/x.bin': strToU8('x') })) as Uint8Array<ArrayBuffer>,
      token: bob,
    });
    expect(imported.status, await imported.clone().text()).toBe(200);
    expect(await imported.json()).toEqual({ files_imported: 1 });
    const got = await api(`/api/workspaces/${ws2}/attachments/${sha(photo)}`, { token: bob });
    expect(got.headers.get('content-type')).toBe('image/jpeg');
    expect(sha(Buffer.from(await got.arrayBuffer()))).toBe(sha(photo));

    const withAtt = unzipSync(new Uint8Array(await (await api(`/api/workspaces/${ws2}/snapshot?include_attachments=true`, { token: bob })).arrayBuffer()));
    expect(Object.keys(withAtt).sort()).toEqual(['_attachments/photo.jpg', 'day.md']);
    expect(sha(withAtt['_attachments/photo.jpg'])).toBe(sha(photo));
    expect(strFromU8(withAtt['day.md'])).toContain('![](/_attachments/photo.jpg)');
    const without = unzipSync(new Uint8Array(await (await api(`/api/workspaces/${ws2}/snapshot?include_attachments=false`, { token: bob })).arrayBuffer()));
    expect(Object.keys(without)).toEqual(['day.md']);
  });

  it('refuses a zip whose attachments exceed the quota, before anything is applied', async () => {
    const ws3 = await createWorkspace(bob, 'Too big');
    const big = randomBytes(QUOTA_MB * 1024 * 1024 + 1);
    const res = await api(`/api/workspaces/${ws3}/snapshot?mode=merge&include_attachments=true`, {
      method: 'POST',
      body: new Uint8Array(zipSync({ 'x.md': strToU8('hello\n'), 'big.bin': [big, { level: 0 }] })) as Uint8Array<ArrayBuffer>,
      token: bob,
    });
    expect(res.status).toBe(413);
    const after = unzipSync(new Uint8Array(await (await api(`/api/workspaces/${ws3}/snapshot`, { token: bob })).arrayBuffer()));
    expect(Object.keys(after)).toEqual([]);
    expect((await api(`/api/workspaces/${ws3}/attachments/${sha(big)}`, { token: bob })).status).toBe(404);
  });
});

describe('attachment uploads across a server crash', () => {
  it('resumes after the server was killed during an upload, and the blob is whole', async () => {
    const bytes = randomBytes(5 * PART);
    const { upload_id } = (await (await init(ws, announce(bytes))).json()) as Init;
    await putPart(ws, upload_id!, 1, part(bytes, 1));
    await putPart(ws, upload_id!, 2, part(bytes, 2));
    child.proc.kill('SIGKILL');
    await child.exited;
    child = await startChildServer(dataDir, ['--attachment-quota-mb', String(QUOTA_MB)]);
    const resumed = (await (await init(ws, announce(bytes))).json()) as Init;
    expect(resumed).toEqual({ upload_id, status: 'uploading', uploaded_parts: [1, 2] });
    for (const n of [3, 4, 5]) await putPart(ws, upload_id!, n, part(bytes, n));
    expect((await complete(ws, upload_id!)).status).toBe(200);
    const got = Buffer.from(await (await api(`/api/workspaces/${ws}/attachments/${sha(bytes)}`)).arrayBuffer());
    expect(sha(got)).toBe(sha(bytes));
  }, 60_000);
});
