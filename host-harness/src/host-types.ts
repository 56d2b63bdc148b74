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

