/**
 * `handle_command` dispatch: the plugin's own commands (config, status,
 * provider and server commands, UI components), then the CRDT, history and
 * workspace commands that need an initialised plugin. Unknown names fail with
 * `Unknown sync command: <name>`, as in the Rust plugin.
 *
 * The Rust plugin handles its own commands itself and delegates the rest (the
 * CRDT, history, workspace commands and unknown names) to the sync plugin of
 * diaryx_core, whose errors reach the host as `Plugin command error: <msg>`;
 * the delegated commands here carry the same prefix, so a host that matches
 * on the text sees the same strings.
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
/** How the Rust plugin's delegated commands report an error. */
export const DELEGATED_ERROR_PREFIX = 'Plugin command error: ';

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
  if (!isOwnCommand(command)) return runDelegated(rt, command, rawParams);
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
    case 'GetSyncStatus':
      return rt ? WORKSPACE_COMMANDS.GetSyncStatus(rt, params) : syncStatus(null, false);
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
  return runDelegated(rt, command, rawParams);
}

/** Commands the Rust plugin handles itself (its errors carry no prefix). */
function isOwnCommand(name: string): boolean {
  return isKnownCommand(name) && (!(name in STATEFUL) || name === 'GetSyncStatus');
}

/**
 * A command the Rust plugin delegates: it needs the initialised plugin (else
 * `Plugin state not initialized`, unprefixed), and its errors, an unknown
 * name included, read `Plugin command error: <msg>`.
 */
function runDelegated(rt: SyncRuntime | null, command: string, rawParams: unknown): unknown {
  const runtime = requireRuntime(rt);
  try {
    const handler = STATEFUL[command];
    if (!handler) throw new CommandError(`Unknown sync command: ${command}`);
    return handler(runtime, asParams(rawParams));
  } catch (e) {
    const message = `${DELEGATED_ERROR_PREFIX}${e instanceof Error ? e.message : String(e)}`;
    // Unexpected failures stay plain Errors: the caller logs those.
    throw e instanceof CommandError ? new CommandError(message) : new Error(message);
  }
}
