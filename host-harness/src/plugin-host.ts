/**
 * Loads a Diaryx plugin (.wasm) on one of the engines of engines/engine.ts
 * (the Extism JS SDK 1.0.3 or 2.0.0-rc13, or an Extism kernel module) and
 * drives it the way Diaryx hosts do: one call in flight at a time (a promise queue), host
 * functions bound from a HostFunctionTable in `extism:host/user`, and the
 * call-order helpers manifest -> set_config -> init -> commands/events ->
 * shutdown.
 *
 * The WebAssembly.Module is compiled once per process per file (or per byte
 * content) and shared by every instance.
 *
 * Envelope-returning exports are recorded: the actions dispatched through
 * host_ws_request / host_emit_event during the call are kept with the
 * returned envelope (see envelope-check.ts), for `lastEnvelopeCall`, the
 * `onEnvelopeCall` observer and `checkEnvelopes`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NativePlugin } from './native-plugin';
import { decodeBase64 } from '../../common/src/base64';
import { compareEnvelopeWithDispatched, type DispatchedAction, type EnvelopeCheck } from './envelope-check';
import { createEngine } from './engines/create';
import { EngineCallError, engineFromEnv, type EngineInstance, type EngineName, type HostFailureMode } from './engines/engine';
import type { HostFunctionTable } from './host-functions';
import type { CommandResponse } from './host-types';
import { ENVELOPE_EXPORT_NAMES } from '../../plugin/src/exports';

/** Exports that return an action envelope (the plugin's export table). */
export const ENVELOPE_EXPORTS: ReadonlySet<string> = new Set(ENVELOPE_EXPORT_NAMES);

/** A plugin export failed (an Extism error or a trap). */
export class PluginCallError extends Error {
  override name = 'PluginCallError';
  constructor(
    readonly exportName: string,
    readonly detail: string,
    /** true when a trap aborted the call (no Extism error was set). */
    readonly trapped = false,
  ) {
    super(`${exportName} failed: ${detail}`);
  }
}

/** A log line from the Extism runtime (the plugin's own log_* calls). */
export interface RuntimeLog {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

/** One envelope-returning call: what went in, what came back, what the guest dispatched. */
export interface EnvelopeCall {
  exportName: string;
  input: Uint8Array;
  output: Uint8Array;
  dispatched: DispatchedAction[];
}

export interface PluginHostOptions {
  /** Path of the .wasm file, or its bytes (ignored by the `node` engine). */
  wasm: string | Uint8Array;
  /**
   * An engine of engines/engine.ts for the built plugin; `wasm` (default): the
   * one `DIARYX_ENGINE` names, else the default engine; `node`: the plugin's
   * TypeScript in V8.
   */
  engine?: 'wasm' | 'node' | EngineName;
  /**
   * What a host function that throws does: `answer` (default on the JS SDK
   * engines) answers `{"error":...}`, `trap` (default on `kernel`, as the
   * Rust host) aborts the call. A thrown HostTrap always aborts.
   */
  hostFailures?: HostFailureMode;
  /** Extism config (manifest `config`). */
  config?: Record<string, string>;
  /** Host functions, bound into `extism:host/user`. */
  functions: HostFunctionTable;
  /** Receives runtime log lines (also kept in `logs`, the last 1000). */
  onRuntimeLog?: (log: RuntimeLog) => void;
  /** Forward the guest's WASI stdout/stderr (default false: discarded). */
  wasiOutput?: boolean;
  /** Called after every envelope-returning call. */
  onEnvelopeCall?: (call: EnvelopeCall) => void;
  /** Compare each returned envelope with the dispatched actions and record the result in `envelopeChecks`. */
  checkEnvelopes?: boolean;
  /** Reset the instance's Extism memory after each call (default true; Extism vars do not survive it). */
  resetMemory?: boolean;
  /**
   * Fills the guest's random bytes (WASI `random_get`: Yjs client ids, the
   * device id, the Math.random seed) instead of the OS, so that a seeded
   * simulation replays exactly. `wasm` engine only.
   */
  randomBytes?: (bytes: Uint8Array) => void;
}

const moduleCache = new Map<string, Promise<WebAssembly.Module>>();

/** The global WebAssembly object (typed here: the project's lib settings declare only its types). */
const wasmApi = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WebAssembly.Module> } }).WebAssembly;

