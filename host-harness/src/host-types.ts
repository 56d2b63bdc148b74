/**
 * JSON shapes exchanged through the host functions, as the harness sees
 * them (the plugin's side of the same contract is plugin/src/host/bridge.ts).
 */

/** host_http_request input. */
export interface HttpRequest {
  url: string;
  method: string;
  headers?: Record<string, string>;
  body?: string;
  body_base64?: string;
  timeout_ms?: number;
}

/** host_http_request output; `status` 0 with `error` is a transport failure. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  body_base64?: string;
  error?: string;
}

/** host_ws_request input (tag `type`). */
export type WsRequest =
  | {
      type: 'connect';
      server_url: string;
      workspace_id: string;
      auth_token?: string | null;
      session_code?: string | null;
      write_to_disk?: boolean;
    }
  | { type: 'send_binary'; data: string }
  | { type: 'send_text'; text: string }
  | { type: 'disconnect' };

/** host_ws_request output. */
export interface WsResponse {
  ok: boolean;
  error?: string;
}

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
