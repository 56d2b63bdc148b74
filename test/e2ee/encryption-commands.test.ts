/**
 * The encryption commands' steps that run no KDF, through the built plugin on
 * every engine (vitest.config.ts) and host family, against a real server
 * process: bad parameters, a plain link of an encrypted workspace, a device
 * holding keys connecting, locking (no connection, also after a restart),
 * the status, and unlinking forgetting the keys. The key record is made in
 * Node and the device's keys are put into its storage directly, so no
 * derivation runs inside the plugin here (test/e2ee/workspace-keys.test.ts
 * runs those, on the default engine).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeBase64 } from '../../common/src/base64';
import { createKeyRecord } from '../../common/src/e2ee/key-record';
import type { HostFamily } from '../../host-harness/src/host-functions';
import { storageFileName } from '../../host-harness/src/plugin-storage';
import type { WorkspaceHost } from '../../host-harness/src/workspace-host';
import { useCliServer } from '../e2e/cli-helpers';
import { fails, hashTree, ok, openPlugin, pluginStorageDir, tempWorkspace, useCleanup } from '../plugin/helpers';

useCleanup();
const server = useCliServer();
const FAMILIES: HostFamily[] = ['current', 'web', 'desktop'];

interface Status {
  state: string;
  label: string;
  encryption: string;
}

function wsRequests(ws: WorkspaceHost, from = 0): { type: string; workspace_id?: string }[] {
  return ws.calls.slice(from).filter((c) => c.name === 'host_ws_request').map((c) => JSON.parse(c.input) as { type: string });
}

function storedText(dir: string, key: string): string | null {
  const file = path.join(pluginStorageDir(dir), storageFileName(key));
  return fs.existsSync(file) && fs.statSync(file).size > 0 ? fs.readFileSync(file, 'utf8') : null;
}

/** A workspace made encrypted on the server by a record made in Node (a first PUT creates the id). */
async function encryptedWorkspace(label: string): Promise<{ id: string; rootKey: Uint8Array }> {
  const id = `enc-${label}-${crypto.randomUUID().slice(0, 8)}`;
  const { record, keys } = createKeyRecord(id, `node ${crypto.randomUUID()}`);
  const res = await fetch(`${server.url}/api/workspaces/${id}/keys`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(record),
  });
  expect(res.status).toBe(200);
  return { id, rootKey: keys.rootKeys.get(1)! };
}

/** A device folder whose storage already holds the workspace's keys and the linked config. */
function deviceHolding(id: string, rootKey: Uint8Array): string {
  const dir = tempWorkspace('diaryx-e2ee-cmd-');
  const storage = pluginStorageDir(dir);
  fs.mkdirSync(storage, { recursive: true });
  const keys = { v: 1, epoch: 1, keys: { '1': encodeBase64(rootKey) }, device: 'ab'.repeat(16), run: 3 };
  fs.writeFileSync(path.join(storage, storageFileName(`e2ee:${id}`)), JSON.stringify(keys));
  fs.writeFileSync(path.join(storage, storageFileName('sync.extism.config')), JSON.stringify({ server_url: server.url, auth_token: server.token, workspace_id: id }));
  return dir;
}

async function fresh(family: HostFamily): Promise<WorkspaceHost> {
  const dir = tempWorkspace('diaryx-e2ee-cmd-');
  const ws = await openPlugin(dir, { family });
  expect(await ws.plugin.init({ workspace_root: dir })).toBe('');
  await ok(ws, 'set_config', { server_url: server.url, auth_token: server.token });
  return ws;
}

