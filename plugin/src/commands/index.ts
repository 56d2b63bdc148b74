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
import { CRDT_COMMANDS } from './crdt';
import { getAttachmentKeys } from './attachment-keys';
import { e2eeSelfTest } from './e2ee';
import { checkEncryptedSync } from './encrypted-sync-check';
import { isCommandName, type CommandName, type CommandTable } from './table';
import { HISTORY_COMMANDS } from './history';
import { RETENTION_COMMANDS } from './retention';
import { automaticSnapshot, SNAPSHOT_COMMANDS } from './snapshots';
import { asParams, CommandError, optionalBool, optionalString, type Params } from './params';
import * as encryption from './encryption';
import * as remote from './remote';
import { syncStatus, WORKSPACE_COMMANDS } from './workspace';
import { EventSink } from '../events';
import { deviceEncryption } from '../e2ee/workspace-keys';

export const NOT_INITIALIZED = 'Plugin state not initialized';
/** How the Rust plugin's delegated commands report an error. */
export const DELEGATED_ERROR_PREFIX = 'Plugin command error: ';

/** Commands that need the initialised plugin (delegated, in the Rust plugin's terms). */
const STATEFUL: CommandTable = {
  ...CRDT_COMMANDS,
  ...HISTORY_COMMANDS,
  ...WORKSPACE_COMMANDS,
  ...SNAPSHOT_COMMANDS,
  ...RETENTION_COMMANDS,
};

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
  return { host, events: new EventSink(host), workspaceRoot: () => '', reconcileTransport: uninitialised, ensureSession: uninitialised, writeImportedFile: uninitialised };
}

/** A command the plugin handles itself: it runs before `init` too, and its errors carry no prefix. */
type OwnHandler = (host: HostBridge, rt: SyncRuntime | null, params: Params, command: CommandName) => unknown;

/** The namespace commands, one handler for all (the host answers them). */
const namespaceCommand: OwnHandler = (host, _rt, p, command) => remote.namespaceCommand(host, command, p);

/** Commands the Rust plugin handles itself (its errors carry no prefix). */
const OWN: { [K in CommandName]?: OwnHandler } = {
  get_component_html: (_host, _rt, p) => componentOrThrow(optionalString(p, 'component_id') ?? ''),
  get_config: (host) => loadConfig(host),
  set_config: (host, rt, p) => {
    saveConfig(host, applyConfigPatch(loadConfig(host), p));
    rt?.reconcileTransport();
    return null;
  },
  GetSyncStatus: (host, rt, p) => (rt ? WORKSPACE_COMMANDS.GetSyncStatus!(rt, p) : syncStatus(null, false, deviceEncryption(host, loadConfig(host).workspace_id))),
  GetProviderStatus: (host, _rt, p) => remote.getProviderStatus(host, p),
  ListRemoteWorkspaces: (host, _rt, p) => remote.listRemoteWorkspaces(host, p),
  LinkWorkspace: (host, rt, p) => (optionalBool(p, 'encrypt') === true ? encryption.linkEncryptedWorkspace(requireRuntime(rt), p) : remote.linkWorkspace(remoteDeps(host, rt), p)),
  UploadWorkspaceSnapshot: (host, rt, p) => remote.uploadWorkspaceSnapshot(remoteDeps(host, rt), p),
  UnlinkWorkspace: (host, rt) => encryption.unlinkWorkspace(rt, remoteDeps(host, rt)),
  DownloadWorkspace: (host, rt, p) => {
    // The files already here are kept in an automatic snapshot before the import overwrites them.
    const beforeImport = rt ? () => void automaticSnapshot(rt, 'Before downloading the workspace', true) : undefined;
    return remote.downloadWorkspace({ ...remoteDeps(host, rt), beforeImport }, p);
  },
  PrepareLiveShareRuntime: (host, rt, p) => remote.prepareLiveShareRuntime(remoteDeps(host, rt), p),
  ConnectLiveShareSession: (host, rt, p) => remote.connectLiveShareSession(remoteDeps(host, rt), p),
  DisconnectLiveShareSession: (host, rt) => remote.disconnectLiveShareSession(remoteDeps(host, rt)),
  E2eeSelfTest: (_host, _rt, p) => e2eeSelfTest(p),
  UnlockWorkspace: (_host, rt, p) => encryption.unlockWorkspace(requireRuntime(rt), p),
  LockWorkspace: (_host, rt, p) => encryption.lockWorkspace(requireRuntime(rt), p),
  ChangePassphrase: (_host, rt, p) => encryption.changeWorkspacePassphrase(requireRuntime(rt), p),
  GetAttachmentKeys: (host, _rt, p) => getAttachmentKeys(host, p),
  CheckEncryptedSync: (_host, rt, p) => checkEncryptedSync(requireRuntime(rt), p),
  NsCreateNamespace: namespaceCommand,
  NsListNamespaces: namespaceCommand,
  NsPutObject: namespaceCommand,
  NsGetObject: namespaceCommand,
  NsDeleteObject: namespaceCommand,
  NsListObjects: namespaceCommand,
  NsCreateSession: namespaceCommand,
  NsGetSession: namespaceCommand,
  NsDeleteSession: namespaceCommand,
};

/** True when the name is a command this plugin knows. */
export function isKnownCommand(name: string): boolean {
  return isCommandName(name) && (OWN[name] !== undefined || STATEFUL[name] !== undefined);
}

/** Names of the commands that have a handler (tests check them against COMMAND_NAMES). */
export function handledCommands(): { own: string[]; stateful: string[] } {
  return { own: Object.keys(OWN), stateful: Object.keys(STATEFUL) };
}

/** Runs one command; returns its data or throws CommandError. */
export function runCommand(host: HostBridge, rt: SyncRuntime | null, command: string, rawParams: unknown): unknown {
  if (!isCommandName(command)) return runDelegated(rt, command, rawParams);
  const own = OWN[command];
  if (!own) return runDelegated(rt, command, rawParams);
  return own(host, rt, asParams(rawParams), command);
}

/**
 * A command the Rust plugin delegates: it needs the initialised plugin (else
 * `Plugin state not initialized`, unprefixed), and its errors, an unknown
 * name included, read `Plugin command error: <msg>`.
 */
function runDelegated(rt: SyncRuntime | null, command: string, rawParams: unknown): unknown {
  const runtime = requireRuntime(rt);
  try {
    const handler = isCommandName(command) ? STATEFUL[command] : undefined;
    if (!handler) throw new CommandError(`Unknown sync command: ${command}`);
    return handler(runtime, asParams(rawParams));
  } catch (e) {
    const message = `${DELEGATED_ERROR_PREFIX}${e instanceof Error ? e.message : String(e)}`;
    // Unexpected failures stay plain Errors: the caller logs those.
    throw e instanceof CommandError ? new CommandError(message) : new Error(message);
  }
}
