/**
 * Attachments of an end-to-end encrypted workspace, host side, through the
 * built plugin (engine DIARYX_ENGINE; vitest.config.ts runs this file on
 * every engine) and a real server process with real folders:
 * - `GetAttachmentKeys` answers K_att of every epoch (the bytes Node derives,
 *   never a root key) when unlocked, and refuses a plain or locked workspace,
 *   under each host family;
 * - the host's attachment sync uploads only DXA1 blobs named by their address
 *   (no path, name or file byte reaches the server's files), fills the
 *   BinaryRef's `e2ee`, and a second device with the keys downloads and opens
 *   it byte-equal; a flipped byte in the stored blob, or a blob whose chunk
 *   fails authentication, is refused naming the path and writes nothing; a
 *   locked device moves nothing; a body-only link is said not to sync; the
 *   same file from another device is stored once; the live list is sent; an
 *   interrupted upload resumes from the parts the server has.
 * The encrypted workspace doc sync is not here: the second device is handed
 * the first one's entry metadata with SetCrdtFile, as that sync would carry it.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeBase64 } from '../../common/src/base64';
import { encryptAttachment } from '../../common/src/e2ee/attachment-blob';
import { lockedMessage, notEncryptedMessage, parseAttachmentKeys } from '../../common/src/e2ee/attachment-keys';
import { createKeyRecord, type WorkspaceKeys } from '../../common/src/e2ee/key-record';
import { attachmentKey } from '../../common/src/e2ee/keys';
import type { FileMetadata } from '../../common/src/workspace/metadata';
import { AttachmentSync, BODY_LINK_ONLY_REASON, type AttachmentActivity } from '../../host-harness/src/attachments/attachment-sync';
import { PART_BYTES, TransferClient } from '../../host-harness/src/attachments/transfer-client';
import { engineFromEnv } from '../../host-harness/src/engines/engine';
import type { HostFamily } from '../../host-harness/src/host-functions';
import { PluginStorage } from '../../host-harness/src/plugin-storage';
import { openWorkspaceHost, pluginStorageDir, type WorkspaceHost } from '../../host-harness/src/workspace-host';
import { DeviceKeys, lockDeviceKeys, saveDeviceKeys, type KeyStorage } from '../../plugin/src/e2ee/key-store';
import { cleanupTemp, createToken, startServerProcess, tempDir, waitFor, type ServerProcess } from '../e2e/helpers';
import { PLUGIN_WASM } from '../helpers/paths';

const ENGINE = engineFromEnv();
const FAMILIES: HostFamily[] = ['current', 'web', 'desktop'];

let dataDir: string;
let server: ServerProcess;
let token: string;
const hosts: WorkspaceHost[] = [];
const syncs: AttachmentSync[] = [];

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  dataDir = tempDir('e2ee-att-server');
  token = await createToken(dataDir, 'alice');
  server = await startServerProcess(dataDir);
}, 60_000);
afterEach(async () => {
  for (const s of syncs.splice(0)) s.close();
  for (const h of hosts.splice(0)) await h.close();
});
afterAll(async () => {
  await server?.stop();
  cleanupTemp();
});

async function api(p: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${token}`);
  return fetch(`${server.url}${p}`, { ...init, headers });
}

/** A workspace on the server, end-to-end encrypted with a real key record when `keys` is asked for. */
async function workspace(name: string, encrypted: boolean): Promise<{ id: string; keys: WorkspaceKeys | null }> {
  const created = (await (await api('/api/workspaces', { method: 'POST', body: JSON.stringify({ name }) })).json()) as { id: string };
  if (!encrypted) return { id: created.id, keys: null };
  const { record, keys } = createKeyRecord(created.id, `passphrase of ${name}`);
  const put = await api(`/api/workspaces/${encodeURIComponent(created.id)}/keys`, { method: 'PUT', body: JSON.stringify(record) });
  expect(put.status).toBe(200);
  return { id: created.id, keys };
}

function keyStorage(dir: string): KeyStorage {
  const storage = new PluginStorage({ dir: pluginStorageDir(dir) });
  return { storageGet: (k) => storage.get(k), storageSet: (k, d) => storage.set(k, d) };
}

