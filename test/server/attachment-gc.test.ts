/**
 * Attachment garbage collection: a blob stays while an entry references it,
 * and is removed a grace period after the last reference went.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { encryptAttachment } from '../../common/src/e2ee/attachment-blob';
import { TestClient, fileMeta } from './helpers/client';
import { keyRecord } from './helpers/e2ee-client';
import { startTestServer, type TestServer } from './helpers/server';
import { waitFor } from './helpers/wait';

const DAY = 86_400_000;
let ts: TestServer;
let token: string;
let workspaceId: string;
let client: TestClient;

function api(p: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${token}`);
  return fetch(`${ts.server.url}${p}`, { ...init, headers });
}

beforeEach(async () => {
  ts = await startTestServer({ attachmentGraceDays: 7 });
  token = ts.server.createToken('alice');
  workspaceId = ((await (await api('/api/workspaces', { method: 'POST', body: JSON.stringify({ name: 'J' }) })).json()) as { id: string }).id;
  client = await TestClient.connect(ts.wsUrl, token);
});

afterEach(async () => {
  await client.close();
  await ts.dispose();
});

/** Uploads `bytes` under `attachmentPath`, or (null) as a sealed blob of an encrypted workspace: address and size only. */
async function uploadBlob(bytes: Uint8Array, attachmentPath: string | null): Promise<string> {
  const hash = createHash('sha256').update(bytes).digest('hex');
  const shape = { hash, size_bytes: bytes.length, part_size: 1024 * 1024, total_parts: 1 };
  const body = attachmentPath === null ? shape : { entry_path: 'a.md', attachment_path: attachmentPath, mime_type: 'image/png', ...shape };
  const { upload_id } = (await (await api(`/api/workspaces/${workspaceId}/attachments/uploads`, { method: 'POST', body: JSON.stringify(body) })).json()) as { upload_id: string };
  await api(`/api/workspaces/${workspaceId}/attachments/uploads/${upload_id}/parts/1`, { method: 'PUT', body: new Uint8Array(bytes) as Uint8Array<ArrayBuffer> });
  expect((await api(`/api/workspaces/${workspaceId}/attachments/uploads/${upload_id}/complete`, { method: 'POST', body: '{}' })).status).toBe(200);
  return hash;
}

async function setEntry(attachments: { path: string; hash: string }[]): Promise<void> {
  const ws = `workspace:${workspaceId}`;
  const meta = JSON.parse(fileMeta('a.md', { modified_at: Date.now() })) as Record<string, unknown>;
  meta.attachments = attachments.map((a) => ({ path: a.path, source: 'local', hash: a.hash, mime_type: 'image/png', size: 3, uploaded_at: null, deleted: false }));
  client.doc(ws).getMap('files').set('a.md', JSON.stringify(meta));
  await client.roundTrip(ws);
}

it('keeps a referenced blob, and removes an unreferenced one after the grace period', async () => {
  const ws = `workspace:${workspaceId}`;
  client.sendStep1(ws);
  await waitFor(() => client.framesFor(ws).some((f) => f.subtype === 1), 'joined');
  const kept = await uploadBlob(randomBytes(3000), '_attachments/k.png');
  const byPath = await uploadBlob(randomBytes(2000), '_attachments/p.png');
  const dropped = await uploadBlob(randomBytes(1000), '_attachments/d.png');
  // `byPath` is referenced by path only (a reference whose hash is not known yet).
  await setEntry([{ path: '_attachments/p.png', hash: '' }, { path: 'x.png', hash: kept }]);
  const t0 = Date.now();
  const blobFile = (h: string) => path.join(ts.dataDir, 'attachments', 'blobs', h.slice(0, 2), h);

  await ts.server.collectAttachmentGarbage(t0);
  await ts.server.collectAttachmentGarbage(t0 + 6 * DAY);
  expect(fs.existsSync(blobFile(dropped))).toBe(true);
  expect((await api(`/api/workspaces/${workspaceId}/attachments/${dropped}`)).status).toBe(200);
  await ts.server.collectAttachmentGarbage(t0 + 7 * DAY);
  expect(fs.existsSync(blobFile(dropped))).toBe(false);
  expect((await api(`/api/workspaces/${workspaceId}/attachments/${dropped}`)).status).toBe(404);
  expect(fs.existsSync(blobFile(kept))).toBe(true);
  expect(fs.existsSync(blobFile(byPath))).toBe(true);

  // A reference that comes back within the grace period keeps the blob.
  await setEntry([]);
  await ts.server.collectAttachmentGarbage(t0 + 8 * DAY);
  await setEntry([{ path: 'x.png', hash: kept }]);
  await ts.server.collectAttachmentGarbage(t0 + 16 * DAY);
  expect(fs.existsSync(blobFile(kept))).toBe(true);
  await ts.server.collectAttachmentGarbage(t0 + 16 * DAY);
  expect(fs.existsSync(blobFile(byPath))).toBe(false);
  const storage = (await (await api('/api/user/storage')).json()) as { used_bytes: number };
  expect(storage.used_bytes).toBe(3000);
});

