/**
 * The `kernel` engine: the plugin as the Rust Extism SDK runs it (the Diaryx
 * desktop app). The module is instantiated with `WebAssembly` and `node:wasi`
 * and its `extism:host/env` memory imports are the exports of the kernel
 * module (dist/extism-kernel.wasm, built from plugin/runtime/kernel.c), a
 * second instance with its own memory: the plugin's loads and stores are
 * wasm-to-wasm calls. What the Rust host implements itself is done here in
 * JavaScript with its conventions:
 *
 * - a call: reset the kernel, store the input (offset 0 when empty),
 *   input_set, run the export; an Extism error (error_get, non-empty) fails
 *   the call with its text, a non-zero return without one with
 *   "Returned non-zero exit code: N", a trap with the trap's message;
 * - config_get, var_get, var_set and log_* take ownership of the handles they
 *   are given (they free them) and answer new blocks, 0 when empty or absent;
 *   var_set with value 0 removes the variable; vars live in the host (1 MiB);
 * - http_request is refused (no allowed hosts), as a host without that
 *   permission does;
 * - host functions get the text at the input offset (0 = empty; a non-zero
 *   offset that is not a live block traps, as `memory_get_val` fails) and
 *   their answer is stored as a new block (0 when empty); a host function
 *   that throws traps the call unless `hostFailures` is `answer`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type { WASI } from 'node:wasi';
import { EngineCallError, HostTrap, type EngineInstance, type EngineOptions } from './engine';

/** dist/extism-kernel.wasm, built by `node scripts/build.mjs` (scripts/build/kernel.mjs). */
export const KERNEL_WASM = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist', 'extism-kernel.wasm');

/** The Rust host's default limit of the variable store. */
const MAX_VAR_BYTES = 1024 * 1024;

interface KernelExports {
  memory: WebAssembly.Memory;
  alloc(n: bigint): bigint;
  free(p: bigint): void;
  length(p: bigint): bigint;
  input_set(p: bigint, n: bigint): void;
  output_offset(): bigint;
  output_length(): bigint;
  error_get(): bigint;
  reset(): void;
  [name: string]: unknown;
}

let kernelModule: { key: string; module: Promise<WebAssembly.Module> } | null = null;

function compiledKernel(): Promise<WebAssembly.Module> {
  let st: fs.Stats;
  try {
    st = fs.statSync(KERNEL_WASM);
  } catch {
    throw new Error(`${KERNEL_WASM} is missing: run \`node scripts/build.mjs\``);
  }
  const key = `${st.size}:${st.mtimeMs}`;
  if (kernelModule?.key !== key) kernelModule = { key, module: WebAssembly.compile(fs.readFileSync(KERNEL_WASM)) };
  return kernelModule.module;
}

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

class KernelEngine implements EngineInstance {
  readonly engine = 'kernel' as const;
  private plugin!: WebAssembly.Instance;
  private readonly vars = new Map<string, Uint8Array>();
  private varBytes = 0;

  constructor(
    private readonly k: KernelExports,
    private readonly options: EngineOptions,
  ) {}

  /** Bytes of the live block at `off` (a copy); 0 is empty. Throws for a handle that is not live. */
  readBlock(off: bigint, what: string): Uint8Array {
    if (off === 0n) return new Uint8Array(0);
    const len = this.k.length(off);
    if (len === 0n) throw new Error(`invalid handle offset for ${what}: ${off}`);
    return new Uint8Array(this.k.memory.buffer, Number(off), Number(len)).slice();
  }

  readText(off: bigint, what: string): string {
    return strictUtf8.decode(this.readBlock(off, what));
  }

  /** A new block holding `bytes`; 0 when empty. */
  newBlock(bytes: Uint8Array): bigint {
    if (bytes.length === 0) return 0n;
    const off = this.k.alloc(BigInt(bytes.length));
    if (off === 0n) throw new Error(`out of memory: could not allocate ${bytes.length} bytes`);
    new Uint8Array(this.k.memory.buffer, Number(off), bytes.length).set(bytes);
    return off;
  }

  /** `extism:host/env` functions the Rust host implements itself. */
  envFunctions(): Record<string, (...args: bigint[]) => bigint | number | void> {
    const k = this.k;
    const log = (level: 'trace' | 'debug' | 'info' | 'warn' | 'error') => (off: bigint) => {
      const text = this.readText(off, 'log message');
      k.free(off);
      this.options.log(level, text);
    };
    return {
      config_get: (off) => {
        const key = this.readText(off, 'config key');
        k.free(off);
        const value = this.options.config?.[key];
        return value === undefined ? 0n : this.newBlock(encoder.encode(value));
      },
      var_get: (off) => {
        const key = this.readText(off, 'var key');
        k.free(off);
        const value = this.vars.get(key);
        return value === undefined ? 0n : this.newBlock(value);
      },
      var_set: (keyOff, valueOff) => {
        const key = this.readText(keyOff, 'var key');
        const old = this.vars.get(key);
        if (valueOff === 0n) {
          if (old) this.varBytes -= key.length + old.length;
          this.vars.delete(key);
          k.free(keyOff);
          return;
        }
        const value = this.readBlock(valueOff, 'var value');
        const size = this.varBytes - (old ? key.length + old.length : 0) + key.length + value.length;
        if (size > MAX_VAR_BYTES) throw new Error('Variable store is full');
        this.varBytes = size;
        this.vars.set(key, value);
        k.free(valueOff);
        k.free(keyOff);
      },
      log_trace: log('trace'),
      log_debug: log('debug'),
      log_info: log('info'),
      log_warn: log('warn'),
      log_error: log('error'),
      // 0 = trace: every level is wanted (the host filters in `log`).
      get_log_level: () => 0,
      http_request: (reqOff) => {
        const req = this.readText(reqOff, 'http request');
        let url = '?';
        try {
          url = String((JSON.parse(req) as { url?: unknown }).url);
        } catch {
          // reported with the unknown url
        }
        throw new Error(`HTTP request to ${url} is not allowed`);
      },
      http_status_code: () => 0,
      http_headers: () => 0n,
    };
  }

