/**
 * The plugin's TypeScript run directly in Node's V8, behind the same call
 * surface as an Extism plugin (`call(name, input)`). Benchmarks use it to
 * compare the QuickJS/wasm build with the same code in V8; simulations use it
 * for extra devices. Each instance has its own plugin state (api.ts
 * `PluginInstance`); host functions are called directly with the same JSON
 * strings the wasm build sends.
 */
import * as api from '../../plugin/src/api';
import { buildManifest } from '../../plugin/src/manifest';
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
    return api.withInstance(this.instance, () => this.dispatch(name, input));
  }

  private dispatch(name: string, input: string | Uint8Array): string | Uint8Array {
    const a = api;
    a.beginCall();
    const text = () => asText(input);
    switch (name) {
      case 'manifest': return JSON.stringify(buildManifest());
      case 'init': a.init(text()); return '';
      case 'shutdown': a.shutdown(); return '';
      case 'handle_command': return a.handleCommand(text());
      case 'execute_typed_command': return a.executeTypedCommand(text());
      case 'get_component_html': return a.getComponentHtml(text());
      case 'on_event': a.onEvent(text()); return '';
      case 'get_config': return a.getConfig();
      case 'set_config': a.setConfig(text()); return '';
      case 'handle_binary_message': return a.handleBinaryMessage(asBytes(input));
      case 'handle_text_message': return a.handleTextMessage(text());
      case 'on_connected': return a.onConnected(text());
      case 'on_disconnected': return a.onDisconnected();
      case 'queue_local_update': return a.queueLocalUpdate(text());
      case 'on_snapshot_imported': return a.onSnapshotImported();
      case 'sync_body_files': return a.syncBodyFiles(text());
      default: throw new Error(`function ${name} does not exist`);
    }
  }

  /** Same contract as the Extism plugin's `call`: output, or a thrown error with the message. */
  async call(name: string, input: string | Uint8Array = ''): Promise<NativeOutput | null> {
    const out = this.run(name, input);
    const bytes = typeof out === 'string' ? utf8.encode(out) : out;
    return { bytes: () => bytes, text: () => new TextDecoder().decode(bytes) };
  }

  async functionExists(name: string): Promise<boolean> {
    try {
      this.run(name === 'manifest' ? name : '__probe__', '');
      return true;
    } catch {
      return name === 'manifest';
    }
  }

  async reset(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}
