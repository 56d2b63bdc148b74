/**
 * Turning encryption on, unlocking, locking and changing the passphrase
 * through the built plugin against a real server process: the key record the
 * server keeps, what each device stores (and does not store), the status, the
 * connect/disconnect requests, the KDF progress events, and the errors.
 *
 * The KDF runs inside the plugin for 15-30 s per derivation on this machine,
 * so one scenario walks every step with five derivations (and one more test
 * the refused PUT). It runs on the
 * default engine only: the commands are TypeScript over host calls that the
 * conformance and bad-input suites run on every engine, and the KDF's bytes
 * inside every engine are checked by test/e2ee/self-test.test.ts; three
 * engines would add about ten minutes and no other code path. The steps
 * without a KDF run on every engine and host family in
 * test/e2ee/encryption-commands.test.ts.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeBase64 } from '../../common/src/base64';
import { deriveKek } from '../../common/src/e2ee/kdf';
import { parseKeyRecord, unlockKeyRecord, type KeyRecord } from '../../common/src/e2ee/key-record';
import { storageFileName } from '../../host-harness/src/plugin-storage';
import type { WorkspaceHost } from '../../host-harness/src/workspace-host';
import { useCliServer } from '../e2e/cli-helpers';
import { fails, hashTree, ok, openInitialised, useCleanup } from '../plugin/helpers';

useCleanup();
const server = useCliServer();

// Unique, so that any copy of them anywhere is found.
const P1 = `first ${crypto.randomUUID()} phrase`;
const P2 = `second ${crypto.randomUUID()} phrase`;

interface Status {
  state: string;
  label: string;
  encryption: string;
}

/**
 * One request to the server on a connection of its own: this process's event
 * loop stands still while the plugin derives a key (one synchronous call), so
 * a pooled keep-alive socket that the server closed meanwhile would still
 * look open to fetch.
 */