describe.each(FAMILIES)('encryption commands without a KDF run (host family %s)', (family) => {
  it('refuses bad parameters and commands without a workspace, writing nothing', async () => {
    const ws = await fresh(family);
    const before = hashTree(ws.storageDir!);
    const cases: [string, Record<string, unknown>, string][] = [
      ['LinkWorkspace', { encrypt: true, name: 'J' }, 'Missing parameter: passphrase'],
      ['LinkWorkspace', { encrypt: true, name: 'J', passphrase: '' }, 'Invalid parameter passphrase: it is empty'],
      ['LinkWorkspace', { encrypt: true, name: 'J', passphrase: 'x', kdf: 'pbkdf2' }, 'Invalid parameter kdf: expected "argon2id" or "scrypt", got "pbkdf2"'],
      ['LinkWorkspace', { encrypt: 'yes', name: 'J' }, 'Invalid parameter encrypt: expected a boolean'],
      ['UnlockWorkspace', { passphrase: 'x' }, 'Missing remote_id: no workspace is linked'],
      ['UnlockWorkspace', { remote_id: 'w' }, 'Missing parameter: passphrase'],
      ['UnlockWorkspace', { passphrase: 'x', remote_id: 'never-made' }, 'Workspace never-made is not end-to-end encrypted on the server (or does not exist): nothing to unlock'],
      ['LockWorkspace', {}, 'Missing remote_id: no workspace is linked'],
      ['LockWorkspace', { remote_id: 'w' }, 'Workspace w is not end-to-end encrypted on this device: nothing to lock'],
      ['ChangePassphrase', { passphrase: 'x', remote_id: 'w' }, 'Workspace w is not end-to-end encrypted on this device'],
    ];
    for (const [command, params, error] of cases) expect((await fails(ws, command, params)).error, command).toBe(error);
    expect(hashTree(ws.storageDir!)).toEqual(before);
    expect(await ok<Status>(ws, 'GetSyncStatus')).toMatchObject({ state: 'idle', encryption: 'plain' });
  });

  it('sends a plain link of an encrypted workspace to UnlockWorkspace; a device holding keys connects, locks, stays locked, unlinks', async () => {
    const { id, rootKey } = await encryptedWorkspace(family);
    const other = await fresh(family);
    const clean = hashTree(other.storageDir!);
    expect((await fails(other, 'LinkWorkspace', { remote_id: id })).error).toBe(
      `Workspace ${id} is end-to-end encrypted: unlock it with UnlockWorkspace {"passphrase", "remote_id"} instead of linking it`,
    );
    expect((await fails(other, 'LinkWorkspace', { remote_id: id, encrypt: true, passphrase: 'p' })).error).toBe(
      `Workspace ${id} is already end-to-end encrypted: unlock it with UnlockWorkspace {"passphrase", "remote_id"}`,
    );
    expect(hashTree(other.storageDir!)).toEqual(clean);
    expect(other.calls.filter((c) => c.name === 'host_http_request' && c.input.includes('/snapshot'))).toEqual([]);

    const dir = deviceHolding(id, rootKey);
    const ws = await openPlugin(dir, { family });
    expect(await ws.plugin.init({ workspace_root: dir })).toBe('');
    expect(wsRequests(ws).at(-1)).toMatchObject({ type: 'connect', workspace_id: id });
    expect(await ok<Status>(ws, 'GetSyncStatus')).toMatchObject({ encryption: 'unlocked' });

    let mark = ws.calls.length;
    expect(await ok(ws, 'LockWorkspace')).toEqual({ remote_id: id, encryption: 'locked' });
    expect(JSON.parse(storedText(dir, `e2ee:${id}`)!)).toEqual({ v: 1, locked: true });
    expect(wsRequests(ws, mark)).toEqual([{ type: 'disconnect' }]);
    expect(await ok<Status>(ws, 'GetSyncStatus')).toMatchObject({ state: 'idle', encryption: 'locked', label: 'Locked: unlock with the passphrase to sync' });
    expect((await fails(ws, 'ChangePassphrase', { passphrase: 'new' })).error).toBe(
      `Workspace ${id} is locked on this device: unlock it first with UnlockWorkspace {"passphrase", "remote_id"}`,
    );
    // Neither a restart nor a config change connects a locked workspace.
    mark = ws.calls.length;
    expect(await ws.plugin.init({ workspace_root: dir })).toBe('');
    await ok(ws, 'set_config', { auth_token: server.token });
    expect(wsRequests(ws, mark).map((r) => r.type)).toEqual(['disconnect', 'disconnect']);

    await ok(ws, 'UnlinkWorkspace');
    expect(storedText(dir, `e2ee:${id}`)).toBeNull();
    expect(JSON.parse(storedText(dir, 'sync.extism.config')!)).toMatchObject({ workspace_id: null });
    expect(await ok<Status>(ws, 'GetSyncStatus')).toMatchObject({ state: 'idle', encryption: 'plain' });
  });
});
