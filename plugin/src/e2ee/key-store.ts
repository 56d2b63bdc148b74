/**
 * The keys of an encrypted workspace as this device keeps them, under plugin
 * storage key `e2ee:<workspace id>`:
 *
 *   {"v":1,"epoch":e,"keys":{"1":b64,...},"device":hex(16 bytes),"run":n}
 *
 * or, once locked, `{"v":1,"locked":true}`: the device still knows the
 * workspace is encrypted (it must never fall back to plain sync there) but
 * holds no key. Root keys are stored unwrapped (no device secret exists to
 * wrap them; the README says so), so `LockWorkspace` replaces them with the
 * marker and sync stops until the passphrase unlocks it again. K_name and the doc keys are derived on
 * load and cached, never stored. The passphrase and the KEK are never here.
 *
 * `run` counts plugin starts: `startRun` adds one and stores it before the
 * first envelope of the run is sealed, so a (device, run, ctr) is never
 * reused after a crash.
 */
import { decodeBase64, encodeBase64 } from '../../../common/src/base64';
import { fromHex, toHex } from '../../../common/src/e2ee/bytes';
import { DEVICE_ID_BYTES } from '../../../common/src/e2ee/envelope-header';
import type { WorkspaceKeys } from '../../../common/src/e2ee/key-record';
import { docKey, docTag, nameKey, ROOT_KEY_BYTES } from '../../../common/src/e2ee/keys';

/** The plugin storage this module uses (HostBridge has these). */
export interface KeyStorage {
  storageGet(key: string): Uint8Array | null;
  storageSet(key: string, data: Uint8Array): void;
}

export const E2EE_STORAGE_PREFIX = 'e2ee:';

export function keyStorageKey(workspaceId: string): string {
  return `${E2EE_STORAGE_PREFIX}${workspaceId}`;
}

/** A stored value that is not a key set of this layout; the message names the field. */
export class KeyStoreError extends Error {
  override name = 'KeyStoreError';
  constructor(workspaceId: string, message: string) {
    super(`Stored keys of workspace ${workspaceId} are unreadable: ${message}`);
  }
}

/** An unlocked encrypted workspace on this device. */
export class DeviceKeys {
  private readonly docKeys = new Map<string, Uint8Array>();
  private readonly tags = new Map<string, string>();
  /** K_name: from RK_1, whatever the current epoch, so tags survive rotation. */
  readonly nameKey: Uint8Array;

  constructor(
    readonly workspaceId: string,
    /** The current epoch: new envelopes are sealed with its key. */
    readonly epoch: number,
    readonly rootKeys: ReadonlyMap<number, Uint8Array>,
    /** Random, drawn when this device first unlocked the workspace. */
    readonly deviceId: Uint8Array,
    /** The current run (0 before the first `startRun`). */
    readonly run: number,
  ) {
    const rk1 = rootKeys.get(1);
    if (!rk1) throw new RangeError(`workspace ${workspaceId}: the root key of epoch 1 is missing`);
    if (!rootKeys.has(epoch)) throw new RangeError(`workspace ${workspaceId}: the root key of the current epoch ${epoch} is missing`);
    if (deviceId.length !== DEVICE_ID_BYTES) throw new RangeError(`device id has ${deviceId.length} bytes, expected ${DEVICE_ID_BYTES}`);
    this.nameKey = nameKey(rk1, workspaceId);
  }

  /** Keys just unlocked (or created) on this device: a fresh random device id, run 0. */
  static fresh(keys: WorkspaceKeys): DeviceKeys {
    const deviceId = new Uint8Array(DEVICE_ID_BYTES);
    crypto.getRandomValues(deviceId);
    return new DeviceKeys(keys.workspaceId, keys.epoch, keys.rootKeys, deviceId, 0);
  }

  /** The same device with the keys of another unlock (a rotation seen): device id and run kept. */
  withKeys(keys: WorkspaceKeys): DeviceKeys {
    if (keys.workspaceId !== this.workspaceId) throw new RangeError(`keys of workspace ${keys.workspaceId} given to workspace ${this.workspaceId}`);
    return new DeviceKeys(this.workspaceId, keys.epoch, keys.rootKeys, this.deviceId, this.run);
  }

  /** The doc tag of a doc name (`workspace` or `body/<key>`), cached. */
  tagOf(docName: string): string {
    let tag = this.tags.get(docName);
    if (tag === undefined) {
      tag = docTag(this.nameKey, docName);
      this.tags.set(docName, tag);
    }
    return tag;
  }

