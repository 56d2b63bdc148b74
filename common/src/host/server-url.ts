/**
 * Server URLs as a person types them, for every host (the Node host, the
 * browser host) and the plugin: `https://sync.example.org`,
 * `http://localhost:3030/`, the socket URL `wss://sync.example.org/sync2`,
 * each with or without trailing slashes. All name the same server.
 */

/**
 * The server's base URL: trimmed, without trailing slashes and without the
 * sync endpoint's path (`/sync2`, `/sync`, repeatedly); the scheme is kept as
 * given (the plugin stores and shows it like this).
 */
export function normalizeServerBase(url: string): string {
  let base = url.trim().replace(/\/+$/, '');
  for (;;) {
    if (base.endsWith('/sync2')) base = base.slice(0, -'/sync2'.length).replace(/\/+$/, '');
    else if (base.endsWith('/sync')) base = base.slice(0, -'/sync'.length).replace(/\/+$/, '');
    else return base;
  }
}

/** The base for the HTTP API: `ws://` and `wss://` become `http://` and `https://`. */
export function httpBase(serverUrl: string): string {
  return normalizeServerBase(serverUrl)
    .replace(/^ws:\/\//i, 'http://')
    .replace(/^wss:\/\//i, 'https://');
}

/** The base for the sync WebSocket: `http://` and `https://` become `ws://` and `wss://`. */
export function socketBase(serverUrl: string): string {
  return normalizeServerBase(serverUrl)
    .replace(/^http:\/\//i, 'ws://')
    .replace(/^https:\/\//i, 'wss://');
}

/** The sync WebSocket URL of a workspace (`<socket base>/sync2?workspace_id=..[&token=..][&session=..]`). */
export function syncSocketUrl(serverUrl: string, workspaceId: string, token?: string | null, session?: string | null): string {
  let url = `${socketBase(serverUrl)}/sync2?workspace_id=${encodeURIComponent(workspaceId)}`;
  if (token) url += `&token=${encodeURIComponent(token)}`;
  if (session) url += `&session=${encodeURIComponent(session)}`;
  return url;
}
