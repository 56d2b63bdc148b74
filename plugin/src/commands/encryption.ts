/**
 * The commands that turn a workspace's end-to-end encryption on and unlock,
 * lock and re-wrap it on this device (README, "End-to-end encryption"):
 *
 * - `LinkWorkspace {"encrypt": true, "passphrase", "kdf"?, "name" | "remote_id", ...}`
 * - `UnlockWorkspace {"passphrase", "remote_id"?}`
 * - `LockWorkspace {"remote_id"?}`
 * - `ChangePassphrase {"passphrase", "kdf"?}`
 *
 * The KDF runs here, inside the plugin, with KeyDerivationProgress events.
 * Each command writes to plugin storage only after the server step it
 * depends on succeeded, so a failure leaves the device as it was. The
 * passphrase and the KEK are never stored, logged, emitted, sent or quoted
 * in an error.
 */
import type { KdfAlgorithm, KdfParams } from '../../../common/src/e2ee/kdf';
import {
  changePassphrase as rewrap,
  createKeyRecord,
  KeyRecordError,
  parseKeyRecord,
  unlockKeyRecord,
  WrongPassphraseError,
  type WorkspaceKeys,
} from '../../../common/src/e2ee/key-record';
import { loadConfig, saveConfig } from '../config';
import { DeviceKeys, forgetDeviceKeys, KeyStoreError, loadDeviceKeys, lockDeviceKeys, saveDeviceKeys } from '../e2ee/key-store';
import { deviceEncryption, fetchKeyRecord, kdfProgress, putKeyRecord, UNLOCK_HINT } from '../e2ee/workspace-keys';
import type { SyncRuntime } from '../runtime';
import { CommandError, optionalString, type Params } from './params';
import { providerSupported, request, server, httpError, jsonBody, unlinkWorkspace as unlinkPlain, type RemoteDeps } from './remote';

/** The passphrase parameter: a non-empty string (never echoed back in an error). */
function passphraseParam(p: Params): string {
  const v = p.passphrase;
  if (typeof v !== 'string') throw new CommandError('Missing parameter: passphrase');
  if (v.length === 0) throw new CommandError('Invalid parameter passphrase: it is empty');
  return v;
}

function kdfParam(p: Params): KdfAlgorithm | undefined {
  const kdf = optionalString(p, 'kdf');
  if (kdf === null) return undefined;
  if (kdf !== 'argon2id' && kdf !== 'scrypt') throw new CommandError(`Invalid parameter kdf: expected "argon2id" or "scrypt", got "${kdf}"`);
  return kdf;
}

/** The workspace a command acts on: `remote_id`, else the linked one. */
function workspaceParam(rt: SyncRuntime, p: Params): string {
  const id = optionalString(p, 'remote_id') ?? loadConfig(rt.host).workspace_id;
  if (id === null || id.trim() === '') throw new CommandError('Missing remote_id: no workspace is linked');
  return id;
}

/** A failed record step of the common module, as a command error (never with the passphrase). */
function recordError(e: unknown): never {
  if (e instanceof WrongPassphraseError) throw new CommandError('Wrong passphrase');
  if (e instanceof KeyRecordError) throw new CommandError(e.message);
  if (e instanceof RangeError) throw new CommandError(e.message);
  throw e;
}

/** The device's keys after a refused or failed write: the command fails, naming what was kept. */
function storeKeys(rt: SyncRuntime, keys: DeviceKeys, whatIfFailed: string): void {
  try {
    saveDeviceKeys(rt.host, keys);
  } catch (e) {
    throw new CommandError(`Could not store the workspace keys on this device (${(e as Error).message}); ${whatIfFailed}`);
  }
}

/** Builds the session anew for the protocol the keys call for, and (re)connects. */
function restartSync(rt: SyncRuntime): void {
  rt.encryptionChanged();
  // Connected anew: a joining device is connected in plain (refused) when it unlocks, and the
  // encrypted session needs its own on_connected (a guest-ended connection brings no on_disconnected).
  rt.reconcileTransport(true, true);
}

/**
 * `LinkWorkspace` with `"encrypt": true`: creates the remote workspace (or
 * takes `remote_id`), makes the key record here, PUTs it with gen 0 before
 * any doc is sent, stores the keys, links and connects. No snapshot zip is
 * uploaded: the encrypted session appends the docs itself.
 */
export function linkEncryptedWorkspace(rt: SyncRuntime, p: Params): unknown {
  if (!providerSupported(p)) throw new CommandError('Unsupported provider');
  const passphrase = passphraseParam(p);
  const kdf = kdfParam(p);
  const s = server(rt.host, p);
  let remoteId = optionalString(p, 'remote_id') ?? optionalString(p, 'remote_workspace_id');
  let created = false;
  if (remoteId === null) {
    const name = optionalString(p, 'name');
    if (name === null) throw new CommandError('Missing name');
    const res = request(rt.host, s, 'POST', '/api/workspaces', { name });
    if (res.status !== 200) throw new CommandError(httpError(res));
    const body = jsonBody(res) as { id?: unknown } | null;
    if (!body || typeof body.id !== 'string') throw new CommandError('Invalid workspace response');
    remoteId = body.id;
    created = true;
  } else if (fetchKeyRecord(rt.host, s, remoteId) !== null) {
    throw new CommandError(`Workspace ${remoteId} is already end-to-end encrypted: unlock it with ${UNLOCK_HINT}`);
  }
  let made: ReturnType<typeof createKeyRecord>;
  try {
    made = createKeyRecord(remoteId, passphrase, { kdf, onProgress: kdfProgress(rt.state.events, 'enable') });
  } catch (e) {
    recordError(e);
  }
  const put = putKeyRecord(rt.host, s, remoteId, made.record);
  if (!put.stored) {
    throw new CommandError(`Could not enable encryption for workspace ${remoteId}: ${put.status === 409 ? put.reason : `HTTP ${put.status}: ${put.reason}`}`);
  }
  storeKeys(rt, DeviceKeys.fresh(made.keys), `the workspace is encrypted on the server: unlock it here with ${UNLOCK_HINT}`);
  saveConfig(rt.host, { ...loadConfig(rt.host), workspace_id: remoteId });
  restartSync(rt);
  const { salt: _salt, ...kdfUsed } = made.record.kdf;
  return { remote_id: remoteId, created_remote: created, encrypted: true, kdf: kdfUsed, snapshot_uploaded: false, files_uploaded: 0 };
}

