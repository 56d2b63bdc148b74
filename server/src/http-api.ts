/**
 * The HTTP API (server/README.md, "HTTP API"). Errors are JSON `{"error": <message>}`.
 *
 *   GET  /                                   "Diaryx Sync Server"
 *   GET  /health                             "OK"
 *   GET  /api/status                         {status: "ok"}; with a valid token also version and counts
 *   GET  /api/workspaces                     [{id, name}] of the caller
 *   POST /api/workspaces {"name"}            {id, name}; 409 when the caller has that name
 *   GET  /api/workspaces/{id}/snapshot       zip of the materialised markdown (and attachments with include_attachments=true)
 *   POST /api/workspaces/{id}/snapshot?mode=replace|merge   body: zip -> {"files_imported": n}
 *   /api/workspaces/{id}/attachments/..., /api/user/storage   attachments (attachments/routes.ts)
 *   GET|PUT /api/workspaces/{id}/keys        key record of an end-to-end encrypted workspace (e2ee/service.ts)
 *
 * Auth: `Authorization: Bearer <token>` (or `?token=` for clients that cannot
 * set headers); 401 without a valid token. A workspace the caller does not own
 * answers 404, exactly like one that does not exist.
 *
 * Every part of a request (target, headers, body) is parsed inside the
 * handler: bad input is a 4xx answer, never an exception that escapes.
 * Snapshot uploads stream to a temporary file (os.tmpdir()) and are unzipped
 * from there (zip-reader.ts), at most `maxConcurrentUploads` at a time.
 */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { handleAttachmentRequest, isAttachmentRoute } from './attachments/routes';
import { AttachmentRequestError, type AttachmentService } from './attachments/service';
import { attachmentZipEntries, checkSnapshotAttachmentQuota, importSnapshotAttachments } from './attachments/snapshot-attachments';
import type { AccessStore } from './auth';
import type { DatabaseStatus } from './http-server';
import type { E2eeService } from './e2ee/service';
import { applyCors } from './cors';
import { AccessDeniedError, LimitError, ValidationError, WorkspaceExistsError, WorkspaceRefusedError, describeError } from './errors';
import type { Logger } from './log';
import type { ServerOptions } from './options';
import { parseRequestTarget } from './request-target';
import { exportSnapshot, importSnapshot, SnapshotError, type ImportMode, type MoreEntries } from './snapshot';
import type { SyncCore } from './sync-core';
import { SERVER_VERSION } from './version';
import { fileZipSource } from './zip-reader';

/** Largest JSON request body. */
const MAX_JSON_BODY_BYTES = 64 * 1024;
/** What a client is told to wait when every upload slot is taken. */
const UPLOAD_RETRY_AFTER_S = 5;

/** Server-wide count of snapshot uploads in progress. */
export class UploadSlots {
  private used = 0;
  constructor(readonly limit: number) {}
  tryAcquire(): boolean {
    if (this.used >= this.limit) return false;
    this.used++;
    return true;
  }
  release(): void {
    this.used--;
  }
}

