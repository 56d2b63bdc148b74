/// <reference types="@extism/js-pdk" />
/// <reference path="./abi.d.ts" />
/**
 * The plugin's wasm exports: this module's named exports are exactly the wasm
 * exports (the build generates one `() -> i32` export per name), one per entry
 * of the export table (exports.ts). Each reads the Extism input, runs its
 * entry and writes the output: a string (JSON or "") or the action envelope.
 */
import * as api from './api';
import { runExport, type ExportName } from './exports';
import { extismHostCall } from './host/extism-call';

api.useHost(extismHostCall);

function outputBytes(bytes: Uint8Array): number {
  Host.outputBytes(bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer);
  return 0;
}

function wasmExport(name: ExportName): () => number {
  return () => {
    api.beginCall();
    const out = runExport(name, () => Host.inputString(), () => new Uint8Array(Host.inputBytes()));
    if (typeof out !== 'string') return outputBytes(out);
    Host.outputString(out);
    return 0;
  };
}

export const manifest = wasmExport('manifest');
export const init = wasmExport('init');
export const shutdown = wasmExport('shutdown');
export const handle_command = wasmExport('handle_command');
export const execute_typed_command = wasmExport('execute_typed_command');
export const get_component_html = wasmExport('get_component_html');
export const on_event = wasmExport('on_event');
export const get_config = wasmExport('get_config');
export const set_config = wasmExport('set_config');
export const handle_binary_message = wasmExport('handle_binary_message');
export const handle_text_message = wasmExport('handle_text_message');
export const on_connected = wasmExport('on_connected');
export const on_disconnected = wasmExport('on_disconnected');
export const queue_local_update = wasmExport('queue_local_update');
export const on_snapshot_imported = wasmExport('on_snapshot_imported');
export const sync_body_files = wasmExport('sync_body_files');