function serverRequest(method: string, pathname: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${pathname}`, { method, agent: false, headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function keysOnServer(id: string): Promise<{ status: number; record: KeyRecord | null }> {
  const res = await serverRequest('GET', `/api/workspaces/${encodeURIComponent(id)}/keys`);
  return { status: res.status, record: res.status === 200 ? (JSON.parse(res.body) as KeyRecord) : null };
}

/** The stored value of a plugin storage key (null when absent). */
function stored(ws: WorkspaceHost, key: string): Record<string, unknown> | null {
  const file = path.join(ws.storageDir!, storageFileName(key));
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, 'utf8');
  return text === '' ? null : (JSON.parse(text) as Record<string, unknown>);
}

/** host_ws_request inputs from call index `from` on. */
function wsRequests(ws: WorkspaceHost, from = 0): { type: string; workspace_id?: string }[] {
  return ws.calls.slice(from).filter((c) => c.name === 'host_ws_request').map((c) => JSON.parse(c.input) as { type: string });
}

function kdfEvents(ws: WorkspaceHost, from = 0): Record<string, unknown>[] {
  return (ws.events.slice(from) as Record<string, unknown>[]).filter((e) => e.type === 'KeyDerivationProgress');
}

/** Every byte the plugin handed a host function, storage values decoded. */
function everythingSent(ws: WorkspaceHost): string {
  const parts: string[] = [];
  for (const c of ws.calls) {
    parts.push(c.input, c.output);
    if (c.name === 'host_storage_set') parts.push(Buffer.from(decodeBase64((JSON.parse(c.input) as { data: string }).data)).toString('latin1'));
  }
  parts.push(JSON.stringify(ws.events), JSON.stringify(ws.logs));
  return parts.join('\n');
}

async function device(): Promise<WorkspaceHost> {
  const ws = await openInitialised();
  await ok(ws, 'set_config', { server_url: server.url, auth_token: server.token });
  return ws;
}

describe('encrypted workspace keys through the plugin', () => {
  it('a key PUT the server refuses (the workspace has plain documents) is a clear error and stores nothing', async () => {
    const plain = await device();
    fs.writeFileSync(path.join(plain.dir, 'note.md'), '---\ntitle: Note\n---\n\nplain text\n');
    const made = await ok<{ remote_id: string }>(plain, 'LinkWorkspace', { name: 'Plain journal' });
    const other = await device();
    const before = hashTree(other.storageDir!);
    const res = await fails(other, 'LinkWorkspace', { encrypt: true, passphrase: P1, remote_id: made.remote_id, kdf: 'scrypt' });
    expect(res.error).toBe(
      `Could not enable encryption for workspace ${made.remote_id}: Workspace ${made.remote_id} already has unencrypted documents; encryption is chosen before the first sync`,
    );
    expect(kdfEvents(other).at(-1)).toMatchObject({ completed: 100, operation: 'enable' });
    expect(hashTree(other.storageDir!)).toEqual(before);
    expect((await keysOnServer(made.remote_id)).status).toBe(404);
    expect(everythingSent(other).includes(P1)).toBe(false);
  }, 300_000);

  it('enables, unlocks on a second device, locks, changes the passphrase (old one refused, nothing written), unlinks', async () => {
    // ---- device A turns encryption on for a new workspace
    const a = await device();
    const linked = await ok<Record<string, unknown>>(a, 'LinkWorkspace', { encrypt: true, passphrase: P1, name: 'Private journal' });
    const id = linked.remote_id as string;
    expect(linked).toEqual({
      remote_id: id,
      created_remote: true,
      encrypted: true,
      kdf: { alg: 'argon2id', m: 19456, t: 2, p: 1 },
      snapshot_uploaded: false,
      files_uploaded: 0,
    });
    // Progress: 0 first, 100 last, a few steps between, never the thousands the KDF reports.
    const progress = kdfEvents(a);
    expect(progress[0]).toMatchObject({ completed: 0, total: 100, operation: 'enable' });
    expect(progress.at(-1)).toEqual({
      completed: 100,
      message: 'Enabling encryption: deriving the key from the passphrase… 100%',
      operation: 'enable',
      total: 100,
      type: 'KeyDerivationProgress',
    });
    expect(progress.length).toBeLessThanOrEqual(11);
    expect(progress.map((e) => e.completed)).toEqual([...progress.map((e) => e.completed as number)].sort((x, y) => x - y));
    // The server holds the record (gen 0 stored as 1); the passphrase opens it in Node to A's stored key.
    const first = await keysOnServer(id);
    expect(first.status).toBe(200);
    expect(first.record).toMatchObject({ v: 1, gen: 1, epoch: 1, ring: null, kdf: { alg: 'argon2id', m: 19456, t: 2, p: 1 } });
    const aKeys = stored(a, `e2ee:${id}`)!;
    expect(aKeys).toMatchObject({ v: 1, epoch: 1, run: 0 });
    expect((aKeys.keys as Record<string, string>)['1']).toBe(Buffer.from(unlockKeyRecord(id, first.record, P1).rootKeys.get(1)!).toString('base64'));
    // The workspace refuses plain docs: no snapshot zip in or out, and no plain upload was even tried.
    for (const method of ['GET', 'POST']) {
      const res = await serverRequest(method, `/api/workspaces/${id}/snapshot`, method === 'POST' ? 'zip' : undefined);
      expect(res.status, method).toBe(409);
    }
    expect(a.calls.filter((c) => c.name === 'host_http_request' && c.input.includes('/snapshot'))).toEqual([]);
    expect(JSON.parse(await a.plugin.callText('get_config', ''))).toMatchObject({ workspace_id: id });
    expect(wsRequests(a).at(-1)).toMatchObject({ type: 'connect', workspace_id: id });
    expect(await ok<Status>(a, 'GetSyncStatus')).toMatchObject({ encryption: 'unlocked' });

    // ---- device B: a plain link or a second "enable" is sent to UnlockWorkspace (no KDF run)
    const b = await device();
    const clean = hashTree(b.storageDir!);
    expect((await fails(b, 'LinkWorkspace', { remote_id: id })).error).toBe(
      `Workspace ${id} is end-to-end encrypted: unlock it with UnlockWorkspace {"passphrase", "remote_id"} instead of linking it`,
    );
    expect((await fails(b, 'LinkWorkspace', { remote_id: id, encrypt: true, passphrase: P1 })).error).toBe(
      `Workspace ${id} is already end-to-end encrypted: unlock it with UnlockWorkspace {"passphrase", "remote_id"}`,
    );
    expect(hashTree(b.storageDir!)).toEqual(clean);
    expect(kdfEvents(b)).toEqual([]);

    // ---- B unlocks: the same root key, its own device id, linked and connecting
    expect(await ok(b, 'UnlockWorkspace', { passphrase: P1, remote_id: id })).toEqual({ remote_id: id, encryption: 'unlocked', epoch: 1 });
    expect(kdfEvents(b).at(-1)).toMatchObject({ completed: 100, operation: 'unlock' });
    const bKeys = stored(b, `e2ee:${id}`)!;
    expect(bKeys.keys).toEqual(aKeys.keys);
    expect(bKeys.device).not.toBe(aKeys.device);
    expect(JSON.parse(await b.plugin.callText('get_config', ''))).toMatchObject({ workspace_id: id });
    expect(wsRequests(b).at(-1)).toMatchObject({ type: 'connect', workspace_id: id });
    expect(await ok<Status>(b, 'GetSyncStatus')).toMatchObject({ encryption: 'unlocked' });

    // ---- B locks: keys gone, a marker left, disconnected, and it stays so after a restart
    let mark = b.calls.length;
    expect(await ok(b, 'LockWorkspace')).toEqual({ remote_id: id, encryption: 'locked' });
    expect(stored(b, `e2ee:${id}`)).toEqual({ v: 1, locked: true });
    expect(wsRequests(b, mark)).toEqual([{ type: 'disconnect' }]);
    expect(await ok<Status>(b, 'GetSyncStatus')).toMatchObject({ state: 'idle', encryption: 'locked', label: 'Locked: unlock with the passphrase to sync' });
    mark = b.calls.length;
    expect(await b.plugin.init({ workspace_root: b.dir })).toBe('');
    expect(wsRequests(b, mark).map((r) => r.type)).toEqual(['disconnect']);

    // ---- A changes the passphrase: a new wrap on the server, A's keys untouched
    const aStoredBefore = hashTree(a.storageDir!);
    const changed = await ok<Record<string, unknown>>(a, 'ChangePassphrase', { passphrase: P2 });
    expect(changed).toEqual({ remote_id: id, gen: 2, kdf: { alg: 'argon2id', m: 19456, t: 2, p: 1 } });
    expect(kdfEvents(a).at(-1)).toMatchObject({ completed: 100, operation: 'change' });
    const second = (await keysOnServer(id)).record!;
    expect(second.gen).toBe(2);
    expect(second.wrapped).not.toBe(first.record!.wrapped);
    expect(second.kdf.salt).not.toBe(first.record!.kdf.salt);
    expect(hashTree(a.storageDir!)[storageFileName(`e2ee:${id}`)]).toBe(aStoredBefore[storageFileName(`e2ee:${id}`)]);
    // A stale change (the gen moved on) is refused by the server: the record is replaced only at its gen.
    const stalePut = await serverRequest('PUT', `/api/workspaces/${id}/keys`, JSON.stringify(first.record));
    expect(stalePut.status).toBe(409);

    // ---- B: the old passphrase is a wrong one now, and writes nothing at all
    const lockedState = hashTree(b.storageDir!);
    const wrong = await fails(b, 'UnlockWorkspace', { passphrase: P1 });
    expect(wrong.error).toBe('Wrong passphrase');
    expect(hashTree(b.storageDir!)).toEqual(lockedState);
    expect(await ok<Status>(b, 'GetSyncStatus')).toMatchObject({ encryption: 'locked' });
    // The new one unlocks (to the same keys).
    expect(await ok(b, 'UnlockWorkspace', { passphrase: P2 })).toEqual({ remote_id: id, encryption: 'unlocked', epoch: 1 });
    expect(stored(b, `e2ee:${id}`)!.keys).toEqual(aKeys.keys);

    // ---- B unlinks: the keys leave the device with the link
    await ok(b, 'UnlinkWorkspace');
    expect(stored(b, `e2ee:${id}`)).toBeNull();
    expect(await ok<Status>(b, 'GetSyncStatus')).toMatchObject({ state: 'idle', encryption: 'plain' });

    // ---- the passphrases and the KEKs never left the plugin: not in any host call, storage value, event or log
    const keks = [first.record!, second].map((r, i) => {
      const { salt, ...params } = parseKeyRecord(r).kdf;
      return Buffer.from(deriveKek(i === 0 ? P1 : P2, decodeBase64(salt), params as never));
    });
    for (const ws of [a, b]) {
      const all = everythingSent(ws);
      for (const secret of [P1, P2]) expect(all.includes(secret), 'a passphrase leaked').toBe(false);
      for (const kek of keks) {
        for (const form of [kek.toString('hex'), kek.toString('base64'), kek.toString('latin1')]) expect(all.includes(form), 'a KEK leaked').toBe(false);
      }
    }
  }, 600_000);
});
