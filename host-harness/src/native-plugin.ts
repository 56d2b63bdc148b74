/**
 * The plugin's TypeScript run directly in Node's V8, behind the same call
 * surface as an Extism plugin (`call(name, input)`). Benchmarks use it to
 * compare the QuickJS/wasm build with the same code in V8; simulations use it
 * for extra devices. Each instance has its own plugin state (api.ts
 * `PluginInstance`); host functions are called directly with the same JSON
 * strings the wasm build sends.
 */
import * as api from '../../plugin/src/api';
import { isExportName, runExport } from '../../plugin/src/exports';
import type { RawHostCall } from '../../plugin/src/host/bridge';

export interface NativeOutput {
  bytes(): Uint8Array;
  text(): string;
}

const utf8 = new TextEncoder();
const asText = (input: string | Uint8Array) => (typeof input === 'string' ? input : new TextDecoder().decode(input));
const asBytes = (input: string | Uint8Array) => (typeof input === 'string' ? utf8.encode(input) : input);

export class NativePlugin {
  private readonly instance = api.newInstance();

  private constructor() {}

  static async create(call: RawHostCall): Promise<NativePlugin> {
    const plugin = new NativePlugin();
    api.withInstance(plugin.instance, () => api.useHost(call));
    return plugin;
  }

  private run(name: string, input: string | Uint8Array): string | Uint8Array {
    if (!isExportName(name)) throw new Error(`function ${name} does not exist`);
    return api.withInstance(this.instance, () => {
      api.beginCall();
      return runExport(name, () => asText(input), () => asBytes(input));
    });
  }

  /** Same contract as the Extism plugin's `call`: output, or a thrown error with the message. */
  async call(name: string, input: string | Uint8Array = ''): Promise<NativeOutput | null> {
    const out = this.run(name, input);
    const bytes = typeof out === 'string' ? utf8.encode(out) : out;
    return { bytes: () => bytes, text: () => new TextDecoder().decode(bytes) };
  }

  async functionExists(name: string): Promise<boolean> {
    return isExportName(name);
  }

  async reset(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}
