/**
 * The host side of the attachment API (the Diaryx apps' protocol, routes in
 * server/README.md): uploads in parts (init, PUT parts, complete, re-sending
 * what the server says is missing) and downloads by hash, resumed with
 * `Range` from a partial file. Bytes stream from and to files (a sealed
 * blob of an encrypted workspace goes from memory); raw bytes on the wire,
 * no base64.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

/** The Diaryx apps' part size. */
export const PART_BYTES = 8 * 1024 * 1024;

/** A refusal or failure of the server, with its HTTP status (0 = no answer). */
export class TransferError extends Error {
  override name = 'TransferError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A file of a plain workspace: announced with its paths and type, streamed from disk. */
export interface FileUpload {
  file: string;
  attachmentPath: string;
  entryPath: string;
  hash: string;
  size: number;
  mimeType: string;
}

/**
 * A sealed blob of an end-to-end encrypted workspace: announced by its
 * address and size alone (the server refuses paths and types there), sent
 * from memory. `label` (the local path) names it in errors, never on the wire.
 */
export interface SealedUpload {
  blob: Uint8Array;
  hash: string;
  label: string;
}

export type UploadRequest = FileUpload | SealedUpload;

type Body = { json: unknown } | { file: string; start: number; end: number } | { bytes: Uint8Array };

/** A blob the workspace holds, as `GET .../attachments` lists it. */
export interface HeldAttachment {
  path: string;
  hash: string;
  size: number;
  mime_type: string;
  uploaded_at: number;
}

interface Answer {
  status: number;
  body: string;
}

/** sha256 hex and size of a file, streamed. */
export async function hashFile(file: string): Promise<{ hash: string; size: number }> {
  const digest = createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file) as AsyncIterable<Buffer>) {
    digest.update(chunk);
    size += chunk.byteLength;
  }
  return { hash: digest.digest('hex'), size };
}

export class TransferClient {
  /** Bytes of request and response bodies moved so far (what the wire carried besides headers). */
  bodyBytes = 0;
  /** Connections are kept between requests (many small files cost round trips, not bytes). */
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  constructor(
    private readonly serverUrl: string,
    private readonly token: string,
    private readonly workspaceId: string,
  ) {}

  private agent(url: URL): http.Agent {
    return url.protocol === 'https:' ? this.agents.https : this.agents.http;
  }

