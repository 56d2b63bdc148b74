/**
 * The HTTP API (server.md 4.1 and 8). Errors are JSON `{"error": <message>}`.
 *
 *   GET  /                                   "Diaryx Sync Server"
 *   GET  /health                             "OK"
 *   GET  /api/status                         {status, version, active_connections, active_rooms}
 *   GET  /api/workspaces                     [{id, name}] of the caller
 *   POST /api/workspaces {"name"}            {id, name}; 409 when the caller has that name
 *   GET  /api/workspaces/{id}/snapshot       zip of the materialised markdown
 *   POST /api/workspaces/{id}/snapshot?mode=replace|merge   body: zip -> {"files_imported": n}
 *
 * Auth: `Authorization: Bearer <token>` (or `?token=` for clients that cannot
 * set headers); 401 without a valid token. A workspace the caller does not own
 * answers 404, exactly like one that does not exist.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthStore } from './auth';
import { AccessDeniedError, ValidationError, WorkspaceExistsError, describeError } from './errors';
import type { Logger } from './log';
import { exportSnapshot, importSnapshot, SnapshotError, type ImportMode } from './snapshot';
import type { SyncCore } from './sync-core';
import { SERVER_VERSION } from './version';

/** Largest JSON request body. */
const MAX_JSON_BODY_BYTES = 64 * 1024;

/** What the API needs. */
export interface HttpApiContext {
  core: SyncCore;
  auth: AuthStore;
  logger: Logger;
  snapshotUploadMaxBytes: number;
  /** Open WebSocket connections. */
  activeConnections: () => number;
}

/** An HTTP failure with its status. */
class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The token of a request: the Bearer header first, then `?token=`. */
export function requestToken(req: IncomingMessage, url: URL): string | null {
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m) return m[1];
  }
  return url.searchParams.get('token') || null;
}

function send(res: ServerResponse, status: number, body: string | Uint8Array, contentType: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json');
}

/** Reads a request body, refusing more than `limit` bytes with 413. */
async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, `Request body larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) throw new HttpError(413, `Request body larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  const all = Buffer.concat(chunks);
  return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
}

/** Handles one HTTP request (never throws). */
export async function handleHttpRequest(ctx: HttpApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
  try {
    await route(ctx, req, res, url);
  } catch (e) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (e instanceof HttpError) sendJson(res, e.status, { error: e.message });
    else if (e instanceof SnapshotError || e instanceof ValidationError) sendJson(res, 400, { error: e.message });
    else if (e instanceof WorkspaceExistsError) sendJson(res, 409, { error: e.message });
    else {
      ctx.logger.error('request failed', { method: req.method, path: url.pathname, error: describeError(e) });
      sendJson(res, 500, { error: 'Internal server error' });
    }
  }
}

async function route(ctx: HttpApiContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? 'GET';
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (method === 'OPTIONS') {
    res.writeHead(204);
    res.end();
    return;
  }
  if (path === '/' && method === 'GET') return send(res, 200, 'Diaryx Sync Server', 'text/plain; charset=utf-8');
  if (path === '/health' && method === 'GET') return send(res, 200, 'OK', 'text/plain; charset=utf-8');
  if (path === '/api/status' && method === 'GET') {
    return sendJson(res, 200, {
      status: 'ok',
      version: SERVER_VERSION,
      active_connections: ctx.activeConnections(),
      active_rooms: ctx.core.activeRooms,
    });
  }
  if (path === '/api/workspaces') {
    const user = authenticate(ctx, req, url);
    if (method === 'GET') return sendJson(res, 200, ctx.auth.listWorkspaces(user));
    if (method === 'POST') {
      const body = await readBody(req, MAX_JSON_BODY_BYTES);
      let name: unknown;
      try {
        name = (JSON.parse(new TextDecoder().decode(body)) as { name?: unknown }).name;
      } catch {
        throw new HttpError(400, 'Expected a JSON body {"name": string}');
      }
      if (typeof name !== 'string') throw new HttpError(400, 'Expected a JSON body {"name": string}');
      const created = ctx.auth.createWorkspace(user, name);
      ctx.logger.info('workspace created', { user, workspace: created.id });
      return sendJson(res, 200, created);
    }
    throw new HttpError(405, 'Method not allowed');
  }
  const snapshot = /^\/api\/workspaces\/([^/]+)\/snapshot$/.exec(path);
  if (snapshot) {
    const user = authenticate(ctx, req, url);
    let workspaceId: string;
    try {
      workspaceId = decodeURIComponent(snapshot[1]);
    } catch {
      throw new HttpError(404, 'Workspace not found');
    }
    if (!ctx.auth.ownsWorkspace(user, workspaceId)) throw new HttpError(404, 'Workspace not found');
    if (method === 'GET') {
      // include_attachments is accepted and has no effect: this server stores no attachments.
      const zip = await exportSnapshot(ctx.core, workspaceId);
      return send(res, 200, zip, 'application/zip', { 'Content-Disposition': `attachment; filename="${workspaceId.replace(/[^\w.-]/g, '_')}.zip"` });
    }
    if (method === 'POST') {
      const modeParam = url.searchParams.get('mode') ?? 'merge';
      if (modeParam !== 'replace' && modeParam !== 'merge') throw new HttpError(400, 'mode must be replace or merge');
      const zip = await readBody(req, ctx.snapshotUploadMaxBytes);
      const count = await importSnapshot(ctx.core, workspaceId, zip, modeParam as ImportMode, {
        maxUnzippedBytes: ctx.snapshotUploadMaxBytes,
        now: () => Date.now(),
      });
      ctx.logger.info('snapshot imported', { user, workspace: workspaceId, files: count, mode: modeParam });
      return sendJson(res, 200, { files_imported: count });
    }
    throw new HttpError(405, 'Method not allowed');
  }
  throw new HttpError(404, 'Not found');
}

function authenticate(ctx: HttpApiContext, req: IncomingMessage, url: URL): string {
  try {
    return ctx.auth.authenticate(requestToken(req, url));
  } catch (e) {
    if (e instanceof AccessDeniedError) throw new HttpError(401, 'Unauthorized');
    throw e;
  }
}
