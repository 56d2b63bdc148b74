/**
 * Whether a sync server accepts a token for a workspace, asked over its HTTP
 * API before (and just after) syncing starts. The sync WebSocket itself says
 * nothing when access is refused (the server drops the frames of a doc it
 * refuses), so without this a wrong token looks like a quiet connection.
 *
 * - `GET /api/workspaces` answers 401 for a token the server does not know.
 * - The list it returns holds the workspaces the token's user owns. A
 *   workspace id missing from it is either new (the first user who connects
 *   becomes its owner) or another user's; after the first connection the
 *   list is asked again to tell the two apart.
 */
import { httpBase } from '../../common/src/host/server-url';

export type AccessCheck =
  | { kind: 'owned' }
  /** Not (yet) the user's: new, or another user's. */
  | { kind: 'not-owned' }
  | { kind: 'refused'; status: number }
  | { kind: 'unreachable'; reason: string }
  | { kind: 'not-a-server'; detail: string };

function networkReason(e: unknown): string {
  const cause = (e as { cause?: NodeJS.ErrnoException & { hostname?: string } }).cause;
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `unknown host${cause.hostname ? ` ${cause.hostname}` : ''}`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connection timed out';
  }
  if ((e as Error).name === 'TimeoutError') return 'no answer within 10 s';
  return cause?.message ?? (e as Error).message ?? String(e);
}

/** Asks the server whether `token` is valid and owns `workspaceId`. */
export async function checkAccess(serverUrl: string, token: string, workspaceId: string): Promise<AccessCheck> {
  let res: Response;
  try {
    res = await fetch(`${httpBase(serverUrl)}/api/workspaces`, {
      headers: { Authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    return { kind: 'unreachable', reason: networkReason(e) };
  }
  if (res.status === 401 || res.status === 403) return { kind: 'refused', status: res.status };
  if (!res.ok) return { kind: 'not-a-server', detail: `GET /api/workspaces answered HTTP ${res.status}` };
  let list: unknown;
  try {
    list = await res.json();
  } catch {
    return { kind: 'not-a-server', detail: 'GET /api/workspaces did not answer JSON' };
  }
  if (!Array.isArray(list)) return { kind: 'not-a-server', detail: 'GET /api/workspaces did not answer a list' };
  return list.some((w) => (w as { id?: unknown } | null)?.id === workspaceId) ? { kind: 'owned' } : { kind: 'not-owned' };
}

/** Checks a server URL a person typed; returns the problem in words, or null. */
export function serverUrlProblem(url: string): string | null {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    return `--server ${url} has no scheme: write http://${url} (or https://${url} for a server with TLS)`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `--server ${url} is not a valid URL`;
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol)) {
    return `--server ${url}: unsupported scheme ${parsed.protocol} (use http:// or https://)`;
  }
  return null;
}
