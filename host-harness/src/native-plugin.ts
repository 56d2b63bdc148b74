/**
 * The plugin's TypeScript run directly in Node's V8, behind the same call
 * surface as an Extism plugin (`call(name, input)`). Benchmarks use it to
 * compare the QuickJS/wasm build with the same code in V8; simulations use it
 * for extra devices. Each instance imports plugin/src/api.ts afresh (its
 * module-level state is per instance); host functions are called directly
 * with the same JSON strings the wasm build sends.
 */
import { buildManifest } from '../../plugin/src/manifest';
import type { RawHostCall } from '../../plugin/src/host/bridge';

type Api = typeof import('../../plugin/src/api');

export interface NativeOutput {
  bytes(): Uint8Array;
  text(): string;
}

let instances = 0;

const utf8 = new TextEncoder();
const asText = (input: string | Uint8Array) => (typeof input === 'string' ? input : new TextDecoder().decode(input));
const asBytes = (input: string | Uint8Array) => (typeof input === 'string' ? utf8.encode(input) : input);

export class NativePlugin {
  private constructor(private readonly api: Api) {}

  static async create(call: RawHostCall): Promise<NativePlugin> {
    const api = (await import(`../../plugin/src/api.ts?instance=${++instances}`)) as Api;
    api.useHost(call);
    return new NativePlugin(api);
  }

  private run(name: string, input: string | Uint8Array): string | Uint8Array {
    const a = this.api;
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

  async close(): Promise<void> {}
}
