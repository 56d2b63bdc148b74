/**
 * The `extism` (1.0.3) and `extism-rc` (2.0.0-rc13) engines: the plugin on the
 * Extism JS SDK, as this host and the Diaryx web app load it. Host functions
 * get the input block's text and answer a new block; an empty answer is
 * offset 0, which the plugin reads as empty.
 */
import createPlugin from '@extism/extism';
import createPluginRc from 'extism-rc';
import { EngineCallError, HostTrap, type EngineInstance, type EngineName, type EngineOptions } from './engine';

/** What host functions use of either SDK's CallContext. */
interface HostCallContext {
  read(addr: bigint): { text(): string } | null;
  store(value: string): bigint;
}
type HostFn = (cc: HostCallContext, addr: bigint) => bigint;
type SdkOptions = Parameters<typeof createPlugin>[1] & Parameters<typeof createPluginRc>[1];

/** Both SDK versions share this much of the plugin surface. */
interface SdkPlugin {
  call(name: string, input?: string | Uint8Array): Promise<{ bytes(): Uint8Array } | null>;
  reset(): Promise<boolean>;
  functionExists(name: string): Promise<boolean>;
  getInstance(): Promise<WebAssembly.Instance>;
  close(): Promise<void>;
}

class SdkEngine implements EngineInstance {
  constructor(
    readonly engine: EngineName,
    private readonly plugin: SdkPlugin,
    private readonly instance: WebAssembly.Instance,
  ) {}

  async call(name: string, input: Uint8Array): Promise<Uint8Array> {
    let out: { bytes(): Uint8Array } | null;
    try {
      out = await this.plugin.call(name, input);
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      const own = /^Plugin-originated error: /.test(msg);
      throw new EngineCallError(msg.replace(/^Plugin-originated error: /, ''), !own);
    }
    return out === null ? new Uint8Array(0) : new Uint8Array(out.bytes());
  }

  async reset(): Promise<void> {
    await this.plugin.reset();
  }

  functionExists(name: string): boolean {
    return typeof this.instance.exports[name] === 'function';
  }

  memoryBytes(): number {
    const memory = this.instance.exports.memory;
    return memory instanceof WebAssembly.Memory ? memory.buffer.byteLength : 0;
  }

  close(): Promise<void> {
    return this.plugin.close();
  }
}

export async function createSdkEngine(engine: 'extism' | 'extism-rc', options: EngineOptions): Promise<EngineInstance> {
  const bound: Record<string, HostFn> = {};
  for (const name of options.hostFunctionNames) {
    bound[name] = (cc, addr) => {
      const input = addr === 0n ? '' : (cc.read(addr)?.text() ?? '');
      let output: string;
      try {
        output = options.hostCall(name, input);
      } catch (e) {
        if (options.hostFailures === 'trap' || e instanceof HostTrap) throw e;
        output = JSON.stringify({ error: `${name}: ${(e as Error).message}` });
      }
      // Offset 0 is Extism's empty value.
      return output === '' ? 0n : cc.store(output);
    };
  }
  const functions: Record<string, Record<string, (cc: HostCallContext, ...args: never[]) => unknown>> = { 'extism:host/user': bound };
  let memory: WebAssembly.Memory | null = null;
  const randomBytes = options.randomBytes;
  if (randomBytes) {
    if (engine === 'extism-rc') throw new Error('randomBytes is not supported on the extism-rc engine');
    functions.wasi_snapshot_preview1 = {
      // WASI errno: 0 success, 52 ENOSYS (only before the instance exists, where nothing asks for randomness).
      random_get: (_cc: HostCallContext, ptr: number, len: number): number => {
        if (!memory) return 52;
        randomBytes(new Uint8Array(memory.buffer, ptr, len));
        return 0;
      },
    };
  }
  const sink = (level: 'trace' | 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]) => options.log(level, args.map(String).join(' '));
  const logger = { trace: sink('trace'), debug: sink('debug'), info: sink('info'), warn: sink('warn'), error: sink('error'), log: sink('info') };
  const common = {
    useWasi: true,
    enableWasiOutput: options.wasiOutput,
    logger: logger as unknown as Console,
    config: options.config ?? {},
    functions,
  } as unknown as SdkOptions;
  const manifest = { wasm: [{ module: options.module }] };
  const plugin: SdkPlugin =
    engine === 'extism'
      ? ((await createPlugin(manifest, common)) as unknown as SdkPlugin)
      : ((await createPluginRc(manifest, { ...common, logLevel: 'trace', runInWorker: false })) as unknown as SdkPlugin);
  const instance = await plugin.getInstance();
  memory = instance.exports.memory as WebAssembly.Memory;
  return new SdkEngine(engine, plugin, instance);
}

