/**
 * HTTP routes of attachments (the original server's):
 *
 *   POST /api/workspaces/{id}/attachments/uploads                      announce -> already_exists | upload id + parts received
 *   PUT  /api/workspaces/{id}/attachments/uploads/{upload_id}/parts/{n} raw bytes of part n (from 1)
 *   POST /api/workspaces/{id}/attachments/uploads/{upload_id}/complete  {"ok":true} | 409 {"ok":false,"missing_parts":[..]}
 *   GET  /api/workspaces/{id}/attachments/{sha256}                     the bytes (Range: bytes=a-b)
 *   GET  /api/user/storage                                             {"used_bytes":n,"limit_bytes":n}
 *   GET  /api/workspaces/{id}/attachments                              [{path, hash, size, mime_type, uploaded_at}] (not in the original)
 *   POST /api/workspaces/{id}/attachments/live                         {"addresses":[..]} -> {held, unreferenced} (encrypted workspaces; not in the original)
 *
 * An end-to-end encrypted workspace's uploads are sealed DXA1 blobs named by
 * their address alone: no entry or attachment path (an attachment_path, if
 * sent, must be the hash), no media type, a size and head only a blob can
 * have (sealedAnnouncement, checked again on complete); they are held under
 * their address as path.
 *
 * The caller is authenticated by http-api.ts; a workspace the caller does not
 * own answers 404 like an unknown one. Refusals are JSON `{"error": ...}`
 * with 400 (bad input), 404, 409 or 413 (quota, or a part over its size), and
 * 503 for a blob whose record exists but whose file this node does not have.
 */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessStore } from '../auth';
import { attachmentBlobChunks, attachmentHeadProblem } from '../../../common/src/e2ee/attachment-blob';
import { PartLengthError, HASH_PATTERN, UPLOAD_ID_PATTERN } from './blob-store';
import { AttachmentRequestError, DEFAULT_PART_BYTES, MAX_PART_BYTES, MAX_PARTS, type AttachmentService, type UploadAnnouncement } from './service';

const MAX_JSON_BYTES = 64 * 1024;
/** A live list of about 120,000 addresses. */
const MAX_LIVE_LIST_BYTES = 8 * 1024 * 1024;
const MAX_PATH_BYTES = 1024;

const ROUTE = /^\/api\/workspaces\/([^/]+)\/attachments(?:\/(.*))?$/;

/** Whether `path` is one of the routes above. */
export function isAttachmentRoute(path: string): boolean {
  return path === '/api/user/storage' || ROUTE.test(path);
}

export interface AttachmentRouteContext {
  service: AttachmentService;
  auth: AccessStore;
  /** Whether a workspace is end-to-end encrypted (its uploads must be sealed blobs); none when absent. */
  isEncrypted?: (workspaceId: string) => Promise<boolean>;
}

/** The media type every sealed blob is held with (the real one is inside the encrypted workspace doc). */
export const SEALED_MIME_TYPE = 'application/octet-stream';

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Handles one attachment request of an authenticated `user`. Unexpected failures are thrown to the caller. */
export async function handleAttachmentRequest(
  ctx: AttachmentRouteContext,
  user: string,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  try {
    await route(ctx, user, req, res, path);
  } catch (e) {
    if (e instanceof PartLengthError) e = new AttachmentRequestError(/larger/.test(e.message) ? 413 : 400, e.message);
    if (!(e instanceof AttachmentRequestError)) throw e;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (!req.complete) res.setHeader('Connection', 'close');
    sendJson(res, e.status, e.body);
  }
}

