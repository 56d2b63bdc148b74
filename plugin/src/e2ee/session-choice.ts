/**
 * Which session a workspace gets on this device: what plugin storage holds
 * under `e2ee:<workspace id>` decides. Keys: the encrypted session; the
 * locked marker, or a value that does not read: the locked stand-in (never
 * plain frames for a workspace known to be encrypted); nothing: null, the
 * plain session.
 */
import type { HostBridge } from '../host/bridge';
import type { PluginSessionDocs } from '../session-docs';
import type { PluginState } from '../state';
import type { RuntimeSession } from '../sync/runtime-session';
import { bodyKeyOf } from './doc-names';
import { EncryptedSession } from './encrypted-session';
import { encryptionState, KeyStoreError, loadDeviceKeys } from './key-store';
import { LockedSession } from './locked-session';

export interface SessionChoiceDeps {
  readonly host: HostBridge;
  readonly docs: PluginSessionDocs;
  readonly state: PluginState;
}

export function encryptedOrLockedSession(rt: SessionChoiceDeps, workspaceId: string, writeToDisk: boolean): RuntimeSession | null {
  let keys;
  try {
    if (encryptionState(rt.host, workspaceId) === 'plain') return null;
    keys = loadDeviceKeys(rt.host, workspaceId);
  } catch (e) {
    if (!(e instanceof KeyStoreError)) throw e;
    rt.host.log('error', e.message);
    return new LockedSession(workspaceId, writeToDisk, rt.docs, `${e.message}; unlock the workspace with the passphrase to sync`);
  }
  if (keys === null) return new LockedSession(workspaceId, writeToDisk, rt.docs);
  const persistence = rt.state.persistence;
  return new EncryptedSession({
    workspaceId,
    writeToDisk,
    keys,
    docs: rt.docs,
    ledger: rt.docs.ledger,
    storage: rt.host,
    saveDocs: () => void persistence.save(false, false),
    isDocStored: (name) => {
      const key = bodyKeyOf(name);
      return !persistence.isDocUnstored(key === null ? { kind: 'workspace', workspaceId } : { kind: 'body', workspaceId, key });
    },
    log: (level, message) => rt.host.log(level, message),
  });
}
