/**
 * The one table of host function names: every function of the Diaryx host
 * ABI (imported by plugins from `extism:host/user`, each `(i64) -> i64`,
 * JSON text in and out), and whether this plugin calls it. The plugin's
 * host bridge, the Node host's and the browser host's function tables are
 * typed over these names; plugin/src/abi.d.ts (what the build turns into wasm
 * imports) is checked against the plugin's subset by test/structure.
 */

export const HOST_FUNCTIONS = {
  host_log: { plugin: true },
  host_read_file: { plugin: true },
  host_read_binary: { plugin: true },
  host_list_files: { plugin: true },
  host_list_dir: { plugin: false },
  host_workspace_file_set: { plugin: false },
  host_file_exists: { plugin: true },
  host_file_metadata: { plugin: false },
  host_write_file: { plugin: true },
  host_delete_file: { plugin: true },
  host_write_binary: { plugin: true },
  host_emit_event: { plugin: true },
  host_storage_get: { plugin: true },
  host_storage_set: { plugin: true },
  host_secret_get: { plugin: false },
  host_secret_set: { plugin: false },
  host_secret_delete: { plugin: false },
  host_get_timestamp: { plugin: true },
  host_get_now: { plugin: false },
  host_http_request: { plugin: true },
  host_run_wasi_module: { plugin: false },
  host_request_file: { plugin: false },
  host_plugin_command: { plugin: false },
  host_get_runtime_context: { plugin: true },
  host_namespace_put_object: { plugin: false },
  host_namespace_delete_object: { plugin: false },
  host_namespace_get_object: { plugin: false },
  host_namespace_get_objects_batch: { plugin: false },
  host_namespace_get_objects_batches_concurrent: { plugin: false },
  host_is_cancelled: { plugin: false },
  host_namespace_list_objects: { plugin: false },
  host_namespace_list: { plugin: false },
  host_namespace_create: { plugin: false },
  host_namespace_sync_audience: { plugin: false },
  host_namespace_list_audiences: { plugin: false },
  host_namespace_delete_audience: { plugin: false },
  host_namespace_build: { plugin: false },
  host_ws_request: { plugin: true },
  host_hash_file: { plugin: false },
  host_proxy_request: { plugin: false },
} as const satisfies Record<string, { plugin: boolean }>;

export type HostFunctionName = keyof typeof HOST_FUNCTIONS;

/** The host functions this plugin calls. */
export type PluginHostFunctionName = { [K in HostFunctionName]: (typeof HOST_FUNCTIONS)[K]['plugin'] extends true ? K : never }[HostFunctionName];

/** Every host function name, in the ABI's order. */
export const ALL_HOST_FUNCTIONS = Object.keys(HOST_FUNCTIONS) as HostFunctionName[];

/** The host functions this plugin calls, in the ABI's order. */
export const PLUGIN_HOST_FUNCTIONS = ALL_HOST_FUNCTIONS.filter((name) => HOST_FUNCTIONS[name].plugin) as PluginHostFunctionName[];