/** What the API needs. */
export interface HttpApiContext {
  core: SyncCore;
  auth: AccessStore;
  /** Postgres: the database link's health (`GET /ready`). */
  database?: DatabaseStatus;
  logger: Logger;
  options: ServerOptions;
  uploads: UploadSlots;
  /** Attachment uploads and downloads (attachments/routes.ts). */
  attachments: AttachmentService;
  /** Open WebSocket connections. */
  activeConnections: () => number;
  /** Encrypted workspaces (keys route; snapshot zips refused for them). */
  e2ee?: E2eeService;
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

/** Streams a request body to `file`, refusing more than `limit` bytes with 413. */
async function saveBody(req: IncomingMessage, file: string, limit: number): Promise<void> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, `Request body larger than ${limit} bytes`);
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.byteLength;
      if (size > limit) done(new HttpError(413, `Request body larger than ${limit} bytes`));
      else done(null, chunk);
    },
  });
  await pipeline(req, counter, fs.createWriteStream(file, { flags: 'wx', mode: 0o600 }));
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
  let url: URL | null = null;
  try {
    applyCors(req, res, ctx.options.corsOrigins);
    url = parseRequestTarget(req.url);
    if (url === null) throw new HttpError(400, 'Invalid request target');
    await route(ctx, req, res, url);
  } catch (e) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // The body of a refused request is not read: close the connection after the answer.
    if (!req.complete) res.setHeader('Connection', 'close');
    if (e instanceof HttpError) sendJson(res, e.status, { error: e.message });
    else if (e instanceof AttachmentRequestError) sendJson(res, e.status, e.body);
    else if (e instanceof SnapshotError || e instanceof ValidationError) sendJson(res, 400, { error: e.message });
    else if (e instanceof WorkspaceExistsError) sendJson(res, 409, { error: e.message });
    else if (e instanceof WorkspaceRefusedError || e instanceof LimitError) sendJson(res, 403, { error: e.message });
    else {
      ctx.logger.error('request failed', { method: req.method, path: url?.pathname, error: describeError(e) });
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
  if (path === '/ready' && method === 'GET') {
    // Ready: the database answers and (Postgres) wake-ups from other nodes arrive.
    if (!ctx.database) return send(res, 200, 'OK', 'text/plain; charset=utf-8');
    const st = await ctx.database.status();
    if (st.database !== 'ok') return sendJson(res, 503, { error: 'database unavailable' });
    if (st.listen !== 'up') return sendJson(res, 503, { error: 'listen down' });
    return send(res, 200, 'OK', 'text/plain; charset=utf-8');
  }
  if (path === '/api/status' && method === 'GET') {
    // Strangers learn only that the server is up; token holders also get the version and load.
    let user: string | null = null;
    try {
      user = await authenticate(ctx, req, url);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
    }
    if (user === null) return sendJson(res, 200, { status: 'ok' });
    return sendJson(res, 200, {
      status: 'ok',
      version: SERVER_VERSION,
      active_connections: ctx.activeConnections(),
      active_rooms: ctx.core.activeRooms,
      ...(ctx.database ? { node_id: ctx.database.nodeId, ...(await ctx.database.status()) } : {}),
    });
  }
  if (path === '/api/workspaces') {
    const user = await authenticate(ctx, req, url);
    if (method === 'GET') return sendJson(res, 200, await ctx.auth.listWorkspaces(user));
    if (method === 'POST') {
      const body = await readBody(req, MAX_JSON_BODY_BYTES);
      let name: unknown;
      try {
        name = (JSON.parse(new TextDecoder().decode(body)) as { name?: unknown }).name;
      } catch {
        throw new HttpError(400, 'Expected a JSON body {"name": string}');
      }
      if (typeof name !== 'string') throw new HttpError(400, 'Expected a JSON body {"name": string}');
      const created = await ctx.auth.createWorkspace(user, name);
      ctx.logger.info('workspace created', { user, workspace: created.id });
      return sendJson(res, 200, created);
    }
    throw new HttpError(405, 'Method not allowed');
  }
  const snapshot = /^\/api\/workspaces\/([^/]+)\/snapshot$/.exec(path);
  if (snapshot) {
    const user = await authenticate(ctx, req, url);
    let workspaceId: string;
    try {
      workspaceId = decodeURIComponent(snapshot[1]);
    } catch {
      throw new HttpError(404, 'Workspace not found');
    }
    if (!(await ctx.auth.ownsWorkspace(user, workspaceId))) throw new HttpError(404, 'Workspace not found');
    // The server holds only ciphertext: it has no markdown to zip, and must not take plain files in.
    if (await ctx.e2ee?.isEncrypted(workspaceId)) throw new HttpError(409, 'workspace is end-to-end encrypted');
    if (method === 'GET') {
      const more = url.searchParams.get('include_attachments') === 'true' ? await attachmentZipEntries(ctx.core, ctx.attachments, workspaceId) : undefined;
      return streamSnapshot(ctx, res, workspaceId, more);
    }
    if (method === 'POST') {
      const modeParam = url.searchParams.get('mode') ?? 'merge';
      if (modeParam !== 'replace' && modeParam !== 'merge') throw new HttpError(400, 'mode must be replace or merge');
      const withAttachments = url.searchParams.get('include_attachments') !== 'false';
      const count = await withUploadSlot(ctx, res, () => receiveSnapshot(ctx, req, user, workspaceId, modeParam, withAttachments));
      if (count === null) return;
      ctx.logger.info('snapshot imported', { user, workspace: workspaceId, files: count, mode: modeParam });
      return sendJson(res, 200, { files_imported: count });
    }
    throw new HttpError(405, 'Method not allowed');
  }
  const keys = /^\/api\/workspaces\/([^/]+)\/keys$/.exec(path);
  if (keys && ctx.e2ee) {
    const user = await authenticate(ctx, req, url);
    let workspaceId: string;
    try {
      workspaceId = decodeURIComponent(keys[1]);
    } catch {
      throw new HttpError(404, 'Workspace not found');
    }
    if (method === 'PUT') {
      // The first PUT is a first use, like a socket's first frame: a new workspace id becomes the caller's
      // (so a device can choose the id of the encrypted workspace it creates before any doc exists).
      try {
        await ctx.auth.authorizeWorkspace(user, workspaceId);
      } catch (e) {
        if (e instanceof AccessDeniedError) throw new HttpError(404, 'Workspace not found');
        throw e;
      }
    } else if (!(await ctx.auth.ownsWorkspace(user, workspaceId))) throw new HttpError(404, 'Workspace not found');
    if (method === 'GET') {
      const record = await ctx.e2ee.getKeys(workspaceId);
      if (record === null) throw new HttpError(404, 'Workspace is not end-to-end encrypted');
      return send(res, 200, record, 'application/json');
    }
    if (method === 'PUT') {
      const answer = await ctx.e2ee.putKeys(workspaceId, await readBody(req, MAX_JSON_BODY_BYTES));
      return send(res, answer.status, answer.body, 'application/json');
    }
    throw new HttpError(405, 'Method not allowed');
  }
  if (isAttachmentRoute(path)) {
    const user = await authenticate(ctx, req, url);
    return handleAttachmentRequest({ service: ctx.attachments, auth: ctx.auth }, user, req, res, path);
  }
  throw new HttpError(404, 'Not found');
}

