/**
 * `handle_command` dispatch: the plugin's own commands (config, status,
 * provider and server commands, UI components), then the CRDT, history and
 * workspace commands that need an initialised plugin. Unknown names fail with
 * `Unknown sync command: <name>`, as in the Rust plugin.
 */
import type { HostBridge } from '../host/bridge';
import { applyConfigPatch, loadConfig, saveConfig } from '../config';
import type { SyncRuntime } from '../runtime';
import { componentHtml } from '../ui';
import { CRDT_COMMANDS, type CommandHandler } from './crdt';
import { HISTORY_COMMANDS } from './history';
import { RETENTION_COMMANDS } from './retention';
import { automaticSnapshot, SNAPSHOT_COMMANDS } from './snapshots';
import { asParams, CommandError, optionalString, type Params } from './params';
import * as remote from './remote';
import { syncStatus, WORKSPACE_COMMANDS } from './workspace';

export const NOT_INITIALIZED = 'Plugin state not initialized';

const STATEFUL: Record<string, CommandHandler> = {
  ...CRDT_COMMANDS,
  ...HISTORY_COMMANDS,
  ...WORKSPACE_COMMANDS,
  ...SNAPSHOT_COMMANDS,
  ...RETENTION_COMMANDS,
};

const NAMESPACE_COMMANDS = new Set([
  'NsCreateNamespace', 'NsListNamespaces', 'NsPutObject', 'NsGetObject', 'NsDeleteObject',
  'NsListObjects', 'NsCreateSession', 'NsGetSession', 'NsDeleteSession',
]);

/** HTML of a component; throws `Unknown sync component: <id>`. */
export function componentOrThrow(componentId: string): string {
  const html = componentHtml(componentId);
  if (html === null) throw new CommandError(`Unknown sync component: ${componentId}`);
  return html;
}

function requireRuntime(rt: SyncRuntime | null): SyncRuntime {
  if (!rt) throw new CommandError(NOT_INITIALIZED);
  return rt;
}

/** Remote-command dependencies; before `init` only the host is there. */
function remoteDeps(host: HostBridge, rt: SyncRuntime | null): remote.RemoteDeps {
  if (rt) return rt.remoteDeps();
  const uninitialised = (): never => {
    throw new CommandError(NOT_INITIALIZED);
  };
  return { host, workspaceRoot: () => '', reconcileTransport: uninitialised, ensureSession: uninitialised, writeImportedFile: uninitialised };
}

/** True when the name is a command this plugin knows. */
export function isKnownCommand(name: string): boolean {
  return (
    name in STATEFUL ||
    NAMESPACE_COMMANDS.has(name) ||
    [
      'get_component_html', 'get_config', 'set_config', 'GetSyncStatus', 'GetProviderStatus', 'ListRemoteWorkspaces',
      'LinkWorkspace', 'UploadWorkspaceSnapshot', 'UnlinkWorkspace', 'DownloadWorkspace', 'PrepareLiveShareRuntime',
      'ConnectLiveShareSession', 'DisconnectLiveShareSession',
    ].includes(name)
  );
}

/** Runs one command; returns its data or throws CommandError. */
export function runCommand(host: HostBridge, rt: SyncRuntime | null, command: string, rawParams: unknown): unknown {
  const params: Params = asParams(rawParams);
  const deps = () => remoteDeps(host, rt);
  switch (command) {
    case 'get_component_html':
      return componentOrThrow(optionalString(params, 'component_id') ?? '');
    case 'get_config':
      return loadConfig(host);
    case 'set_config': {
      saveConfig(host, applyConfigPatch(loadConfig(host), params));
      rt?.reconcileTransport();
      return null;
    }
    case 'GetSyncStatus': {
      if (!rt) return syncStatus(null, false);
      break;
    }
    case 'GetProviderStatus':
      return remote.getProviderStatus(host, params);
    case 'ListRemoteWorkspaces':
      return remote.listRemoteWorkspaces(host, params);
    case 'LinkWorkspace':
      return remote.linkWorkspace(deps(), params);
    case 'UploadWorkspaceSnapshot':
      return remote.uploadWorkspaceSnapshot(deps(), params);
    case 'UnlinkWorkspace':
      return remote.unlinkWorkspace(deps());
    case 'DownloadWorkspace': {
      // The files already here are kept in an automatic snapshot before the import overwrites them.
      const runtime = rt;
      const beforeImport = runtime ? () => void automaticSnapshot(runtime, 'Before downloading the workspace', true) : undefined;
      return remote.downloadWorkspace({ ...deps(), beforeImport }, params);
    }
    case 'PrepareLiveShareRuntime':
      return remote.prepareLiveShareRuntime(deps(), params);
    case 'ConnectLiveShareSession':
      return remote.connectLiveShareSession(deps(), params);
    case 'DisconnectLiveShareSession':
      return remote.disconnectLiveShareSession(deps());
  }
  if (NAMESPACE_COMMANDS.has(command)) return remote.namespaceCommand(host, command, params);
  const handler = STATEFUL[command];
  if (!handler) throw new CommandError(`Unknown sync command: ${command}`);
  return handler(requireRuntime(rt), params);
}
