/**
 * The wasm engines the Node host can run the plugin on. Each stands for a
 * family of real Diaryx hosts:
 *
 * - `extism`: `@extism/extism` 1.0.3, the SDK this host has always used.
 * - `extism-rc`: `@extism/extism` 2.0.0-rc13 with `useWasi: true`, the
 *   version the Diaryx web app pins.
 * - `kernel`: the module linked to an Extism kernel wasm module with its own
 *   memory (plugin/runtime/kernel.c), config/var/log and host functions in
 *   JavaScript with the Rust SDK's conventions: what the Diaryx desktop app
 *   (the Rust `extism` crate on wasmtime) does.
 *
 * The engine only moves bytes; PluginHost (plugin-host.ts) queues calls and
 * records what the plugin dispatched.
 */
export const ENGINES = ['extism', 'extism-rc', 'kernel'] as const;
export type EngineName = (typeof ENGINES)[number];

/**
 * The engine the CLI and tests use unless told otherwise: the fastest engine
 * that passes every suite (measured with `npm run bench`, README "Engines").
 */
// Keep vitest.config.ts's copy in step.
export const DEFAULT_ENGINE: EngineName = 'kernel';

export function isEngineName(value: string): value is EngineName {
  return (ENGINES as readonly string[]).includes(value);
}

/** The engine named by `DIARYX_ENGINE`, or the default. An unknown name is an error. */
export function engineFromEnv(env: NodeJS.ProcessEnv = process.env): EngineName {
  const name = env.DIARYX_ENGINE;
  if (name === undefined || name === '') return DEFAULT_ENGINE;
  if (!isEngineName(name)) throw new Error(`DIARYX_ENGINE=${name}: expected one of ${ENGINES.join(', ')}`);
  return name;
}

export type EngineLogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/**
 * How a host function failure reaches the plugin: `answer` turns a thrown
 * error into the in-band answer `{"error": "..."}` (what the JS SDK hosts of
 * this repository do); `trap` aborts the export call (what the Rust host does
 * when a host function returns an error).
 */
export type HostFailureMode = 'answer' | 'trap';

export interface EngineOptions {
  module: WebAssembly.Module;
  /** Calls host function `name`; may throw (see `hostFailures`). */
  hostCall: (name: string, input: string) => string;
  /** Names bound in `extism:host/user`. */
  hostFunctionNames: string[];
  hostFailures: HostFailureMode;
  /** Extism config (manifest `config`). */
  config?: Record<string, string>;
  log: (level: EngineLogLevel, message: string) => void;
  /** Forward the guest's WASI stdout/stderr. */
  wasiOutput: boolean;
  /** Fills WASI `random_get` instead of the OS (not supported by `extism-rc`). */
  randomBytes?: (bytes: Uint8Array) => void;
}

/** An export call failed: the plugin's Extism error text, or the trap's message. */
export class EngineCallError extends Error {
  override name = 'EngineCallError';
  constructor(
    readonly detail: string,
    /** true when the call was aborted by a trap (no Extism error was set). */
    readonly trapped: boolean,
  ) {
    super(detail);
  }
}

/** One plugin instance on one engine. */
export interface EngineInstance {
  readonly engine: EngineName;
  /** Runs an export; resolves to its output, rejects with EngineCallError. */
  call(name: string, input: Uint8Array): Promise<Uint8Array>;
  /** Frees the Extism memory of the finished calls (Extism vars do not survive it on `extism`). */
  reset(): Promise<void>;
  functionExists(name: string): boolean;
  /** Size of the plugin's linear memory in bytes. */
  memoryBytes(): number;
  close(): Promise<void>;
}

/** A host function failure that must abort the call on every engine (used to test trap recovery). */
export class HostTrap extends Error {
  override name = 'HostTrap';
}
