/**
 * Encrypted workspaces for tests: the workspace is created on the server, a
 * key record is computed in Node (the KDF takes a fraction of a second here,
 * against many seconds inside the plugin) and PUT with gen 0 before any doc
 * exists, and each device folder gets the unlocked keys in its plugin
 * storage (`e2ee:<workspace id>`, a fresh device id) before it syncs, as an
 * unlock on that device would leave them.
 */
import { createKeyRecord, type KeyRecord, type WorkspaceKeys } from '../../common/src/e2ee/key-record';
import { DeviceKeys, saveDeviceKeys } from '../../plugin/src/e2ee/key-store';
import { PluginStorage } from '../../host-harness/src/plugin-storage';
import { pluginStorageDir } from '../../host-harness/src/workspace-host';

export interface EncryptedWorkspace {
  workspaceId: string;
  passphrase: string;
  /** The record as stored by the server (gen 1). */
  record: KeyRecord;
  keys: WorkspaceKeys;
}

/** `POST /api/workspaces` then `PUT /api/workspaces/{id}/keys` (gen 0); throws with the server's answer on failure. */
export async function createEncryptedWorkspace(serverUrl: string, token: string, opts: { name?: string; passphrase?: string } = {}): Promise<EncryptedWorkspace> {
  const base = serverUrl.replace(/\/+$/, '');
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const created = await fetch(`${base}/api/workspaces`, { method: 'POST', headers, body: JSON.stringify({ name: opts.name ?? `Encrypted journal ${Math.random().toString(36).slice(2, 10)}` }) });
  if (!created.ok) throw new Error(`creating the workspace failed: HTTP ${created.status} ${await created.text()}`);
  const workspaceId = ((await created.json()) as { id: string }).id;
  const passphrase = opts.passphrase ?? 'correct horse battery staple';
  const { record, keys } = createKeyRecord(workspaceId, passphrase);
  const put = await fetch(`${base}/api/workspaces/${encodeURIComponent(workspaceId)}/keys`, { method: 'PUT', headers, body: JSON.stringify(record) });
  if (!put.ok) throw new Error(`storing the key record failed: HTTP ${put.status} ${await put.text()}`);
  return { workspaceId, passphrase, record: (await put.json()) as KeyRecord, keys };
}

/** The plugin storage of a device folder, as the key store reads it. */
export function deviceStorage(deviceDir: string): { storageGet(key: string): Uint8Array | null; storageSet(key: string, data: Uint8Array): void } {
  const storage = new PluginStorage({ dir: pluginStorageDir(deviceDir) });
  return { storageGet: (key) => storage.get(key), storageSet: (key, data) => storage.set(key, data) };
}

/** Writes the unlocked keys into a device folder's plugin storage (before the device starts); returns them. */
export function provisionDeviceKeys(deviceDir: string, ws: EncryptedWorkspace): DeviceKeys {
  const keys = DeviceKeys.fresh(ws.keys);
  saveDeviceKeys(deviceStorage(deviceDir), keys);
  return keys;
}