/**
 * `UnlockWorkspace {"passphrase", "remote_id"?}`: opens the server's key
 * record with the passphrase and stores the keys (a device that had keys
 * keeps its device id and run); with `remote_id` the workspace is linked too.
 * A wrong passphrase is `Wrong passphrase` and writes nothing.
 */
export function unlockWorkspace(rt: SyncRuntime, p: Params): unknown {
  const passphrase = passphraseParam(p);
  const workspaceId = workspaceParam(rt, p);
  const s = server(rt.host, p);
  const record = fetchKeyRecord(rt.host, s, workspaceId);
  if (record === null) throw new CommandError(`Workspace ${workspaceId} is not end-to-end encrypted on the server (or does not exist): nothing to unlock`);
  let keys: WorkspaceKeys;
  try {
    keys = unlockKeyRecord(workspaceId, record, passphrase, kdfProgress(rt.state.events, 'unlock'));
  } catch (e) {
    recordError(e);
  }
  let held: DeviceKeys | null = null;
  try {
    held = loadDeviceKeys(rt.host, workspaceId);
  } catch (e) {
    // Unreadable stored keys are replaced: the record just opened holds every key.
    if (!(e instanceof KeyStoreError)) throw e;
  }
  storeKeys(rt, held ? held.withKeys(keys) : DeviceKeys.fresh(keys), 'the workspace stays as it was here');
  const config = loadConfig(rt.host);
  if (config.workspace_id !== workspaceId) saveConfig(rt.host, { ...config, workspace_id: workspaceId });
  restartSync(rt);
  return { remote_id: workspaceId, encryption: 'unlocked', epoch: keys.epoch };
}

/** `LockWorkspace {"remote_id"?}`: the keys leave this device; sync stops until the next unlock. */
export function lockWorkspace(rt: SyncRuntime, p: Params): unknown {
  const workspaceId = workspaceParam(rt, p);
  if (deviceEncryption(rt.host, workspaceId) === 'plain') throw new CommandError(`Workspace ${workspaceId} is not end-to-end encrypted on this device: nothing to lock`);
  try {
    lockDeviceKeys(rt.host, workspaceId);
  } catch (e) {
    throw new CommandError(`Could not lock workspace ${workspaceId}: ${(e as Error).message}`);
  }
  restartSync(rt);
  return { remote_id: workspaceId, encryption: 'locked' };
}

/**
 * `ChangePassphrase {"passphrase", "kdf"?}`: wraps the current root key under
 * the new passphrase (new salt; the record's KDF unless `kdf` names another)
 * and PUTs it with the gen it replaces. Keys, envelopes and this device's
 * storage stay as they are; the old passphrase no longer opens the record.
 */
export function changeWorkspacePassphrase(rt: SyncRuntime, p: Params): unknown {
  const passphrase = passphraseParam(p);
  const kdf = kdfParam(p);
  const workspaceId = workspaceParam(rt, p);
  const held = loadDeviceKeys(rt.host, workspaceId);
  if (held === null) {
    const state = deviceEncryption(rt.host, workspaceId);
    throw new CommandError(
      state === 'locked'
        ? `Workspace ${workspaceId} is locked on this device: unlock it first with ${UNLOCK_HINT}`
        : `Workspace ${workspaceId} is not end-to-end encrypted on this device`,
    );
  }
  const s = server(rt.host, p);
  const value = fetchKeyRecord(rt.host, s, workspaceId);
  if (value === null) throw new CommandError(`Workspace ${workspaceId} has no key record on the server`);
  let next;
  try {
    const current = parseKeyRecord(value);
    const { salt: _salt, ...currentKdf } = current.kdf;
    const keys: WorkspaceKeys = { workspaceId, epoch: held.epoch, rootKeys: new Map(held.rootKeys) };
    next = rewrap(current, keys, passphrase, { kdf: kdf ?? (currentKdf as KdfParams), onProgress: kdfProgress(rt.state.events, 'change') });
  } catch (e) {
    recordError(e);
  }
  const put = putKeyRecord(rt.host, s, workspaceId, next);
  if (!put.stored) throw new CommandError(`Could not change the passphrase of workspace ${workspaceId}: ${put.status === 409 ? put.reason : `HTTP ${put.status}: ${put.reason}`}; nothing changed, try again`);
  const { salt: _salt, ...kdfUsed } = next.kdf;
  return { remote_id: workspaceId, gen: put.gen, kdf: kdfUsed };
}

/**
 * `UnlinkWorkspace`: also forgets this device's keys of the workspace, once
 * the link is gone (keys left behind by a failed forget are harmless; a link
 * left without its keys would not be).
 */
export function unlinkWorkspace(rt: SyncRuntime | null, deps: RemoteDeps): unknown {
  const id = loadConfig(deps.host).workspace_id;
  const out = unlinkPlain(deps);
  if (id !== null && id.trim() !== '' && deviceEncryption(deps.host, id) !== 'plain') {
    forgetDeviceKeys(deps.host, id);
    rt?.encryptionChanged();
  }
  return out;
}