  /** K_doc(epoch, tag), cached; undefined for an epoch this device holds no key of. */
  docKey(epoch: number, tag: string): Uint8Array | undefined {
    const rk = this.rootKeys.get(epoch);
    if (!rk) return undefined;
    const id = `${epoch}/${tag}`;
    let key = this.docKeys.get(id);
    if (key === undefined) {
      key = docKey(rk, this.workspaceId, tag);
      this.docKeys.set(id, key);
    }
    return key;
  }
}

interface StoredKeys {
  v: 1;
  epoch: number;
  keys: Record<string, string>;
  device: string;
  run: number;
}

/** What this device knows of a workspace's encryption. */
export type EncryptionState = 'plain' | 'locked' | 'unlocked';

function readStored(storage: KeyStorage, workspaceId: string): (Partial<StoredKeys> & { locked?: unknown }) | null {
  const bytes = storage.storageGet(keyStorageKey(workspaceId));
  if (bytes === null || bytes.length === 0) return null;
  let value: (Partial<StoredKeys> & { locked?: unknown }) | null;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Partial<StoredKeys>;
  } catch (e) {
    throw new KeyStoreError(workspaceId, `not UTF-8 JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || value.v !== 1) throw new KeyStoreError(workspaceId, 'v is not 1');
  return value;
}

/** `plain` (no value), `locked` (the marker) or `unlocked` (keys held). Throws KeyStoreError when the value is unreadable. */
export function encryptionState(storage: KeyStorage, workspaceId: string): EncryptionState {
  const value = readStored(storage, workspaceId);
  if (value === null) return 'plain';
  return value.locked === true ? 'locked' : 'unlocked';
}

/** The keys stored for a workspace, or null when it is plain or locked here. Throws KeyStoreError when the value is unreadable. */
export function loadDeviceKeys(storage: KeyStorage, workspaceId: string): DeviceKeys | null {
  const value = readStored(storage, workspaceId);
  if (value === null || value.locked === true) return null;
  const { epoch, keys, device, run } = value;
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 1) throw new KeyStoreError(workspaceId, 'epoch');
  if (typeof run !== 'number' || !Number.isInteger(run) || run < 0 || run > 0xffffffff) throw new KeyStoreError(workspaceId, 'run');
  if (typeof device !== 'string' || !/^[0-9a-f]{32}$/.test(device)) throw new KeyStoreError(workspaceId, 'device');
  if (keys === null || typeof keys !== 'object') throw new KeyStoreError(workspaceId, 'keys');
  const rootKeys = new Map<number, Uint8Array>();
  for (const [e, b64] of Object.entries(keys)) {
    const n = Number(e);
    let key: Uint8Array;
    try {
      key = decodeBase64(String(b64));
    } catch {
      throw new KeyStoreError(workspaceId, `key of epoch ${e} is not base64`);
    }
    if (!Number.isInteger(n) || n < 1 || key.length !== ROOT_KEY_BYTES) throw new KeyStoreError(workspaceId, `key of epoch ${e}`);
    rootKeys.set(n, key);
  }
  try {
    return new DeviceKeys(workspaceId, epoch, rootKeys, fromHex(device), run);
  } catch (e) {
    throw new KeyStoreError(workspaceId, (e as Error).message);
  }
}

/** Stores the keys (throws what the host's storage throws: a refused write leaves the old value). */
export function saveDeviceKeys(storage: KeyStorage, keys: DeviceKeys): void {
  const stored: StoredKeys = {
    v: 1,
    epoch: keys.epoch,
    keys: Object.fromEntries([...keys.rootKeys].sort(([a], [b]) => a - b).map(([e, k]) => [String(e), encodeBase64(k)])),
    device: toHex(keys.deviceId),
    run: keys.run,
  };
  storage.storageSet(keyStorageKey(keys.workspaceId), new TextEncoder().encode(JSON.stringify(stored)));
}

/** Forgets the keys (`LockWorkspace`), keeping the marker that the workspace is encrypted. */
export function lockDeviceKeys(storage: KeyStorage, workspaceId: string): void {
  storage.storageSet(keyStorageKey(workspaceId), new TextEncoder().encode(JSON.stringify({ v: 1, locked: true })));
}

/** Forgets everything of the workspace's encryption on this device (the workspace is unlinked here). */
export function forgetDeviceKeys(storage: KeyStorage, workspaceId: string): void {
  storage.storageSet(keyStorageKey(workspaceId), new Uint8Array(0));
}

/** The next run, stored before it is returned (so no counter of an earlier run is ever reused). */
export function startRun(storage: KeyStorage, keys: DeviceKeys): DeviceKeys {
  if (keys.run >= 0xffffffff) throw new RangeError(`workspace ${keys.workspaceId}: the run counter is exhausted`);
  const next = new DeviceKeys(keys.workspaceId, keys.epoch, keys.rootKeys, keys.deviceId, keys.run + 1);
  saveDeviceKeys(storage, next);
  return next;
}
