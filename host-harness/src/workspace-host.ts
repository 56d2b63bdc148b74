/**
 * A plugin instance over one workspace folder, ready to use: the host
 * function table, the plugin's persisted storage and the PluginHost, and
 * optionally the WebSocket bridge and the folder watcher.
 *
 * Plugin storage lives in `<dir>/.diaryx/plugin-storage/<plugin id>/` (for
 * the sync plugin `<dir>/.diaryx/plugin-storage/diaryx.sync/`), one file per
 * storage key. Dot-directories are never synced, so the plugin's own state
 * stays out of the workspace it syncs.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FolderWatcher, type FolderEvent, type FolderWatcherOptions } from './folder-watcher';
import { createHostFunctions, type HostFunctionOptions, type HostFunctionTable } from './host-functions';
import type { HostCallRecord, HostLogLevel } from './host-types';
import { PluginHost, type PluginHostOptions } from './plugin-host';
import { WsBridge, type WsBridgeOptions } from './ws-bridge';

export const SYNC_PLUGIN_ID = 'diaryx.sync';
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The plugin module the harness loads unless told otherwise. */
export const DEFAULT_WASM = path.join(ROOT, 'dist', 'diaryx_sync.wasm');

/** The storage folder of a plugin inside a workspace. */
export function pluginStorageDir(workspaceDir: string, pluginId = SYNC_PLUGIN_ID): string {
  return path.join(path.resolve(workspaceDir), '.diaryx', 'plugin-storage', pluginId);
}

export interface WorkspaceHostOptions
  extends Omit<HostFunctionOptions, 'workspaceDir' | 'storageDir' | 'ws' | 'onEvent' | 'onLog' | 'onFileWritten' | 'onFileDeleted'> {
  /** The workspace folder. */
  dir: string;
  /** Plugin module (default dist/diaryx_sync.wasm). */
  wasm?: string | Uint8Array;
  /** Plugin id that names the storage folder (default diaryx.sync). */
  pluginId?: string;
  /** Keep storage in memory instead of under the folder. */
  memoryStorage?: boolean;
  /** Receives host_emit_event payloads (they are also collected in `events`). */
  onEvent?: (event: unknown) => void;
  /** Keep every emitted event in `events` (default true; long-running jobs turn it off). */
  keepEvents?: boolean;
  /** Receives host_log messages (also collected in `logs`). */
  onLog?: (level: HostLogLevel, message: string) => void;
  /** Record every host function call in `calls`. */
  recordCalls?: boolean;
  /** Own the WebSocket for the plugin (host_ws_request); off = requests are refused. */
  ws?: boolean | WsBridgeOptions;
  /** Report real file changes to the plugin as on_event events. */
  watch?: boolean | Omit<FolderWatcherOptions, 'dir' | 'onEvent'>;
  /** Takes each folder event instead of the plugin: `deliver` hands an event (this one, or another) to the plugin. */
  onFolderEvent?: (event: FolderEvent, deliver: (event: FolderEvent) => Promise<void>) => Promise<void>;
  /** Called after the plugin wrote a workspace file. */
  onFileWritten?: (path: string, data: Uint8Array) => void;
  /** Called after the plugin deleted a workspace file. */
  onFileDeleted?: (path: string) => void;
  /** Passed to the PluginHost. */
  plugin?: Omit<PluginHostOptions, 'wasm' | 'functions'>;
}

export interface WorkspaceHost {
  dir: string;
  storageDir: string | null;
  functions: HostFunctionTable;
  plugin: PluginHost;
  bridge: WsBridge | null;
  watcher: FolderWatcher | null;
  events: unknown[];
  logs: { level: HostLogLevel; message: string }[];
  calls: HostCallRecord[];
  /** Shuts the plugin down, then stops the watcher and the socket. */
  close(): Promise<void>;
}

/** Creates the table, the storage folder and the plugin instance for a folder. */
export async function openWorkspaceHost(options: WorkspaceHostOptions): Promise<WorkspaceHost> {
  const dir = path.resolve(options.dir);
  const storageDir = options.memoryStorage ? null : pluginStorageDir(dir, options.pluginId);
  const events: unknown[] = [];
  const logs: { level: HostLogLevel; message: string }[] = [];
  const calls: HostCallRecord[] = [];
  const bridge = options.ws ? new WsBridge(options.ws === true ? {} : options.ws) : null;
  let watcher: FolderWatcher | null = null;
  const {
    dir: _dir,
    wasm,
    pluginId: _pluginId,
    memoryStorage: _memory,
    onEvent,
    keepEvents,
    onLog,
    recordCalls,
    ws: _ws,
    watch,
    plugin: pluginOptions,
    onFolderEvent,
    onFileWritten,
    onFileDeleted,
    ...hostOptions
  } = options;
  const functions = createHostFunctions({
    ...hostOptions,
    workspaceDir: dir,
    storageDir: storageDir ?? undefined,
    callLog: recordCalls ? calls : hostOptions.callLog,
    onEvent: (event) => {
      if (keepEvents !== false) events.push(event);
      onEvent?.(event);
    },
    onLog: (level, message) => {
      logs.push({ level, message });
      onLog?.(level, message);
    },
    ws: bridge ? bridge.handle : undefined,
    onFileWritten: (p, data) => {
      watcher?.noteOwnWrite(p, data);
      onFileWritten?.(p, data);
    },
    onFileDeleted: (p) => {
      watcher?.noteOwnDelete(p);
      onFileDeleted?.(p);
    },
  });
  const plugin = await PluginHost.load({ ...pluginOptions, wasm: wasm ?? DEFAULT_WASM, functions });
  bridge?.attach(plugin);
  if (watch) {
    watcher = new FolderWatcher({
      ...(watch === true ? {} : watch),
      dir,
      onEvent: (e) => {
        const deliver = async (event: FolderEvent) => {
          await plugin.event(event.type, event.payload);
        };
        return onFolderEvent ? onFolderEvent(e, deliver) : deliver(e);
      },
    });
    await watcher.start();
  }
  return {
    dir,
    storageDir,
    functions,
    plugin,
    bridge,
    get watcher() {
      return watcher;
    },
    events,
    logs,
    calls,
    close: async () => {
      await watcher?.close();
      await plugin.close();
      await bridge?.close();
    },
  };
}
