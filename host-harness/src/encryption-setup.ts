/**
 * The encryption step of a sync job, before the folder is linked: a workspace
 * the server holds a key record for is unlocked on this device (once: a
 * device that holds its keys goes on without asking), and `--encrypt` turns
 * encryption on for a workspace that has none yet. Both run the plugin's own
 * commands (the KDF runs inside the plugin); a wrong passphrase changes
 * nothing on the device.
 */
import { ActionableError, EXIT } from '../../common/src/cli/errors';
import { httpBase } from '../../common/src/host/server-url';
import type { PluginHost } from './plugin-host';

export interface EncryptionOptions {
  /** `--encrypt`: turn encryption on when the server's workspace has no key record. */
  enable: boolean;
  /** Whether the server holds a key record for the workspace (see remoteKeyRecord). */
  remoteEncrypted: boolean;
  /** The passphrase, asked only when needed; `confirm` for a new one. */
  passphrase: (confirm: boolean) => Promise<string>;
}

export type EncryptionOutcome = 'plain' | 'already-unlocked' | 'unlocked' | 'enabled';

/** Whether the server holds a key record for the workspace (GET keys answers 200); null when it cannot be asked. */
export async function remoteKeyRecord(serverUrl: string, token: string, workspaceId: string): Promise<boolean | null> {
  try {
    const res = await fetch(`${httpBase(serverUrl)}/api/workspaces/${encodeURIComponent(workspaceId)}/keys`, {
      headers: { Authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return null;
  }
}

/** Runs the encryption step for `workspaceId`; throws ActionableError (exit 2) when it cannot be done. */
export async function setUpEncryption(
  plugin: PluginHost,
  target: { serverUrl: string; token: string; workspaceId: string },
  options: EncryptionOptions,
): Promise<EncryptionOutcome> {
  const { workspaceId } = target;
  const config = JSON.parse(await plugin.callText('get_config', '')) as { workspace_id: string | null };
  const status = await plugin.command('GetSyncStatus', {});
  const state = status.success ? (status.data as { encryption?: string }).encryption : undefined;
  if (config.workspace_id === workspaceId && state === 'unlocked') return 'already-unlocked';
  const server = { remote_id: workspaceId, server_url: target.serverUrl, auth_token: target.token };
  if (options.remoteEncrypted) {
    const res = await plugin.command('UnlockWorkspace', { ...server, passphrase: await options.passphrase(false) });
    if (res.success) return 'unlocked';
    if (res.error === 'Wrong passphrase') {
      throw new ActionableError(`wrong passphrase for the end-to-end encrypted workspace ${workspaceId}: nothing was changed on this device`, EXIT.usage);
    }
    throw new ActionableError(`could not unlock workspace ${workspaceId}: ${res.error}`, EXIT.usage);
  }
  if (!options.enable) return 'plain';
  const res = await plugin.command('LinkWorkspace', { ...server, encrypt: true, passphrase: await options.passphrase(true) });
  if (!res.success) throw new ActionableError(`could not turn on encryption: ${res.error}`, EXIT.usage);
  return 'enabled';
}
