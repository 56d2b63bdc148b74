/**
 * `GetAttachmentKeys {}`: the attachment keys K_att(e) of the linked workspace
 * when it is end-to-end encrypted and unlocked on this device, for the host,
 * which seals and opens attachment blobs itself (common/src/e2ee/attachment-keys.ts
 * has the answer's shape and the refusals). Root keys never leave the plugin.
 */
import { encodeBase64 } from '../../../common/src/base64';
import { lockedMessage, notEncryptedMessage, type AttachmentKeysAnswer } from '../../../common/src/e2ee/attachment-keys';
import { attachmentKey } from '../../../common/src/e2ee/keys';
import { loadConfig } from '../config';
import { encryptionState, KeyStoreError, loadDeviceKeys } from '../e2ee/key-store';
import type { HostBridge } from '../host/bridge';
import { CommandError, type Params } from './params';

export function getAttachmentKeys(host: HostBridge, p: Params): AttachmentKeysAnswer {
  const unknown = Object.keys(p).filter((key) => p[key] !== undefined && p[key] !== null);
  if (unknown.length > 0) throw new CommandError(`Invalid parameter ${unknown[0]}: GetAttachmentKeys takes none`);
  const workspaceId = loadConfig(host).workspace_id;
  if (workspaceId === null || workspaceId.trim() === '') throw new CommandError('GetAttachmentKeys: no workspace is linked');
  try {
    const state = encryptionState(host, workspaceId);
    if (state === 'plain') throw new CommandError(notEncryptedMessage(workspaceId));
    const keys = loadDeviceKeys(host, workspaceId);
    if (state === 'locked' || keys === null) throw new CommandError(lockedMessage(workspaceId));
    const out: Record<string, string> = {};
    for (const [epoch, rk] of [...keys.rootKeys].sort(([a], [b]) => a - b)) out[String(epoch)] = encodeBase64(attachmentKey(rk, workspaceId));
    return { workspace_id: workspaceId, epoch: keys.epoch, keys: out };
  } catch (e) {
    if (e instanceof KeyStoreError) throw new CommandError(e.message);
    throw e;
  }
}
