/**
 * The one table of the plugin's exports: for each wasm export, what its input
 * is, what it returns and which plugin API call it runs. index.ts turns each
 * entry into a wasm export (the build reads the export names from there), the
 * Node host's V8 engine calls the same entries, and the hosts' and tests'
 * lists of exports are taken from here.
 */
import * as api from './api';
import { buildManifest } from './manifest';

/**
 * The manifest never changes: serialised when this module is evaluated (in the
 * .wasm, while the module is pre-initialised), so a host's first call (usually
 * `manifest`) runs as little code as possible.
 */
const MANIFEST_JSON = JSON.stringify(buildManifest());

/** An export: `text` returns a string (JSON or ""), `envelope` the binary action envelope. */
export type ExportSpec =
  | { input: 'none'; output: 'text'; run: () => string }
  | { input: 'none'; output: 'envelope'; run: () => Uint8Array }
  | { input: 'text'; output: 'text'; run: (input: string) => string }
  | { input: 'text'; output: 'envelope'; run: (input: string) => Uint8Array }
  | { input: 'bytes'; output: 'envelope'; run: (input: Uint8Array) => Uint8Array };

const empty = (fn: (input: string) => void) => (input: string) => {
  fn(input);
  return '';
};

export const EXPORTS = {
  manifest: { input: 'none', output: 'text', run: () => MANIFEST_JSON },
  init: { input: 'text', output: 'text', run: empty(api.init) },
  shutdown: { input: 'none', output: 'text', run: () => (api.shutdown(), '') },
  handle_command: { input: 'text', output: 'text', run: api.handleCommand },
  execute_typed_command: { input: 'text', output: 'text', run: api.executeTypedCommand },
  get_component_html: { input: 'text', output: 'text', run: api.getComponentHtml },
  on_event: { input: 'text', output: 'text', run: empty(api.onEvent) },
  get_config: { input: 'none', output: 'text', run: api.getConfig },
  set_config: { input: 'text', output: 'text', run: empty(api.setConfig) },
  handle_binary_message: { input: 'bytes', output: 'envelope', run: api.handleBinaryMessage },
  handle_text_message: { input: 'text', output: 'envelope', run: api.handleTextMessage },
  on_connected: { input: 'text', output: 'envelope', run: api.onConnected },
  on_disconnected: { input: 'none', output: 'envelope', run: api.onDisconnected },
  queue_local_update: { input: 'text', output: 'envelope', run: api.queueLocalUpdate },
  on_snapshot_imported: { input: 'none', output: 'envelope', run: api.onSnapshotImported },
  sync_body_files: { input: 'text', output: 'envelope', run: api.syncBodyFiles },
} as const satisfies Record<string, ExportSpec>;

export type ExportName = keyof typeof EXPORTS;

/** Every export name, in the table's order. */
export const EXPORT_NAMES = Object.keys(EXPORTS) as ExportName[];

/** The exports that return an action envelope. */
export const ENVELOPE_EXPORT_NAMES: readonly ExportName[] = EXPORT_NAMES.filter((name) => EXPORTS[name].output === 'envelope');

/** True when `name` is an export (not an inherited property name). */
export function isExportName(name: string): name is ExportName {
  return Object.prototype.hasOwnProperty.call(EXPORTS, name);
}

/**
 * Runs an export on an input the host handed over, as text or bytes (the
 * caller has marked the start of the call with api.beginCall).
 */
export function runExport(name: ExportName, input: () => string, inputBytes: () => Uint8Array): string | Uint8Array {
  const spec: ExportSpec = EXPORTS[name];
  switch (spec.input) {
    case 'none':
      return spec.run();
    case 'text':
      return spec.run(input());
    case 'bytes':
      return spec.run(inputBytes());
  }
}