  userFunction(name: string): (off: bigint) => bigint {
    return (off) => {
      const input = this.readText(off, `${name} input`);
      let output: string;
      try {
        output = this.options.hostCall(name, input);
      } catch (e) {
        if (this.options.hostFailures === 'trap' || e instanceof HostTrap) throw e;
        output = JSON.stringify({ error: `${name}: ${(e as Error).message}` });
      }
      return this.newBlock(encoder.encode(output));
    };
  }

  attach(plugin: WebAssembly.Instance): void {
    this.plugin = plugin;
  }

  async call(name: string, input: Uint8Array): Promise<Uint8Array> {
    const fn = this.plugin.exports[name];
    if (typeof fn !== 'function') throw new EngineCallError(`Function not found: ${name}`, false);
    const k = this.k;
    k.reset();
    const inputOff = this.newBlock(input);
    k.input_set(inputOff, BigInt(input.length));
    let rc: unknown;
    try {
      rc = (fn as () => unknown)();
    } catch (e) {
      throw new EngineCallError((e as Error).message ?? String(e), true);
    }
    const err = k.error_get();
    if (err !== 0n && k.length(err) !== 0n) {
      throw new EngineCallError(new TextDecoder().decode(this.readBlock(err, 'error')), false);
    }
    if (typeof rc === 'number' && rc !== 0) throw new EngineCallError(`Returned non-zero exit code: ${rc}`, false);
    const outOff = k.output_offset();
    const outLen = Number(k.output_length());
    if (outOff === 0n || outLen === 0) return new Uint8Array(0);
    return new Uint8Array(k.memory.buffer, Number(outOff), outLen).slice();
  }

  async reset(): Promise<void> {
    this.k.reset();
  }

  functionExists(name: string): boolean {
    return typeof this.plugin.exports[name] === 'function';
  }

  memoryBytes(): number {
    const memory = this.plugin.exports.memory;
    return memory instanceof WebAssembly.Memory ? memory.buffer.byteLength : 0;
  }

  async close(): Promise<void> {
    this.vars.clear();
  }
}

/** Discards the guest's stdout/stderr unless `wasiOutput`. */
let devNull: number | null = null;

/**
 * Node prints "WASI is an experimental feature" when node:wasi is first
 * loaded; the CLI's output should not carry it. node:wasi is loaded here, on
 * first use, with only that warning dropped.
 */
let wasiClass: typeof WASI | null = null;
function newWasi(options: ConstructorParameters<typeof WASI>[0]): WASI {
  if (!wasiClass) {
    const emit = process.emitWarning;
    process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
      const text = typeof warning === 'string' ? warning : warning.message;
      if (/WASI is an experimental feature/.test(text)) return;
      (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
    }) as typeof process.emitWarning;
    try {
      wasiClass = (createRequire(import.meta.url)('node:wasi') as { WASI: typeof WASI }).WASI;
    } finally {
      process.emitWarning = emit;
    }
  }
  return new wasiClass(options);
}

export async function createKernelEngine(options: EngineOptions): Promise<EngineInstance> {
  const kernelInstance = await WebAssembly.instantiate(await compiledKernel(), {});
  const k = kernelInstance.exports as unknown as KernelExports;
  const engine = new KernelEngine(k, options);
  if (!options.wasiOutput && devNull === null) devNull = fs.openSync('/dev/null', 'w');
  const wasi = newWasi({
    version: 'preview1',
    args: [],
    env: {},
    returnOnExit: true,
    ...(options.wasiOutput ? {} : { stdout: devNull!, stderr: devNull! }),
  });
  const wasiImports = (wasi.getImportObject() as { wasi_snapshot_preview1: Record<string, unknown> }).wasi_snapshot_preview1;
  let memory: WebAssembly.Memory | null = null;
  const randomBytes = options.randomBytes;
  const wasiFns: Record<string, unknown> = { ...wasiImports };
  if (randomBytes) {
    wasiFns.random_get = (ptr: number, len: number): number => {
      if (!memory) return 52; // ENOSYS
      randomBytes(new Uint8Array(memory.buffer, ptr, len));
      return 0;
    };
  }
  const env = engine.envFunctions();
  const envImports: Record<string, unknown> = {};
  const userImports: Record<string, unknown> = {};
  const provided = new Set(options.hostFunctionNames);
  for (const imp of WebAssembly.Module.imports(options.module)) {
    if (imp.kind !== 'function') continue;
    if (imp.module === 'extism:host/env') {
      const fn = env[imp.name] ?? k[imp.name];
      if (typeof fn !== 'function') throw new Error(`kernel engine: extism:host/env.${imp.name} is not provided`);
      envImports[imp.name] = fn;
    } else if (imp.module === 'extism:host/user') {
      // A function this host does not bind traps when called, as an unlinked import would fail to link.
      userImports[imp.name] = provided.has(imp.name)
        ? engine.userFunction(imp.name)
        : () => {
            throw new Error(`host function ${imp.name} is not provided by this host`);
          };
    }
  }
  const plugin = await WebAssembly.instantiate(options.module, {
    'extism:host/env': envImports,
    'extism:host/user': userImports,
    wasi_snapshot_preview1: wasiFns,
  } as WebAssembly.Imports);
  memory = plugin.exports.memory as WebAssembly.Memory;
  wasi.initialize(plugin);
  engine.attach(plugin);
  return engine;
}