async function route(ctx: AttachmentRouteContext, user: string, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const method = req.method ?? 'GET';
  if (path === '/api/user/storage') {
    if (method !== 'GET') throw new AttachmentRequestError(405, 'Method not allowed');
    return sendJson(res, 200, { used_bytes: await ctx.service.usedBytes(user), limit_bytes: ctx.service.quotaBytes });
  }
  const m = ROUTE.exec(path)!;
  let workspaceId: string;
  try {
    workspaceId = decodeURIComponent(m[1]);
  } catch {
    throw new AttachmentRequestError(404, 'Workspace not found');
  }
  if (!(await ctx.auth.ownsWorkspace(user, workspaceId))) throw new AttachmentRequestError(404, 'Workspace not found');
  if (m[2] === undefined || m[2] === '') {
    if (method !== 'GET') throw new AttachmentRequestError(405, 'Method not allowed');
    return sendJson(res, 200, await ctx.service.list(workspaceId));
  }
  const rest = m[2].split('/');

  if (rest.length === 1 && rest[0] === 'uploads') {
    if (method !== 'POST') throw new AttachmentRequestError(405, 'Method not allowed');
    const body = await readJson(req);
    const sealed = (await ctx.isEncrypted?.(workspaceId)) ?? false;
    return sendJson(res, 200, await ctx.service.init(user, workspaceId, sealed ? sealedAnnouncement(body) : parseAnnouncement(body)));
  }
  if (rest[0] === 'uploads' && rest.length >= 3) {
    const uploadId = rest[1];
    if (!UPLOAD_ID_PATTERN.test(uploadId)) throw new AttachmentRequestError(404, `Unknown upload ${uploadId}`);
    if (rest.length === 4 && rest[2] === 'parts') {
      if (method !== 'PUT') throw new AttachmentRequestError(405, 'Method not allowed');
      if (!/^\d{1,9}$/.test(rest[3])) throw new AttachmentRequestError(400, `Invalid part number ${JSON.stringify(rest[3])}`);
      const upload = await ctx.service.upload(workspaceId, uploadId);
      const n = Number(rest[3]);
      const length = ctx.service.partLength(upload, n);
      await ctx.service.blobs.writePart(uploadId, n, req, length);
      return sendJson(res, 200, { ok: true, part: n });
    }
    if (rest.length === 3 && rest[2] === 'complete') {
      if (method !== 'POST') throw new AttachmentRequestError(405, 'Method not allowed');
      const body = await readJson(req, true);
      const hash = body !== null && typeof body.hash === 'string' ? body.hash.toLowerCase() : null;
      const sealed = (await ctx.isEncrypted?.(workspaceId)) ?? false;
      return sendJson(res, 200, await ctx.service.complete(user, workspaceId, uploadId, hash, sealed ? attachmentHeadProblem : undefined));
    }
  }
  if (rest.length === 1 && rest[0] === 'live') {
    if (method !== 'POST') throw new AttachmentRequestError(405, 'Method not allowed');
    if (!((await ctx.isEncrypted?.(workspaceId)) ?? false)) {
      throw new AttachmentRequestError(409, 'Workspace is not end-to-end encrypted: the server reads its references itself');
    }
    const addresses = liveAddresses(await readJson(req, false, MAX_LIVE_LIST_BYTES));
    return sendJson(res, 200, await ctx.service.markLive(user, workspaceId, addresses));
  }
  if (rest.length === 1 && rest[0] !== 'uploads') {
    if (method !== 'GET' && method !== 'HEAD') throw new AttachmentRequestError(405, 'Method not allowed');
    const hash = rest[0].toLowerCase();
    if (!HASH_PATTERN.test(hash)) throw new AttachmentRequestError(400, 'Expected a sha256 hex digest after /attachments/');
    return sendBlob(ctx, req, res, workspaceId, hash);
  }
  throw new AttachmentRequestError(404, 'Not found');
}

