/// <reference types="@extism/js-pdk" />
/// <reference path="./abi.d.ts" />
/**
 * The plugin's exports: this module's named exports are exactly the wasm
 * exports (the build generates one `() -> i32` export per name). Each is a
 * thin adapter: read the Extism input, call the plugin API, write the output.
 * JSON exports return "" on success unless they return data; binary exports
 * return the action envelope.
 */
import { buildManifest } from './manifest';
import * as api from './api';
import { extismHostCall } from './host/extism-call';

api.useHost(extismHostCall);

function outputBytes(bytes: Uint8Array): number {
  Host.outputBytes(bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer);
  return 0;
}

/**
 * The manifest never changes: serialised while the module is pre-initialised,
 * so a host's first call (usually this one) runs as little code as possible
 * (every wasm function a call reaches is compiled on that first use).
 */
const MANIFEST_JSON = JSON.stringify(buildManifest());

export function manifest(): number {
  api.beginCall();
  Host.outputString(MANIFEST_JSON);
  return 0;
}

export function init(): number {
  api.beginCall();
  api.init(Host.inputString());
  Host.outputString('');
  return 0;
}

export function shutdown(): number {
  api.beginCall();
  api.shutdown();
  Host.outputString('');
  return 0;
}

export function handle_command(): number {
  api.beginCall();
  Host.outputString(api.handleCommand(Host.inputString()));
  return 0;
}

export function execute_typed_command(): number {
  api.beginCall();
  Host.outputString(api.executeTypedCommand(Host.inputString()));
  return 0;
}

export function get_component_html(): number {
  api.beginCall();
  Host.outputString(api.getComponentHtml(Host.inputString()));
  return 0;
}

export function on_event(): number {
  api.beginCall();
  api.onEvent(Host.inputString());
  Host.outputString('');
  return 0;
}

export function get_config(): number {
  api.beginCall();
  Host.outputString(api.getConfig());
  return 0;
}

export function set_config(): number {
  api.beginCall();
  api.setConfig(Host.inputString());
  Host.outputString('');
  return 0;
}

export function handle_binary_message(): number {
  api.beginCall();
  return outputBytes(api.handleBinaryMessage(new Uint8Array(Host.inputBytes())));
}

export function handle_text_message(): number {
  api.beginCall();
  return outputBytes(api.handleTextMessage(Host.inputString()));
}

export function on_connected(): number {
  api.beginCall();
  return outputBytes(api.onConnected(Host.inputString()));
}

export function on_disconnected(): number {
  api.beginCall();
  return outputBytes(api.onDisconnected());
}

export function queue_local_update(): number {
  api.beginCall();
  return outputBytes(api.queueLocalUpdate(Host.inputString()));
}

export function on_snapshot_imported(): number {
  api.beginCall();
  return outputBytes(api.onSnapshotImported());
}

export function sync_body_files(): number {
  api.beginCall();
  return outputBytes(api.syncBodyFiles(Host.inputString()));
}
