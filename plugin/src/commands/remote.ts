/**
 * Commands that talk to the sync server over `host_http_request`: provider
 * status, remote workspaces, snapshot upload/download, live-share sessions and
 * the namespace object API. URLs, JSON and error strings follow the Rust plugin.
 */
import { decodeBase64, encodeBase64, Base64Error } from '../../../common/src/base64';
import type { HostBridge, HttpResponse } from '../host/bridge';
import { loadConfig, resolveAuthToken, resolveServerUrl, saveConfig, type SyncConfig } from '../config';
import { workspaceDir } from '../disk';
import { readSnapshotZip, SnapshotZipError, zipWorkspaceFiles } from '../snapshot-zip';
import { EventSink } from '../events';
import { refuseEncryptedRemote } from '../e2ee/workspace-keys';
import { TransferProgress, type TransferKind, type TransferStatus } from '../transfer-progress';
import { CommandError, type Params, optionalBool, optionalString } from './params';

/** What the remote commands need from the rest of the plugin. */
export interface RemoteDeps {
  host: HostBridge;
  /** Where the transfer progress events go. */
  events: EventSink;
  /** Workspace folder used for snapshots when the command gives none. */
  workspaceRoot(): string;
  /** Connects or disconnects the host WebSocket to match the config. */
  reconcileTransport(writeToDisk?: boolean): void;
  /** Creates the sync session for a workspace (live share / link). */
  ensureSession(workspaceId: string, writeToDisk: boolean): void;
  /**
   * Writes one imported file (text or binary) into the workspace folder, or
   * into `folder` (a host path) when the command named one.
   */
  writeImportedFile(path: string, data: Uint8Array, folder: string | null): void;
  /** Called once a downloaded snapshot is read, before its files are written. */
  beforeImport?: () => void;
  /**
   * A link by upload is about to send these files (workspace-relative
   * paths): the server will build its docs of them from the snapshot. Throws
   * to stop the link before anything is sent.
   */
  beforeLinkUpload?: (paths: string[]) => void;
  /** The link's upload of these files failed (nothing changed on the server). */
  linkUploadFailed?: (paths: string[]) => void;
  /** Receives the phase of a running snapshot transfer (null when it is over), for GetSyncStatus. */
  transferStatus?: (status: TransferStatus | null) => void;
}

/** Runs a transfer with its progress; the status is cleared however it ends. */
function withProgress<T>(deps: RemoteDeps, kind: TransferKind, run: (progress: TransferProgress) => T): T {
  const progress = new TransferProgress(deps.events, kind, deps.transferStatus);
  try {
    return run(progress);
  } finally {
    progress.finish();
  }
}

const SUPPORTED_PROVIDERS = ['sync', 'diaryx.sync'];

export function providerSupported(params: Params): boolean {
  const id = optionalString(params, 'provider_id');
  return id === null || SUPPORTED_PROVIDERS.includes(id);
}

export function httpError(res: HttpResponse): string {
  return res.body === '' ? `HTTP ${res.status}` : `HTTP ${res.status}: ${res.body}`;
}

function authHeaders(token: string | null, contentType = 'application/json'): Record<string, string> {
  const headers: Record<string, string> = { 'Content-Type': contentType };
  if (token !== null && token.trim() !== '') headers.Authorization = `Bearer ${token}`;
  return headers;
}

export interface Server {
  url: string;
  token: string | null;
  config: SyncConfig;
}

export function server(host: HostBridge, params: Params): Server {
  const config = loadConfig(host);
  const url = resolveServerUrl(host, params, config);
  if (url === null) throw new CommandError('Missing server_url');
  return { url, token: resolveAuthToken(host, params, config), config };
}