interface Device {
  dir: string;
  host: WorkspaceHost;
  sync: AttachmentSync;
  activity: AttachmentActivity[];
  command(name: string, params?: unknown): Promise<unknown>;
}

/**
 * The plugin over `dir` with the workspace id configured (no server URL: the
 * plugin's own doc sync stays off) and the device's keys stored first; the
 * host's attachment sync beside it.
 */
async function device(dir: string, workspaceId: string, keys: WorkspaceKeys | DeviceKeys | 'locked' | null, family: HostFamily = 'current'): Promise<Device> {
  if (keys === 'locked') lockDeviceKeys(keyStorage(dir), workspaceId);
  else if (keys !== null) saveDeviceKeys(keyStorage(dir), keys instanceof DeviceKeys ? keys : DeviceKeys.fresh(keys));
  const host = await openWorkspaceHost({ wasm: PLUGIN_WASM, dir, family });
  hosts.push(host);
  const command = async (name: string, params: unknown = {}) => {
    const res = await host.plugin.command(name, params);
    if (!res.success) throw new Error(`${name}: ${res.error}`);
    return res.data;
  };
  await host.plugin.manifest();
  await host.plugin.init({ workspace_root: host.dir });
  await command('set_config', { workspace_id: workspaceId });
  if (filesUnder(dir).some((f) => f.endsWith('.md') && !f.startsWith('.'))) {
    await command('InitializeWorkspaceCrdt', { workspace_path: host.dir });
  }
  const activity: AttachmentActivity[] = [];
  const sync = new AttachmentSync({
    dir: host.dir,
    serverUrl: server.url,
    token,
    workspaceId,
    command: (name, params) => host.plugin.command(name, params),
    report: (a) => activity.push(a),
  });
  syncs.push(sync);
  return { dir, host, sync, activity, command };
}

function write(dir: string, rel: string, data: string | Uint8Array): void {
  const file = path.join(dir, ...rel.split('/'));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
}

/** Every file under a folder (relative paths), dot folders included. */
function filesUnder(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((d) => d.isFile())
    .map((d) => path.relative(root, path.join(d.parentPath, d.name)));
}

/** The server's stored blob files by address. */
function blobFile(addr: string): string {
  const hit = filesUnder(path.join(dataDir, 'attachments', 'blobs')).find((f) => path.basename(f) === addr);
  if (!hit) throw new Error(`no blob file ${addr}`);
  return path.join(dataDir, 'attachments', 'blobs', hit);
}

/** Each needle as UTF-8, UTF-16LE, hex and base64, searched in every file of the server's data folder. */
function serverFilesContaining(needles: Uint8Array[]): string[] {
  const forms = needles.flatMap((n) => {
    const b = Buffer.from(n);
    return [b, Buffer.from(b.toString('latin1'), 'utf16le'), Buffer.from(b.toString('hex')), Buffer.from(b.toString('base64').slice(0, -4))];
  });
  const hits: string[] = [];
  for (const rel of filesUnder(dataDir)) {
    const bytes = fs.readFileSync(path.join(dataDir, rel));
    if (forms.some((f) => f.length >= 8 && bytes.includes(f))) hits.push(rel);
  }
  return hits;
}

async function entry(d: Device, key: string): Promise<FileMetadata> {
  return (await d.command('GetCrdtFile', { path: key })) as FileMetadata;
}

