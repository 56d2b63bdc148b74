/**
 * JSON shapes exchanged through the host functions, as the harness sees
 * them (the plugin's side of the same contract is plugin/src/host/bridge.ts).
 */

export type { HttpRequest, HttpResponse, WsRequest, WsResponse } from '../../common/src/host-json';

/** Levels host_log accepts; anything else is logged as `trace`. */
export type HostLogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** One host function call: what the plugin sent and what the host answered. */
export interface HostCallRecord {
  name: string;
  input: string;
  output: string;
}

/** handle_command output. */
export interface CommandResponse {
  success: boolean;
  data?: unknown;
  error?: string | null;
  error_code?: string;
}

/** Every host function name a Diaryx host provides (host-functions.md). */
export const ALL_HOST_FUNCTIONS = [
  'host_log',
  'host_read_file',
  'host_read_binary',
  'host_list_files',
  'host_list_dir',
  'host_workspace_file_set',
  'host_file_exists',
  'host_file_metadata',
  'host_write_file',
  'host_delete_file',
  'host_write_binary',
  'host_emit_event',
  'host_storage_get',
  'host_storage_set',
  'host_secret_get',
  'host_secret_set',
  'host_secret_delete',
  'host_get_timestamp',
  'host_get_now',
  'host_http_request',
  'host_run_wasi_module',
  'host_request_file',
  'host_plugin_command',
  'host_get_runtime_context',
  'host_namespace_put_object',
  'host_namespace_delete_object',
  'host_namespace_get_object',
  'host_namespace_get_objects_batch',
  'host_namespace_get_objects_batches_concurrent',
  'host_is_cancelled',
  'host_namespace_list_objects',
  'host_namespace_list',
  'host_namespace_create',
  'host_namespace_sync_audience',
  'host_namespace_list_audiences',
  'host_namespace_delete_audience',
  'host_namespace_build',
  'host_ws_request',
  'host_hash_file',
  'host_proxy_request',
] as const;