export function request(host: HostBridge, s: Server, method: string, path: string, body?: unknown): HttpResponse {
  const res = host.httpRequest({
    url: s.url + path,
    method,
    headers: authHeaders(s.token),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 0) throw new CommandError(res.error ?? res.body ?? 'HTTP request failed');
  return res;
}

export function jsonBody(res: HttpResponse): unknown {
  if (res.body === '') return null;
  try {
    return JSON.parse(res.body) as unknown;
  } catch {
    return null;
  }
}

function responseBytes(res: HttpResponse): Uint8Array {
  if (res.body_base64 !== undefined) {
    if (res.body_base64 === '') return new Uint8Array(0);
    try {
      return decodeBase64(res.body_base64);
    } catch (e) {
      throw new CommandError(`Invalid HTTP response body_base64: ${(e as Error).message}`);
    }
  }
  return new TextEncoder().encode(res.body);
}

export function getProviderStatus(host: HostBridge, params: Params): unknown {
  if (!providerSupported(params)) return { ready: false, message: 'Unsupported provider' };
  const config = loadConfig(host);
  if (resolveServerUrl(host, params, config) === null) {
    return { ready: false, message: 'Sync server URL is not configured' };
  }
  const token = resolveAuthToken(host, params, config);
  if (token === null || token.trim() === '') return { ready: false, message: 'Sign in to enable sync' };
  return { ready: true, message: null };
}

export function listRemoteWorkspaces(host: HostBridge, params: Params): unknown {
  if (!providerSupported(params)) return { workspaces: [] };
  const s = server(host, params);
  const res = request(host, s, 'GET', '/api/workspaces');
  if (res.status !== 200) throw new CommandError(httpError(res));
  const body = jsonBody(res);
  if (!Array.isArray(body)) throw new CommandError('Invalid workspace response');
  const workspaces = body
    .filter((w): w is { id: string; name: string } => !!w && typeof w.id === 'string' && typeof w.name === 'string')
    .map((w) => ({ id: w.id, name: w.name }));
  return { workspaces };
}

function uploadSnapshot(deps: RemoteDeps, s: Server, remoteId: string, root: string, mode: string, includeAttachments: boolean, linking = false): string[] {
  // Hosts name the workspace by its root index file (`README.md`) or by its folder: the files are in the folder.
  const folder = workspaceDir(root);
  return withProgress(deps, 'upload', (progress) => {
    const { zip, fileCount, paths } = zipWorkspaceFiles(deps.host, folder, includeAttachments, {
      begin: (total) => progress.begin('zip', total),
      advance: (completed) => progress.advance(completed),
    });
    if (linking) deps.beforeLinkUpload?.(paths);
    progress.begin('send', fileCount, zip.length);
    try {
      const res = deps.host.httpRequest({
        url: `${s.url}/api/workspaces/${remoteId}/snapshot?mode=${mode}&include_attachments=${includeAttachments}`,
        method: 'POST',
        headers: authHeaders(s.token, 'application/zip'),
        body_base64: encodeBase64(zip),
      });
      if (res.status === 0) throw new CommandError(res.error ?? res.body);
      if (res.status !== 200) throw new CommandError(httpError(res));
    } catch (e) {
      if (linking) deps.linkUploadFailed?.(paths);
      throw e;
    }
    return paths;
  });
}

export function linkWorkspace(deps: RemoteDeps, params: Params): unknown {
  if (!providerSupported(params)) throw new CommandError('Unsupported provider');
  const s = server(deps.host, params);
  let remoteId = optionalString(params, 'remote_id') ?? optionalString(params, 'remote_workspace_id');
  let created = false;
  if (remoteId === null) {
    const name = optionalString(params, 'name');
    if (name === null) throw new CommandError('Missing name');
    const res = request(deps.host, s, 'POST', '/api/workspaces', { name });
    if (res.status !== 200) throw new CommandError(httpError(res));
    const body = jsonBody(res) as { id?: unknown } | null;
    if (!body || typeof body.id !== 'string') throw new CommandError('Invalid workspace response');
    remoteId = body.id;
    created = true;
  } else refuseEncryptedRemote(deps.host, s, remoteId);
  const root = optionalString(params, 'workspace_root') ?? deps.workspaceRoot();
  const includeAttachments = optionalBool(params, 'include_attachments') ?? true;
  const uploaded = uploadSnapshot(deps, s, remoteId, root, 'replace', includeAttachments, true);
  const config = loadConfig(deps.host);
  saveConfig(deps.host, { ...config, workspace_id: remoteId });
  deps.reconcileTransport(true);
  return { remote_id: remoteId, created_remote: created, snapshot_uploaded: true, files_uploaded: uploaded.length };
}

export function uploadWorkspaceSnapshot(deps: RemoteDeps, params: Params): unknown {
  if (!providerSupported(params)) throw new CommandError('Unsupported provider');
  const s = server(deps.host, params);
  const remoteId = optionalString(params, 'remote_id') ?? s.config.workspace_id;
  if (remoteId === null || remoteId.trim() === '') throw new CommandError('Missing remote_id');
  const root = optionalString(params, 'workspace_root') ?? deps.workspaceRoot();
  const mode = optionalString(params, 'mode') ?? 'replace';
  const includeAttachments = optionalBool(params, 'include_attachments') ?? true;
  const uploaded = uploadSnapshot(deps, s, remoteId, root, mode, includeAttachments);
  return { remote_id: remoteId, files_uploaded: uploaded.length, snapshot_uploaded: true };
}

export function unlinkWorkspace(deps: RemoteDeps): unknown {
  const config = loadConfig(deps.host);
  saveConfig(deps.host, { ...config, workspace_id: null });
  deps.reconcileTransport();
  return { ok: true };
}

export function downloadWorkspace(deps: RemoteDeps, params: Params): unknown {
  if (!providerSupported(params)) throw new CommandError('Unsupported provider');
  const s = server(deps.host, params);
  const remoteId = optionalString(params, 'remote_id');
  if (remoteId === null) throw new CommandError('Missing remote_id');
  const includeAttachments = optionalBool(params, 'include_attachments') ?? true;
  const root = optionalString(params, 'workspace_root');
  const folder = root === null || root.trim() === '' ? null : workspaceDir(root.trim());
  const imported = withProgress(deps, 'download', (progress) => {
    progress.begin('receive', 0);
    const res = deps.host.httpRequest({
      url: `${s.url}/api/workspaces/${remoteId}/snapshot?include_attachments=${includeAttachments}`,
      method: 'GET',
      headers: authHeaders(s.token),
    });
    if (res.status === 0) throw new CommandError(res.error ?? res.body);
    if (res.status !== 200) throw new CommandError(httpError(res));
    const zip = responseBytes(res);
    if (zip.length === 0) throw new CommandError('Snapshot download returned empty body');
    let files;
    try {
      files = readSnapshotZip(zip, includeAttachments);
    } catch (e) {
      if (e instanceof SnapshotZipError) throw new CommandError(`Invalid snapshot zip: ${e.message}`);
      throw e;
    }
    deps.beforeImport?.();
    progress.begin('import', files.length, zip.length);
    files.forEach((f, i) => {
      deps.writeImportedFile(f.path, f.data, folder);
      progress.advance(i + 1);
    });
    return files.length;
  });
  if (optionalBool(params, 'link') === true) {
    const config = loadConfig(deps.host);
    saveConfig(deps.host, { ...config, workspace_id: remoteId });
    deps.reconcileTransport(true);
  }
  return { files_imported: imported };
}

export function prepareLiveShareRuntime(deps: RemoteDeps, params: Params): unknown {
  const workspaceId = optionalString(params, 'workspace_id') ?? loadConfig(deps.host).workspace_id;
  if (workspaceId === null || workspaceId.trim() === '') throw new CommandError('Missing workspace_id');
  const writeToDisk = optionalBool(params, 'write_to_disk') ?? true;
  deps.ensureSession(workspaceId, writeToDisk);
  return { workspace_id: workspaceId, write_to_disk: writeToDisk, runtime_owner: 'diaryx.sync' };
}

export function connectLiveShareSession(deps: RemoteDeps, params: Params): unknown {
  const config = loadConfig(deps.host);
  const workspaceId = optionalString(params, 'workspace_id') ?? config.workspace_id;
  if (workspaceId === null || workspaceId.trim() === '') throw new CommandError('Missing workspace_id');
  const writeToDisk = optionalBool(params, 'write_to_disk') ?? false;
  const serverUrl = resolveServerUrl(deps.host, params, config);
  if (serverUrl === null) throw new CommandError('Missing server_url');
  // Live share uses params/config credentials only (no runtime-context fallback).
  const token = optionalString(params, 'auth_token') ?? config.auth_token;
  const code = optionalString(params, 'session_code') ?? optionalString(params, 'join_code');
  if (code === null) throw new CommandError('Missing session_code');
  const sessionCode = code.toUpperCase();
  deps.ensureSession(workspaceId, writeToDisk);
  const res = deps.host.wsRequest({
    type: 'connect',
    server_url: serverUrl,
    workspace_id: workspaceId,
    auth_token: token !== null && token.trim() !== '' ? token : null,
    session_code: sessionCode,
    write_to_disk: writeToDisk,
  });
  if (!res.ok) throw new CommandError(res.error ?? 'host_ws_request failed');
  return { workspace_id: workspaceId, session_code: sessionCode, write_to_disk: writeToDisk, connected: true };
}

export function disconnectLiveShareSession(deps: RemoteDeps): unknown {
  deps.host.wsRequest({ type: 'disconnect' });
  deps.reconcileTransport(true);
  return { ok: true, connected: false };
}

// ---- namespace object API (pass-through to the server) --------------------

function requireString(params: Params, key: string, error: string): string {
  const v = optionalString(params, key);
  if (v === null) throw new CommandError(error);
  return v;
}

function expectStatus(res: HttpResponse, ok: number[]): void {
  if (!ok.includes(res.status)) throw new CommandError(httpError(res));
}

/** The JSON a namespace call answered; an empty or non-JSON body is an error, as in the Rust plugin. */
function jsonOrFail(res: HttpResponse, error = 'Invalid response'): unknown {
  if (res.body === '') throw new CommandError(error);
  try {
    return JSON.parse(res.body) as unknown;
  } catch {
    throw new CommandError(error);
  }
}

export function namespaceCommand(host: HostBridge, command: string, params: Params): unknown {
  const s = server(host, params);
  switch (command) {
    case 'NsCreateNamespace': {
      const ns = requireString(params, 'namespace_id', 'Missing namespace_id');
      const res = request(host, s, 'POST', '/namespaces', { id: ns });
      expectStatus(res, [200, 201]);
      return jsonOrFail(res, 'Invalid namespace response');
    }
    case 'NsListNamespaces': {
      const res = request(host, s, 'GET', '/namespaces');
      expectStatus(res, [200]);
      return jsonOrFail(res);
    }
    case 'NsPutObject': {
      const ns = requireString(params, 'namespace_id', 'Missing namespace_id');
      const key = requireString(params, 'key', 'Missing key');
      const contentType = optionalString(params, 'content_type') ?? 'application/octet-stream';
      let b64 = optionalString(params, 'body_base64');
      if (b64 !== null) {
        try {
          decodeBase64(b64);
        } catch (e) {
          if (e instanceof Base64Error) throw new CommandError(`Invalid base64: ${e.message}`);
          throw e;
        }
      } else {
        const body = optionalString(params, 'body');
        if (body === null) throw new CommandError('Missing body or body_base64');
        b64 = encodeBase64(new TextEncoder().encode(body));
      }
      const headers: Record<string, string> = { 'Content-Type': contentType };
      if (s.token !== null && s.token.trim() !== '') headers.Authorization = `Bearer ${s.token}`;
      const res = host.httpRequest({ url: `${s.url}/namespaces/${ns}/objects/${key}`, method: 'PUT', headers, body_base64: b64 });
      if (res.status === 0) throw new CommandError(res.error ?? res.body);
      expectStatus(res, [200]);
      return jsonOrFail(res);
    }
    case 'NsGetObject': {
      const ns = requireString(params, 'namespace_id', 'Missing namespace_id');
      const key = requireString(params, 'key', 'Missing key');
      const res = request(host, s, 'GET', `/namespaces/${ns}/objects/${key}`);
      if (res.status === 404) return null;
      expectStatus(res, [200]);
      const out: Record<string, unknown> = { status: res.status, body: res.body };
      if (res.body_base64 !== undefined) out.body_base64 = res.body_base64;
      return out;
    }
    case 'NsDeleteObject': {
      const ns = requireString(params, 'namespace_id', 'Missing namespace_id');
      const key = requireString(params, 'key', 'Missing key');
      expectStatus(request(host, s, 'DELETE', `/namespaces/${ns}/objects/${key}`), [200, 204]);
      return null;
    }
    case 'NsListObjects': {
      const ns = requireString(params, 'namespace_id', 'Missing namespace_id');
      const res = request(host, s, 'GET', `/namespaces/${ns}/objects`);
      expectStatus(res, [200]);
      return jsonOrFail(res);
    }
    case 'NsCreateSession': {
      const ns = requireString(params, 'namespace_id', 'Missing namespace_id');
      const readOnly = optionalBool(params, 'read_only') ?? false;
      const res = request(host, s, 'POST', '/sessions', { namespace_id: ns, read_only: readOnly });
      expectStatus(res, [200]);
      return jsonOrFail(res);
    }
    case 'NsGetSession': {
      const code = requireString(params, 'code', 'Missing code');
      const res = request(host, s, 'GET', `/sessions/${code}`);
      if (res.status === 404) return null;
      expectStatus(res, [200]);
      return jsonOrFail(res);
    }
    case 'NsDeleteSession': {
      const code = requireString(params, 'code', 'Missing code');
      expectStatus(request(host, s, 'DELETE', `/sessions/${code}`), [200, 204]);
      return null;
    }
    default:
      throw new CommandError(`Unknown command: ${command}`);
  }
}
