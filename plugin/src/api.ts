/**
 * What each export does, on decoded inputs. index.ts adapts these to the
 * Extism ABI; tests in Node call them with a HostBridge over the harness's
 * host functions.
 *
 * The plugin holds one runtime between `init` and `shutdown`. Errors that the
 * Rust plugin returns as Extism errors (malformed JSON where a shape is
 * required) are thrown; command failures become `{"success":false,...}`.
 */
import { decodeBase64 } from '../../common/src/base64';
import { encodeEnvelope, type SessionAction } from '../../common/src/wire/envelope';
import { applyConfigPatch, configJson, loadConfig, saveConfig } from './config';
import { CommandError } from './commands/params';
import { componentOrThrow, runCommand } from './commands';
import { applyStoredRetention } from './commands/retention';
import { startDeviceRegistry } from './devices';
import { HostBridge, type RawHostCall } from './host/bridge';
import { LocalEvents, parseGuestEvent } from './local-events';
import { SyncRuntime } from './runtime';
import { SessionState } from './sync/session';
import { PluginState } from './state';

/** One plugin instance's state: the wasm build has one; Node hosts may run several. */
export interface PluginInstance {
  host: HostBridge | null;
  runtime: SyncRuntime | null;
  rawCall: RawHostCall | null;
  /** The last init's input (to rebuild the state after an aborted call). */
  initInput: string | null;
}

export function newInstance(): PluginInstance {
  return { host: null, runtime: null, rawCall: null, initInput: null };
}

let current: PluginInstance = newInstance();