describe(`GetAttachmentKeys inside the plugin on ${ENGINE}`, () => {
  it.each(FAMILIES)('answers K_att of every epoch, never a root key, and refuses plain and locked workspaces (host family %s)', async (family) => {
    const id = `ws-keys-${family}`;
    const rk1 = randomBytes(32);
    const rk2 = randomBytes(32);
    const unlocked = await device(tempDir('keys'), id, new DeviceKeys(id, 2, new Map([[1, rk1], [2, rk2]]), randomBytes(16), 0), family);
    const answer = await unlocked.command('GetAttachmentKeys');
    expect(answer).toEqual({ workspace_id: id, epoch: 2, keys: { '1': encodeBase64(attachmentKey(rk1, id)), '2': encodeBase64(attachmentKey(rk2, id)) } });
    expect(parseAttachmentKeys(answer).epoch).toBe(2);
    const text = JSON.stringify(answer);
    for (const rk of [rk1, rk2]) expect(text).not.toContain(encodeBase64(rk));
    await expect(unlocked.command('GetAttachmentKeys', { workspace_id: 'other' })).rejects.toThrow(/GetAttachmentKeys takes none/);

    const plain = await device(tempDir('keys'), id, null, family);
    await expect(plain.command('GetAttachmentKeys')).rejects.toThrow(`GetAttachmentKeys: ${notEncryptedMessage(id)}`);
    const locked = await device(tempDir('keys'), id, 'locked', family);
    await expect(locked.command('GetAttachmentKeys')).rejects.toThrow(`GetAttachmentKeys: ${lockedMessage(id)}`);
  });
});