/** Reads a small JSON object body; `optional` accepts an empty body (null). */
async function readJson(req: IncomingMessage, optional = false, limit = MAX_JSON_BYTES): Promise<Record<string, unknown> | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) throw new AttachmentRequestError(413, `Request body larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '' && optional) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AttachmentRequestError(400, 'Expected a JSON object body');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AttachmentRequestError(400, 'Expected a JSON object body');
  return value as Record<string, unknown>;
}

/**
 * A workspace-relative path as the apps send it (`_attachments/a.png`, or
 * `/_attachments/a.png` from the workspace root); null when it escapes the
 * workspace or is not a path.
 */
export function workspacePath(raw: string): string | null {
  if (raw.includes('\0') || raw.includes('\\') || Buffer.byteLength(raw) > MAX_PATH_BYTES || /^[A-Za-z]:/.test(raw)) return null;
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return null;
    parts.push(part);
  }
  return parts.length > 0 ? parts.join('/') : null;
}

function parseAnnouncement(body: Record<string, unknown> | null): UploadAnnouncement {
  const b = body ?? {};
  const str = (name: string, required: boolean): string => {
    const v = b[name];
    if (v === undefined || v === null) {
      if (required) throw new AttachmentRequestError(400, `Missing field ${name}`);
      return '';
    }
    if (typeof v !== 'string') throw new AttachmentRequestError(400, `Field ${name} must be a string`);
    return v;
  };
  const int = (name: string, fallback: number | null): number => {
    const v = b[name];
    if ((v === undefined || v === null) && fallback !== null) return fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new AttachmentRequestError(400, `Field ${name} must be a non-negative integer`);
    return v;
  };
  const attachmentRaw = str('attachment_path', true);
  const attachmentPath = workspacePath(attachmentRaw);
  if (attachmentPath === null) throw new AttachmentRequestError(400, `attachment_path ${JSON.stringify(attachmentRaw)} is not a path inside the workspace`);
  const entryRaw = str('entry_path', false);
  const entryPath = entryRaw === '' ? '' : workspacePath(entryRaw);
  if (entryPath === null) throw new AttachmentRequestError(400, `entry_path ${JSON.stringify(entryRaw)} is not a path inside the workspace`);
  const hash = str('hash', true).toLowerCase();
  if (!HASH_PATTERN.test(hash)) throw new AttachmentRequestError(400, 'Field hash must be a sha256 hex digest');
  const size = int('size_bytes', null);
  const mimeType = str('mime_type', false) || 'application/octet-stream';
  if (mimeType.length > 255 || /[\r\n]/.test(mimeType)) throw new AttachmentRequestError(400, 'Field mime_type is not a media type');
  const partSize = int('part_size', DEFAULT_PART_BYTES);
  if (partSize < 1 || partSize > MAX_PART_BYTES) throw new AttachmentRequestError(400, `Field part_size must be 1 to ${MAX_PART_BYTES}`);
  const expected = Math.max(1, Math.ceil(size / partSize));
  const totalParts = int('total_parts', expected);
  if (totalParts !== expected) throw new AttachmentRequestError(400, `total_parts must be ${expected} for ${size} bytes in parts of ${partSize}`);
  if (totalParts > MAX_PARTS) throw new AttachmentRequestError(400, `More than ${MAX_PARTS} parts; use larger parts`);
  return { entryPath, attachmentPath, hash, size, mimeType, partSize, totalParts };
}

/**
 * The announcement of a sealed blob in an end-to-end encrypted workspace: any
 * path or media type would tell the server what the workspace keeps, so they
 * are refused rather than stored; the blob is held under its address.
 */
export function sealedAnnouncement(body: Record<string, unknown> | null): UploadAnnouncement {
  const b = body ?? {};
  const refuse = (why: string): never => {
    throw new AttachmentRequestError(400, `Workspace is end-to-end encrypted: ${why}`);
  };
  const hash = typeof b.hash === 'string' ? b.hash.toLowerCase() : '';
  if (!HASH_PATTERN.test(hash)) refuse('field hash must be the sha256 hex address of the sealed blob');
  for (const field of ['attachment_path', 'entry_path']) {
    const v = b[field];
    if (v !== undefined && v !== null && v !== '' && !(field === 'attachment_path' && typeof v === 'string' && v.toLowerCase() === hash)) {
      refuse(`uploads carry no ${field} (send none, or the hash as attachment_path)`);
    }
  }
  if (b.mime_type !== undefined && b.mime_type !== null && b.mime_type !== '' && b.mime_type !== SEALED_MIME_TYPE) {
    refuse(`uploads carry no media type (send none, or ${SEALED_MIME_TYPE})`);
  }
  const a = parseAnnouncement({ ...b, attachment_path: hash, entry_path: null, mime_type: SEALED_MIME_TYPE });
  if (attachmentBlobChunks(a.size) === null) refuse(`${a.size} bytes is not the size of a sealed (DXA1) attachment blob`);
  return a;
}

/** `{"addresses":[sha256 hex, ...]}`, every one checked. */
function liveAddresses(body: Record<string, unknown> | null): Set<string> {
  const list = body?.addresses;
  if (!Array.isArray(list)) throw new AttachmentRequestError(400, 'Field addresses must be a list of sha256 hex addresses');
  const out = new Set<string>();
  for (const a of list) {
    if (typeof a !== 'string' || !HASH_PATTERN.test(a)) throw new AttachmentRequestError(400, `Not a sha256 hex address in addresses: ${JSON.stringify(a).slice(0, 80)}`);
    out.add(a);
  }
  return out;
}

/** Streams a held blob, whole or one byte range. */
async function sendBlob(ctx: AttachmentRouteContext, req: IncomingMessage, res: ServerResponse, workspaceId: string, hash: string): Promise<void> {
  const record = await ctx.service.meta.getAttachment(workspaceId, hash);
  if (!record) throw new AttachmentRequestError(404, 'Attachment not found');
  const size = await ctx.service.blobs.blobSize(hash);
  if (size === null) {
    // The metadata is shared (Postgres) but the file is not here: this node's attachment
    // folder is not the one the upload went to. 503, so a client or balancer may retry elsewhere.
    ctx.service.logger.error('attachment recorded but its file is missing from this node; nodes must share <data-dir>/attachments', {
      workspace: workspaceId,
      hash,
      file: ctx.service.blobs.blobPath(hash),
    });
    throw new AttachmentRequestError(
      503,
      'Attachment is recorded but its file is missing on this server; with several nodes, every node must share the same attachment folder (<data-dir>/attachments)',
    );
  }
  const headers: Record<string, string> = {
    'Content-Type': record.mimeType || 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    ETag: `"${hash}"`,
    'Cache-Control': 'private, max-age=31536000, immutable',
  };
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = req.headers.range;
  if (typeof range === 'string' && size > 0) {
    const r = parseRange(range, size);
    if (r === 'unsatisfiable') {
      res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
      res.end();
      return;
    }
    if (r !== null) {
      [start, end] = r;
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
  }
  headers['Content-Length'] = String(size === 0 ? 0 : end - start + 1);
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  const stream = fs.createReadStream(ctx.service.blobs.blobPath(hash), { start, end });
  await new Promise<void>((resolve) => {
    stream.on('error', () => {
      res.destroy();
      resolve();
    });
    res.on('close', () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(res);
  });
}

/** One `bytes=` range; null for a header this server ignores (several ranges, other units). */
export function parseRange(header: string, size: number): [number, number] | 'unsatisfiable' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return [start, end];
}