  /** Closes the kept connections. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private url(p: string): URL {
    return new URL(`${this.serverUrl.replace(/\/+$/, '')}/api/workspaces/${encodeURIComponent(this.workspaceId)}/attachments${p}`);
  }

  /** One request; `body` is a JSON value, a file range, or nothing. Resolves with the answer's text. */
  private request(method: string, url: URL, body?: Body): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { Authorization: `Bearer ${this.token}` };
      let payload: Buffer | null = null;
      if (body && 'json' in body) {
        payload = Buffer.from(JSON.stringify(body.json));
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = payload.length;
      } else if (body && 'bytes' in body) {
        payload = Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength);
        headers['Content-Type'] = 'application/octet-stream';
        headers['Content-Length'] = payload.length;
        this.bodyBytes += payload.length;
      } else if (body) {
        headers['Content-Type'] = 'application/octet-stream';
        headers['Content-Length'] = body.end - body.start;
      }
      const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, agent: this.agent(url) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => reject(new TransferError(e.message, 0)));
      });
      req.on('error', (e) => reject(new TransferError(`${method} ${url.pathname}: ${e.message}`, 0)));
      if (payload) req.end(payload);
      else if (body && 'file' in body) {
        if (body.end === body.start) {
          req.end();
          return;
        }
        const source = fs.createReadStream(body.file, { start: body.start, end: body.end - 1 });
        source.on('data', (c) => (this.bodyBytes += c.length));
        source.on('error', (e) => req.destroy(e));
        source.pipe(req);
      } else req.end();
    });
  }

  private static json<T>(a: Answer, what: string): T {
    if (a.status < 200 || a.status >= 300) {
      let message = a.body;
      try {
        message = (JSON.parse(a.body) as { error?: string }).error ?? a.body;
      } catch {
        // not JSON: keep the text
      }
      throw new TransferError(`${what}: HTTP ${a.status}${message ? `: ${message}` : ''}`, a.status);
    }
    return JSON.parse(a.body) as T;
  }

  /** The blobs the workspace holds (the latest upload of each path). */
  async list(): Promise<HeldAttachment[]> {
    return TransferClient.json<HeldAttachment[]>(await this.request('GET', this.url('')), 'listing attachments');
  }

  /**
   * Uploads a file; the server keeps the parts it received, so a new call
   * after a failure or crash sends only the rest. `onBytes` counts progress.
   */
  async upload(u: UploadRequest, onBytes: (sent: number) => void = () => undefined): Promise<'uploaded' | 'already_exists'> {
    const sealed = 'blob' in u;
    const size = sealed ? u.blob.length : u.size;
    const label = sealed ? u.label : u.attachmentPath;
    const totalParts = Math.max(1, Math.ceil(size / PART_BYTES));
    const shape = { hash: u.hash, size_bytes: size, part_size: PART_BYTES, total_parts: totalParts };
    const announce = sealed ? shape : { entry_path: u.entryPath, attachment_path: u.attachmentPath, ...shape, mime_type: u.mimeType };
    const started = TransferClient.json<{ upload_id: string | null; status: string; uploaded_parts?: number[] }>(
      await this.request('POST', this.url('/uploads'), { json: announce }),
      `uploading ${label}`,
    );
    if (started.status === 'already_exists' || started.upload_id === null) return 'already_exists';
    const id = started.upload_id;
    let missing = [...Array(totalParts).keys()].map((i) => i + 1).filter((n) => !(started.uploaded_parts ?? []).includes(n));
    let sent = (totalParts - missing.length) * PART_BYTES;
    for (let attempt = 0; ; attempt++) {
      for (const n of missing) {
        const start = (n - 1) * PART_BYTES;
        const end = Math.min(size, n * PART_BYTES);
        const body: Body = sealed ? { bytes: u.blob.subarray(start, end) } : { file: u.file, start, end };
        TransferClient.json(await this.request('PUT', this.url(`/uploads/${id}/parts/${n}`), body), `uploading ${label} part ${n}`);
        sent += end - start;
        onBytes(Math.min(sent, size));
      }
      const done = await this.request('POST', this.url(`/uploads/${id}/complete`), {
        json: sealed ? { hash: u.hash } : { entry_path: u.entryPath, attachment_path: u.attachmentPath, hash: u.hash, size_bytes: u.size, mime_type: u.mimeType },
      });
      if (done.status === 409 && attempt < 3) {
        missing = (JSON.parse(done.body) as { missing_parts: number[] }).missing_parts;
        continue;
      }
      TransferClient.json(done, `completing ${label}`);
      return 'uploaded';
    }
  }

  /**
   * Downloads the blob `hash` into `dest` through `partial` (kept between
   * runs: a later call asks only for the rest with Range). The file appears
   * under `dest` only whole and checked.
   */
  async download(hash: string, dest: string, partial: string, onBytes: (received: number, total: number) => void = () => undefined): Promise<number> {
    const size = await this.fetchBlob(hash, partial, onBytes);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.renameSync(partial, dest);
    return size;
  }

  /** Tells the server which blobs an encrypted workspace's live entries name (the others may be collected). */
  async sendLive(addresses: Iterable<string>): Promise<{ held: number; unreferenced: number }> {
    return TransferClient.json(await this.request('POST', this.url('/live'), { json: { addresses: [...addresses].sort() } }), 'sending the live attachment list');
  }

  /** Whether the workspace holds the blob `hash` (HEAD). */
  async holds(hash: string): Promise<boolean> {
    const a = await this.request('HEAD', this.url(`/${hash}`));
    if (a.status === 404) return false;
    if (a.status >= 200 && a.status < 300) return true;
    throw new TransferError(`looking up ${hash}: HTTP ${a.status}`, a.status);
  }

  /**
   * Fetches the blob `hash` into `partial` (resumed with Range from what is
   * there) and checks that it hashes to `hash`; resolves with its size. A
   * blob of other bytes is deleted and refused.
   */
  async fetchBlob(hash: string, partial: string, onBytes: (received: number, total: number) => void = () => undefined): Promise<number> {
    let have = 0;
    try {
      have = fs.statSync(partial).size;
    } catch {
      have = 0;
    }
    const url = this.url(`/${hash}`);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
      if (have > 0) headers.Range = `bytes=${have}-`;
      const req = (url.protocol === 'https:' ? https : http).request(url, { headers, agent: this.agent(url) }, resolve);
      req.on('error', (e) => reject(new TransferError(`downloading ${hash}: ${e.message}`, 0)));
      req.end();
    });
    if (res.statusCode === 416) {
      // The partial file is whole already (or longer than the blob): check it below, or start again.
      res.resume();
    } else if (res.statusCode === 200 || res.statusCode === 206) {
      const append = res.statusCode === 206;
      const total = Number(/\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''))?.[1] ?? res.headers['content-length'] ?? 0);
      let received = append ? have : 0;
      const counter = new Transform({
        transform: (chunk: Buffer, _enc, done) => {
          received += chunk.byteLength;
          this.bodyBytes += chunk.byteLength;
          onBytes(received, total);
          done(null, chunk);
        },
      });
      fs.mkdirSync(path.dirname(partial), { recursive: true });
      await pipeline(res, counter, fs.createWriteStream(partial, { flags: append ? 'a' : 'w' }));
    } else {
      const chunks: Buffer[] = [];
      for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
      TransferClient.json({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }, `downloading ${hash}`);
    }
    const got = await hashFile(partial);
    if (got.hash !== hash) {
      fs.rmSync(partial, { force: true });
      throw new TransferError(`downloaded bytes of ${hash} hash to ${got.hash}; will download again`, 0);
    }
    return got.size;
  }
}
