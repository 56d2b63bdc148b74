/**
 * JSON shapes exchanged through the Diaryx host functions that carry
 * structured requests (host_http_request, host_ws_request). The plugin's
 * HostBridge sends them and the hosts (Node harness, browser page) read them.
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