/** The compiled module for a file or bytes, compiled once per process (per file version). */
export function compiledModule(wasm: string | Uint8Array): Promise<WebAssembly.Module> {
  let key: string;
  let load: () => Uint8Array;
  if (typeof wasm === 'string') {
    const abs = path.resolve(wasm);
    const st = fs.statSync(abs);
    key = `file:${abs}:${st.size}:${st.mtimeMs}`;
    load = () => fs.readFileSync(abs);
  } else {
    key = `bytes:${crypto.createHash('sha256').update(wasm).digest('hex')}`;
    load = () => wasm;
  }
  const cached = moduleCache.get(key);
  if (cached) return cached;
  const compiling = wasmApi.compile(load());
  compiling.catch(() => moduleCache.delete(key));
  moduleCache.set(key, compiling);
  return compiling;
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export class PluginHost {
  readonly logs: RuntimeLog[] = [];
  /** Results of the envelope comparison, when `checkEnvelopes` is on. */
  readonly envelopeChecks: (EnvelopeCheck & { exportName: string })[] = [];
  lastEnvelopeCall: EnvelopeCall | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private recording: DispatchedAction[] | null = null;
  private closed = false;
  private shutDown = false;
  private manifestCache: Record<string, unknown> | null = null;

  private constructor(
    private readonly plugin: EngineInstance | NativePlugin,
    private readonly options: PluginHostOptions,
    /** The engine the plugin runs on. */
    readonly engine: EngineName | 'node',
  ) {}

  /** Instantiates the plugin (the module itself is compiled once per process). */
  static async load(options: PluginHostOptions): Promise<PluginHost> {
    let host: PluginHost | null = null;
    const record = (d: DispatchedAction) => host?.recording?.push(d);
    const dispatch = (name: string, input: string): string => {
      const fn = options.functions[name];
      try {
        return fn ? fn(input) : JSON.stringify({ error: `${name} is not provided by this host` });
      } finally {
        if (host?.recording) PluginHost.recordDispatch(name, input, record);
      }
    };
    if (options.engine === 'node') {
      const native = await NativePlugin.create((name, input) => {
        try {
          return dispatch(name, input);
        } catch (e) {
          return JSON.stringify({ error: `${name}: ${(e as Error).message}` });
        }
      });
      host = new PluginHost(native, options, 'node');
      return host;
    }
    const engine: EngineName = options.engine === undefined || options.engine === 'wasm' ? engineFromEnv() : options.engine;
    const instance = await createEngine(engine, {
      module: await compiledModule(options.wasm),
      hostCall: dispatch,
      hostFunctionNames: Object.keys(options.functions),
      hostFailures: options.hostFailures ?? (engine === 'kernel' ? 'trap' : 'answer'),
      config: options.config,
      log: (level, message) => host?.runtimeLog({ level, message }),
      wasiOutput: options.wasiOutput ?? false,
      randomBytes: options.randomBytes,
    });
    host = new PluginHost(instance, options, engine);
    return host;
  }

  private static recordDispatch(name: string, input: string, push: (d: DispatchedAction) => void): void {
    if (name === 'host_emit_event') {
      let event: unknown = null;
      try {
        event = JSON.parse(input);
      } catch {
        // recorded with event null; the raw text is kept
      }
      push({ kind: 'emit', event, raw: input });
      return;
    }
    if (name !== 'host_ws_request') return;
    const req = parseJsonObject(input);
    if (!req) return;
    if (req.type === 'send_binary' && typeof req.data === 'string') {
      let data: Uint8Array;
      try {
        data = decodeBase64(req.data);
      } catch {
        data = new Uint8Array(0);
      }
      push({ kind: 'send_binary', data });
    } else if (req.type === 'send_text' && typeof req.text === 'string') {
      push({ kind: 'send_text', text: req.text });
    } else {
      push({ kind: 'ws_control', request: req });
    }
  }

  private runtimeLog(log: RuntimeLog): void {
    this.logs.push(log);
    if (this.logs.length > 1000) this.logs.splice(0, this.logs.length - 1000);
    this.options.onRuntimeLog?.(log);
  }

  /** Runs `fn` after every earlier call has finished. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Whether the module exports `name`. */
  async hasExport(name: string): Promise<boolean> {
    return this.plugin.functionExists(name);
  }

  /** Calls an export with raw input; resolves to its output bytes. Queued behind earlier calls. */
  async callRaw(name: string, input: string | Uint8Array = ''): Promise<Uint8Array> {
    return (await this.invoke(name, input)).output;
  }

  /** Calls an export and decodes its output as UTF-8 text. */
  async callText(name: string, input: string | Uint8Array = ''): Promise<string> {
    return new TextDecoder().decode(await this.callRaw(name, input));
  }

  /** Calls an envelope-returning export; resolves to the full record of the call. */
  async callEnvelope(name: string, input: string | Uint8Array = ''): Promise<EnvelopeCall> {
    if (!ENVELOPE_EXPORTS.has(name)) throw new PluginCallError(name, 'not an envelope-returning export');
    const { call } = await this.invoke(name, input);
    if (!call) throw new PluginCallError(name, 'no envelope recorded');
    return call;
  }

  private invoke(name: string, input: string | Uint8Array): Promise<{ output: Uint8Array; call: EnvelopeCall | null }> {
    return this.enqueue(async () => {
      if (this.closed) throw new PluginCallError(name, 'plugin is closed');
      const envelope = ENVELOPE_EXPORTS.has(name);
      const dispatched: DispatchedAction[] = [];
      if (envelope) this.recording = dispatched;
      let output: Uint8Array;
      const inputBytes = typeof input === 'string' ? new TextEncoder().encode(input) : new Uint8Array(input);
      try {
        if (this.plugin instanceof NativePlugin) {
          const out = await this.plugin.call(name, inputBytes);
          output = out === null ? new Uint8Array(0) : new Uint8Array(out.bytes());
        } else {
          output = await this.plugin.call(name, inputBytes);
        }
      } catch (e) {
        if (e instanceof EngineCallError) throw new PluginCallError(name, e.detail, e.trapped);
        const msg = (e as Error).message ?? String(e);
        throw new PluginCallError(name, msg.replace(/^Plugin-originated error: /, ''));
      } finally {
        if (envelope) this.recording = null;
        // The Extism JS SDK keeps every memory block of a plugin until reset(),
        // addressing them as index << 48 in an i64: without a reset an
        // instance breaks after ~32k blocks in total. The sync plugin keeps no
        // state in Extism vars (a reset drops them), so every call starts clean.
        if (this.options.resetMemory !== false) await this.plugin.reset();
      }
      if (!envelope) return { output, call: null };
      const call: EnvelopeCall = { exportName: name, input: inputBytes, output, dispatched };
      this.lastEnvelopeCall = call;
      if (this.options.checkEnvelopes) {
        this.envelopeChecks.push({ exportName: name, ...compareEnvelopeWithDispatched(output, dispatched) });
      }
      this.options.onEnvelopeCall?.(call);
      return { output, call };
    });
  }

  /** The parsed manifest (the export is called once; later calls reuse the result). */
  async manifest(): Promise<Record<string, unknown>> {
    if (this.manifestCache) return this.manifestCache;
    const text = await this.callText('manifest', '');
    const parsed = parseJsonObject(text);
    if (!parsed) throw new PluginCallError('manifest', `not a JSON object: ${text.slice(0, 200)}`);
    this.manifestCache = parsed;
    return parsed;
  }

  /** set_config with a JSON patch. */
  async setConfig(patch: Record<string, unknown>): Promise<string> {
    return this.callText('set_config', JSON.stringify(patch));
  }

  /** init with InitParams (`workspace_root`, `workspace_id`, `write_to_disk`, `server_url`, `auth_token`). */
  async init(params: Record<string, unknown> = {}): Promise<string> {
    return this.callText('init', JSON.stringify(params));
  }

  /**
   * handle_command; resolves to the parsed CommandResponse. A failing call or
   * an unparsable answer becomes `{success:false, error}`, as the browser host does.
   */
  async command(name: string, params: unknown = null): Promise<CommandResponse> {
    let text: string;
    try {
      text = await this.callText('handle_command', JSON.stringify({ command: name, params: params ?? null }));
    } catch (e) {
      return { success: false, error: e instanceof PluginCallError ? e.detail : (e as Error).message };
    }
    const parsed = parseJsonObject(text);
    if (!parsed || typeof parsed.success !== 'boolean') {
      return { success: false, error: `invalid command response: ${text.slice(0, 200)}` };
    }
    return parsed as unknown as CommandResponse;
  }

  /** on_event with `{event_type, payload}`. */
  async event(type: string, payload: Record<string, unknown> = {}): Promise<void> {
    await this.callRaw('on_event', JSON.stringify({ event_type: type, payload }));
  }

  /** shutdown (once); the plugin persists its state and disconnects. */
  /** Size of the plugin's WebAssembly linear memory in bytes (it only grows); null for the V8 engine. */
  async memoryBytes(): Promise<number | null> {
    return this.plugin instanceof NativePlugin ? null : this.plugin.memoryBytes();
  }

  async shutdown(): Promise<void> {
    if (this.shutDown) return;
    this.shutDown = true;
    await this.callRaw('shutdown', '{}');
  }

  /** Shuts the plugin down (unless already done; errors ignored) and releases it. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.shutdown();
    } catch {
      // a failing shutdown must not prevent releasing the instance
    }
    await this.enqueue(async () => {
      this.closed = true;
      await this.plugin.close();
    });
  }

  /** Releases the instance without calling shutdown. */
  async dispose(): Promise<void> {
    this.shutDown = true;
    await this.close();
  }
}
