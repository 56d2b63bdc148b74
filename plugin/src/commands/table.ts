/**
 * The one list of command names (`handle_command` and `execute_typed_command`),
 * in the manifest's order: the Rust plugin's commands in its order, then this
 * plugin's additions, then the commands it answers without advertising them.
 * The manifest's list is taken from here; every handler table is keyed by
 * these names (a name missing here does not compile), and a test checks that
 * every name has a handler.
 */
import type { SyncRuntime } from '../runtime';
import type { Params } from './params';

export const COMMAND_NAMES = [
  'GetSyncState', 'GetFullState', 'ApplyRemoteUpdate', 'GetMissingUpdates', 'SaveCrdtState', 'GetCrdtFile',
  'SetCrdtFile', 'ListCrdtFiles', 'GetBodyContent', 'SetBodyContent', 'ResetBodyDoc', 'GetBodySyncState',
  'GetBodyFullState', 'ApplyBodyUpdate', 'GetBodyMissingUpdates', 'SaveBodyDoc', 'SaveAllBodyDocs',
  'ListLoadedBodyDocs', 'UnloadBodyDoc', 'CreateSyncStep1', 'HandleSyncMessage', 'CreateUpdateMessage',
  'ConfigureSyncHandler', 'GetStoragePath', 'GetCanonicalPath', 'ApplyRemoteWorkspaceUpdateWithEffects',
  'ApplyRemoteBodyUpdateWithEffects', 'HandleWorkspaceSyncMessage', 'HandleCrdtState',
  'CreateWorkspaceSyncStep1', 'CreateWorkspaceUpdate', 'InitBodySync', 'CloseBodySync',
  'HandleBodySyncMessage', 'CreateBodySyncStep1', 'CreateBodyUpdate', 'IsSyncComplete', 'IsWorkspaceSynced',
  'IsBodySynced', 'MarkSyncComplete', 'GetActiveSyncs', 'TrackContent', 'IsEcho', 'ClearTrackedContent',
  'ResetSyncState', 'TriggerWorkspaceSync', 'GetHistory', 'GetFileHistory', 'RestoreVersion',
  'GetVersionDiff', 'GetStateAt', 'InitializeWorkspaceCrdt', 'SyncFocusedFileNow', 'GetSyncStatus',
  'GetProviderStatus', 'ListRemoteWorkspaces', 'LinkWorkspace', 'UploadWorkspaceSnapshot', 'UnlinkWorkspace',
  'DownloadWorkspace', 'get_component_html', 'get_config', 'set_config', 'NsCreateNamespace',
  'NsListNamespaces', 'NsPutObject', 'NsGetObject', 'NsDeleteObject', 'NsListObjects', 'NsCreateSession',
  'NsGetSession', 'NsDeleteSession',
  // Additions of this plugin (not in the Rust plugin's list).
  'GetWorkspaceHistory', 'GetFileVersion', 'RestoreFileVersion', 'RestoreDeletedFile', 'ListSnapshots',
  'CreateSnapshot', 'GetSnapshot', 'GetSnapshotFile', 'RestoreSnapshot', 'DeleteSnapshot',
  'GetHistoryRetention', 'SetHistoryRetention', 'E2eeSelfTest', 'UnlockWorkspace', 'LockWorkspace', 'ChangePassphrase',
  'GetAttachmentKeys', 'CheckEncryptedSync',
  // Answered, not advertised (as in the Rust plugin).
  'MaterializeWorkspace', 'PrepareLiveShareRuntime', 'ConnectLiveShareSession', 'DisconnectLiveShareSession',
] as const;

export type CommandName = (typeof COMMAND_NAMES)[number];

const NOT_ADVERTISED: ReadonlySet<CommandName> = new Set<CommandName>([
  'MaterializeWorkspace', 'PrepareLiveShareRuntime', 'ConnectLiveShareSession', 'DisconnectLiveShareSession',
]);

/** The commands the manifest lists, in its order. */
export const ADVERTISED_COMMANDS: readonly CommandName[] = COMMAND_NAMES.filter((name) => !NOT_ADVERTISED.has(name));

/** True when `name` is one of COMMAND_NAMES. */
export function isCommandName(name: string): name is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(name);
}

/** A command that needs the initialised plugin. */
export type CommandHandler = (rt: SyncRuntime, params: Params) => unknown;

/** Handlers of some commands, by name. */
export type CommandTable = { [K in CommandName]?: CommandHandler };