it('never removes a blob file written within the grace period that nothing holds yet (an upload or import finishing meanwhile)', async () => {
  // A blob file with no record and no upload, as between writing a blob and holding it.
  const bytes = randomBytes(500);
  const hash = createHash('sha256').update(bytes).digest('hex');
  const file = path.join(ts.dataDir, 'attachments', 'blobs', hash.slice(0, 2), hash);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  const t0 = Date.now();
  await ts.server.collectAttachmentGarbage(t0);
  await ts.server.collectAttachmentGarbage(t0 + 6 * DAY);
  expect(fs.existsSync(file)).toBe(true);
  // Past the grace period, nobody held it: it goes.
  await ts.server.collectAttachmentGarbage(t0 + 7 * DAY + 1000);
  expect(fs.existsSync(file)).toBe(false);
});

it("keeps every holding of an encrypted workspace no live list left out (the server cannot read its references)", async () => {
  const created = (await (await api('/api/workspaces', { method: 'POST', body: JSON.stringify({ name: 'Sealed' }) })).json()) as { id: string };
  const put = await api(`/api/workspaces/${encodeURIComponent(created.id)}/keys`, { method: 'PUT', body: JSON.stringify(keyRecord(0)) });
  expect(put.status).toBe(200);
  const plain = workspaceId;
  workspaceId = created.id;
  const sealed = await uploadBlob(encryptAttachment(randomBytes(32), 1, randomBytes(700)).blob, null);
  workspaceId = plain;
  const unreferenced = await uploadBlob(randomBytes(800), '_attachments/u.png');
  const t0 = Date.now();
  const blobFile = (h: string) => path.join(ts.dataDir, 'attachments', 'blobs', h.slice(0, 2), h);
  await ts.server.collectAttachmentGarbage(t0);
  await ts.server.collectAttachmentGarbage(t0 + 30 * DAY);
  expect(fs.existsSync(blobFile(unreferenced))).toBe(false);
  expect(fs.existsSync(blobFile(sealed))).toBe(true);
  expect((await api(`/api/workspaces/${created.id}/attachments/${sealed}`)).status).toBe(200);
});

it('drops an encrypted workspace\'s holding a grace period after a live list left it out, unless a later list names it', async () => {
  const created = (await (await api('/api/workspaces', { method: 'POST', body: JSON.stringify({ name: 'Sealed' }) })).json()) as { id: string };
  expect((await api(`/api/workspaces/${encodeURIComponent(created.id)}/keys`, { method: 'PUT', body: JSON.stringify(keyRecord(0)) })).status).toBe(200);
  const plain = workspaceId;
  workspaceId = created.id;
  const key = randomBytes(32);
  const hashes: string[] = [];
  for (let i = 0; i < 4; i++) hashes.push(await uploadBlob(encryptAttachment(key, 1, randomBytes(300 + i)).blob, null));
  const [keep, gone, again, fresh] = hashes;
  // Three holdings recorded over an hour ago (a list names only what the device has seen; a fresher one is left alone).
  const meta = ts.server.attachments.meta;
  for (const r of await meta.listAttachments(created.id)) if (r.hash !== fresh) await meta.putAttachment({ ...r, createdAt: r.createdAt - 2 * 3_600_000 });
  const post = (addresses: unknown, id = created.id) => api(`/api/workspaces/${encodeURIComponent(id)}/attachments/live`, { method: 'POST', body: JSON.stringify({ addresses }) });
  expect(await (await post([keep])).json()).toEqual({ held: 4, unreferenced: 2 });
  expect(await (await post([keep, again])).json()).toEqual({ held: 4, unreferenced: 1 });
  const t0 = Date.now();
  const blobFile = (h: string) => path.join(ts.dataDir, 'attachments', 'blobs', h.slice(0, 2), h);
  await ts.server.collectAttachmentGarbage(t0 + 6 * DAY);
  expect(hashes.every((h) => fs.existsSync(blobFile(h)))).toBe(true);
  await ts.server.collectAttachmentGarbage(t0 + 7 * DAY + 1000);
  expect(fs.existsSync(blobFile(gone))).toBe(false);
  expect((await api(`/api/workspaces/${created.id}/attachments/${gone}`)).status).toBe(404);
  for (const h of [keep, again, fresh]) expect((await api(`/api/workspaces/${created.id}/attachments/${h}`)).status).toBe(200);

  // Bad input changes nothing; a plain workspace has no live list.
  for (const [body, status, message] of [
    [{ addresses: 'x' }, 400, /must be a list/],
    [{ addresses: [keep, 'ABC'] }, 400, /Not a sha256 hex address/],
  ] as const) {
    const res = await api(`/api/workspaces/${encodeURIComponent(created.id)}/attachments/live`, { method: 'POST', body: JSON.stringify(body) });
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toMatch(message);
  }
  expect((await meta.listAttachments(created.id)).every((r) => r.unreferencedSince === null)).toBe(true);
  const refused = await post([], plain);
  expect(refused.status).toBe(409);
  expect(((await refused.json()) as { error: string }).error).toBe('Workspace is not end-to-end encrypted: the server reads its references itself');
  workspaceId = plain;
});