describe('attachment sync of an end-to-end encrypted workspace', () => {
  it('stores only sealed blobs, a second device opens them byte-equal, and tampered blobs write nothing', async () => {
    const ws = await workspace('sealed-att', true);
    const canary = `canary${randomBytes(6).toString('hex')}`;
    const attachment = `_attachments/${canary}-photo.jpg`;
    const linked = `notes/${canary}-linked.pdf`;
    const entryKey = `${canary}-day.md`;
    // Across a chunk boundary (1 MiB), and recognisable: the canary repeated between random bytes.
    const bytes = Buffer.concat([Buffer.from(canary.repeat(100)), randomBytes(1024 * 1024), Buffer.from(canary.repeat(100))]);
    const a = tempDir('sealed-a');
    write(a, attachment, bytes);
    write(a, linked, randomBytes(3000));
    write(a, entryKey, `---\ntitle: Day\nattachments: ["${attachment}"]\n---\nA photo ![](/${attachment}) and [a file](notes/${canary}-linked.pdf)\n`);
    const devA = await device(a, ws.id, ws.keys);
    const liveLists: string[][] = [];
    const sendLive = devA.sync.client.sendLive.bind(devA.sync.client);
    devA.sync.client.sendLive = async (addresses) => {
      liveLists.push([...addresses]);
      return sendLive(addresses);
    };
    await devA.sync.runNow();
    expect(devA.sync.failures).toEqual(new Map());
    expect(devA.activity).toContainEqual({ kind: 'attachment-sent', path: attachment, bytes: bytes.length });
    expect(devA.activity).toContainEqual({ kind: 'not-synced', path: linked, reason: BODY_LINK_ONLY_REASON });
    expect(devA.activity.filter((x) => x.kind === 'attachment-sent')).toHaveLength(1);

    // The BinaryRef: the file's own hash and size, and the sealed blob.
    const ref = (await entry(devA, entryKey)).attachments.find((r) => r.path === attachment)!;
    expect(ref).toMatchObject({ hash: sha(bytes), size: bytes.length, mime_type: 'image/jpeg', source: 'local', e2ee: { epoch: 1 } });
    const addr = ref.e2ee!.addr;
    // The live list the server collects by: the one blob, sent once while it stays the same.
    expect(liveLists).toEqual([[addr]]);
    await devA.sync.runNow();
    expect(liveLists).toEqual([[addr]]);
    // The server holds one DXA1 blob under its address, listed by address with no type.
    const listed = (await (await api(`/api/workspaces/${ws.id}/attachments`)).json()) as { path: string; hash: string; mime_type: string }[];
    expect(listed).toEqual([expect.objectContaining({ path: addr, hash: addr, mime_type: 'application/octet-stream' })]);
    const stored = fs.readFileSync(blobFile(addr));
    expect(sha(stored)).toBe(addr);
    expect(stored.subarray(0, 4).toString()).toBe('DXA1');
    // No file name, path or file byte anywhere in the server's files (blobs, database, WAL, logs).
    expect(serverFilesContaining([Buffer.from(canary), bytes.subarray(4000, 4064), bytes.subarray(bytes.length - 64)])).toEqual([]);

    // A second device with the keys, handed the entry as the encrypted doc sync would carry it.
    const b = tempDir('sealed-b');
    const devB = await device(b, ws.id, ws.keys);
    await devB.command('SetCrdtFile', { path: entryKey, metadata: await entry(devA, entryKey) });
    await devB.sync.runNow();
    expect(devB.sync.failures).toEqual(new Map());
    expect(devB.activity).toContainEqual({ kind: 'attachment-received', path: attachment, bytes: bytes.length });
    expect(sha(fs.readFileSync(path.join(b, attachment)))).toBe(sha(bytes));
    expect(filesUnder(path.join(b, '.diaryx', 'attachments', 'partial'))).toEqual([]);

    // The same file from another device and entry makes the same blob: stored once.
    const e = tempDir('sealed-e');
    write(e, 'copy/photo-again.jpg', bytes);
    write(e, 'other.md', '---\ntitle: Other\nattachments: ["copy/photo-again.jpg"]\n---\n');
    const devE = await device(e, ws.id, ws.keys);
    await devE.sync.runNow();
    expect(devE.sync.failures).toEqual(new Map());
    expect((await entry(devE, 'other.md')).attachments[0].e2ee).toEqual(ref.e2ee);
    expect(((await (await api(`/api/workspaces/${ws.id}/attachments`)).json()) as unknown[]).length).toBe(1);

    // A device that has the same file already, and the entry naming it: nothing moves.
    const f = tempDir('sealed-f');
    write(f, attachment, bytes);
    const devF = await device(f, ws.id, ws.keys);
    await devF.command('SetCrdtFile', { path: entryKey, metadata: await entry(devA, entryKey) });
    await devF.sync.runNow();
    expect(devF.sync.failures).toEqual(new Map());
    expect(devF.activity.filter((x) => x.kind === 'attachment-sent' || x.kind === 'attachment-received')).toEqual([]);
    expect(devF.sync.client.bodyBytes).toBe(0);

    // A device without the keys moves nothing.
    const locked = await device(tempDir('sealed-locked'), ws.id, 'locked');
    await locked.command('SetCrdtFile', { path: entryKey, metadata: await entry(devA, entryKey) });
    void locked.sync.runNow();
    await waitFor(() => locked.activity.find((x) => x.kind === 'attachment-failed'), 'the locked device to report');
    expect(locked.activity).toContainEqual({ kind: 'attachment-failed', path: '', reason: `attachments wait: ${lockedMessage(ws.id)}` });
    expect(fs.existsSync(path.join(locked.dir, attachment))).toBe(false);

    // A blob that does not open (one ciphertext byte flipped, stored under its own address): refused by AEAD.
    const kAtt = attachmentKey(ws.keys!.rootKeys.get(1)!, ws.id);
    const forged = encryptAttachment(kAtt, 1, bytes).blob.slice();
    forged[100] ^= 1;
    const client = new TransferClient(server.url, token, ws.id);
    await client.upload({ blob: forged, hash: sha(forged), label: 'forged' });
    client.close();
    const c = tempDir('sealed-c');
    const devC = await device(c, ws.id, ws.keys);
    const meta = await entry(devA, entryKey);
    await devC.command('SetCrdtFile', {
      path: entryKey,
      metadata: { ...meta, attachments: meta.attachments.map((r) => (r.path === attachment ? { ...r, e2ee: { ...r.e2ee!, addr: sha(forged) } } : r)) },
    });
    // A failed pass is retried until closed: wait for its report instead of its end.
    void devC.sync.runNow();
    await waitFor(() => devC.sync.failures.get(attachment), 'the forged blob to be refused');
    expect(devC.sync.failures.get(attachment)).toBe(`${attachment}: Attachment rejected: ${sha(forged)}: chunk 0 failed authentication`);
    expect(filesUnder(c).filter((f) => !f.startsWith('.diaryx'))).toEqual([]);
    expect(filesUnder(path.join(c, '.diaryx', 'attachments', 'partial'))).toEqual([]);

    // The stored blob with a byte flipped on the server's disk: refused by its address, nothing written.
    const onDisk = blobFile(addr);
    const flipped = fs.readFileSync(onDisk);
    flipped[flipped.length - 20] ^= 0x80;
    fs.writeFileSync(onDisk, flipped);
    const d = tempDir('sealed-d');
    const devD = await device(d, ws.id, ws.keys);
    await devD.command('SetCrdtFile', { path: entryKey, metadata: await entry(devA, entryKey) });
    void devD.sync.runNow();
    await waitFor(() => devD.sync.failures.get(attachment), 'the flipped blob to be refused');
    expect(devD.sync.failures.get(attachment)).toMatch(new RegExp(`downloaded bytes of ${addr} hash to [0-9a-f]{64}`));
    expect(devD.activity).toContainEqual(expect.objectContaining({ kind: 'attachment-failed', path: attachment }));
    expect(filesUnder(d).filter((f) => !f.startsWith('.diaryx'))).toEqual([]);
    expect(filesUnder(path.join(d, '.diaryx', 'attachments', 'partial'))).toEqual([]);
  }, 120_000);

  it('resumes a sealed upload from the parts the server has: the same file seals to the same blob', async () => {
    const ws = await workspace('sealed-resume', true);
    const bytes = randomBytes(9 * 1024 * 1024);
    const { blob, ref } = encryptAttachment(attachmentKey(ws.keys!.rootKeys.get(1)!, ws.id), 1, bytes);
    expect(blob.length).toBeGreaterThan(PART_BYTES);
    // An earlier run sent part 1 of 2, then stopped.
    const announce = { hash: ref.addr, size_bytes: blob.length, part_size: PART_BYTES, total_parts: 2 };
    const started = (await (await api(`/api/workspaces/${ws.id}/attachments/uploads`, { method: 'POST', body: JSON.stringify(announce) })).json()) as { upload_id: string };
    const part1 = await api(`/api/workspaces/${ws.id}/attachments/uploads/${started.upload_id}/parts/1`, { method: 'PUT', body: blob.slice(0, PART_BYTES) });
    expect(part1.status).toBe(200);
    const a = tempDir('sealed-resume');
    write(a, 'big/scan.tiff', bytes);
    write(a, 'scan.md', '---\ntitle: Scan\nattachments: ["big/scan.tiff"]\n---\n');
    const devA = await device(a, ws.id, ws.keys);
    await devA.sync.runNow();
    expect(devA.sync.failures).toEqual(new Map());
    expect(devA.sync.client.bodyBytes).toBe(blob.length - PART_BYTES);
    expect((await entry(devA, 'scan.md')).attachments[0].e2ee).toEqual(ref);
    expect(sha(fs.readFileSync(blobFile(ref.addr)))).toBe(ref.addr);
  }, 120_000);

  it('keeps a plain workspace as it was: the file itself, announced with its path and type', async () => {
    const ws = await workspace('plain-att', false);
    const a = tempDir('plain-a');
    const bytes = randomBytes(5000);
    write(a, '_attachments/p.png', bytes);
    write(a, 'day.md', '---\ntitle: Day\nattachments: ["_attachments/p.png"]\n---\nText\n');
    const devA = await device(a, ws.id, null);
    await devA.sync.runNow();
    expect(devA.sync.failures).toEqual(new Map());
    const ref = (await entry(devA, 'day.md')).attachments[0];
    expect(ref.hash).toBe(sha(bytes));
    expect(ref.e2ee).toBeUndefined();
    const listed = (await (await api(`/api/workspaces/${ws.id}/attachments`)).json()) as { path: string; hash: string; mime_type: string }[];
    expect(listed).toEqual([expect.objectContaining({ path: '_attachments/p.png', hash: sha(bytes), mime_type: 'image/png' })]);
    expect(fs.readFileSync(blobFile(sha(bytes))).equals(bytes)).toBe(true);
    // The search of the encrypted case finds plain bytes where they are.
    expect(serverFilesContaining([bytes.subarray(100, 164)]).length).toBeGreaterThan(0);
  });
});