/** Runs `fn` against `instance` (the exports below act on the current instance). */
export function withInstance<T>(instance: PluginInstance, fn: () => T): T {
  const previous = current;
  current = instance;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/** Chooses how host functions are reached (Extism in the plugin, a table in tests). */
export function useHost(call: RawHostCall): void {
  current.rawCall = call;
  current.host = new HostBridge(call);
}

function bridge(): HostBridge {
  if (!current.host) {
    if (!current.rawCall) throw new Error('host functions are not available');
    current.host = new HostBridge(current.rawCall);
  }
  return current.host;
}

/** Calls a trap aborted so far, as the wasm runtime counts them (0 outside it). */
function abortedCalls(): number {
  const ext = (globalThis as { __ext?: { abortedCalls?: () => number } }).__ext;
  return typeof ext?.abortedCalls === 'function' ? ext.abortedCalls() : 0;
}

let abortedSeen = 0;

/** Marks the start of an export call (resets the per-call host call budget). */
export function beginCall(): void {
  if (current.rawCall) bridge().beginExportCall();
  const aborted = abortedCalls();
  if (aborted !== abortedSeen) {
    abortedSeen = aborted;
    reloadAfterAbortedCall();
  }
}

/**
 * A trap (the Rust host traps when a host function fails) aborted the
 * previous call somewhere in the middle of a change: a Yjs transaction never
 * finished, or a remote update was applied but its file not written. The
 * in-memory state is dropped unsaved and rebuilt from storage as init does
 * (storage holds the last consistent state: every save comes after the
 * change it covers); a session that was connected starts its handshake again,
 * so what only the dropped state had received comes back from the server.
 */
function reloadAfterAbortedCall(): void {
  const old = current.runtime;
  if (!old || current.initInput === null) return;
  const session = old.session;
  const reconnect = session !== null && session.state !== SessionState.AwaitingConnect ? { id: session.workspaceId, toDisk: session.writeToDisk } : null;
  current.runtime = null;
  try {
    old.state.destroy();
  } catch {
    // half-changed state is dropped either way
  }
  init(current.initInput);
  bridge().log('warn', 'The previous call was aborted by a trap: state reloaded from storage');
  const fresh = current.runtime as SyncRuntime | null;
  if (reconnect && fresh) {
    fresh.ensureSession(reconnect.id, reconnect.toDisk);
    fresh.run('reload', (s) => s.connected());
  }
}

/** The current current.runtime (tests and benchmarks inspect it). */
export function currentRuntime(): SyncRuntime | null {
  return current.runtime;
}

interface InitParams {
  workspace_root: string | null;
  workspace_id: string | null;
  write_to_disk: boolean | null;
  server_url: string | null;
  auth_token: string | null;
}

/** Both init payload shapes hosts send; invalid JSON counts as all fields absent. */
function parseInitParams(input: string): InitParams {
  const out: InitParams = { workspace_root: null, workspace_id: null, write_to_disk: null, server_url: null, auth_token: null };
  let v: unknown;
  try {
    v = JSON.parse(input);
  } catch {
    return out;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return out;
  const o = v as Record<string, unknown>;
  for (const k of ['workspace_root', 'workspace_id', 'server_url', 'auth_token'] as const) if (typeof o[k] === 'string') out[k] = o[k] as string;
  if (typeof o.write_to_disk === 'boolean') out.write_to_disk = o.write_to_disk;
  return out;
}

export function init(input: string): void {
  current.initInput = input;
  const h = bridge();
  const params = parseInitParams(input);
  const config = loadConfig(h);
  if (params.workspace_id !== null) config.workspace_id = params.workspace_id;
  if (params.server_url !== null) config.server_url = params.server_url;
  if (params.auth_token !== null) config.auth_token = params.auth_token;
  // A refused write (storage full) must not keep the plugin from starting: it is reported below.
  let configError: string | null = null;
  try {
    saveConfig(h, config);
  } catch (e) {
    configError = `saving the sync config failed: ${(e as Error).message}`;
  }
  if (current.runtime) {
    current.runtime.save(true);
    current.runtime.state.destroy();
  }
  const state = new PluginState(h, { workspaceRoot: params.workspace_root, workspaceId: config.workspace_id });
  current.runtime = new SyncRuntime(h, state);
  for (const warning of state.reports.loadWarnings) state.reports.reportError(warning);
  if (configError !== null) state.reports.reportError(configError);
  applyStoredRetention(current.runtime);
  startDeviceRegistry(state);
  if (params.workspace_id !== null) current.runtime.ensureSession(params.workspace_id, params.write_to_disk ?? true);
  else if (config.workspace_id !== null && config.workspace_id.trim() !== '') current.runtime.ensureSession(config.workspace_id, params.write_to_disk ?? true);
  current.runtime.reconcileTransport(params.write_to_disk ?? undefined);
  h.log('info', 'Sync plugin initialized');
}

export function shutdown(): void {
  const h = bridge();
  h.wsRequest({ type: 'disconnect' });
  if (current.runtime) {
    const errors = current.runtime.save(true);
    if (errors.length) h.log('warn', `Shutdown state cleanup failed: ${errors.join('; ')}`);
    current.runtime.state.destroy();
    current.runtime = null;
  }
  h.log('info', 'Sync plugin shut down');
}

interface CommandResponse {
  success: boolean;
  data: unknown;
  error: string | null;
}

function respond(result: () => unknown): CommandResponse {
  try {
    const data = result();
    return { success: true, data: data === undefined ? null : data, error: null };
  } catch (e) {
    if (e instanceof CommandError) return { success: false, data: null, error: e.message };
    const message = e instanceof Error ? e.message : String(e);
    bridge().log('warn', `[sync] command failed: ${message}`);
    return { success: false, data: null, error: message };
  }
}

/** `{"command": str, "params": any}`; both fields are required (missing -> Extism error). */
function parseCommandRequest(input: string, nameField: 'command' | 'type'): { command: string; params: unknown } {
  let v: unknown;
  try {
    v = JSON.parse(input);
  } catch (e) {
    throw new Error(`invalid command request: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('invalid command request: expected a JSON object');
  const o = v as Record<string, unknown>;
  if (typeof o[nameField] !== 'string') throw new Error(`invalid command request: missing field \`${nameField}\``);
  if (!(nameField === 'type' || 'params' in o)) throw new Error('invalid command request: missing field `params`');
  return { command: o[nameField] as string, params: o.params ?? null };
}

/** Runs a command; a command that changed the docs has them stored before it returns. */
function runAndSave(command: string, params: unknown): CommandResponse {
  const start = current.runtime?.startCall() ?? null;
  const response = respond(() => runCommand(bridge(), current.runtime, command, params));
  current.runtime?.finishCall('command', start, []);
  return response;
}

/** The Diaryx host polls and clicks through these; state-changing commands save afterwards. */
export function handleCommand(input: string): string {
  const { command, params } = parseCommandRequest(input, 'command');
  return JSON.stringify(runAndSave(command, params));
}

/**
 * Typed-command path: `{"type": "Name", "params": {...}}`. Every failure,
 * an unknown type included (`Plugin command error: Unknown sync command:
 * X`), is an Extism error, as in the Rust plugin: its `""` fall-through was
 * only for `Unknown command:`, which this plugin never answers.
 */
export function executeTypedCommand(input: string): string {
  const { command, params } = parseCommandRequest(input, 'type');
  const response = runAndSave(command, params);
  if (!response.success) throw new Error(response.error ?? 'command failed');
  return JSON.stringify({ type: 'PluginResult', data: response.data });
}

export function getComponentHtml(input: string): string {
  let id = '';
  try {
    const v = JSON.parse(input) as { component_id?: unknown };
    if (v && typeof v.component_id === 'string') id = v.component_id;
  } catch {
    id = input.trim();
  }
  return componentOrThrow(id);
}

export function onEvent(input: string): void {
  const event = parseGuestEvent(input);
  if (!current.runtime) {
    bridge().log('warn', `[on_event:${event.event_type}] ${'Plugin state not initialized'}`);
    return;
  }
  const rt = current.runtime;
  let actions: SessionAction[] = [];
  try {
    actions = new LocalEvents(rt).handle(event);
  } catch (e) {
    rt.host.log('warn', `[on_event:${event.event_type}] ${(e as Error).message}`);
  }
  rt.finishCall('event', null, actions);
}

export function getConfig(): string {
  return configJson(loadConfig(bridge()));
}

export function setConfig(input: string): void {
  const patch = JSON.parse(input) as unknown;
  const h = bridge();
  saveConfig(h, applyConfigPatch(loadConfig(h), patch));
  current.runtime?.reconcileTransport();
}

// ---- binary exports -------------------------------------------------------

function sessionExport(label: string, input: Parameters<SyncRuntime['run']>[1]): Uint8Array {
  if (!current.runtime) {
    bridge().log('warn', `[${label}] Plugin state not initialized`);
    return encodeEnvelope([]);
  }
  return encodeEnvelope(current.runtime.run(label, input));
}

export function handleBinaryMessage(bytes: Uint8Array): Uint8Array {
  return sessionExport('handle_binary_message', (s) => s.binaryMessage(bytes));
}

export function handleTextMessage(text: string): Uint8Array {
  return sessionExport('handle_text_message', (s) => s.textMessage(text));
}

export function onConnected(input: string): Uint8Array {
  if (current.runtime) {
    const params = parseInitParams(input);
    if (params.workspace_id !== null) current.runtime.ensureSession(params.workspace_id, params.write_to_disk ?? true);
  }
  return sessionExport('on_connected', (s) => s.connected());
}

export function onDisconnected(): Uint8Array {
  const out = sessionExport('on_disconnected', (s) => s.disconnected());
  if (current.runtime) {
    const errors = current.runtime.save(true);
    if (errors.length) current.runtime.host.log('warn', `[on_disconnected] persist_state failed: ${errors.join('; ')}`);
  }
  return out;
}

export function queueLocalUpdate(input: string): Uint8Array {
  const v = JSON.parse(input) as { doc_id?: unknown; data?: unknown };
  const docId = typeof v?.doc_id === 'string' ? v.doc_id : '';
  let data: Uint8Array = new Uint8Array(0);
  if (typeof v?.data === 'string') {
    try {
      data = decodeBase64(v.data);
    } catch {
      data = new Uint8Array(0);
    }
  }
  return sessionExport('queue_local_update', (s) => s.localUpdate(docId, data));
}

export function onSnapshotImported(): Uint8Array {
  return sessionExport('on_snapshot_imported', (s) => s.snapshotImported());
}

export function syncBodyFiles(input: string): Uint8Array {
  let paths: string[] = [];
  try {
    const v = JSON.parse(input) as { file_paths?: unknown };
    if (Array.isArray(v?.file_paths)) paths = v.file_paths.filter((p): p is string => typeof p === 'string');
  } catch {
    bridge().log('warn', '[sync_body_files] invalid JSON input');
  }
  return sessionExport('sync_body_files', (s) => s.syncBodyFiles(paths));
}