/**
 * Streams a workspace's snapshot zip as it is built (chunked, with the
 * client's backpressure). A failure before the first byte is answered like
 * any error; after it, the response is cut off so the client sees a broken
 * download, never a zip that looks complete.
 */
async function streamSnapshot(ctx: HttpApiContext, res: ServerResponse, workspaceId: string, more?: MoreEntries): Promise<void> {
  let started = false;
  const write = async (chunk: Uint8Array): Promise<void> => {
    if (res.destroyed) throw new Error('the client went away');
    if (!started) {
      started = true;
      res.writeHead(200, { 'Content-Type': 'application/zip', 'Content-Disposition': `attachment; filename="${workspaceId.replace(/[^\w.-]/g, '_')}.zip"` });
    }
    if (res.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  };
  try {
    await exportSnapshot(ctx.core, workspaceId, write, more);
  } catch (e) {
    if (!started) throw e;
    ctx.logger.warn('snapshot download cut off', { workspace: workspaceId, error: describeError(e) });
    res.destroy();
    return;
  }
  if (!started) res.writeHead(200, { 'Content-Type': 'application/zip' });
  res.end();
}

/** Runs `fn` in an upload slot; answers 503 (and resolves null) when all are taken. */
async function withUploadSlot<T>(ctx: HttpApiContext, res: ServerResponse, fn: () => Promise<T>): Promise<T | null> {
  if (!ctx.uploads.tryAcquire()) {
    res.setHeader('Retry-After', String(UPLOAD_RETRY_AFTER_S));
    res.setHeader('Connection', 'close');
    sendJson(res, 503, { error: `Too many snapshot uploads in progress (limit ${ctx.uploads.limit}); retry later` });
    return null;
  }
  try {
    return await fn();
  } finally {
    ctx.uploads.release();
  }
}

/** Streams the upload to a temporary file and imports it from there. */
async function receiveSnapshot(
  ctx: HttpApiContext,
  req: IncomingMessage,
  user: string,
  workspaceId: string,
  mode: ImportMode,
  withAttachments: boolean,
): Promise<number> {
  const o = ctx.options;
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'diaryx-upload-'));
  try {
    const file = path.join(dir, 'snapshot.zip');
    await saveBody(req, file, o.snapshotUploadMaxBytes);
    const zip = await fileZipSource(file);
    try {
      // Attachments (the entries that are not markdown): refused past the quota before anything is applied.
      if (withAttachments) await checkSnapshotAttachmentQuota(ctx.attachments, user, zip, o.maxSnapshotEntries);
      const imported = await importSnapshot(ctx.core, workspaceId, zip, mode, {
        maxEntries: o.maxSnapshotEntries,
        maxUnzippedBytes: o.maxSnapshotUnzippedBytes,
        maxFileBytes: Math.min(o.maxSnapshotFileBytes, o.maxDocBytes),
        now: () => Date.now(),
      });
      if (withAttachments) {
        const stored = await importSnapshotAttachments(ctx.attachments, workspaceId, zip, o.maxSnapshotEntries);
        if (stored > 0) ctx.logger.info('snapshot attachments stored', { workspace: workspaceId, attachments: stored });
      }
      return imported;
    } finally {
      await zip.close();
    }
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

async function authenticate(ctx: HttpApiContext, req: IncomingMessage, url: URL): Promise<string> {
  try {
    return await ctx.auth.authenticate(requestToken(req, url));
  } catch (e) {
    if (e instanceof AccessDeniedError) throw new HttpError(401, 'Unauthorized');
    throw e;
  }
}
